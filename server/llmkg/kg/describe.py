"""The dataset describes itself as RDF: a SPARQL Service Description, VoID, and DCAT / schema.org.

What does not change between builds is dataset.ttl; the rest is built as triples from the store's
own statistics, never by pasting strings, and
serialised by pyoxigraph in whatever RDF format the client asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from llmkg import __version__
from llmkg.kg.build import DUMPS, store_record
from llmkg.namespaces import (
    DCAT,
    DCTERMS,
    DEFAULT_GRAPH,
    GRAPH,
    ID,
    LLMKG,
    ONTOLOGY_IRI,
    OWL,
    PREFIXES,
    RDF_TYPE,
    SCHEMA,
    SD,
    SH,
    VOID,
    XSD,
)
from llmkg.sparql.formats import GRAPH_FORMATS, RESULT_FORMATS
from llmkg.sparql.store import Backend

FORMATS = "http://www.w3.org/ns/formats/"
SELF_DESCRIPTION = Path(__file__).with_name("dataset.ttl")
DESCRIPTION_PREFIXES = {
    "sd": SD,
    "void": VOID,
    "dcterms": DCTERMS,
    "formats": FORMATS,
    "xsd": PREFIXES["xsd"],
    "owl": PREFIXES["owl"],
    "graph": GRAPH,
    "sh": SH,
    "source": ID + "source/",
    "model": ID + "model/",
}


@dataclass(frozen=True)
class Statistics:
    """What the descriptions say about the data, gathered once from the store."""

    graph_triples: dict[str, int]
    sources: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    vocabularies: tuple[str, ...] = field(default=())

    @property
    def triples(self) -> int:
        return sum(self.graph_triples.values())


def statistics(store: Backend) -> Statistics:
    """Per-graph triple counts, source documents, example resources, vocabularies."""
    counts = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    terms = "SELECT DISTINCT ?t WHERE { GRAPH ?g { { ?s ?t ?o } UNION { ?s a ?t } } }"
    used = {str(_value(row["t"])) for row in _select(store, terms)}
    return Statistics(
        graph_triples={str(_value(r["g"])): int(_value(r["n"])) for r in _select(store, counts)},
        sources=tuple(_column(store, "?x a llmkg:SourceDocument")),
        examples=tuple(_column(store, "?x a llmkg:Model")[:3]),
        vocabularies=tuple(sorted({ns for ns in PREFIXES.values() if any(t.startswith(ns) for t in used)} - {ID})),
    )


def statistics_record(store: Backend) -> dict[str, Any]:
    """The statistics of ``store`` as JSON, for the build record (kg.build.STORE_INFO)."""
    return asdict(statistics(store))


def recorded_statistics(store_dir: Path) -> Statistics | None:
    """The statistics the build recorded beside the store, or None (a store made some other way)."""
    found = store_record(store_dir, "statistics")
    if not isinstance(found, dict):
        return None
    return Statistics(
        graph_triples={str(g): int(n) for g, n in found["graph_triples"].items()},
        sources=tuple(found["sources"]),
        examples=tuple(found["examples"]),
        vocabularies=tuple(found["vocabularies"]),
    )


def _select(store: Backend, query: str) -> Iterable[ox.QuerySolution]:
    return store.query(query, prefixes=PREFIXES)  # type: ignore[return-value]


def _column(store: Backend, pattern: str) -> list[str]:
    query = f"SELECT DISTINCT ?x WHERE {{ GRAPH ?g {{ {pattern} }} }} ORDER BY ?x"
    return [str(_value(row["x"])) for row in _select(store, query)]


def _value(term: object) -> str:
    return term.value if isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)) else ""


def _iri(value: str) -> ox.NamedNode:
    return ox.NamedNode(value)


def _count(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=ox.NamedNode(PREFIXES["xsd"] + "integer"))


#: What graph/default is, for the Service Description and VoID.
DEFAULT_GRAPH_NOTE = (
    "The default graph of every query that names no dataset of its own: one value per fact (the preferred value "
    "of graph/preferred, curated identities and source documents included), each named graph's own record "
    "(its source document, version and place), the ontology and the saved-query catalogue. Every source's own "
    "values stay in its named graph: GRAPH ?g { ... } ?g prov:wasDerivedFrom ?document."
)


#: The as-of extension of the protocol, for the Service Description (ontology/README.md explains it).
AS_OF_NOTE = (
    "Extension of the SPARQL 1.1 Protocol: asof=YYYY-MM-DD runs the query over the graph as it stood on that "
    "date: the source versions in effect then as named graphs, and one preferred value per fact among them, "
    "by the same rule as graph/default, as the default graph. undated=include (the default) or undated=exclude "
    "says whether source versions with no known date are in it. Not combinable with FROM, default-graph-uri "
    "or named-graph-uri; a malformed date is refused with 400."
)


def service_description(stats: Statistics, *, endpoint: str, dataset: str, federated: bool) -> list[ox.Triple]:
    """The SPARQL 1.1 Service Description of the endpoint at ``endpoint``: its default graph (graph/default),
    its named graphs, and the prefixes a query may use without declaring them (as SHACL prefix declarations)."""
    service, default = _iri(endpoint + "#service"), _iri(DEFAULT_GRAPH)
    triples = [
        ox.Triple(service, _iri(RDF_TYPE), _iri(SD + "Service")),
        ox.Triple(service, _iri(SD + "endpoint"), _iri(endpoint)),
        ox.Triple(service, _iri(SD + "supportedLanguage"), _iri(SD + "SPARQL11Query")),
        ox.Triple(service, _iri(SD + "defaultEntailmentRegime"), _iri("http://www.w3.org/ns/entailment/Simple")),
        ox.Triple(service, _iri(SD + "defaultDataset"), _iri(dataset)),
        ox.Triple(_iri(dataset), _iri(RDF_TYPE), _iri(SD + "Dataset")),
        ox.Triple(_iri(dataset), _iri(SD + "defaultGraph"), default),
        ox.Triple(default, _iri(RDF_TYPE), _iri(SD + "Graph")),
        ox.Triple(default, _iri(VOID + "triples"), _count(stats.graph_triples.get(DEFAULT_GRAPH, 0))),
        ox.Triple(default, _iri(DCTERMS + "description"), ox.Literal(DEFAULT_GRAPH_NOTE, language="en")),
    ]
    if federated:
        triples.append(ox.Triple(service, _iri(SD + "feature"), _iri(SD + "BasicFederatedQuery")))
    as_of = _iri(LLMKG + "AsOfQuery")
    triples += [
        ox.Triple(service, _iri(SD + "feature"), as_of),
        ox.Triple(as_of, _iri(RDF_TYPE), _iri(SD + "Feature")),
        ox.Triple(as_of, _iri(DCTERMS + "description"), ox.Literal(AS_OF_NOTE, language="en")),
    ]
    for fmt in (*RESULT_FORMATS, *GRAPH_FORMATS):
        triples.append(ox.Triple(service, _iri(SD + "resultFormat"), _iri(FORMATS + fmt.w3c_name)))
    for name, namespace in PREFIXES.items():
        declaration = ox.BlankNode()
        triples += [
            ox.Triple(service, _iri(SH + "declare"), declaration),
            ox.Triple(declaration, _iri(SH + "prefix"), ox.Literal(name)),
            ox.Triple(declaration, _iri(SH + "namespace"), ox.Literal(namespace, datatype=_iri(XSD + "anyURI"))),
        ]
    for graph, count in sorted(stats.graph_triples.items()):
        triples.extend(_named_graph(_iri(dataset), graph, count))
    return triples


def _named_graph(dataset: ox.NamedNode, graph: str, count: int) -> list[ox.Triple]:
    named, described = ox.BlankNode(), ox.BlankNode()
    return [
        ox.Triple(dataset, _iri(SD + "namedGraph"), named),
        ox.Triple(named, _iri(RDF_TYPE), _iri(SD + "NamedGraph")),
        ox.Triple(named, _iri(SD + "name"), _iri(graph)),
        ox.Triple(named, _iri(SD + "graph"), described),
        ox.Triple(described, _iri(RDF_TYPE), _iri(SD + "Graph")),
        ox.Triple(described, _iri(VOID + "triples"), _count(count)),
    ]


def void_description(stats: Statistics, *, dataset: str, base_url: str, version: str) -> list[ox.Triple]:
    """VoID of the dataset: size per graph, licence, sources, vocabularies, examples, access points."""
    ds = _iri(dataset)
    links: list[tuple[ox.NamedNode, ox.NamedNode | ox.Literal]] = [
        (_iri(PREFIXES["owl"] + "versionInfo"), ox.Literal(version)),
        (_iri(VOID + "sparqlEndpoint"), _iri(base_url + "sparql")),
        *((_iri(VOID + "dataDump"), _iri(base_url + "dumps/" + name)) for name in DUMPS),
        (_iri(VOID + "triples"), _count(stats.triples)),
    ]
    links += [(_iri(VOID + "vocabulary"), _iri(v)) for v in stats.vocabularies]
    links += [(_iri(VOID + "exampleResource"), _iri(e)) for e in stats.examples]
    links += [(_iri(DCTERMS + "source"), _iri(s)) for s in stats.sources]
    triples = [*self_description(dataset), *(ox.Triple(ds, p, o) for p, o in links)]
    for graph, count in sorted(stats.graph_triples.items()):
        triples += [
            ox.Triple(ds, _iri(VOID + "subset"), _iri(graph)),
            ox.Triple(_iri(graph), _iri(RDF_TYPE), _iri(VOID + "Dataset")),
            ox.Triple(_iri(graph), _iri(VOID + "triples"), _count(count)),
        ]
    note = ox.Literal(DEFAULT_GRAPH_NOTE, language="en")
    return [*triples, ox.Triple(_iri(DEFAULT_GRAPH), _iri(DCTERMS + "description"), note)]


def dcat_description(stats: Statistics, *, dataset: str, base_url: str, version: str) -> list[ox.Triple]:
    """DCAT 3 and schema.org description of the whole graph: dataset.ttl, its dumps, SPARQL service, sources."""
    ds, base_url = _iri(dataset), base_url.rstrip("/")
    triples = [*self_description(dataset), ox.Triple(ds, _iri(OWL + "versionInfo"), ox.Literal(version))]
    triples.append(ox.Triple(ds, _iri(SCHEMA + "version"), ox.Literal(__version__)))
    for name, media in DUMPS.items():
        dist = _iri(f"{dataset}/distribution/{name.replace('.', '-')}")
        triples += [
            ox.Triple(ds, _iri(DCAT + "distribution"), dist),
            ox.Triple(dist, _iri(RDF_TYPE), _iri(DCAT + "Distribution")),
            ox.Triple(dist, _iri(DCAT + "downloadURL"), _iri(f"{base_url}/dumps/{name}")),
            ox.Triple(dist, _iri(DCAT + "mediaType"), _iri(f"https://www.iana.org/assignments/media-types/{media}")),
            *(ox.Triple(dist, _iri(DCTERMS + "license"), t.object) for t in _licences(dataset)),
        ]
    service = _iri(f"{dataset}/service/sparql")
    triples += [
        ox.Triple(service, _iri(DCAT + "servesDataset"), ds),
        ox.Triple(service, _iri(RDF_TYPE), _iri(DCAT + "DataService")),
        ox.Triple(service, _iri(DCAT + "endpointURL"), _iri(f"{base_url}/sparql")),
        ox.Triple(service, _iri(DCTERMS + "conformsTo"), _iri("https://www.w3.org/TR/sparql11-protocol/")),
    ]
    return triples + [ox.Triple(ds, _iri(DCTERMS + "source"), _iri(s)) for s in stats.sources]


def self_description(dataset: str) -> list[ox.Triple]:
    """What dataset.ttl says of the dataset, about ``dataset`` (its IRI)."""
    found = ox.parse(path=SELF_DESCRIPTION, format=ox.RdfFormat.TURTLE, base_iri=dataset)
    return [ox.Triple(q.subject, q.predicate, q.object) for q in found]


def _licences(dataset: str) -> list[ox.Triple]:
    return [t for t in self_description(dataset) if t.predicate == _iri(DCTERMS + "license")]


def ontology_version(store: Backend) -> str | None:
    """The ontology's owl:versionIRI, as the store holds it."""
    found = _column(store, f"<{ONTOLOGY_IRI}> owl:versionIRI ?x")
    return found[0] if found else None


__all__ = [
    "Statistics",
    "dcat_description",
    "ontology_version",
    "self_description",
    "service_description",
    "statistics",
    "void_description",
]
