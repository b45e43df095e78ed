"""The graph as of a date: which source versions were in effect, and the preferred value of each fact then.

A source version is in effect from its ``dcterms:issued`` date until the date of the version that
revises it (``prov:wasRevisionOf``), the end excluded; on a day with several revisions, the day's last
one is in effect. A version with no ``dcterms:issued`` is *undated*: its start is unknown, so an
as-of view either includes it from the beginning or leaves it out (``undated``), never guesses.
Curated graphs, the ontology and the catalogue hold on every date.

The build materialises validity once, not a copy of the graph per date (ontology/README.md):
``graph/validity`` states each source version's ``llmkg:validFrom`` / ``llmkg:validUntil``, and the
statements of graph/default are partitioned by the span of dates over which each holds, one graph
``graph/valid/<from>/<until>`` per span. The as-of view on a date D is then a dataset named by IRIs:
the valid graphs whose span holds D as its default graph, the fact graphs in effect as named graphs.
The preferred value on each date is chosen by :func:`provenance.preferred_graph`, the build's rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from llmkg.kg.audit import Reason, in_revision_order
from llmkg.kg.provenance import (
    DEFAULT_WHOLE,
    GraphInfo,
    Key,
    graph_infos,
    preferred_graph,
    preferred_quads,
    statements_by_key,
)
from llmkg.namespaces import (
    DCTERMS,
    LLMKG,
    PROV,
    RDF_TYPE,
    VALID_GRAPHS,
    VALIDITY_GRAPH,
    XSD,
    is_derived,
    shorten,
    text,
)
from llmkg.sparql.store import Backend

VALID_FROM = LLMKG + "validFrom"
VALID_UNTIL = LLMKG + "validUntil"
#: On an as-of graph whose statements hold only with undated sources included (true) or left out (false).
WITH_UNDATED = LLMKG + "withUndated"
#: The first date of every span that starts before any dated source (an undated or a curated statement).
ORIGIN = ""

Triple = tuple[ox.NamedNode, ox.NamedNode, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple]


class DateError(ValueError):
    """An as-of date that is not YYYY-MM-DD."""


def parse_date(value: str) -> str:
    """``value`` as an ISO date string; DateError naming it otherwise."""
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise DateError(f"as-of date {value!r}: expected YYYY-MM-DD, e.g. 2025-04-05") from None


@dataclass(frozen=True)
class Span:
    """Dates from ``start`` (included; ORIGIN: since always) to ``end`` (excluded; None: still in effect).

    ``start`` None marks an undated source version: it holds only when undated sources are included.
    """

    start: str | None
    end: str | None = None

    def holds(self, date: str, *, undated: bool = True) -> bool:
        if self.start is None and not undated:
            return False
        return (self.start or ORIGIN) <= date and (self.end is None or date < self.end)


ALWAYS = Span(ORIGIN)


def source_spans(quads: Iterable[ox.Quad]) -> dict[str, Span]:
    """Each source version's span: its issued date until the issued date of its earliest dated revision."""
    issued: dict[str, str] = {}
    revisions: dict[str, list[str]] = defaultdict(list)
    docs: set[str] = set()
    for q in quads:
        p = text(q.predicate)
        if p == DCTERMS + "issued":
            issued[text(q.subject)] = first_day(text(q.object))
        elif p == PROV + "wasRevisionOf":
            revisions[text(q.object)].append(text(q.subject))
            docs.update((text(q.subject), text(q.object)))
        elif p == PROV + "wasDerivedFrom" and q.subject == q.graph_name:
            docs.add(text(q.object))
    spans = {}
    for doc in docs:
        ends = [issued[r] for r in revisions.get(doc, ()) if r in issued]
        spans[doc] = Span(issued.get(doc), min(ends) if ends else None)
    return spans


def first_day(date: str) -> str:
    """A date as YYYY-MM-DD; a year or a month (xsd:gYear, xsd:gYearMonth) counts from its first day."""
    date = date[:10]
    return date + "-01-01"[len(date) - 4 :] if len(date) < 10 else date


def graph_spans(quads: Sequence[ox.Quad], infos: dict[str, GraphInfo]) -> dict[str, Span]:
    """Each graph's span: a fact graph's is its source version's; every other graph's is ALWAYS."""
    by_doc = source_spans(quads)
    derived = {
        text(q.graph_name): text(q.object)
        for q in quads
        if q.subject == q.graph_name and text(q.predicate) == PROV + "wasDerivedFrom"
    }
    return {g: by_doc.get(derived.get(g, ""), Span(None)) if i.kind == "fact" else ALWAYS for g, i in infos.items()}


def view_quads(quads: Sequence[ox.Quad], date: str, *, undated: bool = True) -> list[ox.Quad]:
    """The named graphs in effect on ``date`` (not the derived ones): what the build would read then."""
    spans = graph_spans(quads, graph_infos(quads))
    return [
        q
        for q in quads
        if not is_derived(text(q.graph_name)) and spans.get(text(q.graph_name), ALWAYS).holds(date, undated=undated)
    ]


# --- what the build materialises ---------------------------------------------------------------


def _runs(points: Iterable[tuple[str, frozenset[Triple]]]) -> Iterator[tuple[Triple, Span]]:
    """Maximal spans over which each triple holds, from (start date, triples from then on) in date order."""
    open_since: dict[Triple, str] = {}
    for start, triples in points:
        for t in [t for t in open_since if t not in triples]:
            yield t, Span(open_since.pop(t), start)
        for t in triples:
            open_since.setdefault(t, start)
    yield from ((t, Span(start)) for t, start in open_since.items())


def _preferred_runs(
    by_graph: dict[str, set[ox.Quad]], infos: dict[str, GraphInfo], spans: dict[str, Span], undated: bool
) -> Iterator[tuple[Triple, Span]]:
    """When each value of one fact is the preferred one: the rule applied at every date a stating graph
    starts or ends, over the graphs in effect then."""
    dates = {d for g in by_graph for d in (spans[g].start, spans[g].end) if d}
    points = []
    for start in [ORIGIN, *sorted(dates)]:
        valid = [g for g in by_graph if spans[g].holds(start, undated=undated)]
        best = None if not valid else valid[0] if len(valid) == 1 else preferred_graph(valid, infos)
        points.append(
            (start, frozenset((q.subject, q.predicate, q.object) for q in by_graph[best]) if best else frozenset())
        )
    return _runs(points)  # type: ignore[arg-type]


def timed_statements(quads: Sequence[ox.Quad]) -> dict[bool, set[tuple[Triple, Span]]]:
    """graph/default's statements, each with a span over which it holds (the same statement may have
    several), with undated sources included (True) and left out (False)."""
    infos = graph_infos(quads)
    spans = graph_spans(quads, infos)
    grouped = statements_by_key(quads, infos)
    return {undated: _timed(quads, grouped, infos, spans, undated) for undated in (True, False)}


def _timed(
    quads: Sequence[ox.Quad],
    grouped: dict[Key, dict[str, set[ox.Quad]]],
    infos: dict[str, GraphInfo],
    spans: dict[str, Span],
    undated: bool,
) -> set[tuple[Triple, Span]]:
    found: set[tuple[Triple, Span]] = set()
    for by_graph in grouped.values():
        found.update(_preferred_runs(by_graph, infos, spans, undated))
    for q in quads:
        graph = text(q.graph_name)
        span = spans.get(graph, ALWAYS)
        whole = graph.startswith(DEFAULT_WHOLE) or (q.subject == q.graph_name and not is_derived(graph))
        if whole and (span.start is not None or undated):
            found.add(((q.subject, q.predicate, q.object), Span(span.start or ORIGIN, span.end)))  # type: ignore[arg-type]
    return found


def valid_graph_iri(span: Span, undated: bool | None) -> str:
    tail = "" if undated is None else "/with-undated" if undated else "/without-undated"
    return f"{VALID_GRAPHS}{span.start or 'origin'}/{span.end or 'open'}{tail}"


def validity_quads(quads: Sequence[ox.Quad]) -> list[ox.Quad]:
    """graph/validity and the as-of graphs graph/valid/<from>/<until>[/with-undated|/without-undated]."""
    timed = timed_statements(quads)
    included, excluded = timed[True], timed[False]
    parts: dict[tuple[Span, bool | None], list[Triple]] = defaultdict(list)
    for item in included | excluded:
        mode = None if item in included and item in excluded else item in included
        parts[(item[1], mode)].append(item[0])
    validity = ox.NamedNode(VALIDITY_GRAPH)
    out = _record(validity)
    for doc, span in sorted(source_spans(quads).items()):
        out.extend(_span_quads(ox.NamedNode(doc), span, validity))
    for (span, mode), triples in sorted(parts.items(), key=lambda kv: valid_graph_iri(*kv[0])):
        graph = ox.NamedNode(valid_graph_iri(span, mode))
        out.extend([*_record(graph), *(ox.Quad(*t, graph) for t in triples)])
        out.extend(_span_quads(graph, span, validity))
        if mode is not None:
            out.append(ox.Quad(graph, ox.NamedNode(WITH_UNDATED), ox.Literal(mode), validity))
    return out


def _record(graph: ox.NamedNode) -> list[ox.Quad]:
    return [
        ox.Quad(graph, ox.NamedNode(RDF_TYPE), ox.NamedNode(LLMKG + "DerivedGraph"), graph),
        ox.Quad(graph, ox.NamedNode(LLMKG + "sourceFile"), ox.Literal("server/llmkg/kg/asof.py"), graph),
    ]


def _span_quads(subject: ox.NamedNode, span: Span, graph: ox.NamedNode) -> list[ox.Quad]:
    date = ox.NamedNode(XSD + "date")
    bounds = [(VALID_FROM, span.start), (VALID_UNTIL, span.end)]
    return [ox.Quad(subject, ox.NamedNode(p), ox.Literal(d, datatype=date), graph) for p, d in bounds if d]


# --- what a query on a date reads ----------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """Every named graph with its span, read from a built store: enough to name any date's dataset."""

    fact_graphs: dict[str, Span]  # fact graph -> its source version's span
    valid_graphs: dict[str, tuple[Span, bool | None]]  # as-of graph -> span, undated mode (None: both)
    other_graphs: tuple[str, ...]  # curated, vocabulary and catalogue graphs: in every view

    def dataset(self, date: str, *, undated: bool = True) -> tuple[list[str], list[str]]:
        """(default graphs, named graphs) of the view on ``date``."""
        defaults = [
            g for g, (span, mode) in sorted(self.valid_graphs.items()) if span.holds(date) and mode in (None, undated)
        ]
        named = [g for g, span in self.fact_graphs.items() if span.holds(date, undated=undated)]
        return defaults, sorted([*named, *self.other_graphs])


TIMELINE_QUERY = f"""SELECT ?g ?doc ?from ?until ?undated WHERE {{
  GRAPH ?g {{ ?g <{LLMKG}sourceFile> ?file OPTIONAL {{ ?g <{PROV}wasDerivedFrom> ?doc }} }}
  BIND(COALESCE(?doc, ?g) AS ?x)
  OPTIONAL {{ GRAPH <{VALIDITY_GRAPH}> {{ ?x <{VALID_FROM}> ?from }} }}
  OPTIONAL {{ GRAPH <{VALIDITY_GRAPH}> {{ ?x <{VALID_UNTIL}> ?until }} }}
  OPTIONAL {{ GRAPH <{VALIDITY_GRAPH}> {{ ?x <{WITH_UNDATED}> ?undated }} }}
}}"""


def timeline(store: Backend) -> Timeline:
    """Read the spans the build stated, in one query; DateError if the store has none."""
    found = store.query(TIMELINE_QUERY)
    assert isinstance(found, ox.QuerySolutions)
    facts: dict[str, Span] = {}
    valid: dict[str, tuple[Span, bool | None]] = {}
    other: list[str] = []
    for row in found:
        graph = text(row["g"])
        value = {k: text(row[k]) if row[k] is not None else None for k in ("doc", "from", "until", "undated")}
        span = Span(value["from"], value["until"])
        if graph.startswith(VALID_GRAPHS):
            valid[graph] = (
                Span(span.start or ORIGIN, span.end),
                None if value["undated"] is None else value["undated"] == "true",
            )
        elif value["doc"] is not None:
            facts[graph] = span
        elif not is_derived(graph):
            other.append(graph)
    if not valid:
        raise DateError("this store has no validity information (built before as-of views existed): rebuild it")
    return Timeline(facts, valid, tuple(sorted(other)))


def dataset(store: Backend, date: str, *, undated: bool = True) -> dict[str, list[ox.NamedNode]]:
    """``store.query`` keyword arguments that make a query read the view on ``date``."""
    defaults, named = timeline(store).dataset(parse_date(date), undated=undated)
    return {"default_graph": [ox.NamedNode(g) for g in defaults], "named_graphs": [ox.NamedNode(g) for g in named]}


def why_quads(quads: Sequence[ox.Quad], date: str, *, undated: bool = True) -> list[ox.Quad]:
    """What ``audit.why`` reads for the view on ``date``: the graphs in effect, and graph/preferred
    recomputed over them by the build's own rule."""
    view = view_quads(quads, parse_date(date), undated=undated)
    return [*view, *preferred_quads(view)]


# --- the history of a fact -----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One value of a property in one document's revisions: from the revision that first states it
    until the revision that states something else (``until`` empty: still stated by the latest)."""

    property: str
    value: str
    since: str  # source version, shortened
    since_date: str
    until: str = ""
    until_date: str = ""


def value_runs(reasons: Sequence[Reason]) -> list[Run]:
    """Per property and per document (a chain of revisions), the values it stated, in revision order."""
    lineages: dict[tuple[str, str], list[Reason]] = defaultdict(list)
    revises = {r.source: r.revises for r in reasons}
    for r in in_revision_order(x for x in reasons if x.source != "(curated)"):
        lineages[(r.property, _first(r.source, revises))].append(r)
    runs = []
    for (prop, _), stated in lineages.items():
        by_version: dict[str, set[str]] = defaultdict(set)
        dates = {}
        for r in stated:
            by_version[r.source].add(r.value)
            dates[r.source] = r.date
        current: Run | None = None
        for version, values in by_version.items():
            value = ", ".join(sorted(values))
            if current is not None and current.value == value:
                continue
            if current is not None:
                runs.append(Run(prop, current.value, current.since, current.since_date, version, dates[version]))
            current = Run(prop, value, version, dates[version])
        if current is not None:
            runs.append(current)
    return runs


def _first(source: str, revises: dict[str, str]) -> str:
    """The first revision of ``source``'s document among those known."""
    seen = {source}
    while revises.get(source, "") in revises and revises[source] not in seen:
        source = revises[source]
        seen.add(source)
    return source


# --- what changed between two dates --------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A fact whose preferred values differ between two views, and the source version behind it: the
    one whose values are preferred on the later date, or, for a removed fact, the revision in effect
    then of the document that stated it (the stating version itself when none is)."""

    change: str  # "added", "changed" or "removed"
    subject: str
    property: str
    before: str
    after: str
    source: str


Preferred = dict[Key, tuple[frozenset[str], str]]  # (subject, property) -> (values, the graph's source)


def preferred_on(quads: Sequence[ox.Quad], date: str, *, undated: bool = True) -> Preferred:
    """Each fact's preferred values on ``date`` with their source version, by the build's rule."""
    view = view_quads(quads, date, undated=undated)
    infos = graph_infos(view)
    derived = {text(q.graph_name): text(q.object) for q in view if text(q.predicate) == PROV + "wasDerivedFrom"}
    found: Preferred = {}
    for key, by_graph in statements_by_key(view, infos).items():
        best = preferred_graph(by_graph, infos)
        found[key] = (frozenset(shorten(q.object) for q in by_graph[best]), derived.get(best, ""))
    return found


def diff(
    quads: Sequence[ox.Quad],
    before: str,
    after: str,
    *,
    undated: bool = True,
    family: str | None = None,
    prop: str | None = None,
) -> list[Change]:
    """Facts added, changed and removed from the view on ``before`` to the view on ``after``;
    ``family`` and ``prop`` (full IRIs) keep the facts about that family's entities, of that property."""
    old, new = (
        preferred_on(quads, parse_date(before), undated=undated),
        preferred_on(quads, parse_date(after), undated=undated),
    )
    members = _family_members(quads, family) if family else None
    spans, revised_by = source_spans(quads), _revised_by(quads)
    changes = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (str(k[0]), str(k[1]))):
        if (prop and text(key[1]) != prop) or (members is not None and text(key[0]) not in members):
            continue
        was, now = old.get(key), new.get(key)
        if was is not None and now is not None and was[0] == now[0]:
            continue
        kind = "added" if was is None else "removed" if now is None else "changed"
        source = now[1] if now is not None else _in_effect(was[1], after, revised_by, spans)  # type: ignore[index]
        changes.append(
            Change(
                kind,
                shorten(key[0]),
                shorten(key[1]),
                ", ".join(sorted(was[0])) if was else "",
                ", ".join(sorted(now[0])) if now else "",
                shorten(ox.NamedNode(source)) if source else "(curated)",
            )
        )
    return changes


def _revised_by(quads: Sequence[ox.Quad]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for q in quads:
        if text(q.predicate) == PROV + "wasRevisionOf":
            found[text(q.object)].append(text(q.subject))
    return found


def _in_effect(doc: str, date: str, revised_by: dict[str, list[str]], spans: dict[str, Span]) -> str:
    """The revision of ``doc`` in effect on ``date`` (``doc`` itself when no revision is)."""
    later, seen = list(revised_by.get(doc, ())), {doc}
    while later:
        version = later.pop()
        if version in seen:
            continue
        seen.add(version)
        if version in spans and spans[version].holds(date):
            return version
        later.extend(revised_by.get(version, ()))
    return doc


#: How an entity leads to the model whose family it belongs to.
_TOWARDS_MODEL = (LLMKG + "evaluatedModel", LLMKG + "checkpointOf")


def _family_members(quads: Sequence[ox.Quad], family: str) -> set[str]:
    """The family, its models, and what leads to them (checkpoints, evaluation results)."""
    members = {family}
    links: dict[str, set[str]] = defaultdict(set)
    for q in quads:
        p = text(q.predicate)
        if p == LLMKG + "inFamily" and text(q.object) == family:
            members.add(text(q.subject))
        elif p in _TOWARDS_MODEL:
            links[text(q.subject)].add(text(q.object))
    grown = True
    while grown:
        more = {s for s, targets in links.items() if s not in members and targets & members}
        members |= more
        grown = bool(more)
    return members
