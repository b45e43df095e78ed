"""The web face inside the real app (create_app): its own CSP, the endpoint's limits for typed queries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.namespaces import sparql_prefixes
from tests.web_support import mini_store

SETTINGS = ServerSettings(workers=1, query_timeout_s=5.0, cache_entries=4)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(store=mini_store(), settings=SETTINGS)) as client:
        yield client


def test_pages_carry_their_own_policy_and_the_api_keeps_its_own(client: TestClient) -> None:
    page = client.get("/id/model/small")
    assert page.status_code == 200 and page.headers["x-request-id"]
    assert page.headers.get_list("content-security-policy") == [page.headers["content-security-policy"]]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    api = client.get("/sparql", params={"query": "ASK {}"})
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


def test_home_is_the_html_page_and_json_for_programs(client: TestClient) -> None:
    assert "Model families" in client.get("/", headers={"Accept": "text/html"}).text
    assert client.get("/", headers={"Accept": "application/json"}).json()["sparql"].endswith("/sparql")


def test_plain_form_runs_through_the_endpoint(client: TestClient) -> None:
    query = sparql_prefixes() + "SELECT DISTINCT ?label WHERE { ?m a llmkg:Model ; rdfs:label ?label } ORDER BY ?label"
    page = client.get("/editor", params={"query": query})
    assert page.status_code == 200 and "Test Big" in page.text and "Test Small" in page.text


def test_plain_form_construct_and_refusals(client: TestClient) -> None:
    construct = "CONSTRUCT WHERE { ?m <http://www.w3.org/2000/01/rdf-schema#label> ?l }"
    assert "Test Small" in client.get("/editor", params={"query": construct}).text
    refused = client.get("/editor", params={"query": "CLEAR ALL"})
    assert refused.status_code == 403 and 'class="error"' in refused.text


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("path", "page_marker", "program_accept", "program_type"),
    [
        ("/sparql", 'id="plain-form"', "*/*", "text/turtle"),
        ("/sparql", 'id="plain-form"', "application/rdf+xml", "application/rdf+xml"),
        ("/queries", 'id="saved-queries"', "application/json", "application/json"),
        ("/.well-known/void", 'id="void-graphs"', "text/turtle", "text/turtle"),
    ],
)
def test_browsers_get_pages_where_programs_get_data(
    client: TestClient, path: str, page_marker: str, program_accept: str, program_type: str
) -> None:
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page_marker in page.text and "Accept" in page.headers["vary"]
    data = client.get(path, headers={"Accept": program_accept})
    assert data.status_code == 200 and data.headers["content-type"].startswith(program_type)


def test_a_browser_asking_for_data_gets_data(client: TestClient) -> None:
    """?format= and ?query= mean data whatever the Accept header says."""
    described = client.get("/.well-known/void", params={"format": "turtle"}, headers=BROWSER)
    assert described.headers["content-type"].startswith("text/turtle")
    answered = client.get("/sparql", params={"query": "ASK {}", "format": "json"}, headers=BROWSER)
    assert answered.json()["boolean"] is True


@pytest.mark.parametrize("path", ["/no/such/page", "/queries/no-such-query"])
def test_not_found_is_a_page_for_browsers_and_a_problem_for_programs(client: TestClient, path: str) -> None:
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text and path in page.text
    problem = client.get(path, headers={"Accept": "application/json"})
    assert problem.status_code == 404 and problem.headers["content-type"] == "application/problem+json"


def test_pages_link_their_rdf_formats_and_the_footer_names_the_licence(client: TestClient) -> None:
    html = client.get("/id/model/small", headers=BROWSER).text
    head = html.split("</head>")[0]
    for media in ("text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples"):
        link = re.search(rf'<link rel="alternate" type="{re.escape(media)}" href="([^"]+)"', head)
        assert link, media
        got = client.get(link.group(1).removeprefix("http://testserver"))
        assert got.status_code == 200 and got.headers["content-type"].startswith(media)
    assert re.search(r'<a rel="license" href="https://creativecommons.org/licenses/by/4.0/">', html)


def test_home_embeds_a_schema_org_dataset(client: TestClient) -> None:
    html = client.get("/", headers=BROWSER).text
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)
    assert found
    described = json.loads(found.group(1))
    assert described["@type"] == "Dataset" and described["license"]
    for download in described["distribution"]:
        assert client.head(download["contentUrl"].removeprefix("http://testserver")).status_code == 200


def test_sitemap_lists_pages_that_exist_and_robots_points_to_it(client: TestClient) -> None:
    tree = ElementTree.fromstring(client.get("/sitemap.xml").content)
    locations = [e.text or "" for e in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert "http://testserver/id/model/small" in locations
    for location in locations:
        assert client.get(location.removeprefix("http://testserver"), headers=BROWSER).status_code == 200, location
    robots = client.get("/robots.txt").text
    assert "Sitemap: http://testserver/sitemap.xml" in robots and "Disallow: /sparql?" in robots
