"""Security basics: headers and a request id on every answer (errors too), the id in the access log,
no path or secret in any error body, and no route that writes.

The app serves a store directory, so its path is a secret an error body could leak.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import llmkg
from llmkg.app import create_app
from llmkg.kg.build import Dataset, write_store

from .sparql_support import COUNT_ALL, SETTINGS, make_store

pytestmark = pytest.mark.xdist_group("security")
SECURITY_HEADERS = ["x-content-type-options", "referrer-policy", "x-frame-options", "content-security-policy"]
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o . ?p ?q ?r }"
#: (method, path, keyword arguments, expected status): one request for each kind of answer.
ANSWERS: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/sparql", {"params": {"query": COUNT_ALL}}, 200),
    ("GET", "/sparql", {"params": {"query": "SELECT * WHERE { ?s ?p"}}, 400),
    ("GET", "/sparql", {"params": {"query": "CLEAR ALL"}}, 403),
    ("GET", "/dumps/../../etc/passwd", {}, 404),
    ("GET", "/dumps/llmkg.ttl", {}, 404),
    ("DELETE", "/rdf-graphs", {"params": {"default": ""}}, 405),
    ("GET", "/sparql", {"params": {"query": COUNT_ALL}, "headers": {"Accept": "image/png"}}, 406),
    (
        "POST",
        "/sparql",
        {"content": b"#" * (SETTINGS.max_request_bytes + 1), "headers": {"Content-Type": "application/sparql-query"}},
        413,
    ),
    ("POST", "/sparql", {"content": b"ASK {}", "headers": {"Content-Type": "text/plain"}}, 415),
    ("GET", "/sparql", {"params": {"query": RUNAWAY}}, 503),
    ("GET", "/rdf-graphs", {"params": {"graph": "file:///etc/passwd"}}, 404),
]


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("secret-place") / "store"
    write_store(Dataset(quads=list(make_store())), target)
    return target


@pytest.fixture(scope="module")
def client(store_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(store=store_dir, settings=SETTINGS), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "options", "status"), ANSWERS, ids=[f"{a[3]}-{a[1]}" for a in ANSWERS])
def test_every_answer_has_security_headers_and_a_request_id_that_the_log_repeats(
    client: TestClient, caplog: pytest.LogCaptureFixture, method: str, path: str, options: dict[str, Any], status: int
) -> None:
    with caplog.at_level(logging.INFO, logger="llmkg.access"):
        response = client.request(method, path, **options)
    assert response.status_code == status, response.text
    for header in SECURITY_HEADERS:
        assert header in response.headers, header
    assert "server" not in response.headers
    rid = response.headers["x-request-id"]
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "llmkg.access"]
    assert any(line["request_id"] == rid and line["status"] == status for line in logged), logged
    if status >= 400:
        assert response.json()["request_id"] == rid


@pytest.mark.parametrize(("method", "path", "options", "status"), ANSWERS, ids=[f"{a[3]}-{a[1]}" for a in ANSWERS])
def test_no_error_body_names_a_path_or_a_trace(
    client: TestClient, store_dir: Path, method: str, path: str, options: dict[str, Any], status: int
) -> None:
    text = client.request(method, path, **options).text
    secrets = [str(store_dir), str(store_dir.parent), str(Path(llmkg.__file__).parent), "Traceback", 'File "']
    assert not [s for s in secrets if s in text], text[:300]


def test_an_internal_error_says_nothing_but_its_request_id(
    client: TestClient, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(2, "No such file or directory", str(store_dir / "MANIFEST-000001"))

    assert isinstance(client.app, FastAPI)
    monkeypatch.setattr(client.app.state.endpoint, "versions", broken)
    response = client.get("/version")
    assert response.status_code == 500
    assert str(store_dir) not in response.text and "MANIFEST" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: POST routes that only read: a query sent in a body (SPARQL 1.1 Protocol §2.1.2, §2.1.3).
READING_POSTS = {"/sparql"}


def test_no_route_writes(client: TestClient) -> None:
    """The endpoint has no admin or write feature, so no route needs a token; one that writes
    must come with a token checked by ``hmac.compare_digest`` and a test that it refuses without.
    """
    app = client.app
    assert hasattr(app, "routes")
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        assert route.methods is not None, route.path
        for method in sorted(route.methods & WRITE_METHODS):
            if method == "POST" and route.path in READING_POSTS:
                continue
            path = route.path.replace("{", "").replace("}", "").replace(":path", "")
            response = client.request(method, path, content=b"<http://e/a> <http://e/b> <http://e/c> .")
            assert response.status_code in (404, 405), (method, route.path, response.status_code)
