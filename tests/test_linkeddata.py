"""Linked Data: every IRI resolves; browsers get HTML, RDF clients the description in the format they ask for."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
import rdflib
from fastapi.testclient import TestClient
from rdflib.query import ResultRow

from llmkg.namespaces import GRAPH, ID, LLMKG
from llmkg.pages.linkeddata import choose
from tests.conftest import integer
from tests.web_support import mini_store, page_app

SMALL = ID + "model/small"
PARAMS = rdflib.URIRef(LLMKG + "totalParameters")
CARD, BLOG = GRAPH + "test/card", GRAPH + "test/blog"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
RDF_FORMATS = [
    ("text/turtle", "turtle"),
    ("application/n-triples", "nt"),
    ("application/rdf+xml", "xml"),
    ("application/ld+json", "json-ld"),
    ("application/trig", "trig"),
    ("application/n-quads", "nquads"),
]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(page_app(mini_store())) as client:
        yield client


def dataset(body: bytes, fmt: str) -> rdflib.Dataset:
    with warnings.catch_warnings():  # rdflib's parsers use its own deprecated ConjunctiveGraph
        warnings.simplefilter("ignore", DeprecationWarning)
        data = rdflib.Dataset()
        data.parse(data=body, format=fmt)
    return data


@pytest.mark.parametrize(
    ("accept", "key"),
    [
        (BROWSER, "html"),
        (None, "html"),
        ("*/*", "html"),
        ("text/turtle", "turtle"),
        ("application/json", "jsonld"),
        ("text/turtle;q=0.5, application/ld+json", "jsonld"),
        ("application/rdf+xml, text/html;q=0.1", "rdfxml"),
        ("image/png", None),
    ],
)
def test_choose_follows_accept(accept: str | None, key: str | None) -> None:
    assert choose(accept, None) == key


def test_format_parameter_wins_over_accept() -> None:
    assert choose("text/html", "turtle") == "turtle"
    assert choose("text/turtle", "html") == "html"
    assert choose(None, "no-such-format") is None


def test_a_browser_gets_the_entity_page(client: TestClient) -> None:
    response = client.get("/id/model/small", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["vary"] == "Accept"
    assert response.headers["content-location"].endswith("/id/model/small?format=html")
    assert 'rel="alternate"; type="text/turtle"' in response.headers["link"]


@pytest.mark.parametrize(("media_type", "fmt"), RDF_FORMATS, ids=[f for _, f in RDF_FORMATS])
def test_every_rdf_format_carries_every_value(client: TestClient, media_type: str, fmt: str) -> None:
    response = client.get("/id/model/small", headers={"Accept": media_type})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["vary"] == "Accept"
    values = {integer(o) for _, _, o, _ in dataset(response.content, fmt).quads((rdflib.URIRef(SMALL), PARAMS, None))}
    assert values == {7_000_000_000, 8_000_000_000}


@pytest.mark.parametrize(("media_type", "fmt"), [f for f in RDF_FORMATS if f[1] in ("trig", "nquads", "json-ld")])
def test_dataset_formats_keep_each_value_in_its_graph(client: TestClient, media_type: str, fmt: str) -> None:
    data = dataset(client.get("/id/model/small", headers={"Accept": media_type}).content, fmt)
    stated = {(str(g), integer(o)) for _, _, o, g in data.quads((rdflib.URIRef(SMALL), PARAMS, None))}
    assert (CARD, 7_000_000_000) in stated and (BLOG, 8_000_000_000) in stated
    derived = rdflib.URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")
    assert (rdflib.URIRef(CARD), derived, rdflib.URIRef(ID + "source/card-v1")) in data.graph(rdflib.URIRef(CARD))


@pytest.mark.parametrize(("media_type", "fmt"), [f for f in RDF_FORMATS if f[1] in ("turtle", "nt", "xml")])
def test_triple_formats_say_which_graph_states_each_value(client: TestClient, media_type: str, fmt: str) -> None:
    graph = rdflib.Graph().parse(data=client.get("/id/model/small", headers={"Accept": media_type}).content, format=fmt)
    found = graph.query(
        """SELECT ?graph ?value WHERE { ?s a rdf:Statement ; rdf:subject ?m ; rdf:predicate ?p ; rdf:object ?value ;
             <http://purl.org/dc/terms/isPartOf> ?graph }""",
        initBindings={"m": rdflib.URIRef(SMALL), "p": PARAMS},
    )
    stated = set()
    for row in found:
        assert isinstance(row, ResultRow), row
        stated.add((str(row[0]), integer(row[1])))
    assert (CARD, 7_000_000_000) in stated and (BLOG, 8_000_000_000) in stated


def test_format_parameter_overrides_accept(client: TestClient) -> None:
    response = client.get("/id/model/small?format=turtle", headers={"Accept": BROWSER})
    assert response.headers["content-type"].startswith("text/turtle")


def test_nothing_acceptable_is_406_with_vary(client: TestClient) -> None:
    response = client.get("/id/model/small", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["vary"] == "Accept"


@pytest.mark.parametrize("accept", [BROWSER, "text/turtle"])
def test_unknown_iri_is_404(client: TestClient, accept: str) -> None:
    assert client.get("/id/model/no-such-model", headers={"Accept": accept}).status_code == 404
    assert client.get("/graph/no/such/graph", headers={"Accept": accept}).status_code == 404


def test_head_answers_like_get(client: TestClient) -> None:
    response = client.head("/id/model/small", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.headers["vary"] == "Accept"


def test_graph_iri_serves_the_graph_with_its_source(client: TestClient) -> None:
    data = dataset(client.get("/graph/test/card", headers={"Accept": "application/trig"}).content, "trig")
    card = data.graph(rdflib.URIRef(CARD))
    assert (rdflib.URIRef(SMALL), PARAMS, rdflib.Literal(7_000_000_000)) in card
    titles = {str(o) for _, _, o, _ in data.quads((rdflib.URIRef(ID + "source/card-v1"), None, None))}
    assert "Test model card" in titles
    assert not list(data.quads((None, None, rdflib.Literal(8_000_000_000)))), "the other source's graph leaked in"


def test_ontology_iri_serves_the_ontology(client: TestClient) -> None:
    response = client.get("/ontology", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    owl_ontology = rdflib.URIRef("http://www.w3.org/2002/07/owl#Ontology")
    assert (rdflib.URIRef("https://w3id.org/llmkg/ontology"), rdflib.RDF.type, owl_ontology) in graph
    assert client.get("/ontology", headers={"Accept": BROWSER}).status_code == 200


def test_saved_query_iri_has_a_page(client: TestClient) -> None:
    response = client.get("/query/001-models-by-size", headers={"Accept": BROWSER})
    assert response.status_code == 200 and "Models by total parameters" in response.text
    assert "/editor?example=001-models-by-size" in response.text


def test_links_follow_the_configured_site_base() -> None:
    with TestClient(page_app(mini_store(), site="https://kg.example.org/llmkg/")) as client:
        response = client.get("/id/model/small", headers={"Accept": BROWSER})
    assert 'href="https://kg.example.org/llmkg/id/family/fam"' in response.text
    assert response.headers["content-location"] == "https://kg.example.org/llmkg/id/model/small?format=html"


@pytest.mark.parametrize("path", ["/id/model/a%00b", "/query/llmkg.nq%00.html", "/graph/a%20b", "/id/model/%3Cx%3E"])
def test_a_path_that_is_no_iri_is_404(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Accept": BROWSER})
    assert response.status_code == 404
