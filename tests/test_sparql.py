"""The SPARQL endpoint in-process: the protocol, every format, negotiation, self-description.

The real app (with its worker processes) over a small TriG dataset, through FastAPI's TestClient;
every answer is read back with an independent parser (json, csv, xml.etree, rdflib).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from fastapi.testclient import TestClient
from rdflib.compare import isomorphic

from llmkg.namespaces import DEFAULT_GRAPH, GRAPH, ID, LLMKG, PREFIXES

from .conftest import integer
from .sparql_support import (
    COUNT_ALL,
    G_FILLER,
    G_MODELS,
    LABELS,
    RDFS_LABEL,
    RESULTS_XML,
    SD,
    VOID,
    ask,
    count,
    default_size,
    make_store,
    parse_rdf,
    problem,
    rows_csv,
    rows_json,
    rows_tsv,
    rows_xml,
    serve,
)

#: One app (and one set of worker processes) per module: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("sparql-in-process")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve() as test_client:
        yield test_client


# --- the protocol: how a query arrives ---------------------------------------------------------


def test_get_runs_over_graph_default(client: TestClient) -> None:
    assert count(ask(client, COUNT_ALL)) == default_size()


def test_post_form_and_post_direct_give_the_same_answer(client: TestClient) -> None:
    form = client.post("/sparql", data={"query": COUNT_ALL})
    direct = client.post("/sparql", content=COUNT_ALL, headers={"Content-Type": "application/sparql-query"})
    charset = client.post(
        "/sparql", content=COUNT_ALL.encode(), headers={"Content-Type": "application/sparql-query; charset=UTF-8"}
    )
    assert count(form) == count(direct) == count(charset) == default_size()


def test_default_graph_uri_makes_the_default_graph(client: TestClient) -> None:
    assert count(ask(client, COUNT_ALL, **{"default-graph-uri": G_FILLER})) == 24
    both = client.get(
        "/sparql", params=[("query", COUNT_ALL), ("default-graph-uri", G_FILLER), ("default-graph-uri", G_MODELS)]
    )
    assert count(both) == 24 + 7


def test_named_graph_uri_limits_graph_patterns(client: TestClient) -> None:
    query = "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert count(ask(client, query)) == 4  # the three test graphs and graph/default
    assert count(ask(client, query, **{"named-graph-uri": G_MODELS})) == 1
    assert count(ask(client, COUNT_ALL, **{"named-graph-uri": G_MODELS})) == 0  # default graph now empty


def test_form_body_carries_the_dataset_too(client: TestClient) -> None:
    response = client.post("/sparql", data={"query": COUNT_ALL, "default-graph-uri": G_FILLER})
    assert count(response) == 24


def test_from_in_the_query_is_honoured(client: TestClient) -> None:
    assert count(ask(client, f"SELECT (COUNT(*) AS ?n) FROM <{G_MODELS}> WHERE {{ ?s ?p ?o }}")) == 7


def test_malformed_query_gives_400_with_line_and_column(client: TestClient) -> None:
    body = problem(ask(client, "SELECT *\nWHERE { ?s ?p }"), 400)
    assert body["line"] == 2 and 14 <= body["column"] <= 16  # where the engine gave up, around the "}"
    assert f"line 2, column {body['column']}" in body["detail"]


def test_two_query_parameters_are_refused(client: TestClient) -> None:
    problem(client.get("/sparql", params=[("query", COUNT_ALL), ("query", COUNT_ALL)]), 400)


def test_form_without_query_is_refused(client: TestClient) -> None:
    problem(client.post("/sparql", data={"default-graph-uri": G_MODELS}), 400)


def test_unsupported_body_type_gives_415(client: TestClient) -> None:
    problem(client.post("/sparql", content=COUNT_ALL, headers={"Content-Type": "text/plain"}), 415)
    problem(client.post("/sparql", content=COUNT_ALL), 415)


def test_invalid_utf8_body_gives_400(client: TestClient) -> None:
    problem(
        client.post(
            "/sparql", content=b"SELECT * { ?s ?p \xff }", headers={"Content-Type": "application/sparql-query"}
        ),
        400,
    )


def test_invalid_graph_iri_gives_400(client: TestClient) -> None:
    problem(ask(client, COUNT_ALL, **{"default-graph-uri": "not an iri"}), 400)


# --- formats and negotiation ----------------------------------------------------------------------


SELECT_LABELS = f"SELECT ?m ?l WHERE {{ ?m a <{LLMKG}Model> ; {RDFS_LABEL} ?l }}"


@pytest.mark.parametrize(
    ("accept", "media_type", "reader"),
    [
        ("application/sparql-results+json", "application/sparql-results+json", rows_json),
        ("application/sparql-results+xml", "application/sparql-results+xml", rows_xml),
        ("text/csv", "text/csv", rows_csv),
        ("text/tab-separated-values", "text/tab-separated-values", rows_tsv),
    ],
)
def test_select_results_in_every_format(client: TestClient, accept: str, media_type: str, reader: Any) -> None:
    response = ask(client, SELECT_LABELS, accept)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert reader(response.content) == {
        (ID + "model/m1", "Model one"),
        (ID + "model/m1", "Modèle un"),
        (ID + "model/m2", 'Model "two", with\ttab'),
    }


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "application/sparql-results+xml"])
def test_ask_results(client: TestClient, accept: str) -> None:
    yes, no = ask(client, "ASK { ?s ?p 7 }", accept), ask(client, "ASK { ?s ?p 'nothing' }", accept)
    if accept.endswith("json"):
        assert (yes.json()["boolean"], no.json()["boolean"]) == (True, False)
    else:
        values = [ET.fromstring(r.content).find(RESULTS_XML + "boolean") for r in (yes, no)]
        assert [v.text for v in values if v is not None] == ["true", "false"]


def _expected_labels() -> rdflib.Graph:
    graph = rdflib.Graph()
    triples = make_store().query(LABELS, default_graph=ox.NamedNode(DEFAULT_GRAPH))
    assert isinstance(triples, ox.QueryTriples)
    for line in triples:
        graph.parse(data=f"{line} .", format="nt")
    return graph


@pytest.mark.parametrize(
    ("accept", "rdflib_format"),
    [
        ("text/turtle", "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("application/n-quads", "nquads"),
        ("application/trig", "trig"),
    ],
)
def test_construct_in_every_rdf_format(client: TestClient, accept: str, rdflib_format: str) -> None:
    response = ask(client, LABELS, accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == accept
    assert isomorphic(parse_rdf(response.content, rdflib_format), _expected_labels())


def test_describe_returns_a_graph(client: TestClient) -> None:
    response = ask(client, f"DESCRIBE <{ID}model/m1>", "application/n-triples")
    graph = rdflib.Graph().parse(data=response.content, format="nt")
    assert len(graph) == 4


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv;q=0.5, application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/*;q=0.9, */*;q=0.1", "text/csv"),
        ("application/json", "application/sparql-results+json"),
        ("*/*", "application/sparql-results+json"),
        ("application/sparql-results+json;q=0, */*;q=0.5", "application/sparql-results+xml"),
        ("garbage, text/tab-separated-values", "text/tab-separated-values"),
        ("", "application/sparql-results+json"),
    ],
)
def test_accept_with_q_values(client: TestClient, accept: str, expected: str) -> None:
    response = ask(client, COUNT_ALL, accept)
    assert response.headers["content-type"].split(";")[0] == expected


def test_format_parameter_overrides_accept(client: TestClient) -> None:
    assert ask(client, COUNT_ALL, "text/csv", format="json").json()["head"]["vars"] == ["n"]
    graph = ask(client, LABELS, "text/turtle", format="json")
    assert graph.headers["content-type"] == "application/ld+json"
    assert ask(client, COUNT_ALL, None, output="tsv").headers["content-type"].startswith("text/tab-separated")


def test_nothing_acceptable_gives_406(client: TestClient) -> None:
    problem(ask(client, COUNT_ALL, "image/png"), 406)
    problem(ask(client, COUNT_ALL, "text/turtle"), 406)  # a SELECT has no Turtle form
    problem(ask(client, LABELS, "text/csv"), 406)  # a CONSTRUCT has no CSV form
    problem(ask(client, COUNT_ALL, None, format="pdf"), 406)
    for unreadable in ("/", "json/", "text/foo"):  # media types that match nothing are not ignored
        problem(ask(client, COUNT_ALL, None, format=unreadable), 406)


# --- self-description, dumps, graph store -------------------------------------------------------------


def test_service_description(client: TestClient) -> None:
    response = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    service_node = next(graph.subjects(rdflib.RDF.type, SD.Service))
    assert graph.value(service_node, SD.endpoint) == rdflib.URIRef("http://testserver/sparql")
    assert len(set(graph.objects(service_node, SD.resultFormat))) == 10
    names = {str(n) for n in graph.objects(None, SD.name)}
    assert {G_MODELS, G_FILLER} <= names


def test_service_description_names_the_default_graph_and_the_prefixes(client: TestClient) -> None:
    graph = rdflib.Graph().parse(data=client.get("/sparql", headers={"Accept": "text/turtle"}).text, format="turtle")
    service_node = next(graph.subjects(rdflib.RDF.type, SD.Service))
    assert (service_node, SD.feature, SD.UnionDefaultGraph) not in graph
    (default,) = graph.objects(graph.value(service_node, SD.defaultDataset), SD.defaultGraph)
    assert default == rdflib.URIRef(DEFAULT_GRAPH) and integer(graph.value(default, VOID.triples)) == default_size()
    assert "one value per fact" in str(graph.value(default, rdflib.DCTERMS.description))
    declared = {
        str(graph.value(d, rdflib.SH.prefix)): str(graph.value(d, rdflib.SH.namespace))
        for d in graph.objects(service_node, rdflib.SH.declare)
    }
    assert declared == PREFIXES


def test_void_counts_triples_per_graph(client: TestClient) -> None:
    response = client.get("/.well-known/void", headers={"Accept": "application/n-triples"})
    graph = rdflib.Graph().parse(data=response.text, format="nt")
    counts = {str(g): integer(graph.value(g, VOID.triples)) for g in graph.objects(None, VOID.subset)}
    assert counts[G_FILLER] == 24 and counts[G_MODELS] == 7 and counts[DEFAULT_GRAPH] == default_size()
    assert "one value per fact" in str(graph.value(rdflib.URIRef(DEFAULT_GRAPH), rdflib.DCTERMS.description))
    dataset = next(graph.subjects(VOID.sparqlEndpoint, None))
    assert integer(graph.value(dataset, VOID.triples)) == len(make_store())
    assert (dataset, rdflib.DCTERMS.license, rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/")) in graph
    assert (dataset, VOID.exampleResource, rdflib.URIRef(ID + "model/m1")) in graph
    assert len(list(graph.objects(dataset, VOID.dataDump))) == 2


def test_dumps_hold_every_quad(client: TestClient) -> None:
    nq = client.get("/dumps/llmkg.nq")
    assert nq.headers["content-type"] == "application/n-quads"
    assert set(ox.parse(nq.content, format=ox.RdfFormat.N_QUADS)) == set(make_store())
    distinct_triples = {(q.subject, q.predicate, q.object) for q in make_store()}  # graph/default repeats each
    assert len(parse_rdf(client.get("/dumps/llmkg.trig").content, "trig")) == len(distinct_triples)
    assert client.get("/dumps/llmkg.nq", headers={"If-None-Match": nq.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/dumps/..%2f..%2fetc%2fpasswd", "/dumps/../pyproject.toml", "/dumps/llmkg.ttl"])
def test_dump_routes_serve_only_the_dumps(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "[project]" not in response.text


def test_graph_store_read_side(client: TestClient) -> None:
    one = client.get("/rdf-graphs", params={"graph": G_FILLER}, headers={"Accept": "application/n-triples"})
    assert len(rdflib.Graph().parse(data=one.text, format="nt")) == 24
    union = client.get("/rdf-graphs?default", headers={"Accept": "text/turtle"})
    assert len(rdflib.Graph().parse(data=union.text, format="turtle")) == default_size()
    problem(client.get("/rdf-graphs", params={"graph": GRAPH + "nothing"}), 404)
    nt = {"Accept": "application/n-triples"}
    short = client.get("/rdf-graphs", params={"graph": "graph:test/filler"}, headers=nt)
    assert short.status_code == 200 and short.text == one.text
    typo = problem(client.get("/rdf-graphs", params={"graph": "graph:test/filer"}), 404)
    assert "did you mean" in typo["detail"] and typo["detail"].endswith(f"{G_FILLER}?")
    problem(client.get("/rdf-graphs"), 400)


def test_health_and_version(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    version = client.get("/version").json()
    assert version["ontology"] == "https://w3id.org/llmkg/ontology/9.9.9"
    assert version["data"].startswith(version["package"] + "+")


def test_openapi_description_and_head_requests(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/sparql", "/rdf-graphs", "/.well-known/void", "/dumps/{name}"} <= set(paths)
    head = client.head("/sparql", params={"query": COUNT_ALL})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/sparql-results+json"
