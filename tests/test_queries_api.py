"""The catalogue over HTTP: list, show, run with parameters and content negotiation."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from llmkg.app import create_app
from llmkg.kg import catalog
from llmkg.kg.build import Dataset, memory_store


@pytest.fixture(scope="module")
def client(dataset: Dataset) -> Iterator[TestClient]:
    with TestClient(create_app(store=memory_store(dataset), version=dataset.version)) as test_client:
        yield test_client


def parametrised() -> catalog.SavedQuery:
    return next(q for q in catalog.saved_queries() if q.params and not q.extra.get("service"))


def test_list_has_every_saved_query(client: TestClient) -> None:
    listed = client.get("/queries").json()
    assert [q["id"] for q in listed] == [q.id for q in catalog.saved_queries()]
    assert all(q["results"].endswith("/results") for q in listed)


def test_show_gives_metadata_or_the_query_text(client: TestClient) -> None:
    saved = parametrised()
    assert client.get(f"/queries/{saved.id}").json()["query"] == saved.text
    text = client.get(f"/queries/{saved.id}", headers={"Accept": "application/sparql-query"})
    assert text.headers["content-type"].startswith("application/sparql-query") and text.text == saved.text


def test_results_bind_parameters_like_the_cli(client: TestClient, dataset: Dataset) -> None:
    saved = parametrised()
    params = {p.name: p.example for p in saved.params}
    response = client.get(f"/queries/{saved.id}/results", params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    got = list(csv.reader(io.StringIO(response.text)))
    expected = catalog.run(saved, memory_store(dataset), params)
    assert isinstance(expected, ox.QuerySolutions)
    assert len(got) - 1 == len(list(expected))


def test_results_negotiate_json(client: TestClient) -> None:
    saved = parametrised()
    params = {p.name: p.example for p in saved.params}
    body = client.get(f"/queries/{saved.id}/results", params={**params, "format": "json"})
    assert "results" in json.loads(body.text) or "boolean" in json.loads(body.text)


def test_unknown_query_and_parameter_are_clear_errors(client: TestClient) -> None:
    assert client.get("/queries/999-nothing").status_code == 404
    saved = parametrised()
    bad = client.get(f"/queries/{saved.id}/results", params={"nosuch": "1"})
    assert bad.status_code == 400 and "nosuch" in bad.text


def test_jsonld_context_and_dcat_description_are_served(client: TestClient) -> None:
    context = client.get("/context.jsonld")
    assert context.status_code == 200 and "totalParameters" in context.json()["@context"]
    dcat = client.get("/.well-known/dcat", headers={"Accept": "text/turtle"})
    assert dcat.status_code == 200 and dcat.headers["content-type"].startswith("text/turtle")
    assert "/dumps/llmkg.nq" in dcat.text
    assert client.get("/.well-known/dcat", headers={"Accept": "image/png"}).status_code == 406


def test_audit_page_and_json(client: TestClient) -> None:
    page = client.get("/audit", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Provenance audit" in page.text
    assert '<strong id="unprovenanced">0</strong>' in page.text
    report = client.get("/audit", headers={"Accept": "application/json"}).json()
    assert report["unprovenanced"] == [] and report["sources"] and "conflicts" in report


def test_results_use_defaults_and_name_them_in_a_header(client: TestClient) -> None:
    defaulted = client.get("/queries/003-context-length-trained-claimed-served/results", params={"format": "csv"})
    assert defaulted.status_code == 200 and defaulted.headers["LLMKG-Defaults"] == "model=model:llama-4-scout"
    given = client.get(
        "/queries/003-context-length-trained-claimed-served/results",
        params={"format": "csv", "model": "model:llama-4-scout"},
    )
    assert "LLMKG-Defaults" not in given.headers and given.text == defaulted.text


def test_results_with_any_and_with_an_unknown_name(client: TestClient) -> None:
    url = "/queries/002-family-variants-by-size/results"
    every = client.get(url, params={"format": "csv", "family": "*"})
    assert every.status_code == 200 and "LLMKG-Defaults" not in every.headers
    assert len(every.text.splitlines()) > len(client.get(url, params={"format": "csv"}).text.splitlines())
    typo = client.get(url, params={"family": "family:lama-4"})
    assert typo.status_code == 400 and "did you mean family:llama-4?" in typo.json()["detail"]


@pytest.mark.parametrize("query_id", [q.id for q in catalog.saved_queries() if any(p.type == "name" for p in q.params)])
def test_a_name_parameter_is_matched_ignoring_case(client: TestClient, query_id: str) -> None:
    saved = catalog.find(query_id)
    param = next(p for p in saved.params if p.type == "name")
    answers = [
        client.get(f"/queries/{query_id}/results", params={param.name: value, "format": "csv"})
        for value in (param.example, param.example.upper(), param.example.title())
    ]
    assert all(a.status_code == 200 for a in answers) and len(answers[0].text.splitlines()) > 1
    assert answers[0].text == answers[1].text == answers[2].text
