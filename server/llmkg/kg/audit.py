"""Provenance auditing: which source says what, where sources disagree, and what is missing.

``llmkg audit`` and ``GET /audit`` render the same :class:`Report`; ``llmkg why`` answers
"why does the graph say this?" for one subject (and optionally one property).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pyoxigraph as ox

from llmkg.kg import findings
from llmkg.kg.provenance import GraphInfo, Key, graph_infos, statements_by_key
from llmkg.namespaces import (
    DCTERMS,
    LLMKG,
    PREFERRED_GRAPH,
    PROV,
    VOCABULARY_GRAPHS,
    is_derived,
    shorten,
    text,
)
from llmkg.sparql.store import Backend

#: Predicates that describe graphs and source documents: what a report or a "why" answer reads.
PROVENANCE_PREDICATES = frozenset(
    {
        DCTERMS + "title",
        DCTERMS + "issued",
        DCTERMS + "modified",
        LLMKG + "version",
        LLMKG + "evidence",
        LLMKG + "party",
        LLMKG + "retrievedOn",
        LLMKG + "locator",
        PROV + "wasDerivedFrom",
        PROV + "wasRevisionOf",
    }
)


@dataclass
class SourceRow:
    source: str
    title: str
    date: str
    version: str
    evidence: str
    party: str
    graphs: int
    statements: int


@dataclass
class Conflict:
    subject: str
    property: str
    values: dict[str, list[str]]  # graph -> values
    sources: dict[str, str]  # graph -> source document
    acknowledged: bool


@dataclass
class Report:
    sources: list[SourceRow] = field(default_factory=list)
    unprovenanced: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    secondary_only: list[str] = field(default_factory=list)
    stale_sources: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            sources=[SourceRow(**row) for row in data["sources"]],
            unprovenanced=list(data["unprovenanced"]),
            conflicts=[Conflict(**row) for row in data["conflicts"]],
            secondary_only=list(data["secondary_only"]),
            stale_sources=list(data["stale_sources"]),
            missing={kind: list(found) for kind, found in data["missing"].items()},
        )

    @property
    def unacknowledged(self) -> list[Conflict]:
        return [c for c in self.conflicts if not c.acknowledged]


def _doc_properties(quads: list[ox.Quad]) -> dict[str, dict[str, str]]:
    props: dict[str, dict[str, str]] = defaultdict(dict)
    for q in quads:
        if text(q.predicate) in PROVENANCE_PREDICATES:
            props[text(q.subject)][text(q.predicate)] = text(q.object)
    return props


def _short(iri: str) -> str:
    return shorten(ox.NamedNode(iri)) if iri else "(curated)"


def _fact_quads(quads: list[ox.Quad], infos: dict[str, GraphInfo]) -> list[ox.Quad]:
    """World statements: not graph metadata, not vocabulary, not the derived preferred graph."""
    return [
        q
        for q in quads
        if infos.get(text(q.graph_name), GraphInfo("", "other")).kind in ("fact", "curated")
        and not text(q.graph_name).startswith(VOCABULARY_GRAPHS)
        and text(q.subject) not in infos
    ]


def build_report(quads: list[ox.Quad], *, max_age_days: int | None = None, today: dt.date | None = None) -> Report:
    """The audit of ``quads`` (the dataset with its derived graphs): conflicts, secondary-only statements
    and coverage gaps are those graph/findings records (kg/findings.py defines them once), each with what
    a reader needs beside it (every graph's values and source, the statement in words)."""
    infos = graph_infos(quads)
    grouped = statements_by_key(quads, infos)
    docs = _doc_properties(quads)
    report = Report()
    report.sources = _source_rows(quads, infos, docs)
    report.unprovenanced = _unprovenanced(quads, infos, docs)
    report.conflicts = _conflicts(quads, grouped, docs, infos)
    report.secondary_only = sorted(
        f"{shorten(s)} {shorten(p)} {text(o)}" for s, p, o in findings.secondary_only(grouped, infos)
    )
    if max_age_days is not None:
        cutoff = (today or dt.date.today()) - dt.timedelta(days=max_age_days)
        report.stale_sources = sorted(r.source for r in report.sources if r.date and r.date[:10] < cutoff.isoformat())
    report.missing = _coverage(quads)
    return report


def _source_rows(quads: list[ox.Quad], infos: dict[str, GraphInfo], docs: dict[str, dict[str, str]]) -> list[SourceRow]:
    per_graph = Counter(text(q.graph_name) for q in _fact_quads(quads, infos))
    by_doc: dict[str, list[str]] = defaultdict(list)
    for graph, info in infos.items():
        if info.kind == "fact":
            by_doc[docs.get(graph, {}).get(PROV + "wasDerivedFrom", "")].append(graph)
    rows = []
    for doc, graphs in sorted(by_doc.items()):
        d = docs.get(doc, {})
        rows.append(
            SourceRow(
                source=_short(doc),
                title=d.get(DCTERMS + "title", ""),
                date=d.get(DCTERMS + "issued", d.get(DCTERMS + "modified", "")),
                version=d.get(LLMKG + "version", ""),
                evidence=d.get(LLMKG + "evidence", "").rsplit("#", 1)[-1],
                party=d.get(LLMKG + "party", "").rsplit("#", 1)[-1],
                graphs=len(graphs),
                statements=sum(per_graph[g] for g in graphs),
            )
        )
    return rows


def _unprovenanced(quads: list[ox.Quad], infos: dict[str, GraphInfo], docs: dict[str, dict[str, str]]) -> list[str]:
    """Statements in graphs that do not say where they come from."""
    bad = []
    for q in quads:
        graph = text(q.graph_name)
        info = infos.get(graph)
        if is_derived(graph) or graph.startswith(VOCABULARY_GRAPHS) or q.subject == q.graph_name:
            continue
        provenanced = info is not None and (
            info.kind == "curated" or (info.kind == "fact" and PROV + "wasDerivedFrom" in docs.get(graph, {}))
        )
        if not provenanced:
            bad.append(f"{q.subject} {q.predicate} {q.object} ({graph or 'default graph'})")
    return bad


def _acknowledged(quads: list[ox.Quad]) -> set[tuple[str, str]]:
    """(subject, property) pairs covered by a curator's conflict note; a note may list several of each."""
    subjects: dict[str, set[str]] = defaultdict(set)
    properties: dict[str, set[str]] = defaultdict(set)
    for q in quads:
        if text(q.predicate) == LLMKG + "conflictSubject":
            subjects[text(q.subject)].add(text(q.object))
        elif text(q.predicate) == LLMKG + "conflictProperty":
            properties[text(q.subject)].add(text(q.object))
    return {(s, p) for note, subs in subjects.items() for s in subs for p in properties.get(note, ())}


def _conflicts(
    quads: list[ox.Quad],
    grouped: dict[Key, dict[str, set[ox.Quad]]],
    docs: dict[str, dict[str, str]],
    infos: dict[str, GraphInfo],
) -> list[Conflict]:
    acknowledged = _acknowledged(quads)
    found = []
    keys = findings.single_valued(findings.conflicting_facts(grouped, infos), quads)
    for subject, prop in sorted(keys, key=lambda key: (str(key[0]), str(key[1]))):
        values = grouped[(subject, prop)]
        found.append(
            Conflict(
                subject=shorten(subject),
                property=shorten(prop),
                values={
                    shorten(ox.NamedNode(g)): sorted(text(q.object) for q in qs) for g, qs in sorted(values.items())
                },
                sources={
                    shorten(ox.NamedNode(g)): _short(docs.get(g, {}).get(PROV + "wasDerivedFrom", ""))
                    for g in sorted(values)
                },
                acknowledged=(text(subject), text(prop)) in acknowledged,
            )
        )
    return found


def _coverage(quads: list[ox.Quad]) -> dict[str, list[str]]:
    """What each entity lacks of what its kind is expected to state (findings.COVERAGE_EXPECTED)."""
    missing: dict[str, list[str]] = defaultdict(list)
    for _, entity, prop in findings.coverage_gaps(quads):
        missing[shorten(entity)].append(shorten(ox.NamedNode(prop)))
    return {entity: sorted(props) for entity, props in sorted(missing.items())}


@dataclass
class Reason:
    property: str
    value: str
    graph: str
    source: str
    title: str
    version: str
    date: str
    locator: str
    retrieved: str
    evidence: str
    preferred: bool
    revises: str = ""  # the source revision this one's document revises (prov:wasRevisionOf), shortened


def why(quads: list[ox.Quad], subject: str, prop: str | None = None) -> list[Reason]:
    """Every value the graph holds for ``subject`` (and ``prop``), each with its source and location."""
    docs = _doc_properties(quads)
    preferred = {
        (text(q.predicate), text(q.object))
        for q in quads
        if text(q.graph_name) == PREFERRED_GRAPH and text(q.subject) == subject
    }
    reasons = []
    for q in quads:
        graph = text(q.graph_name)
        if text(q.subject) != subject or is_derived(graph) or (prop and text(q.predicate) != prop):
            continue
        g = docs.get(graph, {})
        doc = g.get(PROV + "wasDerivedFrom", "")
        d = docs.get(doc, {})
        reasons.append(
            Reason(
                property=shorten(q.predicate),
                value=shorten(q.object),
                graph=shorten(q.graph_name),
                source=_short(doc),
                title=d.get(DCTERMS + "title", ""),
                version=d.get(LLMKG + "version", ""),
                date=d.get(DCTERMS + "issued", d.get(DCTERMS + "modified", "")),
                locator=g.get(LLMKG + "locator", ""),
                retrieved=d.get(LLMKG + "retrievedOn", ""),
                evidence=d.get(LLMKG + "evidence", "").rsplit("#", 1)[-1],
                preferred=(text(q.predicate), text(q.object)) in preferred,
                revises=_short(d[PROV + "wasRevisionOf"]) if PROV + "wasRevisionOf" in d else "",
            )
        )
    return sorted(reasons, key=lambda r: (r.property, r.value, r.graph))


def in_revision_order(reasons: Iterable[Reason]) -> list[Reason]:
    """Oldest first: by the document's date, then a revision after the one it revises (same-day edits)."""
    reasons = list(reasons)
    revises = {r.source: r.revises for r in reasons}

    def depth(source: str, seen: frozenset[str] = frozenset()) -> int:
        earlier = revises.get(source, "")
        return 0 if not earlier or source in seen else 1 + depth(earlier, seen | {source})

    return sorted(reasons, key=lambda r: (r.date, depth(r.source), r.source))


def quads_about(store: Backend, subject: str, prop: str | None = None) -> list[ox.Quad]:
    """What :func:`why` reads about ``subject`` (and ``prop``), fetched from a store in one query: the
    statements in every named graph, each stating graph's description and its source document's."""
    s = ox.NamedNode(subject)
    p = ox.NamedNode(prop) if prop else ox.Variable("p")
    graphs = f"SELECT DISTINCT ?x {{ GRAPH ?x {{ {s} {p} ?any }} }}"
    documents = f"SELECT DISTINCT ?d {{ GRAPH ?x {{ {s} {p} ?any . ?x <{PROV}wasDerivedFrom> ?d }} }}"
    found = store.query(
        f"SELECT DISTINCT ?s ?p ?o ?g {{ {{ GRAPH ?g {{ {s} {p} ?o }} BIND({s} AS ?s) }}"
        f" UNION {{ {{ {graphs} }} GRAPH ?g {{ ?x ?p ?o }} BIND(?x AS ?s) }}"
        f" UNION {{ {{ {documents} }} GRAPH ?g {{ ?d ?p ?o }} BIND(?d AS ?s) }} }}"
    )
    assert isinstance(found, ox.QuerySolutions)
    return [ox.Quad(row["s"], row["p"] or p, row["o"], row["g"]) for row in found]  # type: ignore[arg-type]
