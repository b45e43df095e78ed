"""What the in-process endpoint tests share: a small TriG dataset, the app over it, readers."""

from __future__ import annotations

import csv
import io
import json
import warnings
import xml.etree.ElementTree as ET
from typing import Any

import httpx2
import pyoxigraph as ox
import rdflib
from fastapi.testclient import TestClient

from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.namespaces import DEFAULT_GRAPH, GRAPH, ID, LLMKG

SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
RESULTS_XML = "{http://www.w3.org/2005/sparql-results#}"
G_MODELS, G_FILLER = GRAPH + "test/models", GRAPH + "test/filler"
DATA = f"""
@prefix llmkg: <{LLMKG}> .
@prefix model: <{ID}model/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
<{GRAPH}ontology/llmkg> {{
  <https://w3id.org/llmkg/ontology> a owl:Ontology ; owl:versionIRI <https://w3id.org/llmkg/ontology/9.9.9> ;
    dcterms:license <https://creativecommons.org/licenses/by/4.0/> .
}}
<{G_MODELS}> {{
  model:m1 a llmkg:Model ; rdfs:label "Model one"@en, "Modèle un"@fr ; llmkg:totalParameters 7000000000 .
  model:m2 a llmkg:Model ; rdfs:label "Model \\"two\\", with\\ttab" ; llmkg:totalParameters 13000000000 .
}}
<{G_FILLER}> {{ {" ".join(f"<http://example.org/n{i}> <http://example.org/value> {i} ." for i in range(24))} }}
"""
COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?p ?q ?r }"
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
LABELS = f"CONSTRUCT {{ ?m {RDFS_LABEL} ?l }} WHERE {{ ?m a <{LLMKG}Model> ; {RDFS_LABEL} ?l }}"
SETTINGS = ServerSettings(
    workers=2, query_timeout_s=2.0, max_request_bytes=20_000, max_result_bytes=500_000, cache_entries=8
)


def make_store() -> ox.Store:
    """The TriG dataset with its graph/default, which here holds every triple once (no two graphs disagree)."""
    quads = list(ox.parse(DATA, format=ox.RdfFormat.TRIG))
    default = ox.NamedNode(DEFAULT_GRAPH)
    store = ox.Store()
    store.bulk_extend([*quads, *(ox.Quad(q.subject, q.predicate, q.object, default) for q in quads)])
    return store


def default_size() -> int:
    """Triples in graph/default: what a query without a dataset of its own sees."""
    return len(list(make_store().quads_for_pattern(None, None, None, ox.NamedNode(DEFAULT_GRAPH))))


def serve(settings: ServerSettings = SETTINGS) -> TestClient:
    """A test client for the real app over :func:`make_store`; use it as a context manager."""
    return TestClient(create_app(store=make_store(), settings=settings), raise_server_exceptions=False)


def parse_rdf(data: bytes | str, rdflib_format: str) -> rdflib.Graph:
    """Every triple of an RDF document, whatever its graphs, read by rdflib."""
    with warnings.catch_warnings():  # rdflib's own parsers use its deprecated ConjunctiveGraph
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = rdflib.Dataset()
        dataset.parse(data=data, format=rdflib_format)
    graph = rdflib.Graph()
    for s, p, o, _ in dataset.quads((None, None, None, None)):
        graph.add((s, p, o))
    return graph


def ask(client: TestClient, query: str, accept: str | None = None, **params: Any) -> httpx2.Response:
    headers = {"Accept": accept} if accept else {}
    return client.get("/sparql", params={"query": query, **params}, headers=headers)


def count(response: httpx2.Response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"] and body["request_id"]
    assert "Traceback" not in response.text
    return body


# Readers of SELECT results (variables ?m and ?l), each with its own parser.


def rows_json(body: bytes) -> set[tuple[str, str]]:
    bindings = json.loads(body)["results"]["bindings"]
    return {(b["m"]["value"], b["l"]["value"]) for b in bindings}


def rows_xml(body: bytes) -> set[tuple[str, str]]:
    rows = set()
    for result in ET.fromstring(body).iter(RESULTS_XML + "result"):
        values = {b.get("name"): "".join(b.itertext()) for b in result.iter(RESULTS_XML + "binding")}
        rows.add((values["m"], values["l"]))
    return rows


def rows_csv(body: bytes) -> set[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(body.decode()))
    return {(row["m"], row["l"]) for row in reader}


def rows_tsv(body: bytes) -> set[tuple[str, str]]:
    lines = body.decode().splitlines()
    assert lines[0].split("\t") == ["?m", "?l"]
    rows = set()
    for line in lines[1:]:
        term_m, term_l = line.split("\t")
        label = term_l.rsplit("@", 1)[0] if term_l.endswith(("@en", "@fr")) else term_l
        rows.add((term_m.strip("<>"), json.loads(label)))
    return rows
