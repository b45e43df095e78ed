"""What the web pages read from: the store, indexes built once from it, and where the npm assets are.

Nothing here knows about HTTP. The pages' own queries are fixed, bounded SPARQL run on the store;
a query a person types goes through ``runner`` (in the served app, the endpoint's worker pool).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import pyoxigraph as ox
from starlette.responses import Response

from llmkg.config import ServerSettings, data_root
from llmkg.engine.endpoint import ResultCache
from llmkg.kg import asof, audit, describe
from llmkg.kg.build import Dataset
from llmkg.namespaces import DEFAULT_GRAPH, LLMKG, PREFERRED_GRAPH, PREFIXES, shorten, text
from llmkg.pages.linkeddata import IriMap
from llmkg.sparql.query import Job, check, syntax_error

Term = ox.NamedNode | ox.BlankNode | ox.Literal
Row = dict[str, Term]
#: A person's query: its text in, (variables, rows) or a boolean out; raises QueryError.
Runner = Callable[[str], tuple[list[str], list[Row]] | bool]
#: Files served from node_modules at /assets/<name>: only these, never the whole folder.
VENDOR_FILES = {
    "yasgui.min.js": "@zazuko/yasgui/build/yasgui.min.js",
    "yasgui.min.css": "@zazuko/yasgui/build/yasgui.min.css",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
}
#: Predicates why() reads to describe graphs and documents.
_META = audit.PROVENANCE_PREDICATES
#: What a page shows of a source document beside its title (local names of llmkg properties).
DOCUMENT_FACTS = ("party", "evidence", "arxivId", "doi")
DEFAULT_NODE = ox.NamedNode(DEFAULT_GRAPH)


@dataclass(frozen=True, kw_only=True)
class PageSettings:
    """Where IRIs are served and where the browser assets live; each can be set by an ``LLMKG_*`` variable."""

    iris: IriMap = field(default_factory=IriMap)
    node_modules: Path | None = None
    data: Path | None = None  # the data root whose queries/examples the editor lists (default: data_root())

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> PageSettings:
        iris = IriMap(public=settings.public_base, site=settings.site_base)
        root = data_root()  # once, at start: later requests touch no path outside the data
        return cls(iris=iris, node_modules=find_node_modules(settings.node_modules), data=root)

    @classmethod
    def from_env(cls) -> PageSettings:
        return cls.from_settings(ServerSettings.from_env())

    def vendor_file(self, name: str) -> Path | None:
        """The file behind /assets/<name>, or None when it is unknown or not installed (run ``npm ci``)."""
        if self.node_modules is None or name not in VENDOR_FILES:
            return None
        path = self.node_modules / VENDOR_FILES[name]
        return path if path.is_file() else None

    def has(self, *names: str) -> bool:
        return all(self.vendor_file(n) is not None for n in names)


def find_node_modules(override: str | None = None) -> Path | None:
    """The node_modules folder ``npm ci`` made: ``LLMKG_NODE_MODULES``, else beside the data, else here."""
    if override:
        return Path(override)
    found = [p for p in (data_root() / "node_modules", Path.cwd() / "node_modules") if p.is_dir()]
    return found[0] if found else None


T = TypeVar("T")
#: The labels of the IRIs put in place of {{VALUES}}; derived graphs other than graph/preferred are left
#: out: they repeat the same labels (the default graph and its slices by validity, several times over).
_LABELS = f"""SELECT ?s ?label ?preferred WHERE {{
  VALUES ?s {{ {{{{VALUES}}}} }}
  {{ GRAPH <{PREFERRED_GRAPH}> {{ ?s rdfs:label ?label }} BIND(true AS ?preferred) }}
  UNION {{ GRAPH ?g {{ ?s rdfs:label ?label }} FILTER NOT EXISTS {{ ?g a llmkg:DerivedGraph }} }}
}}"""
#: IRIs whose labels one query reads, and how many labels (or documents) a server keeps before it starts again.
LABEL_BATCH = 1000
LABELS_KEPT = 200_000


class HasStatistics(Protocol):
    """What holds the data's statistics (the endpoint), so the pages do not count them a second time."""

    def statistics(self) -> describe.Statistics: ...


class Site:
    """The store and what the pages need from it, computed once on first use."""

    def __init__(
        self,
        store: ox.Store,
        *,
        settings: PageSettings,
        runner: Runner | None = None,
        version: str | None = None,
        statistics: HasStatistics | None = None,
        report: audit.Report | None = None,
        recorded: dict[str, Any] | None = None,
    ) -> None:
        self.store, self.settings, self._counted = store, settings, statistics
        self._recorded = recorded or {}  # what the build computed for the pages (pages/precomputed.py)
        self._runner = runner  # not a bound method of this Site: a cycle would keep the store open
        if version is not None:  # the endpoint's, from the build record: hashing the store reads all of it
            self.version = version
        self._lock = threading.Lock()
        self._report = report  # the build's, when the store has its record
        self._kept: dict[str, Any] = {}
        self._labels: dict[str, str | None] = {}  # by IRI, None for none; see prefetch_labels
        self._documents: dict[str, dict[str, str]] = {}
        #: Rendered resources by address, IRI and format: the data never changes while served, and
        #: rendering a large graph in the server's own process slows every other request while it runs.
        self.rendered: ResultCache[Response] = ResultCache(512, max_bytes=64 << 20, weigh=lambda r: len(r.body))

    def once(self, key: str, compute: Callable[[], T], *, recorded: Callable[[Any], T] | None = None) -> T:
        """What ``compute`` returns, computed on first use and kept (the data never changes while it is
        served), or made by ``recorded`` from what the build recorded under ``key`` when it did (see
        pages/precomputed.py); two requests arriving together may both compute it, and one is kept."""
        if key not in self._kept:
            found = self._recorded.get(key)
            self._kept.setdefault(key, recorded(found) if recorded is not None and found is not None else compute())
        return cast(T, self._kept[key])

    def remember_labels(self, labels: dict[str, str]) -> None:
        """Labels read elsewhere (the build record), so that no page reads them again."""
        with self._lock:
            self._labels.update(labels)

    def select(self, query: str, **bindings: Term) -> list[Row]:
        """Rows of a fixed SELECT over the served dataset (graph/default), with ``bindings`` substituted."""
        subs: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] = {
            ox.Variable(name): value for name, value in bindings.items()
        }
        result = self.store.query(query, prefixes=PREFIXES, default_graph=DEFAULT_NODE, substitutions=subs)
        assert isinstance(result, ox.QuerySolutions)
        return rows(result)

    @cached_property
    def quads(self) -> list[ox.Quad]:
        return list(self.store)

    @cached_property
    def version(self) -> str:
        """The data version (the same content hash the endpoint's ETags and VoID carry), unless given."""
        return Dataset(quads=self.quads).version

    def document(self, iri: str) -> dict[str, str]:
        """Of one source document: its party, evidence, arXiv id and DOI (local names and lexical values),
        read on first use: a large graph has hundreds of thousands of documents, a page shows a few."""
        if iri not in self._documents:
            found = self.store.quads_for_pattern(ox.NamedNode(iri), None, None, None) if iri else iter(())
            facts = {q.predicate.value.removeprefix(LLMKG): text(q.object).removeprefix(LLMKG) for q in found}
            if len(self._documents) > LABELS_KEPT:  # as for labels: a crawl would keep every document's
                self._documents.clear()
            self._documents[iri] = {k: v for k, v in facts.items() if k in DOCUMENT_FACTS}
        return self._documents[iri]

    @cached_property
    def statistics(self) -> describe.Statistics:
        """Triples per graph, sources, vocabularies: what the VoID page shows (the endpoint's, when given:
        the build recorded them, or the endpoint counts them once for both faces)."""
        return self._counted.statistics() if self._counted is not None else describe.statistics(self.store)

    @cached_property
    def _meta_quads(self) -> list[ox.Quad]:
        # by predicate, not by reading every quad: an entity page needs only these
        return [q for p in sorted(_META) for q in self.store.quads_for_pattern(None, ox.NamedNode(p), None, None)]

    @cached_property
    def _records(self) -> list[ox.Quad]:
        """Each graph's own record (its type among them), which the as-of view needs."""
        return [q for q in self.quads if q.subject == q.graph_name]

    def why(self, iri: str, as_of: str | None = None) -> list[audit.Reason]:
        """audit.why() for one subject, reading only the quads it needs (the subject's statements, the
        records of the graphs stating them and of their documents: a few hundred, whatever the size of
        the graph); ``as_of`` for the graph as it stood on that date (asof.DateError if malformed)."""
        if as_of is None:
            return audit.why(audit.quads_about(self.store, iri), iri)
        own = list(self.store.quads_for_pattern(ox.NamedNode(iri), None, None, None))
        quads = list(dict.fromkeys([*self._meta_quads, *self._records, *own]))
        return audit.why(asof.why_quads(quads, as_of), iri)

    @property
    def report(self) -> audit.Report:
        """The audit of the whole graph, computed once (about a second) by the first page that needs it."""
        with self._lock:
            if self._report is None:
                self._report = audit.build_report(self.quads)
            return self._report

    @cached_property
    def conflicts(self) -> dict[tuple[str, str], audit.Conflict]:
        """The audit's conflicts, by (subject, property) as prefixed names."""
        return {(c.subject, c.property): c for c in self.report.conflicts}

    def conflict(self, subject: str, prop: str) -> audit.Conflict | None:
        return self.conflicts.get((shorten(ox.NamedNode(subject)), shorten(ox.NamedNode(prop))))

    def prefetch_labels(self, iris: Iterable[str]) -> None:
        """Read the labels of ``iris`` not read yet, LABEL_BATCH to a query: a page that lists many
        things asks once, rather than once for each (against a remote engine, once is one request)."""
        missing = [i for i in dict.fromkeys(iris) if i not in self._labels]
        for start in range(0, len(missing), LABEL_BATCH):
            batch = missing[start : start + LABEL_BATCH]
            found: dict[str, list[tuple[int, str]]] = {iri: [] for iri in batch}
            values = " ".join(str(ox.NamedNode(iri)) for iri in batch)
            for row in self.select(_LABELS.replace("{{VALUES}}", values)):
                label = row.get("label")
                if isinstance(label, ox.Literal) and "s" in row:
                    rank = ("preferred" not in row) * 2 + (label.language not in (None, "en"))
                    found[text(row["s"])].append((rank, label.value))
            with self._lock:
                if len(self._labels) > LABELS_KEPT:  # a crawl would otherwise keep every label of the graph
                    self._labels.clear()
                self._labels.update({iri: min(options)[1] if options else None for iri, options in found.items()})

    def prefetch_labels_of(self, rows: Iterable[Row]) -> list[Row]:
        """``rows``, once the labels of every IRI in them are read (see prefetch_labels)."""
        listed = list(rows)
        self.prefetch_labels(t.value for row in listed for t in row.values() if isinstance(t, ox.NamedNode))
        return listed

    def own_label(self, iri: str) -> str | None:
        """The label the graph gives ``iri``: graph/preferred's, else any but a derived graph's (they
        repeat the same labels), English first; None when it has none."""
        if iri not in self._labels:
            self.prefetch_labels([iri])
        return self._labels.get(iri)

    def label(self, term: Term | str) -> str:
        """What a page calls ``term``: its own label, else a prefixed name for the project's IRIs and
        blank nodes, else the words of its local name."""
        iri = term if isinstance(term, str) else text(term)
        found = self.own_label(iri) if isinstance(term, str | ox.NamedNode) else None
        if found is not None:
            return found
        if iri.startswith(self.settings.iris.public) or not isinstance(term, str | ox.NamedNode):
            return shorten(ox.NamedNode(iri)) if isinstance(term, str) else shorten(term)
        return words(iri)

    def types(self, iri: str) -> list[str]:
        kinds = self.store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(PREFIXES["rdf"] + "type"), None, None)
        return sorted({text(q.object) for q in kinds})

    def exists(self, iri: str) -> bool:
        """Whether any graph says anything about ``iri``, or points at it (an ASK: an organisation is pointed
        at by tens of thousands of statements in a large graph, and none of them is needed here)."""
        x = str(ox.NamedNode(iri))
        patterns = (f"{{ {x} ?p ?o }}", f"{{ ?s ?p {x} }}")
        found = self.store.query("ASK { " + " UNION ".join(f"{p} UNION {{ GRAPH ?g {p} }}" for p in patterns) + " }")
        return bool(found)

    def runner(self, text: str) -> tuple[list[str], list[Row]] | bool:
        """A person's query, run by the runner given (the endpoint's workers) or, without one, here."""
        return self._runner(text) if self._runner is not None else self._run_here(text)

    def _run_here(self, text: str) -> tuple[list[str], list[Row]] | bool:
        """In-process run, for an app without an endpoint (tests, embedding): no timeout, so not for serving."""
        served = not check(text).has_dataset_clause
        try:
            result = self.store.query(text, prefixes=PREFIXES, **Job(text, served_default=served).dataset_options())
        except SyntaxError as error:
            raise syntax_error(error) from None
        if isinstance(result, ox.QueryBoolean):
            return bool(result)
        if isinstance(result, ox.QuerySolutions):
            return [v.value for v in result.variables], rows(result)
        return ["subject", "predicate", "object"], [triple_row(t) for t in result]


def rows(result: ox.QuerySolutions) -> list[Row]:
    """Solutions as dicts of bound variables (RDF-star triple terms are left out: the graph has none)."""
    names = [v.value for v in result.variables]
    plain = (ox.NamedNode, ox.BlankNode, ox.Literal)
    return [{n: t for n in names if isinstance(t := row[n], plain)} for row in result]


def triple_row(triple: Any) -> Row:
    terms = {"subject": triple.subject, "predicate": triple.predicate, "object": triple.object}
    return {k: t for k, t in terms.items() if isinstance(t, (ox.NamedNode, ox.BlankNode, ox.Literal))}


def words(iri: str) -> str:
    """The local name of a vocabulary term as words: ``dcterms:isPartOf`` reads "is part of".

    >>> words("http://www.w3.org/2000/01/rdf-schema#label")
    'label'
    """
    local = re.split(r"[#/]", iri)[-1] or iri
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", local).lower()
