"""Which source says what: graph metadata, conflicts between sources, and the preferred-value rule.

The preferred-value rule (documented in triples/README.md) picks, for each subject and property,
the complete value set of the best-ranked graph that states it. Graphs rank by:

1. curated graphs (identity, labels, membership) before fact graphs;
2. primary sources before secondary ones;
3. first-party sources before third-party ones;
4. the later document (``dcterms:issued``) before the earlier, so a revision supersedes;
5. the graph IRI, alphabetically, as a last, stable tie-break.

Every value stays in its own graph; the rule only fills ``graph/preferred``, and ``graph/default``
(what a query without a dataset of its own reads) is built from it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from llmkg.namespaces import (
    DCTERMS,
    DEFAULT_GRAPH,
    GRAPH,
    LLMKG,
    PREFERRED_GRAPH,
    PROV,
    QUERIES_GRAPH,
    RDF_TYPE,
    VOCABULARY_GRAPHS,
    text,
)

Key = tuple[ox.NamedNode, ox.NamedNode]


@dataclass(frozen=True)
class GraphInfo:
    """What the ranking needs to know about one named graph."""

    iri: str
    kind: str  # "fact", "curated" or "other"
    primary: bool = False
    secondary: bool = False  # the source says so: a document of no stated evidence is neither
    first_party: bool = False
    issued: str = ""
    revision_depth: int = 0

    def rank(self) -> tuple[int, int, int, str, int, str]:
        """Sort key: smaller is preferred."""
        return (
            0 if self.kind == "curated" else 1,
            0 if self.primary else 1,
            0 if self.first_party else 1,
            _negate(self.issued),
            -self.revision_depth,
            self.iri,
        )


def _negate(date: str) -> str:
    """Turn an ISO date into a key that sorts later dates first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in date) if date else "\U0010ffff"


def graph_infos(quads: Iterable[ox.Quad]) -> dict[str, GraphInfo]:
    """Read each graph's type and its source document's evidence, party and date."""
    types: dict[str, set[str]] = defaultdict(set)
    derived: dict[str, str] = {}
    doc_props: dict[str, dict[str, str]] = defaultdict(dict)
    revises: dict[str, str] = {}
    for q in quads:
        s, p, o = text(q.subject), text(q.predicate), text(q.object)
        if p == RDF_TYPE and q.subject == q.graph_name:
            types[s].add(o)
        elif p == PROV + "wasDerivedFrom" and q.subject == q.graph_name:
            derived[s] = o
        elif p in (LLMKG + "evidence", LLMKG + "party", DCTERMS + "issued"):
            doc_props[s][p] = o
        elif p == PROV + "wasRevisionOf":
            revises[s] = o
    infos = {}
    for graph, kinds in types.items():
        doc = doc_props.get(derived.get(graph, ""), {})
        kind = "fact" if LLMKG + "FactGraph" in kinds else "curated" if LLMKG + "CuratedGraph" in kinds else "other"
        infos[graph] = GraphInfo(
            iri=graph,
            kind=kind,
            primary=doc.get(LLMKG + "evidence") == LLMKG + "Primary",
            secondary=doc.get(LLMKG + "evidence") == LLMKG + "Secondary",
            first_party=doc.get(LLMKG + "party") == LLMKG + "FirstParty",
            issued=doc.get(DCTERMS + "issued", ""),
            revision_depth=_depth(derived.get(graph, ""), revises),
        )
    return infos


def _depth(doc: str, revises: dict[str, str]) -> int:
    """How many earlier revisions a document has (0 for a first version)."""
    depth, seen = 0, {doc}
    while doc in revises and revises[doc] not in seen:
        doc = revises[doc]
        seen.add(doc)
        depth += 1
    return depth


def statements_by_key(quads: Iterable[ox.Quad], infos: dict[str, GraphInfo]) -> dict[Key, dict[str, set[ox.Quad]]]:
    """Group the world statements (not graph metadata) by (subject, property), then by graph."""
    grouped: dict[Key, dict[str, set[ox.Quad]]] = defaultdict(lambda: defaultdict(set))
    for q in quads:
        graph = text(q.graph_name) if isinstance(q.graph_name, ox.NamedNode) else ""
        info = infos.get(graph)
        if info is None or info.kind == "other" or text(q.subject) in infos:
            continue
        if graph.startswith(VOCABULARY_GRAPHS):
            continue
        grouped[(q.subject, q.predicate)][graph].add(q)  # type: ignore[index]
    return grouped


def preferred_graph(graphs: Iterable[str], infos: dict[str, GraphInfo]) -> str:
    """The rule itself: of the graphs stating a fact, the one whose values are preferred."""
    return min(graphs, key=lambda g: infos[g].rank())


def preferred_quads(quads: list[ox.Quad]) -> list[ox.Quad]:
    """The statements of graph/preferred: per (subject, property), the best-ranked graph's values."""
    infos = graph_infos(quads)
    graph = ox.NamedNode(PREFERRED_GRAPH)
    out = [
        ox.Quad(graph, ox.NamedNode(RDF_TYPE), ox.NamedNode(LLMKG + "DerivedGraph"), graph),
        ox.Quad(graph, ox.NamedNode(LLMKG + "sourceFile"), ox.Literal("server/llmkg/provenance.py"), graph),
    ]
    for by_graph in statements_by_key(quads, infos).values():
        best = preferred_graph(by_graph, infos)
        out.extend(ox.Quad(q.subject, q.predicate, q.object, graph) for q in by_graph[best])
    return out


#: Graphs copied whole into graph/default: the ontology and the saved-query catalogue.
DEFAULT_WHOLE = (GRAPH + "ontology/", QUERIES_GRAPH)


def default_quads(quads: list[ox.Quad]) -> list[ox.Quad]:
    """The statements of graph/default, each once: graph/preferred (one value set per fact, the curated
    identities and source documents included, as they rank first), every graph's own record (its type,
    source document, locator, comment) and the ontology and catalogue graphs whole.

    ``quads`` must already hold graph/preferred. Per-source values stay out: they are one
    ``GRAPH ?g`` away.
    """
    graph = ox.NamedNode(DEFAULT_GRAPH)
    chosen = {
        ox.Quad(graph, ox.NamedNode(RDF_TYPE), ox.NamedNode(LLMKG + "DerivedGraph"), graph),
        ox.Quad(graph, ox.NamedNode(LLMKG + "sourceFile"), ox.Literal("server/llmkg/kg/provenance.py"), graph),
    }
    for q in quads:
        name = text(q.graph_name)
        if name == PREFERRED_GRAPH or q.subject == q.graph_name or name.startswith(DEFAULT_WHOLE):
            chosen.add(ox.Quad(q.subject, q.predicate, q.object, graph))
    return sorted(chosen, key=str)


def derived_quads(quads: list[ox.Quad]) -> list[ox.Quad]:
    """graph/preferred and graph/default, computed from the other graphs' quads."""
    preferred = preferred_quads(quads)
    return [*preferred, *default_quads([*quads, *preferred])]
