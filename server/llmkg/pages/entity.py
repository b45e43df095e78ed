"""The data of an entity page: its statements grouped for reading, each value with the sources that state it.

Provenance comes from :func:`llmkg.audit.why` (one reason per value and graph) and disagreements from
the audit's conflicts, so the pages say exactly what ``llmkg why`` and ``llmkg audit`` say.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from llmkg.kg.asof import Run, value_runs
from llmkg.kg.audit import Conflict, Reason
from llmkg.namespaces import ID, LLMKG, PREFIXES, expand, shorten, text
from llmkg.pages.data import Site
from llmkg.pages.presentation import external_link, group_of, short_version


@dataclass(frozen=True)
class Badge:
    """One source stating a value: document (or curated graph), version, date and place."""

    source: str
    source_iri: str
    graph: str
    title: str
    version: str
    date: str
    locator: str
    evidence: str
    party: str = ""

    @property
    def curated(self) -> bool:
        return not self.source_iri

    @property
    def rank(self) -> int:
        """Where the badge comes among a value's badges: primary first-party sources first, secondary last."""
        if self.curated:
            return 2
        primary = self.evidence == "Primary"
        return (0 if self.party == "FirstParty" else 1) if primary else 3


@dataclass
class Value:
    text: str
    iri: str | None = None
    external: str | None = None
    preferred: bool = False
    badges: list[Badge] = field(default_factory=list)


@dataclass
class Statement:
    """One property of the entity with all its values; ``conflict`` when sources disagree."""

    prop: str
    label: str
    values: list[Value]
    conflict: Conflict | None = None


@dataclass(frozen=True)
class Link:
    label: str
    iri: str


@dataclass
class Inbound:
    label: str
    links: list[Link]
    more: int = 0


@dataclass
class Fact:
    """One line of the summary card: the preferred value(s) of one or more properties, with their best source."""

    label: str
    values: list[tuple[str, Value]]  # (prefix such as "active", value)
    anchor: str  # the id of the detailed row


@dataclass
class EntityView:
    iri: str
    label: str
    types: list[Link]
    groups: list[tuple[str, list[Statement]]]
    inbound: list[Inbound]
    summary: list[Fact] = field(default_factory=list)
    ancestors: list[LineageNode] = field(default_factory=list)
    timeline: list[tuple[str, Run]] = field(default_factory=list)
    descendants: list[LineageNode] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Statement]:
        return [s for _, rows in self.groups for s in rows if s.conflict]

    def has_type(self, local: str) -> bool:
        return any(t.iri == LLMKG + local for t in self.types)


INBOUND_LIMIT = 30
#: How a model comes from another, as the sources state it (the sub-properties of prov:wasDerivedFrom, the
#: generation a model succeeds); a lineage tree follows them both ways, a few steps at most.
LINEAGE = ("distilledFrom", "prunedFrom", "fineTunedFrom", "quantizedFrom", "basedOn", "successorOf")
LINEAGE_DEPTH = 4
#: The lineage links of ?x in any graph: what it comes from (?x ?how ?other) or, with the pattern turned
#: round, what comes from it.
_LINEAGE_UP = f"""SELECT DISTINCT ?x ?other ?how WHERE {{
  VALUES ?how {{ {" ".join("llmkg:" + p for p in LINEAGE)} }}
  GRAPH ?g {{ ?x ?how ?other }}
}}"""
_LINEAGE_DOWN = _LINEAGE_UP.replace("?x ?how ?other", "?other ?how ?x")


@dataclass
class LineageNode:
    """One model in a lineage tree: how it relates to its parent in the tree, and what comes from it."""

    link: Link
    how: str
    children: list[LineageNode] = field(default_factory=list)


def lineage(site: Site, iri: str) -> tuple[list[LineageNode], list[LineageNode]]:
    """What ``iri`` comes from (ancestors, nearest first) and what comes from it (descendants), as trees."""
    return _tree(site, iri, _LINEAGE_UP, frozenset()), _tree(site, iri, _LINEAGE_DOWN, frozenset())


def _tree(site: Site, iri: str, step: str, seen: frozenset[str]) -> list[LineageNode]:
    """The models one ``step`` from ``iri``, each with its own subtree, until LINEAGE_DEPTH: one query a
    model, so a page reads its own few links, never the tens of thousands of a large graph."""
    if len(seen) >= LINEAGE_DEPTH:
        return []
    links = {(text(r["other"]), text(r["how"])) for r in site.select(step, x=ox.NamedNode(iri))}
    site.prefetch_labels(other for other, _ in links)
    nodes = []
    for other, how in sorted(links, key=lambda link: (site.label(link[0]).lower(), link[1])):
        if other not in seen and other != iri:
            children = _tree(site, other, step, seen | {iri})
            nodes.append(LineageNode(Link(site.label(other), other), site.label(how), children))
    return nodes


TITLE = PREFIXES["dcterms"] + "title"
#: The summary card: what people look for first, each line one or more properties (with a word before each value).
SUMMARY = (
    ("Parameters", (("active", "llmkg:activeParameters"), ("total", "llmkg:totalParameters"))),
    ("Context length", (("", "llmkg:contextLength"),)),
    ("Released", (("", "dcterms:issued"),)),
    ("Licence", (("", "dcterms:license"),)),
    ("Developer", (("", "llmkg:developer"),)),
    ("Modalities", (("in", "llmkg:inputModality"), ("out", "llmkg:outputModality"))),
    ("Family", (("", "llmkg:inFamily"),)),
    ("Model", (("", "llmkg:checkpointOf"),)),
    ("Hugging Face", (("", "llmkg:huggingFaceRepository"),)),
)


def anchor(prop: str) -> str:
    """The id of a property's row on an entity page: ``prop-llmkg-totalParameters`` for llmkg:totalParameters."""
    return "prop-" + shorten(ox.NamedNode(prop)).replace(":", "-")


def entity(site: Site, iri: str, as_of: str | None = None) -> EntityView:
    """Everything an entity page shows about ``iri`` (as the graph stood on ``as_of``, if given)."""
    by_prop: dict[str, list[tuple[Reason, ox.Quad]]] = defaultdict(list)
    own = {_key(q): q for q in site.store.quads_for_pattern(ox.NamedNode(iri), None, None, None)}
    site.prefetch_labels(
        [iri, *(t.value for q in own.values() for t in (q.predicate, q.object) if isinstance(t, ox.NamedNode))]
    )
    for reason in site.why(iri, as_of):
        quad = own.get((reason.property, reason.value, reason.graph))
        if quad is not None:
            by_prop[quad.predicate.value].append((reason, quad))
    groups: dict[str, list[Statement]] = defaultdict(list)
    for prop, pairs in sorted(by_prop.items(), key=lambda kv: site.label(kv[0]).lower()):
        statement = Statement(prop, site.label(prop), _values(site, pairs), site.conflict(iri, prop))
        groups[group_of(prop, [v.external or v.iri for v in statement.values])].append(statement)
    order = ["About", "Architecture and size", "Release, licence and use", "Evaluation", "Source document", "Links"]
    ordered = [(name, groups[name]) for name in order if name in groups]
    ordered += [(name, rows) for name, rows in groups.items() if name not in order]
    types = [Link(site.label(t), t) for t in site.types(iri)]
    titles = [q.object.value for q in own.values() if q.predicate.value == TITLE and isinstance(q.object, ox.Literal)]
    label = site.label(iri) if site.own_label(iri) is not None or not titles else min(titles)
    view = EntityView(iri, label, types, ordered, inbound(site, iri))
    view.summary = summary(site, view)
    view.ancestors, view.descendants = lineage(site, iri)
    view.timeline = changes(site, site.why(iri, as_of))
    return view


def changes(site: Site, reasons: list[Reason]) -> list[tuple[str, Run]]:
    """The values that changed between revisions of one document: each run of a value (from the revision
    that first states it until the one that states another), for the properties where one did."""
    runs = value_runs(reasons)
    ended = {(run.property, run.until) for run in runs if run.until}  # a run that a later revision ended
    kept = [run for run in runs if run.until or (run.property, run.since) in ended]
    return [(site.label(run.property), run) for run in kept]


def summary(site: Site, view: EntityView) -> list[Fact]:
    """The card at the top: preferred values of the SUMMARY properties the entity has, and its papers."""
    statements = {s.prop: s for _, rows in view.groups for s in rows}
    facts = []
    for label, parts in SUMMARY:
        found = [(word, statements[expand(prop)]) for word, prop in parts if expand(prop) in statements]
        values = [(word, v) for word, s in found for v in s.values if v.preferred or len(s.values) == 1]
        if values:
            facts.append(Fact(label, values, anchor(found[0][1].prop)))
    papers = _papers(site, statements.values())
    if papers:
        facts.append(Fact("Paper", [("", p) for p in papers], ""))
    return facts


def _papers(site: Site, statements: Iterable[Statement]) -> list[Value]:
    """The documents with an arXiv id or DOI that state something about the entity."""
    found: dict[str, Value] = {}
    for badge in (b for s in statements for v in s.values for b in v.badges if not b.curated):
        facts = site.document(badge.source_iri)
        if "arxivId" in facts or "doi" in facts:
            found.setdefault(badge.source_iri, Value(badge.title or badge.source, iri=badge.source_iri))
    return sorted(found.values(), key=lambda v: v.text)


def _key(quad: ox.Quad) -> tuple[str, str, str]:
    return shorten(quad.predicate), shorten(quad.object), shorten(quad.graph_name)


def _values(site: Site, pairs: list[tuple[Reason, ox.Quad]]) -> list[Value]:
    values: dict[object, Value] = {}
    for reason, quad in pairs:
        value = values.get(quad.object)
        if value is None:
            value = values[quad.object] = _value(site, quad)
        value.preferred |= reason.preferred
        value.badges.append(badge(reason, site.document))
    for value in values.values():
        value.badges.sort(key=lambda b: (b.rank, _newest_first(b.date)))
    return sorted(values.values(), key=lambda v: (not v.preferred, v.text))


def _newest_first(date: str) -> tuple[int, ...]:
    return tuple(-int(part) for part in date.split("-") if part.isdigit())


def _value(site: Site, quad: ox.Quad) -> Value:
    term, prop = quad.object, quad.predicate.value
    if isinstance(term, ox.NamedNode):
        own = term.value.startswith(site.settings.iris.public)
        return Value(site.label(term), iri=term.value, external=None if own else term.value)
    if isinstance(term, ox.Literal):
        return Value(display(term), external=external_link(prop, term.value))
    return Value(str(term))


def badge(reason: Reason, document: Callable[[str], dict[str, str]] | None = None) -> Badge:
    """A value's source as a badge; ``document`` (Site.document) gives the source's party."""
    curated = reason.source == "(curated)"
    source_iri = "" if curated else expand(reason.source)
    return Badge(
        source="curated" if curated else reason.source,
        source_iri=source_iri,
        graph=reason.graph,
        title=reason.title,
        version=short_version(reason.version),
        date=reason.date,
        locator=reason.locator,
        evidence=reason.evidence,
        party=document(source_iri).get("party", "") if document and source_iri else "",
    )


def display(literal: ox.Literal) -> str:
    """A literal for reading: big integers with separators and a compact form (109 B)."""
    kind = literal.datatype.value.rsplit("#", 1)[-1]
    if (
        kind in ("integer", "nonNegativeInteger", "positiveInteger", "long", "int")
        and literal.value.lstrip("-").isdigit()
    ):
        number = int(literal.value)
        return f"{number:,}" + (f" ({compact(number)})" if abs(number) >= 10_000 else "")
    if kind == "boolean":
        return "yes" if literal.value in ("true", "1") else "no"
    return literal.value + (f" @{literal.language}" if literal.language else "")


def compact(number: int) -> str:
    """>>> compact(109_000_000_000)
    '109 B'
    """
    for size, unit in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k")):
        if abs(number) >= size:
            return f"{number / size:.4g} {unit}"
    return str(number)


def inbound(site: Site, iri: str) -> list[Inbound]:
    """Who points at ``iri``, by property: how many, and the first INBOUND_LIMIT of them (a metric or a
    benchmark is pointed at by every result that uses it, so only those shown are fetched and labelled)."""
    node, things = ox.NamedNode(iri), f"STRSTARTS(STR(?s), {ox.Literal(ID)})"
    counts = site.select(
        f"SELECT ?p ?o (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p ?o FILTER(?p != rdf:type && ?s != ?o && {things}) }} "
        "GROUP BY ?p ?o",  # ?o projected: the engine binds only projected variables
        o=node,
    )
    found = []
    for row in counts:
        first = site.select(
            # no ORDER BY: sorting a metric's hundred thousand results to show thirty took seconds
            f"SELECT DISTINCT ?s ?p ?o WHERE {{ ?s ?p ?o FILTER(?s != ?o && {things}) }} LIMIT {INBOUND_LIMIT}",
            p=row["p"],
            o=node,
        )
        site.prefetch_labels(r["s"].value for r in first)
        links = sorted((Link(site.label(r["s"]), r["s"].value) for r in first), key=lambda link: link.label.lower())
        found.append(Inbound(site.label(row["p"]), links, int(row["n"].value) - len(links)))
    return sorted(found, key=lambda i: i.label)


def source_graphs(site: Site, iri: str) -> list[dict[str, str]]:
    """The fact graphs derived from a source document, with their locators and sizes."""
    rows = site.select(
        """SELECT ?doc ?g (SAMPLE(?where) AS ?locator) (COUNT(*) AS ?n) WHERE {
             GRAPH ?g { ?g prov:wasDerivedFrom ?doc . OPTIONAL { ?g llmkg:locator ?where } ?s ?p ?o }
           } GROUP BY ?doc ?g ORDER BY ?g""",
        doc=ox.NamedNode(iri),
    )
    return [
        {"graph": r["g"].value, "locator": r["locator"].value if "locator" in r else "", "n": r["n"].value}
        for r in rows
    ]


def revisions(site: Site, iri: str) -> list[Link]:
    """Other versions of the same document, earlier and later (prov:wasRevisionOf, both ways)."""
    rows = site.select(
        """SELECT DISTINCT ?doc ?other WHERE {
             { ?doc prov:wasRevisionOf+ ?other } UNION { ?other prov:wasRevisionOf+ ?doc } }""",
        doc=ox.NamedNode(iri),
    )
    return sorted({Link(site.label(r["other"]), r["other"].value) for r in rows}, key=lambda link: link.iri)
