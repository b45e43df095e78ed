"""Export profiles: the JSON-LD context makes plain JSON into the graph's triples; DCAT describes the dumps."""

from __future__ import annotations

import json

import pyoxigraph as ox
import rdflib

from llmkg.kg.build import Dataset
from llmkg.kg.describe import dcat_description, statistics, void_description
from llmkg.kg.jsonld_context import jsonld_context
from llmkg.namespaces import BASE, LLMKG

from .conftest import value

SCOUT = "https://w3id.org/llmkg/id/model/llama-4-scout"
DATASET_IRI = BASE + "dataset"
DATA_LICENCE = "https://creativecommons.org/licenses/by/4.0/"


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
    stats = statistics(_store(dataset))
    triples = dcat_description(stats, dataset=DATASET_IRI, base_url="http://127.0.0.1:9/", version=dataset.version)
    graph = rdflib.Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    ds = rdflib.URIRef(DATASET_IRI)
    urls = {str(graph.value(d, dcat.downloadURL)) for d in graph.objects(ds, dcat.distribution)}
    assert urls == {"http://127.0.0.1:9/dumps/llmkg.nq", "http://127.0.0.1:9/dumps/llmkg.trig"}
    assert (ds, rdflib.DCTERMS.license, rdflib.URIRef(DATA_LICENCE)) in graph
    assert len(set(graph.objects(ds, rdflib.DCTERMS.source))) >= 30
    assert (None, dcat.endpointURL, rdflib.URIRef("http://127.0.0.1:9/sparql")) in graph


def test_void_and_dcat_say_the_same_of_the_dataset(dataset: Dataset) -> None:
    """One self-description (kg/dataset.ttl): the same title, licence and keywords in both."""
    stats = statistics(_store(dataset))
    void = void_description(stats, dataset=DATASET_IRI, base_url="http://127.0.0.1:9/", version=dataset.version)
    dcat = dcat_description(stats, dataset=DATASET_IRI, base_url="http://127.0.0.1:9/", version=dataset.version)
    shared = {"http://purl.org/dc/terms/title", "http://purl.org/dc/terms/license", "http://www.w3.org/ns/dcat#keyword"}

    def said(triples: list[ox.Triple]) -> set[tuple[str, str]]:
        return {(t.predicate.value, value(t.object)) for t in triples if t.predicate.value in shared}

    assert said(void) == said(dcat)
    assert ("http://purl.org/dc/terms/license", DATA_LICENCE) in said(void)
    assert len({o for p, o in said(void) if p.endswith("title")}) == 1


def _store(dataset: Dataset) -> ox.Store:
    store = ox.Store()
    store.bulk_extend(dataset.quads)
    return store
