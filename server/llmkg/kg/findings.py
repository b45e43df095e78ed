"""Whole-graph findings, computed at build time into graph/findings for the saved queries to read.

Some questions range over every statement of the graph: on which facts do sources disagree, which
facts only secondary sources state, which results look minted twice, which entities are referenced
but never described. Asked in SPARQL they take seconds on a large graph, yet their answer changes
only when the data does. So the build answers each one here, from the same quads and with the rules
of :mod:`llmkg.kg.provenance`, and records every finding as one node of graph/findings that names the
statement concerned (``rdf:subject``, ``rdf:predicate``, ``rdf:object``). A saved query starts from
those few nodes and joins them back to the graphs that state them. Each question's whole-graph query
stays in ``queries/live/``, and the test suite checks both give the same answer on the shipped graph.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import combinations, product

import pyoxigraph as ox

from llmkg.kg.provenance import GraphInfo, Key, graph_infos, statements_by_key
from llmkg.namespaces import (
    DEFAULT_GRAPH,
    FINDINGS_GRAPH,
    GENID,
    ID,
    LLMKG,
    PREFERRED_GRAPH,
    RDF,
    RDF_TYPE,
    RDFS,
    SKOS,
)

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Statement = tuple[ox.NamedNode, ox.NamedNode, Term]  # the build names every node by an IRI

#: Properties a conflict is never reported on: free text, names, types and a table's filing category.
NOT_CONFLICTS = frozenset(
    {RDF_TYPE, RDFS + "comment", RDFS + "label", SKOS + "altLabel", LLMKG + "labelInSource", LLMKG + "category"}
)
#: Properties that are not statements a source could be the only one to make (042).
NOT_FACTS = frozenset({RDF_TYPE, RDFS + "comment"})
#: What a result must state to be compared, and what two results must agree on to look like duplicates.
RESULT_IDENTITY = tuple(LLMKG + p for p in ("evaluatedModel", "benchmark", "metric"))
RESULT_SETTING = tuple(
    LLMKG + p
    for p in ("shots", "chainOfThought", "toolUse", "setting", "scoringVariant", "inEvaluationRun", "hazardScope")
)
#: The classes of the finding nodes, one per question.
CONFLICT, SECONDARY_ONLY, DUPLICATE, UNDESCRIBED = (
    LLMKG + c for c in ("ConflictingFact", "SecondaryOnlyStatement", "DuplicateResultPair", "UndescribedReference")
)
SUBJECT, PREDICATE, OBJECT = RDF + "subject", RDF + "predicate", RDF + "object"


def conflicting_facts(grouped: dict[Key, dict[str, set[ox.Quad]]], infos: dict[str, GraphInfo]) -> set[Key]:
    """(subject, property) pairs to which the fact graphs together give more than one value, leaving
    out the excluded properties; list-valued pairs are removed by :func:`single_valued`."""
    found = set()
    for key, by_graph in grouped.items():
        if key[1].value in NOT_CONFLICTS:
            continue
        values = {q.object for g, qs in by_graph.items() if infos[g].kind == "fact" for q in qs}
        if len(values) > 1:
            found.add(key)
    return found


def single_valued(keys: set[Key], quads: Iterable[ox.Quad]) -> set[Key]:
    """The ``keys`` that no graph at all (derived ones included) gives two values: a property one graph
    states several values of is list-valued (languages, obligations), so its values do not conflict."""
    values: dict[tuple[Key, ox.NamedNode | ox.DefaultGraph], set[Term]] = defaultdict(set)
    for q in quads:
        key = (q.subject, q.predicate)
        if key in keys:
            values[(key, q.graph_name)].add(q.object)  # type: ignore[index]
    listed = {key for (key, _), objects in values.items() if len(objects) > 1}
    return keys - listed


def secondary_only(grouped: dict[Key, dict[str, set[ox.Quad]]], infos: dict[str, GraphInfo]) -> set[Statement]:
    """Statements some fact graph of a secondary source makes and no graph of a primary source does."""
    found: set[Statement] = set()
    for (subject, prop), by_graph in grouped.items():
        if prop.value in NOT_FACTS:
            continue
        stating: dict[Term, list[GraphInfo]] = defaultdict(list)
        for g, qs in by_graph.items():
            for q in qs:
                stating[q.object].append(infos[g])
        for value, graphs in stating.items():
            if any(i.kind == "fact" and i.secondary for i in graphs) and not any(i.primary for i in graphs):
                found.add((subject, prop, value))
    return found


def undescribed_references(quads: Iterable[ox.Quad]) -> set[Statement]:
    """Statements of graph/default pointing to an llmkg instance IRI that has no type and no label there."""
    default = [q for q in quads if q.graph_name.value == DEFAULT_GRAPH]  # type: ignore[union-attr]
    described = {q.subject for q in default if q.predicate.value in (RDF_TYPE, RDFS + "label")}
    return {
        (q.subject, q.predicate, q.object)  # type: ignore[misc]
        for q in default
        if isinstance(q.object, ox.NamedNode) and q.object.value.startswith(ID) and q.object not in described
    }


def duplicate_results(quads: Iterable[ox.Quad]) -> set[tuple[ox.NamedNode, ox.NamedNode]]:
    """Pairs of results (the IRI that sorts first, the other) that graph/preferred gives a common
    evaluated model, benchmark and metric, both a value, and the same setting in every respect."""
    wanted = frozenset({*RESULT_IDENTITY, *RESULT_SETTING, LLMKG + "value"})
    props: dict[ox.NamedNode, dict[str, frozenset[Term]]] = defaultdict(lambda: defaultdict(frozenset))
    for q in quads:
        if q.predicate.value in wanted and q.graph_name.value == PREFERRED_GRAPH:  # type: ignore[union-attr]
            held = props[q.subject]  # type: ignore[index]
            held[q.predicate.value] = held[q.predicate.value] | {q.object}
    by_identity: dict[tuple[Term, ...], set[ox.NamedNode]] = defaultdict(set)
    for result, held in props.items():
        if held[LLMKG + "value"]:
            for identity in product(*(held[p] for p in RESULT_IDENTITY)):
                by_identity[identity].add(result)
    pairs = set()
    for results in by_identity.values():
        for first, second in combinations(sorted(results, key=lambda r: r.value), 2):
            if all(props[first][p] == props[second][p] for p in RESULT_SETTING):
                pairs.add((first, second))
    return pairs


def findings_quads(quads: list[ox.Quad]) -> list[ox.Quad]:
    """graph/findings, and its record in graph/default; ``quads`` must already hold both derived graphs
    of :func:`provenance.derived_quads`, which the duplicate and reference findings read."""
    infos = graph_infos(quads)
    grouped = statements_by_key(quads, infos)
    graph, kind = ox.NamedNode(FINDINGS_GRAPH), ox.NamedNode(LLMKG + "DerivedGraph")
    out = [
        q
        for g in (graph, ox.NamedNode(DEFAULT_GRAPH))
        for q in (ox.Quad(graph, ox.NamedNode(RDF_TYPE), kind, g), ox.Quad(graph, _SOURCE_FILE, _FILE, g))
    ]
    for subject, prop in single_valued(conflicting_facts(grouped, infos), quads):
        out.extend(_finding(CONFLICT, {SUBJECT: subject, PREDICATE: prop}))
    for subject, prop, value in secondary_only(grouped, infos):
        out.extend(_finding(SECONDARY_ONLY, {SUBJECT: subject, PREDICATE: prop, OBJECT: value}))
    for subject, prop, value in undescribed_references(quads):
        out.extend(_finding(UNDESCRIBED, {SUBJECT: subject, PREDICATE: prop, OBJECT: value}))
    for first, second in duplicate_results(quads):
        out.extend(_finding(DUPLICATE, {SUBJECT: first, OBJECT: second}))
    return out


_SOURCE_FILE, _FILE = ox.NamedNode(LLMKG + "sourceFile"), ox.Literal("server/llmkg/kg/findings.py")


def _finding(kind: str, terms: dict[str, Term]) -> Iterator[ox.Quad]:
    """One finding: a node named by a digest of what it is about, so equal data gives equal IRIs."""
    digest = hashlib.sha256(" ".join([kind, *(str(t) for t in terms.values())]).encode()).hexdigest()[:24]
    node, graph = ox.NamedNode(f"{GENID}findings/{digest}"), ox.NamedNode(FINDINGS_GRAPH)
    yield ox.Quad(node, ox.NamedNode(RDF_TYPE), ox.NamedNode(kind), graph)
    for prop, term in terms.items():
        yield ox.Quad(node, ox.NamedNode(prop), term, graph)
