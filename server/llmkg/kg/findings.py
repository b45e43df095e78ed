"""Whole-graph findings, computed at build time into graph/findings for the saved queries to read.

Some questions range over every statement of the graph: on which facts do sources disagree, which
facts only secondary sources state, which results look minted twice, which entities are referenced
but never described, which graphs or scores lack provenance, who evaluated whom, which entity bears a
name. Asked in SPARQL they take seconds on a large graph, yet their answer changes only when the data
does. So the build answers each one here, from the same quads and with the rules of
:mod:`llmkg.kg.provenance`, and records every finding as one node of graph/findings that names the
statement concerned (``rdf:subject``, ``rdf:predicate``, ``rdf:object``), or one row of a tally. A
saved query starts from those few nodes and joins them back to the graphs that state them. Each
question's whole-graph query stays in ``queries/live/``, and tests/test_findings.py checks both give
the same answer.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import combinations, product

import pyoxigraph as ox

from llmkg.kg.provenance import GraphInfo, Key, graph_infos, statements_by_key
from llmkg.namespaces import (
    DCTERMS,
    DEFAULT_GRAPH,
    FINDINGS_GRAPH,
    GENID,
    ID,
    LLMKG,
    PREFERRED_GRAPH,
    PROV,
    RDF,
    RDF_TYPE,
    RDFS,
    SKOS,
    XSD,
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
CONFLICT, SECONDARY_ONLY, DUPLICATE, UNDESCRIBED, UNSOURCED, GAP, TALLY, NAME, SOURCE_TALLY, COVERAGE = (
    LLMKG + c
    for c in (
        "ConflictingFact",
        "SecondaryOnlyStatement",
        "DuplicateResultPair",
        "UndescribedReference",
        "UnsourcedScore",
        "ProvenanceGap",
        "EvaluationTally",
        "EntityName",
        "SourceTally",
        "CoverageGap",
    )
)
SUBJECT, PREDICATE, OBJECT = RDF + "subject", RDF + "predicate", RDF + "object"
#: What a source document needs to be cited: a version or a date.
DATED_BY = (LLMKG + "version", DCTERMS + "issued", DCTERMS + "modified")
#: The graph and document properties the provenance checks read from graph/default (rdf:type only for these classes).
RECORD_PROPERTIES = frozenset(
    {PROV + "wasDerivedFrom", LLMKG + "locator", DCTERMS + "identifier", LLMKG + "retrievedOn", *DATED_BY}
)
RECORD_CLASSES = frozenset(
    LLMKG + c for c in ("FactGraph", "CuratedGraph", "DerivedGraph", "SourceDocument", "EvaluationResult")
)
#: The properties that give an entity a name a source may use (037 resolves names to entities by them).
NAMING = frozenset({RDFS + "label", SKOS + "altLabel", LLMKG + "labelInSource"})
Described = dict[str, dict[str, set[str]]]
#: What each kind of entity is expected to state (048): class -> properties, and the property that
#: makes an entity of the class count (a family's model, a suite's task; comparison models are skipped).
COVERAGE_EXPECTED: dict[str, tuple[str, ...]] = {
    LLMKG + "Model": (
        RDFS + "label",
        LLMKG + "totalParameters",
        LLMKG + "architectureType",
        LLMKG + "contextLength",
        LLMKG + "knowledgeCutoff",
        DCTERMS + "license",
        DCTERMS + "issued",
    ),
    LLMKG + "Checkpoint": (RDFS + "label", LLMKG + "tuning", LLMKG + "huggingFaceRepository"),
    LLMKG + "Metric": (RDFS + "label", LLMKG + "higherIsBetter"),
    LLMKG + "BenchmarkTask": (RDFS + "label", LLMKG + "metric", LLMKG + "baselineScore"),
    LLMKG + "TrainingStage": (LLMKG + "stageKind", LLMKG + "stageOrder"),
}
COVERAGE_COUNTS_IF = {LLMKG + "Model": LLMKG + "inFamily", LLMKG + "BenchmarkTask": LLMKG + "taskOf"}


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


def described(quads: Iterable[ox.Quad]) -> Described:
    """What graph/default says of graphs and source documents: the record properties and classes."""
    found: Described = defaultdict(lambda: defaultdict(set))
    for q in quads:
        p = q.predicate.value
        if q.graph_name.value == DEFAULT_GRAPH and (  # type: ignore[union-attr]
            p in RECORD_PROPERTIES or (p == RDF_TYPE and q.object.value in RECORD_CLASSES)  # type: ignore[union-attr]
        ):
            found[q.subject.value][p].add(q.object.value)  # type: ignore[union-attr]
    return found


def provenance_gaps(quads: Iterable[ox.Quad], records: Described) -> set[tuple[ox.NamedNode, str]]:
    """(graph, what it lacks) for each graph loaded from a file, neither curated nor derived, whose
    provenance is incomplete: see queries/examples/046-graphs-without-provenance.rq for the rule."""
    loaded = {q.graph_name for q in quads if q.subject == q.graph_name and q.predicate.value == LLMKG + "sourceFile"}
    gaps: set[tuple[ox.NamedNode, str]] = set()
    for graph in loaded:
        record = records.get(graph.value, {})  # type: ignore[union-attr]
        kinds, documents = record.get(RDF_TYPE, set()), record.get(PROV + "wasDerivedFrom", set())
        if kinds & {LLMKG + "CuratedGraph", LLMKG + "DerivedGraph"}:
            continue
        docs = [records.get(d, {}) for d in documents]
        lacks = {
            "llmkg:FactGraph type": LLMKG + "FactGraph" not in kinds,
            "a source document (prov:wasDerivedFrom)": not any(
                LLMKG + "SourceDocument" in d.get(RDF_TYPE, ()) for d in docs
            ),
            "exactly one source document": len(documents) > 1,
            "document identifier": any(not d.get(DCTERMS + "identifier") for d in docs),
            "document version or date": any(not any(d.get(p) for p in DATED_BY) for d in docs),
            "retrieval date": any(not d.get(LLMKG + "retrievedOn") for d in docs),
            "locator": not record.get(LLMKG + "locator"),
        }
        gaps.update((graph, missing) for missing, lacking in lacks.items() if lacking)  # type: ignore[misc]
    return gaps


def unsourced_scores(quads: Iterable[ox.Quad], records: Described) -> set[Statement]:
    """Result values stated in a named graph that is neither derived nor a fact graph of a dated document."""
    found: set[Statement] = set()
    for q in quads:
        if q.predicate.value != LLMKG + "value" or not isinstance(q.graph_name, ox.NamedNode):
            continue
        record = records.get(q.graph_name.value, {})
        kinds = record.get(RDF_TYPE, set())
        if LLMKG + "DerivedGraph" in kinds:
            continue
        dated = any(any(records.get(d, {}).get(p) for p in DATED_BY) for d in record.get(PROV + "wasDerivedFrom", ()))
        if not (LLMKG + "FactGraph" in kinds and dated):
            found.add((q.subject, q.predicate, q.object))  # type: ignore[arg-type]
    return found


Tally = tuple[ox.NamedNode | None, ox.NamedNode | None, ox.NamedNode | None]
#: The properties naming what a tally counts by: evaluator, developer, party.
TALLY_BY = tuple(LLMKG + p for p in ("tallyEvaluatedBy", "tallyDeveloper", "tallyParty"))


def evaluation_tallies(quads: Iterable[ox.Quad]) -> dict[Tally, tuple[int, int]]:
    """Results and evaluated models counted by (evaluator, developer of the evaluated model or of its
    checkpoint's model, party), from graph/preferred; None where a result or model states none."""
    wanted = {LLMKG + p for p in ("evaluatedModel", "evaluatedBy", "party", "developer", "checkpointOf")}
    props: dict[ox.NamedNode, dict[str, list[ox.NamedNode]]] = defaultdict(lambda: defaultdict(list))
    for q in quads:
        if q.predicate.value in wanted and q.graph_name.value == PREFERRED_GRAPH:  # type: ignore[union-attr]
            props[q.subject][q.predicate.value].append(q.object)  # type: ignore[index,arg-type]
    counted: dict[Tally, tuple[set[ox.NamedNode], set[ox.NamedNode]]] = defaultdict(lambda: (set(), set()))
    for result, held in list(props.items()):
        for evaluated in held.get(LLMKG + "evaluatedModel", ()):
            models = [evaluated, *props.get(evaluated, {}).get(LLMKG + "checkpointOf", ())]
            developers = [d for m in models for d in props.get(m, {}).get(LLMKG + "developer", ())]
            for key in product(
                _or_none(held.get(LLMKG + "evaluatedBy")), _or_none(developers), _or_none(held.get(LLMKG + "party"))
            ):
                results, evaluated_models = counted[key]
                results.add(result)
                evaluated_models.add(evaluated)
    return {key: (len(results), len(models)) for key, (results, models) in counted.items()}


def entity_names(
    quads: Iterable[ox.Quad], records: Described
) -> set[tuple[ox.NamedNode, ox.NamedNode, ox.NamedNode, str]]:
    """(entity, naming property, graph, name in lower case) for every name a graph not derived gives an
    entity other than a result: what a case-insensitive lookup of a name scans, not every label."""
    found: set[tuple[ox.NamedNode, ox.NamedNode, ox.NamedNode, str]] = set()
    for q in quads:
        if q.predicate.value not in NAMING or not isinstance(q.graph_name, ox.NamedNode):
            continue
        if LLMKG + "DerivedGraph" in records.get(q.graph_name.value, {}).get(RDF_TYPE, ()):
            continue
        if LLMKG + "EvaluationResult" not in records.get(q.subject.value, {}).get(RDF_TYPE, ()):  # type: ignore[union-attr]
            found.add((q.subject, q.predicate, q.graph_name, q.object.value.lower()))  # type: ignore[arg-type,union-attr]
    return found


def source_tallies(quads: Iterable[ox.Quad]) -> dict[ox.NamedNode, tuple[int, int]]:
    """For each source document, the fact graphs derived from it and the statements they make (their
    own record left out), as each fact graph's record in the graph itself says."""
    statements: dict[ox.NamedNode, int] = defaultdict(int)
    fact_graphs: set[ox.NamedNode] = set()
    sources: dict[ox.NamedNode, set[ox.NamedNode]] = defaultdict(set)
    for q in quads:
        if q.subject != q.graph_name:
            statements[q.graph_name] += 1  # type: ignore[index]
        elif q.predicate.value == RDF_TYPE and q.object.value == LLMKG + "FactGraph":  # type: ignore[union-attr]
            fact_graphs.add(q.graph_name)  # type: ignore[arg-type]
        elif q.predicate.value == PROV + "wasDerivedFrom":
            sources[q.graph_name].add(q.object)  # type: ignore[index,arg-type]
    by_source: dict[ox.NamedNode, list[ox.NamedNode]] = defaultdict(list)
    for graph in fact_graphs:
        for source in sources.get(graph, ()) if statements[graph] else ():  # a graph stating nothing counts not
            by_source[source].append(graph)
    return {source: (len(graphs), sum(statements[g] for g in graphs)) for source, graphs in by_source.items()}


def coverage_gaps(quads: Iterable[ox.Quad]) -> set[tuple[ox.NamedNode, ox.NamedNode, str]]:
    """(class, entity, property) for each entity of graph/default that lacks a property COVERAGE_EXPECTED
    expects of its class there."""
    wanted = {p for props in COVERAGE_EXPECTED.values() for p in props} | set(COVERAGE_COUNTS_IF.values())
    members: dict[str, set[ox.NamedNode]] = defaultdict(set)
    stated: dict[ox.NamedNode, set[str]] = defaultdict(set)
    for q in quads:
        if q.graph_name.value != DEFAULT_GRAPH:  # type: ignore[union-attr]
            continue
        if q.predicate.value == RDF_TYPE and q.object.value in COVERAGE_EXPECTED:  # type: ignore[union-attr]
            members[q.object.value].add(q.subject)  # type: ignore[union-attr,arg-type]
        if q.predicate.value in wanted:
            stated[q.subject].add(q.predicate.value)  # type: ignore[index]
    gaps: set[tuple[ox.NamedNode, ox.NamedNode, str]] = set()
    for kind, props in COVERAGE_EXPECTED.items():
        for entity in members[kind]:
            held = stated.get(entity, set())
            if kind not in COVERAGE_COUNTS_IF or COVERAGE_COUNTS_IF[kind] in held:
                gaps.update((ox.NamedNode(kind), entity, p) for p in props if p not in held)
    return gaps


def _or_none(terms: list[ox.NamedNode] | None) -> list[ox.NamedNode | None]:
    """An OPTIONAL's bindings: the terms found, or one unbound row."""
    return list(terms) if terms else [None]


def findings_quads(quads: list[ox.Quad]) -> list[ox.Quad]:
    """graph/findings, and its record in graph/default; ``quads`` must already hold both derived graphs
    of :func:`provenance.derived_quads`, which several findings read."""
    graph, kind = ox.NamedNode(FINDINGS_GRAPH), ox.NamedNode(LLMKG + "DerivedGraph")
    out = [
        q
        for g in (graph, ox.NamedNode(DEFAULT_GRAPH))
        for q in (ox.Quad(graph, ox.NamedNode(RDF_TYPE), kind, g), ox.Quad(graph, _SOURCE_FILE, _FILE, g))
    ]
    records = described(quads)
    for found, terms in [*_about_statements(quads, records), *_about_entities(quads, records)]:
        out.extend(_finding(found, terms))
    return out


def _about_statements(quads: list[ox.Quad], records: Described) -> Iterator[tuple[str, dict[str, Term]]]:
    """The findings that name one statement, or one subject and property: each kind with its terms."""
    infos = graph_infos(quads)
    grouped = statements_by_key(quads, infos)
    for subject, prop in single_valued(conflicting_facts(grouped, infos), quads):
        yield CONFLICT, {SUBJECT: subject, PREDICATE: prop}
    for subject, prop, value in secondary_only(grouped, infos):
        yield SECONDARY_ONLY, {SUBJECT: subject, PREDICATE: prop, OBJECT: value}
    for subject, prop, value in undescribed_references(quads):
        yield UNDESCRIBED, {SUBJECT: subject, PREDICATE: prop, OBJECT: value}
    for subject, prop, value in unsourced_scores(quads, records):
        yield UNSOURCED, {SUBJECT: subject, PREDICATE: prop, OBJECT: value}
    for entity, prop, named_in, name in entity_names(quads, records):
        yield (
            NAME,
            {SUBJECT: entity, PREDICATE: prop, LLMKG + "recordedIn": named_in, LLMKG + "nameKey": ox.Literal(name)},
        )


def _about_entities(quads: list[ox.Quad], records: Described) -> Iterator[tuple[str, dict[str, Term]]]:
    """The findings about results, graphs, documents and entities, and the tallies: each kind with its terms."""
    for first, second in duplicate_results(quads):
        yield DUPLICATE, {SUBJECT: first, OBJECT: second}
    for lacking_graph, missing in provenance_gaps(quads, records):
        yield GAP, {SUBJECT: lacking_graph, LLMKG + "lacks": ox.Literal(missing)}
    for kind, entity, expected in coverage_gaps(quads):
        yield COVERAGE, {SUBJECT: entity, PREDICATE: ox.NamedNode(expected), LLMKG + "expectedOf": kind}
    for (evaluator, developer, party), (results, models) in evaluation_tallies(quads).items():
        by: dict[str, Term] = {p: t for p, t in zip(TALLY_BY, (evaluator, developer, party), strict=True) if t}
        yield TALLY, {**by, LLMKG + "resultCount": _integer(results), LLMKG + "evaluatedModelCount": _integer(models)}
    for source, (graphs, statements) in source_tallies(quads).items():
        counts = {LLMKG + "factGraphCount": _integer(graphs), LLMKG + "statementCount": _integer(statements)}
        yield SOURCE_TALLY, {SUBJECT: source, **counts}


def _integer(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=ox.NamedNode(XSD + "integer"))


_SOURCE_FILE, _FILE = ox.NamedNode(LLMKG + "sourceFile"), ox.Literal("server/llmkg/kg/findings.py")


def _finding(kind: str, terms: dict[str, Term]) -> Iterator[ox.Quad]:
    """One finding: a node named by a digest of what it is about, so equal data gives equal IRIs."""
    digest = hashlib.sha256(" ".join([kind, *(str(t) for t in terms.values())]).encode()).hexdigest()[:24]
    node, graph = ox.NamedNode(f"{GENID}findings/{digest}"), ox.NamedNode(FINDINGS_GRAPH)
    yield ox.Quad(node, ox.NamedNode(RDF_TYPE), ox.NamedNode(kind), graph)
    for prop, term in terms.items():
        yield ox.Quad(node, ox.NamedNode(prop), term, graph)
