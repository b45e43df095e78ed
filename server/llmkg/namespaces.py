"""The one prefix map and the IRI patterns of llmkg (see ontology/README.md)."""

from __future__ import annotations

import math
from pathlib import PurePosixPath

BASE = "https://w3id.org/llmkg/"
ONTOLOGY_IRI = BASE + "ontology"
LLMKG = ONTOLOGY_IRI + "#"
SHAPES = BASE + "shapes#"
ID = BASE + "id/"
GRAPH = BASE + "graph/"
QUERY = BASE + "query/"
GENID = BASE + ".well-known/genid/"

#: Graph that the build computes from the fact graphs: one preferred value set per (subject, property).
PREFERRED_GRAPH = GRAPH + "preferred"
#: Graph that every query without a dataset of its own reads as its default graph: one value per fact
#: (graph/preferred), each graph's provenance record, the ontology and the saved-query catalogue.
DEFAULT_GRAPH = GRAPH + "default"
#: Graph stating when each source version and each as-of graph is in effect (kg/asof.py).
VALIDITY_GRAPH = GRAPH + "validity"
#: Prefix of the as-of graphs: graph/default's statements, partitioned by the dates they hold (kg/asof.py).
VALID_GRAPHS = GRAPH + "valid/"
#: Graph of the whole-graph findings (conflicts, secondary-only facts, duplicates ...) the build computes
#: for the saved queries to read (kg/findings.py).
FINDINGS_GRAPH = GRAPH + "findings"
#: The graphs the build computes from the others; they state no fact of their own.
DERIVED_GRAPHS = (PREFERRED_GRAPH, DEFAULT_GRAPH, VALIDITY_GRAPH, FINDINGS_GRAPH)


def is_derived(graph: str) -> bool:
    """A graph the build computes (DERIVED_GRAPHS and the as-of graphs), stating no fact of its own."""
    return graph in DERIVED_GRAPHS or graph.startswith(VALID_GRAPHS)


#: Graph holding the saved-query catalogue as sh:SPARQLExecutable resources.
QUERIES_GRAPH = GRAPH + "queries"

#: The instance types of https://w3id.org/llmkg/id/<type>/<slug>, each also a prefix (see triples/README.md).
ID_TYPES = (
    "family",
    "model",
    "checkpoint",
    "stage",
    "dataset",
    "benchmark",
    "task",
    "metric",
    "result",
    "run",
    "protocol",
    "licence",
    "policy",
    "obligation",
    "check",
    "offer",
    "statement",
    "organization",
    "hardware",
    "tool",
    "software",
    "component",
    "technique",
    "scaffold",
    "source",
)

PREFIXES: dict[str, str] = {
    "llmkg": LLMKG,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "schema": "https://schema.org/",
    "mls": "http://www.w3.org/ns/mls#",
    "sh": "http://www.w3.org/ns/shacl#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vann": "http://purl.org/vocab/vann/",
    "wd": "http://www.wikidata.org/entity/",
    "lang": "http://id.loc.gov/vocabulary/iso639-1/",
    "shapes": SHAPES,
    "graph": GRAPH,
    "query": QUERY,
    **{kind: f"{ID}{kind}/" for kind in ID_TYPES},
}


# The vocabularies the code names terms of, each defined here once (as namespace strings).
RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
OWL = PREFIXES["owl"]
XSD = PREFIXES["xsd"]
DCTERMS = PREFIXES["dcterms"]
SKOS = PREFIXES["skos"]
PROV = PREFIXES["prov"]
SCHEMA = PREFIXES["schema"]
SH = PREFIXES["sh"]
DCAT = PREFIXES["dcat"]
VOID = PREFIXES["void"]
SD = "http://www.w3.org/ns/sparql-service-description#"
RDF_TYPE = RDF + "type"
#: Graphs of the vocabulary (ontology, shapes) and of the saved-query catalogue, by IRI prefix.
VOCABULARY_GRAPHS = tuple(GRAPH + folder for folder in ("ontology/", "shapes/", "queries"))


def graph_iri(relative_path: str) -> str:
    """Return the named-graph IRI of a data file, given its path relative to the data root.

    Files under ``triples/`` drop that folder; every other folder keeps its name:

    >>> graph_iri("triples/llama-models/llama4/model-card.ttl")
    'https://w3id.org/llmkg/graph/llama-models/llama4/model-card'
    >>> graph_iri("ontology/llmkg.ttl")
    'https://w3id.org/llmkg/graph/ontology/llmkg'
    """
    path = PurePosixPath(relative_path)
    parts = path.with_suffix("").parts
    if parts[0] == "triples":
        parts = parts[1:]
    return GRAPH + "/".join(parts)


def text(term: object) -> str:
    """The lexical value of an IRI, blank node or literal (pyoxigraph terms), or "" for anything else."""
    return str(getattr(term, "value", ""))


def shorten(term: object) -> str:
    """A term for people: prefixed name where a prefix fits, plain lexical form for literals."""
    if term is None:
        return ""
    value = text(term)
    if type(term).__name__ != "NamedNode":
        return value
    for name, iri in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if value.startswith(iri) and name not in ("graph",):
            return f"{name}:{value[len(iri) :]}"
    for kind in ("model", "checkpoint", "family", "benchmark", "result", "source"):
        if value.startswith(f"{ID}{kind}/"):
            return f"{kind}:{value[len(ID) + len(kind) + 1 :]}"
    return value


def expand(name: str) -> str:
    """A prefixed name (model:llama-4-scout) or <IRI> or IRI as a full IRI; ValueError if unknown."""
    name = name.strip().removeprefix("<").removesuffix(">")
    if "://" in name:
        return name
    prefix, sep, local = name.partition(":")
    if not sep or prefix not in PREFIXES:
        raise ValueError(f"{name!r} is neither an IRI nor a prefixed name with a known prefix")
    return PREFIXES[prefix] + local


def sparql_prefixes() -> str:
    """The prefix map as SPARQL PREFIX declarations."""
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())


_XSD = PREFIXES["xsd"]
#: Datatypes whose values are ordered as numbers.
NUMERIC_TYPES = frozenset(
    _XSD + t
    for t in [
        "integer",
        "decimal",
        "double",
        "float",
        "long",
        "int",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    ]
)


def order_key(term: object) -> tuple[int, float, str, str, str]:
    """A total order over terms, for sorting in Python what the engine's ORDER BY must not sort.

    pyoxigraph's ORDER BY over values of mixed kinds (a date among numbers and strings) is not a
    total order and aborts the process (docs/engine-defects.md). Here numbers come first by value,
    then other literals by datatype, language and text, then IRIs and blank nodes by their text.

    >>> import pyoxigraph as ox
    >>> terms = [ox.NamedNode("http://e/a"), ox.Literal("10", datatype=ox.NamedNode(_XSD + "integer")),
    ...          ox.Literal("a"), ox.Literal("9.5", datatype=ox.NamedNode(_XSD + "decimal"))]
    >>> [text(t) for t in sorted(terms, key=order_key)]
    ['9.5', '10', 'a', 'http://e/a']
    """
    datatype = text(getattr(term, "datatype", None))
    if not datatype:
        return (2 if type(term).__name__ == "NamedNode" else 3, 0.0, "", "", text(term))
    if datatype in NUMERIC_TYPES:
        try:
            number = float(text(term))
        except ValueError:
            number = math.nan
        if not math.isnan(number):  # NaN is unordered: it goes with the other literals
            return (0, number, "", "", text(term))
    return (1, 0.0, datatype, str(getattr(term, "language", None) or ""), text(term))
