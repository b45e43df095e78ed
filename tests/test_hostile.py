"""Hostile paths and giant queries get a 4xx with a reason, never a 5xx, and cost no worker.

Path parameters are generated for every route the app serves (those left out of the OpenAPI
description too); flat queries of every shape that once exhausted a worker's stack are refused by
the complexity limit before they reach the engine.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmkg.kg import catalog
from llmkg.sparql.query import MAX_OPERATORS

from .sparql_support import SETTINGS, serve

pytestmark = pytest.mark.xdist_group("hostile")
PARAMETER = re.compile(r"\{(\w+)(?::path)?\}")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve(dataclasses.replace(SETTINGS, max_request_bytes=1_000_000)) as test_client:  # the default limit
        yield test_client


def templates(app: FastAPI) -> list[str]:
    """Every GET route with a path parameter, found through the routers the app includes."""

    def walk(routes: list[Any]) -> Iterator[str]:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                yield from walk(list(inner.routes))
            elif "GET" in (getattr(route, "methods", None) or ()) and PARAMETER.search(route.path):
                yield route.path

    return sorted(set(walk(list(app.router.routes))))


def test_the_routes_with_parameters_are_all_found(client: TestClient) -> None:
    found = templates(client.app)  # type: ignore[arg-type]  # TestClient.app is the ASGI app we passed
    assert {"/compare/{slug}", "/leaderboards/{slug}", "/queries/{query_id}", "/id/{path:path}"} <= set(found)


HOSTILE = [
    "..%5c..%5c..%5cetc%5cpasswd",
    "x%0d%0aX-Injected:%201",
    quote("<img src=x onerror=alert(1)>", safe=""),
    "%ff%fe",
    "%00",
    "a%20b",
    "%c0%ae%c0%ae",
    "..%2f..%2fetc%2fpasswd",
    "%252e%252e",
    "%E2%80%AE",
    quote("'\"`{}|^", safe=""),
    "x" * 5000,
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_known_hostile_path_values_get_a_client_error(client: TestClient, value: str) -> None:
    for template in templates(client.app):  # type: ignore[arg-type]
        response = client.get(PARAMETER.sub(value, template))
        assert response.status_code < 500, (template, value, response.text[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(min_size=1, max_size=40), encode=st.booleans())
def test_generated_path_values_never_get_a_server_error(client: TestClient, value: str, encode: bool) -> None:
    piece = quote(value, safe="" if encode else "/:@")
    for template in templates(client.app):  # type: ignore[arg-type]
        response = client.get(PARAMETER.sub(lambda _: piece, template))
        assert response.status_code < 500, (template, piece, response.text[:300])


FLAT = {
    "union": lambda n: "SELECT * {" + " UNION ".join(["{ ?s ?p ?o }"] * n) + "}",
    "and": lambda n: "SELECT * { ?s ?p ?o FILTER(" + " && ".join(["true"] * n) + ") }",
    "path": lambda n: "SELECT * { ?s " + "/".join(["<http://e/p>"] * n) + " ?o }",
    "plus": lambda n: "SELECT * { BIND(" + "+".join(["1"] * n) + " AS ?x) }",
    "bgp": lambda n: "SELECT * {" + " ".join(f"?s <http://e/p> ?o{i} ." for i in range(n)) + "}",
    "objects": lambda n: "SELECT * { ?s <http://e/p> " + ", ".join(f"?o{i}" for i in range(n)) + " }",
    "optional": lambda n: "SELECT * { ?s ?p ?o " + " ".join(["OPTIONAL { ?s ?p ?o }"] * n) + " }",
}


@pytest.mark.parametrize("shape", sorted(FLAT))
@pytest.mark.parametrize("size", [2_000, 20_000])
def test_flat_giant_queries_are_refused_without_costing_a_worker(client: TestClient, shape: str, size: int) -> None:
    endpoint = client.app.state.endpoint  # type: ignore[attr-defined]
    before = endpoint.pool.stats()["restarts"]
    response = client.post("/sparql", data={"query": FLAT[shape](size)})
    assert response.status_code == 400, response.text[:300]
    assert response.json()["title"] == "Query too complex"
    assert f"(limit {MAX_OPERATORS})" in response.json()["detail"]
    assert endpoint.pool.stats()["restarts"] == before
    assert client.get("/health").json()["status"] == "ok"


def test_long_lists_in_values_and_function_arguments_are_not_operators(client: TestClient) -> None:
    values = "SELECT * { VALUES ?x { " + " ".join(str(i) for i in range(5_000)) + " } } LIMIT 1"
    listed = "SELECT * { BIND(7 AS ?x) FILTER(?x IN (" + ", ".join(str(i) for i in range(5_000)) + ")) }"
    for query in (values, listed):
        assert client.post("/sparql", data={"query": query}).status_code == 200


def test_every_saved_query_is_well_inside_the_limit() -> None:
    from llmkg.sparql.text import inspect

    largest = max(inspect(q.text).operators for q in catalog.saved_queries())
    assert largest * 2 < MAX_OPERATORS


def test_a_saved_query_that_is_not_utf8_is_reported_by_the_build_and_left_out_of_the_web(tmp_path: Path) -> None:
    folder = tmp_path / "queries" / "examples"
    folder.mkdir(parents=True)
    (folder / "900-latin1.rq").write_bytes(b"#+ summary: caf\xe9\nSELECT * {}\n")
    with pytest.raises(catalog.CatalogError, match=r"900-latin1.rq: not UTF-8 text \(byte 15\)"):
        catalog.saved_queries(tmp_path)
    assert catalog.saved_queries(tmp_path, strict=False) == []
    with pytest.raises(catalog.CatalogError, match="no saved query"):
        catalog.find("900-latin1", tmp_path)


def test_the_saved_query_routes_serve_only_the_catalogue(client: TestClient, tmp_path: Path) -> None:
    stray = Path.cwd() / "llmkg-stray-test.rq"
    stray.write_text("SELECT * {}")
    try:
        assert client.get(f"/queries/{stray.name}").status_code == 404
        assert client.get(f"/queries/{stray.name}/results").status_code == 404
    finally:
        stray.unlink()
