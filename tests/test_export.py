"""Export profiles: the JSON-LD context makes plain JSON into the graph's triples; DCAT describes the dumps."""

from __future__ import annotations

import json

import pyoxigraph as ox
import rdflib

from llmkg.kg.build import Dataset
from llmkg.kg.export import DATA_LICENCE, DATASET_IRI, dataset_description, jsonld_context
from llmkg.namespaces import LLMKG

from .conftest import value

SCOUT = "https://w3id.org/llmkg/id/model/llama-4-scout"


def test_plain_json_with_the_context_reads_as_typed_triples(dataset: Dataset) -> None:
    doc = {
        **jsonld_context(dataset.quads),
        "id": SCOUT,
        "totalParameters": 109000000000,
        "architectureType": "llmkg:MixtureOfExperts",
        "label": "Llama 4 Scout",
    }
    triples = {q.triple for q in ox.parse(json.dumps(doc).encode(), format=ox.RdfFormat.JSON_LD)}
    scout = ox.NamedNode(SCOUT)
    xsd_integer = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    assert (
        ox.Triple(scout, ox.NamedNode(LLMKG + "totalParameters"), ox.Literal("109000000000", datatype=xsd_integer))
        in triples
    )
    moe = ox.Triple(scout, ox.NamedNode(LLMKG + "architectureType"), ox.NamedNode(LLMKG + "MixtureOfExperts"))
    assert moe in triples


def test_every_llmkg_property_has_a_short_term(dataset: Dataset) -> None:
    context = jsonld_context(dataset.quads)["@context"]
    properties = {
        value(q.subject)
        for q in dataset.quads
        if value(q.subject).startswith(LLMKG)
        and value(q.object)
        in ("http://www.w3.org/2002/07/owl#ObjectProperty", "http://www.w3.org/2002/07/owl#DatatypeProperty")
    }
    assert {p[len(LLMKG) :] for p in properties} <= set(context)


def test_dcat_description_lists_dumps_service_licence_and_sources(dataset: Dataset) -> None:
    triples = dataset_description(dataset.quads, base_url="http://127.0.0.1:9/", data_version=dataset.version)
    graph = rdflib.Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    ds = rdflib.URIRef(DATASET_IRI)
    urls = {str(graph.value(d, dcat.downloadURL)) for d in graph.objects(ds, dcat.distribution)}
    assert urls == {"http://127.0.0.1:9/dumps/llmkg.nq", "http://127.0.0.1:9/dumps/llmkg.trig"}
    assert (ds, rdflib.DCTERMS.license, rdflib.URIRef(DATA_LICENCE)) in graph
    assert len(set(graph.objects(ds, rdflib.DCTERMS.source))) >= 30
    assert (None, dcat.endpointURL, rdflib.URIRef("http://127.0.0.1:9/sparql")) in graph
