"""The one prefix map and the IRI patterns of llmkg (see ontology/README.md)."""

from __future__ import annotations

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
#: Graph holding the saved-query catalogue as sh:SPARQLExecutable resources.
QUERIES_GRAPH = GRAPH + "queries"

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
    "id": ID,
    "graph": GRAPH,
}


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


def sparql_prefixes() -> str:
    """The prefix map as SPARQL PREFIX declarations."""
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())
