"""Export profiles: a JSON-LD context so the data reads as plain JSON, and a DCAT / schema.org
description of the dataset (licence, version, distributions, sources).

Both are computed from the data itself (the ontology's properties, the source documents) so they
never drift from it.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from llmkg import __version__
from llmkg.namespaces import BASE, DCAT, DCTERMS, LLMKG, ONTOLOGY_IRI, OWL, PREFIXES, RDF_TYPE, RDFS, SCHEMA, XSD, text

DATA_LICENCE = "https://creativecommons.org/licenses/by/4.0/"
DATASET_IRI = BASE + "dataset"


def jsonld_context(quads: list[ox.Quad]) -> dict[str, Any]:
    """``@context`` with the prefixes, one short term per llmkg property, and value coercions."""
    kinds: dict[str, str] = {}
    ranges: dict[str, str] = {}
    for q in quads:
        subject = text(q.subject)
        if not subject.startswith(LLMKG):
            continue
        if text(q.predicate) == RDF_TYPE and text(q.object) in (OWL + "ObjectProperty", OWL + "DatatypeProperty"):
            kinds[subject] = text(q.object)
        elif text(q.predicate) == RDFS + "range":
            ranges[subject] = text(q.object)
    context: dict[str, Any] = {name: iri for name, iri in PREFIXES.items() if name not in ("graph", "query")}
    context.update({"id": "@id", "type": "@type", "label": RDFS + "label", "comment": RDFS + "comment"})
    for prop, kind in sorted(kinds.items()):
        term: dict[str, str] = {"@id": prop}
        if kind == OWL + "ObjectProperty":
            term["@type"] = "@id"
        elif ranges.get(prop, "").startswith(XSD) and ranges[prop] != XSD + "string":
            term["@type"] = ranges[prop]
        context[prop[len(LLMKG) :]] = term
    return {"@context": context}


def dataset_description(quads: list[ox.Quad], *, base_url: str, data_version: str) -> list[ox.Triple]:
    """DCAT 3 and schema.org description of the whole graph, with its dumps and SPARQL service."""
    ds = ox.NamedNode(DATASET_IRI)
    base_url = base_url.rstrip("/")
    triples: list[tuple[ox.NamedNode, str, ox.NamedNode | ox.Literal]] = [
        (ds, RDF_TYPE, ox.NamedNode(DCAT + "Dataset")),
        (ds, RDF_TYPE, ox.NamedNode(SCHEMA + "Dataset")),
        (ds, DCTERMS + "title", ox.Literal("llmkg: a source-backed knowledge graph of large-language-model families")),
        (ds, SCHEMA + "name", ox.Literal("llmkg")),
        (
            ds,
            DCTERMS + "description",
            ox.Literal(
                "Model families, variants, checkpoints, architecture, training, evaluation results, licences, "
                "safeguards and serving offers, each fact in the named graph of the source that states it."
            ),
        ),
        (ds, DCTERMS + "license", ox.NamedNode(DATA_LICENCE)),
        (ds, SCHEMA + "license", ox.NamedNode(DATA_LICENCE)),
        (ds, OWL + "versionInfo", ox.Literal(data_version)),
        (ds, SCHEMA + "version", ox.Literal(__version__)),
        (ds, DCTERMS + "conformsTo", ox.NamedNode(ONTOLOGY_IRI)),
        *((ds, DCAT + "keyword", ox.Literal(k)) for k in ("large language models", "provenance", "benchmarks")),
    ]
    for name, media in (("llmkg.nq", "application/n-quads"), ("llmkg.trig", "application/trig")):
        dist = ox.NamedNode(f"{DATASET_IRI}/distribution/{name.replace('.', '-')}")
        triples += [
            (ds, DCAT + "distribution", dist),
            (dist, RDF_TYPE, ox.NamedNode(DCAT + "Distribution")),
            (dist, DCAT + "downloadURL", ox.NamedNode(f"{base_url}/dumps/{name}")),
            (dist, DCAT + "mediaType", ox.NamedNode(f"https://www.iana.org/assignments/media-types/{media}")),
            (dist, DCTERMS + "license", ox.NamedNode(DATA_LICENCE)),
        ]
    service = ox.NamedNode(f"{DATASET_IRI}/service/sparql")
    triples += [
        (service, DCAT + "servesDataset", ds),
        (service, RDF_TYPE, ox.NamedNode(DCAT + "DataService")),
        (service, DCAT + "endpointURL", ox.NamedNode(f"{base_url}/sparql")),
        (service, DCTERMS + "conformsTo", ox.NamedNode("https://www.w3.org/TR/sparql11-protocol/")),
    ]
    sources = sorted(
        {text(q.subject) for q in quads if text(q.predicate) == RDF_TYPE and text(q.object) == LLMKG + "SourceDocument"}
    )
    triples += [(ds, DCTERMS + "source", ox.NamedNode(s)) for s in sources]
    return [ox.Triple(s, ox.NamedNode(p), o) for s, p, o in triples]
