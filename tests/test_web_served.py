"""The web face inside the real app (create_app): its own CSP, the endpoint's limits for typed queries."""

from __future__ import annotations

from collections.abc import Iterator

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
