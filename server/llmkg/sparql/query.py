"""SPARQL without HTTP: the formats served, content negotiation, query checks and execution.

Nothing here knows about HTTP or processes: the web layer (api.py) asks :func:`negotiate` which
format to answer in and :func:`inspect` whether a query may run at all; a worker process
(workers.py) calls :func:`run` and streams what it writes. Results are serialised by pyoxigraph.

>>> store = ox.Store()
>>> job = Job(query="ASK { }", results_type="application/sparql-results+json")
>>> fmt, write = run(store, job)
>>> import io; out = io.BytesIO(); write(out); out.getvalue()
b'{"head":{},"boolean":true}'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import IO, Any

import pyoxigraph as ox

from llmkg.namespaces import DEFAULT_GRAPH, PREFIXES
from llmkg.sparql.formats import GRAPH_FORMATS, PREFIXED_FORMATS, RESULT_FORMATS, Format
from llmkg.sparql.store import Backend
from llmkg.sparql.text import QueryShape, inspect

__all__ = [
    "Job",
    "QueryError",
    "QueryShape",
    "binding",
    "inspect",
    "run",
]


class QueryError(Exception):
    """A query that cannot be answered; ``status`` is the HTTP-style code the web layer uses."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "title": self.title, "detail": self.detail, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryError:
        data = dict(data)
        return cls(data.pop("status"), data.pop("title"), data.pop("detail"), **data)


#: Deeper nesting than this is refused before the engine's recursive parser sees it.
MAX_DEPTH = 256
#: More operators than this are refused: the engine's recursive evaluation can exhaust a worker's stack
#: on flat queries that are large enough (a few thousand joined parts), which no nesting limit sees.
MAX_OPERATORS = 250


#: The id of the HTTP request being served (set by the web layer); "" outside a request.
REQUEST_ID: ContextVar[str] = ContextVar("llmkg_request_id", default="")
#: The client the request came from (its address); "" for the server's own reads.
CLIENT: ContextVar[str] = ContextVar("llmkg_client", default="")


@dataclass(frozen=True)
class Job:
    """One query to run: its text, its RDF dataset and the formats it may be answered in.

    With ``served_default`` (a query that names no dataset), the default graph is graph/default and
    every named graph is available to ``GRAPH``; otherwise the given graphs make up the dataset
    (SPARQL 1.1 Protocol §2.1.4), or, with none given, the query's own FROM clauses do. The query
    is parsed with the graph's prefixes declared (namespaces.PREFIXES); its own declarations win.
    """

    query: str
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    served_default: bool = True
    results_type: str | None = None
    graph_type: str | None = None
    #: Saved-query parameters: (variable, "iri" | "literal", value, datatype IRI or ""), bound by the
    #: engine's substitutions at execution, never spliced into the text.
    bindings: tuple[tuple[str, str, str, str], ...] = ()
    #: The HTTP request this job answers, so a worker's log lines can be matched with the access log.
    request_id: str = field(default_factory=lambda: REQUEST_ID.get())
    #: Who asked, for the per-client limit of admission control.
    client: str = field(default_factory=lambda: CLIENT.get())
    #: The server's own fixed reads (the pages' labels, say): bounded by the worker's memory cap, not by
    #: the row and size limits, which are for answers sent to clients (a graph of 10M quads has more
    #: labels than a client may ask for at once).
    own_read: bool = False

    def substitutions(self) -> dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple]:
        return {ox.Variable(name): _term(kind, value, extra) for name, kind, value, extra in self.bindings}

    def dataset_options(self) -> dict[str, Any]:
        if self.served_default:
            return {"default_graph": ox.NamedNode(DEFAULT_GRAPH)}
        if not (self.default_graphs or self.named_graphs):
            return {}
        return {
            "default_graph": [ox.NamedNode(g) for g in self.default_graphs],
            "named_graphs": [ox.NamedNode(g) for g in self.named_graphs],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "default_graphs": self.default_graphs,
            "served_default": self.served_default,
            "named_graphs": self.named_graphs,
            "results_type": self.results_type,
            "graph_type": self.graph_type,
            "bindings": [list(b) for b in self.bindings],
            "request_id": self.request_id,
            "own_read": self.own_read,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        bindings = tuple(tuple(b) for b in data.get("bindings", ()))
        return cls(
            **{
                **data,
                "default_graphs": tuple(data["default_graphs"]),
                "named_graphs": tuple(data["named_graphs"]),
                "bindings": bindings,
            }
        )


def binding(variable: str, term: ox.NamedNode | ox.BlankNode | ox.Literal) -> tuple[str, str, str, str]:
    """One entry of :attr:`Job.bindings`: the term as plain strings, so a job crosses to a worker as JSON.

    >>> binding("m", ox.Literal("x", language="en"))
    ('m', 'lang', 'x', 'en')
    """
    if isinstance(term, ox.NamedNode):
        return variable, "iri", term.value, ""
    if isinstance(term, ox.BlankNode):
        return variable, "bnode", term.value, ""
    if term.language:
        return variable, "lang", term.value, term.language
    return variable, "literal", term.value, term.datatype.value


def _term(kind: str, value: str, extra: str) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if kind == "iri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    if kind == "lang":
        return ox.Literal(value, language=extra)
    return ox.Literal(value, datatype=ox.NamedNode(extra) if extra else None)


Writer = Callable[[IO[bytes]], object]
_ERROR_AT = re.compile(r"error at (\d+):(\d+): (.*)", re.DOTALL)
#: The engine lists the Unicode ranges a name may start with; a reader needs only their meaning.
_CHAR_RANGES = re.compile(r"\[[^\[\]]*\.\.=[^\[\]]*\](?:, \[[^\[\]]*\.\.=[^\[\]]*\])*")


def run(store: Backend, job: Job) -> tuple[Format, Writer]:
    """Start ``job`` on ``store``; return the chosen format and a function that writes the result.

    Raises QueryError: 400 for a syntax error (with line and column), 406 when the result kind
    (solutions or graph) has no acceptable format.
    """
    try:
        result = store.query(
            job.query, prefixes=PREFIXES, substitutions=job.substitutions() or None, **job.dataset_options()
        )
    except SyntaxError as error:
        raise syntax_error(error) from None
    if not isinstance(result, ox.QueryTriples):
        fmt = _lookup(job.results_type, RESULT_FORMATS, "SELECT or ASK")
        return fmt, lambda out: result.serialize(out, fmt.native)  # type: ignore[arg-type]
    fmt = _lookup(job.graph_type, GRAPH_FORMATS, "CONSTRUCT or DESCRIBE")
    if fmt.native in PREFIXED_FORMATS:
        return fmt, lambda out: ox.serialize(result, out, fmt.native, prefixes=PREFIXES)  # type: ignore[arg-type]
    return fmt, lambda out: result.serialize(out, fmt.native)  # type: ignore[arg-type]


def _lookup(media_type: str | None, formats: Sequence[Format], kind: str) -> Format:
    fmt = next((f for f in formats if f.media_type == media_type), None)
    if fmt is None:
        offered = ", ".join(f.media_type for f in formats)
        raise QueryError(406, "Not Acceptable", f"the result of a {kind} query can be served as: {offered}")
    return fmt


def syntax_error(error: SyntaxError) -> QueryError:
    """A 400 QueryError carrying line and column of a pyoxigraph syntax error."""
    message = str(error.msg if error.msg else error)
    match = _ERROR_AT.match(message)
    if not match:
        return QueryError(400, "Malformed query", message)
    line, column = int(match[1]), int(match[2])
    what = " ".join(_CHAR_RANGES.sub("a name character", match[3]).split())
    return QueryError(400, "Malformed query", f"line {line}, column {column}: {what}", line=line, column=column)


def check(text: str, *, allowlist: Sequence[str] = (), max_operators: int = MAX_OPERATORS) -> QueryShape:
    """Refuse what must never reach the engine, before it does.

    Raises QueryError 403 for a SPARQL Update (INSERT, DELETE, LOAD, CLEAR, …) and for a SERVICE
    call to an endpoint that is not in ``allowlist`` (given as full IRIs).

    >>> check("LOAD <http://example.org/x>")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    llmkg.sparql.QueryError: LOAD is a SPARQL Update operation; this endpoint is read-only
    """
    shape = inspect(text)
    if shape.depth > MAX_DEPTH:
        raise QueryError(400, "Malformed query", f"the query nests deeper than {MAX_DEPTH} levels")
    if shape.operators > max_operators:
        raise QueryError(
            400,
            "Query too complex",
            f"query too complex: {shape.operators} operators (limit {max_operators}); split it, or use VALUES "
            "for long lists",
            operators=shape.operators,
            limit=max_operators,
        )
    if shape.is_update:
        raise QueryError(
            403, "Read-only endpoint", f"{shape.form} is a SPARQL Update operation; this endpoint is read-only"
        )
    for endpoint in shape.services:
        iri = endpoint[1:-1] if endpoint.startswith("<") else None
        if iri is None or iri not in allowlist:
            allowed = ", ".join(f"<{a}>" for a in allowlist) or "none"
            raise QueryError(
                403,
                "SERVICE not allowed",
                f"SERVICE {endpoint or '(no endpoint)'} is not allowed; endpoints allowed: {allowed}",
            )
    return shape
