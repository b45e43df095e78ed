"""The Python face of llmkg, for notebooks and scripts: ``import llmkg``, then :func:`open` or :func:`connect`.

>>> import llmkg
>>> kg = llmkg.open()                                        # the shipped graph  # doctest: +SKIP
>>> kg = llmkg.connect("http://127.0.0.1:8000/sparql")       # a running endpoint  # doctest: +SKIP

A :class:`Graph` runs SPARQL (:meth:`Graph.query`) or a saved query by name with keyword
parameters (:meth:`Graph.run`), and gives :class:`Rows`: a list of dicts of plain Python values
(IRIs as the prefixed names the CLI prints, numbers as ``int``/``float``, dates as ``datetime.date``),
as named tuples (:meth:`Rows.tuples`) or as a pandas DataFrame (:meth:`Rows.dataframe`, with the
``pandas`` extra). :meth:`Graph.why` and :meth:`Graph.facts` say which sources state which value.

The shipped graph is queried the way the server queries it: the store is loaded here, and every
query runs in a forked, sandboxed worker process (``engine/pool.py``) that is killed at its timeout,
so an engine crash or a runaway query costs that query, never the notebook.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import weakref
from collections import namedtuple
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from llmkg.config import ServerSettings
from llmkg.engine.endpoint import Endpoint
from llmkg.kg import asof, catalog, describe, names
from llmkg.kg.audit import Reason, quads_about, why
from llmkg.kg.build import load_dataset, memory_store, read_store_info
from llmkg.namespaces import NUMERIC_TYPES, XSD, expand, shorten
from llmkg.sparql.answers import QueryResult, read_result
from llmkg.sparql.formats import N_TRIPLES, RESULTS_JSON
from llmkg.sparql.remote import RemoteStore
from llmkg.sparql.store import Backend

if TYPE_CHECKING:
    import pandas

__all__ = ["Fact", "Graph", "Rows", "connect", "open"]

_DECIMALS = frozenset(XSD + t for t in ("decimal", "double", "float"))


class Rows(list[dict[str, Any]]):
    """A SELECT answer: one dict per row (a column left unbound is None), in the query's order."""

    def __init__(self, columns: Iterable[str], rows: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(rows)
        self.columns = list(columns)

    def tuples(self) -> list[Any]:
        """The rows as named tuples (fields named after the columns)."""
        row = namedtuple("Row", self.columns, rename=True)  # type: ignore[misc]
        return [row(*(r[c] for c in self.columns)) for r in self]

    def dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame; needs pandas (``pip install 'llmkg[pandas]'``)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("Rows.dataframe() needs pandas: pip install 'llmkg[pandas]'") from None
        return pandas.DataFrame(list(self), columns=self.columns)


@dataclasses.dataclass(frozen=True)
class Fact:
    """One value of one property, whether it is the preferred one, and every statement of it."""

    property: str
    value: Any
    preferred: bool
    statements: tuple[Reason, ...] = dataclasses.field(repr=False)  # source, version, date, place, graph of each

    @builtins.property  # the field above is named property
    def sources(self) -> list[str]:
        """The source documents that state the value, each once, in the order of its statements."""
        return list(dict.fromkeys(r.source for r in self.statements))


def plain(term: object) -> Any:
    """A result term as a plain Python value: a prefixed name (or IRI), int, float, bool, date or str."""
    if term is None:
        return None
    if not isinstance(term, ox.Literal):
        return shorten(term)
    datatype = term.datatype.value
    try:
        if datatype in NUMERIC_TYPES:
            return float(term.value) if datatype in _DECIMALS else int(term.value)
        if datatype == XSD + "boolean":
            return term.value in ("true", "1")
        if datatype == XSD + "date":
            return dt.date.fromisoformat(term.value)
        if datatype == XSD + "dateTime":
            return dt.datetime.fromisoformat(term.value)
    except ValueError:
        pass  # a value outside Python's types (a date with a time zone, an ill-typed literal) stays text
    return term.value


def iri(name: str) -> str:
    """A full IRI from a prefixed name (``model:llama-4-scout``) or an IRI, with the graph's prefixes."""
    return expand(name)


class Graph:
    """The knowledge graph, embedded (:func:`open`) or behind a SPARQL endpoint (:func:`connect`)."""

    def __init__(self, store: Backend, *, endpoint: Endpoint | None = None) -> None:
        self.store, self._endpoint = store, endpoint
        closing = endpoint.close if endpoint else getattr(store, "close", lambda: None)
        self._closer = weakref.finalize(self, closing)  # the workers stop with the Graph, or at exit

    def close(self) -> None:
        """Stop the query workers (embedded) or the HTTP client (endpoint)."""
        self._closer()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(
        self, sparql: str, *, as_of: str | dt.date | None = None, undated: bool = True
    ) -> Rows | bool | list[tuple[Any, Any, Any]]:
        """Run SPARQL: rows for SELECT, a bool for ASK, (subject, predicate, object) for CONSTRUCT/DESCRIBE.

        ``as_of`` (a date or YYYY-MM-DD) runs it over the graph as it stood on that date, with undated
        source versions in it unless ``undated`` is False (ontology/README.md, "The graph as of a date").
        """
        return _answer(self._ask(sparql, None if as_of is None else str(as_of), undated))

    def run(
        self, name: str, *, as_of: str | dt.date | None = None, **params: object
    ) -> Rows | bool | list[tuple[Any, Any, Any]]:
        """Run a saved query (id or number, as ``llmkg queries`` lists them) with its parameters by keyword;
        an IRI parameter takes a prefixed name or an IRI. The query's text is this package's, whichever
        store answers it. ``as_of`` runs it over the graph as it stood on that date, as in :meth:`query`."""
        saved = catalog.find(name)
        types = {p.name: p.type for p in saved.params}
        given = {k: iri(str(v)) if types.get(k) == "iri" and str(v) != "*" else str(v) for k, v in params.items()}
        for key, value in given.items():
            if types.get(key) == "iri" and value != "*":
                names.require_known(self.store, value)
        view = asof.dataset(self.store, str(as_of)) if as_of is not None else None
        return _answer(catalog.run(saved, self.store, given, dataset=view))

    def why(self, subject: str, property: str) -> list[Fact]:
        """Every value the graph holds for ``subject``'s ``property``, each with the statements of it."""
        return self._facts(subject, property)

    def facts(self, subject: str) -> list[Fact]:
        """Every property and value of ``subject``, each with the statements of it."""
        return self._facts(subject, None)

    def _facts(self, subject: str, prop: str | None) -> list[Fact]:
        """Raises names.UnknownName (a ValueError) for a subject the graph does not know, with suggestions."""
        s, p = iri(subject), iri(prop) if prop else None
        reasons = why(quads_about(self.store, s, p), s, p)
        if not reasons:
            names.require_known(self.store, s)  # an empty answer is a typo more often than not: say so
        grouped: dict[tuple[str, str], list[Reason]] = {}
        for r in reasons:
            grouped.setdefault((r.property, r.value), []).append(r)
        return [
            Fact(prop_, _plain_text(value), any(r.preferred for r in rs), tuple(rs))
            for (prop_, value), rs in grouped.items()
        ]

    def _ask(self, sparql: str, as_of: str | None = None, undated: bool = True) -> QueryResult:
        if self._endpoint is None:
            view = asof.dataset(self.store, as_of, undated=undated) if as_of is not None else {}
            return self.store.query(sparql, **view)  # type: ignore[arg-type]
        # the endpoint's own path: the same checks, the same default graph, one of its workers
        mode = None if as_of is None else "include" if undated else "exclude"
        job = self._endpoint.job(sparql, accept=f"{RESULTS_JSON}, {N_TRIPLES}", asof=as_of, undated=mode)
        answer = self._endpoint.answer(job)
        media_type = answer.content_type.split(";")[0].strip()
        return read_result(answer.body, media_type, ask=catalog.query_kind(sparql) == "ASK")


def _plain_text(value: str) -> Any:
    """A value as :func:`~llmkg.kg.audit.why` gives it (shortened text), as a number when it is one."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _answer(result: QueryResult) -> Rows | bool | list[tuple[Any, Any, Any]]:
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
    if isinstance(result, ox.QuerySolutions):
        columns = [v.value for v in result.variables]
        return Rows(columns, ({c: plain(row[c]) for c in columns} for row in result))
    return [(plain(t.subject), plain(t.predicate), plain(t.object)) for t in result]


def open(
    root: str | Path | None = None, *, store: str | Path | None = None, timeout: float = 30.0, workers: int = 1
) -> Graph:
    """The shipped graph (or the data under ``root``, or a store built by ``llmkg build --store DIR``),
    queried by ``workers`` sandboxed worker processes, each query stopped after ``timeout`` seconds."""
    settings = dataclasses.replace(ServerSettings.from_env(), query_timeout_s=timeout, workers=workers)
    if store is not None:
        path = Path(store).resolve()
        endpoint = Endpoint(
            ox.Store.read_only(str(path)),
            source=path,
            settings=settings,
            version=read_store_info(path)[0],
            statistics=describe.recorded_statistics(path),
        )
    else:
        dataset = load_dataset(Path(root) if root is not None else None)
        loaded = memory_store(dataset)
        endpoint = Endpoint(loaded, source=loaded, settings=settings, version=dataset.version)
    endpoint.start()
    return Graph(endpoint.store, endpoint=endpoint)


def connect(url: str, *, timeout: float = 60.0) -> Graph:
    """A running SPARQL endpoint (``llmkg serve``'s ``/sparql``, or any SPARQL 1.1 store holding the data)."""
    return Graph(RemoteStore(url, timeout_s=timeout))
