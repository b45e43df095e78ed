"""The web face inside the real app (create_app): its own CSP, the endpoint's limits for typed queries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
import yaml
from fastapi.testclient import TestClient

from llmkg import __version__
from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.namespaces import BASE, sparql_prefixes
from llmkg.pages import discovery
from tests.web_support import REPO, mini_store

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


SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def test_sitemap_lists_pages_that_exist_and_robots_points_to_it(client: TestClient) -> None:
    tree = ElementTree.fromstring(client.get("/sitemap.xml").content)
    locations = [e.text or "" for e in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert "http://testserver/id/model/small" in locations
    for location in locations:
        assert client.get(location.removeprefix("http://testserver"), headers=BROWSER).status_code == 200, location
    robots = client.get("/robots.txt").text
    assert "Sitemap: http://testserver/sitemap.xml" in robots and "Disallow: /sparql?" in robots


def test_the_cite_control_names_the_data_version_the_server_serves(client: TestClient) -> None:
    served = client.get("/version").json()["data"]
    csl = client.get("/cite", params={"format": "csl-json"})
    assert csl.headers["content-type"].startswith("application/vnd.citationstyles.csl+json")
    (item,) = csl.json()
    assert item["version"] == served and item["type"] == "dataset" and item["author"]
    bib = client.get("/cite", params={"format": "bibtex"}).text
    assert bib.startswith("@misc{") and f"version = {{{served}}}" in bib and bib.count("{") == bib.count("}")
    footer = client.get("/id/model/small", headers=BROWSER).text.split("<footer>", 1)[1]
    assert '<details class="cite-control">' in footer and served in footer and "CC BY 4.0" in footer
    assert client.get("/cite", params={"format": "ris"}).status_code == 400


def test_a_source_document_can_be_cited_from_its_page(client: TestClient) -> None:
    html = client.get("/id/source/card-v1", headers=BROWSER).text
    assert "Cite this source" in html and "title = {{Test model card}}" in html
    bib = client.get("/cite", params={"of": "https://w3id.org/llmkg/id/source/card-v1", "format": "bibtex"}).text
    assert "year = {2025}" in bib and "version = {aaaaaaa}" in bib
    missing = client.get("/cite", params={"of": "https://w3id.org/llmkg/id/source/none"}, headers=BROWSER)
    assert missing.status_code == 404


def test_citation_cff_agrees_with_what_the_server_says() -> None:
    """CITATION.cff and kg/dataset.ttl state the title, creators and licence each; they must not drift apart."""
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    about = discovery.about(BASE + "dataset")
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "dataset"
    assert cff["title"] == about.title and cff["abstract"] == about.description
    assert [a["name"] for a in cff["authors"]] == list(about.creators)
    assert [discovery.licence_name(url) for url in about.licences] == ["CC BY 4.0"] and cff["license"] == "CC-BY-4.0"
    assert cff["version"] == __version__ and cff["url"] == BASE


def test_the_void_page_links_iris_and_not_strings_that_look_like_them(client: TestClient) -> None:
    html = client.get("/.well-known/void", headers=BROWSER).text
    space = re.search(r"uri space</a></th>\s*<td>([^<]*)</td>", html)
    assert space and space.group(1).strip() == "https://w3id.org/llmkg/id/", "void:uriSpace is a string, not a link"
    assert 'href="http://testserver/sparql"' in html, "the endpoint is an IRI, linked"


def test_a_long_sitemap_becomes_an_index_of_parts(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmkg.pages import routes

    whole = [e.text for e in ElementTree.fromstring(client.get("/sitemap.xml").content).iter(f"{SITEMAP}loc")]
    monkeypatch.setattr(routes, "SITEMAP_URLS", 10)
    index = ElementTree.fromstring(client.get("/sitemap.xml").content)
    assert index.tag == f"{SITEMAP}sitemapindex"
    parts = [e.text or "" for e in index.iter(f"{SITEMAP}loc")]
    assert len(parts) == -(-len(whole) // 10) > 1
    listed = []
    for part in parts:
        tree = ElementTree.fromstring(client.get(part.removeprefix("http://testserver")).content)
        listed += [e.text for e in tree.iter(f"{SITEMAP}loc")]
    assert listed == whole, "the parts list every page once, in order"
    assert client.get(f"/sitemap.xml?part={len(parts) + 1}").status_code == 404
