"""The SPARQL endpoint in-process: read-only, SERVICE refused, runaway queries stopped, limits,
errors without traces, caching, ETags, CORS, security headers and request ids.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from llmkg.engine import endpoint as engine_endpoint
from llmkg.engine import pool, worker
from llmkg.sparql.query import REQUEST_ID, Job

from .sparql_support import COUNT_ALL, G_MODELS, RUNAWAY, SETTINGS, ask, count, default_size, problem, serve

#: One app (and one set of worker processes) per module: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("sparql-safety")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve() as test_client:
        yield test_client


T = TypeVar("T")


def _endpoint(client: TestClient) -> engine_endpoint.Endpoint:
    """The query engine ``create_app`` keeps in the app's state."""
    assert isinstance(client.app, FastAPI)
    endpoint: engine_endpoint.Endpoint = client.app.state.endpoint
    return endpoint


def _on_the_loop(client: TestClient, function: Callable[[], Awaitable[T]]) -> T:
    """Run ``function`` on the event loop of the started client, where the engine lives."""
    assert client.portal is not None, "the client is not started"
    return client.portal.call(function)


# --- read-only and safe ---------------------------------------------------------------------------


UPDATES = [
    "INSERT DATA { <http://e/a> <http://e/b> <http://e/c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "PREFIX e: <http://e/> DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "WITH <http://e/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "LOAD <file:///etc/passwd>",
    "LOAD SILENT <http://127.0.0.1:1/x> INTO GRAPH <http://e/g>",
    "CLEAR ALL",
    "DROP DEFAULT",
    "CREATE GRAPH <http://e/g>",
    "ADD DEFAULT TO <http://e/g>",
    "MOVE DEFAULT TO <http://e/g>",
    "COPY DEFAULT TO <http://e/g>",
]


@pytest.mark.parametrize("update", UPDATES)
def test_updates_are_refused_in_every_encoding(client: TestClient, update: str) -> None:
    before = count(ask(client, COUNT_ALL))
    for response in (
        client.post("/sparql", data={"update": update}),
        client.post("/sparql", content=update, headers={"Content-Type": "application/sparql-update"}),
        client.post("/sparql", data={"query": update}),
        client.post("/sparql", content=update, headers={"Content-Type": "application/sparql-query"}),
        client.get("/sparql", params={"update": update}),
        ask(client, update),
    ):
        assert "read-only" in problem(response, 403)["detail"]
    assert count(ask(client, COUNT_ALL)) == before


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
def test_graph_store_writes_are_refused(client: TestClient, method: str) -> None:
    response = client.request(
        method,
        "/rdf-graphs",
        params={"graph": G_MODELS},
        content="<a> <b> <c> .",
        headers={"Content-Type": "text/turtle"},
    )
    assert "read-only" in problem(response, 405)["detail"]
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_on_sparql_are_refused(client: TestClient, method: str) -> None:
    problem(client.request(method, "/sparql", content="x"), 405)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://127.0.0.1:9999/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE SILENT <file:///etc/passwd> { ?s ?p ?o } }",
        "PREFIX e: <http://169.254.169.254/> SELECT * WHERE { SERVICE e:latest { ?s ?p ?o } }",
        "SELECT * WHERE { BIND(<http://e/> AS ?e) SERVICE ?e { ?s ?p ?o } }",
        "select * where { service<http://example.org/sparql>{ ?s ?p ?o } }",
    ],
)
def test_service_is_refused_by_default(client: TestClient, query: str) -> None:
    assert "SERVICE" in problem(ask(client, query), 403)["detail"]


def test_service_keyword_in_literals_comments_and_names_is_fine(client: TestClient) -> None:
    query = (
        "PREFIX s: <http://e/> # SERVICE <http://evil/>\n"
        'SELECT ("SERVICE <x> {}" AS ?n) WHERE { OPTIONAL { ?x s:SERVICE ?y } }'
    )
    assert ask(client, query).status_code == 200


def test_runaway_query_is_stopped_and_the_server_keeps_answering(client: TestClient) -> None:
    started = time.monotonic()
    body = problem(ask(client, RUNAWAY), 503)
    assert "stopped" in body["detail"]
    assert time.monotonic() - started < SETTINGS.query_timeout_s + 3
    assert count(ask(client, COUNT_ALL + " LIMIT 1")) == default_size()
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["workers"]["restarts"] >= 1


def test_oversized_body_gives_413(client: TestClient) -> None:
    big = COUNT_ALL + "#" + "x" * SETTINGS.max_request_bytes
    problem(client.post("/sparql", content=big, headers={"Content-Type": "application/sparql-query"}), 413)


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("SELECT * WHERE " + "{ " * 5000 + "?s ?p ?o" + " }" * 5000, {}),
        ("SELECT * WHERE { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }", {}),
        ("SELECT \x00 WHERE { ?s ?p ?o }", {}),
        ("\ufffd\ufffd", {}),
        (COUNT_ALL, {"Accept": ", ".join(f"application/x-{i};q=0.{i % 10}" for i in range(5000))}),
        (COUNT_ALL, {"Accept": ";;;,,,/;q=abc,*/*;q=-1"}),
    ],
    ids=["deep-braces", "deep-parentheses", "nul", "replacement-chars", "huge-accept", "garbage-accept"],
)
def test_hostile_input_gets_a_4xx_or_a_correct_answer(client: TestClient, query: str, headers: dict[str, str]) -> None:
    """Never a 500, never a crashed worker: a 4xx with a readable body, or a proper answer."""
    headers = {"Content-Type": "application/sparql-query", **headers}
    restarts = client.get("/health").json()["workers"]["restarts"]
    response = client.post("/sparql", content=query.encode(), headers=headers)
    if response.status_code == 200:
        assert count(response) == default_size()
    else:
        problem(response, response.status_code)
        assert 400 <= response.status_code < 500
    assert client.get("/health").json()["workers"]["restarts"] == restarts


def test_a_query_that_eats_memory_dies_alone() -> None:
    """A worker's address space is capped: a query that materialises a cross product is stopped."""
    greedy = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?a ?d ?g ?j"
    settings = dataclasses.replace(SETTINGS, worker_memory_mb=64, query_timeout_s=30.0)
    with serve(settings) as small:
        started = time.monotonic()
        assert "stopped its worker" in problem(ask(small, greedy), 503)["detail"]
        assert time.monotonic() - started < 25
        assert count(ask(small, COUNT_ALL)) == default_size()


@pytest.mark.parametrize(("recycle_mb", "recycled"), [(0, True), (4096, False)])
def test_a_worker_that_copied_too_much_of_the_store_is_replaced_once_the_pool_is_idle(
    recycle_mb: int, recycled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads of the forked store make its pages private; past the budget a worker is replaced by a fresh
    fork between bursts, which is neither a restart nor an error."""
    monkeypatch.setattr(pool, "RECYCLE_IDLE_S", 0.5)
    with serve(dataclasses.replace(SETTINGS, worker_recycle_mb=recycle_mb, workers=1)) as pool_of_one:
        for n in range(3):
            assert count(ask(pool_of_one, f"{COUNT_ALL} # {n}")) == default_size()
        deadline = time.monotonic() + 3 * pool.RECYCLE_IDLE_S + 2
        while time.monotonic() < deadline and not pool_of_one.get("/health").json()["workers"]["recycled"]:
            time.sleep(0.2)
        assert count(ask(pool_of_one, f"{COUNT_ALL} # after")) == default_size()
        workers = pool_of_one.get("/health").json()["workers"]
    assert bool(workers["recycled"]) == recycled and workers["restarts"] == 0 and workers["live"] == 1, workers


def test_too_large_result_is_refused(client: TestClient) -> None:
    body = problem(ask(client, "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"), 422)
    assert "LIMIT" in body["detail"]


def test_large_results_stream(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_endpoint, "STREAM_AFTER", 10_000)
    response = ask(client, "SELECT * WHERE { ?a ?b ?c . ?d <http://example.org/value> ?f }", "text/csv")
    assert response.status_code == 200
    assert "content-length" not in response.headers
    assert len(list(csv.reader(io.StringIO(response.text)))) == 1 + default_size() * 24


def test_no_stack_trace_on_internal_error(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret /etc/path detail")

    monkeypatch.setattr(_endpoint(client), "versions", broken)
    response = client.get("/version")
    body = problem(response, 500)
    assert "secret" not in response.text and "/etc" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]


# --- HTTP behaviour ---------------------------------------------------------------------------------


def test_etag_and_if_none_match(client: TestClient) -> None:
    first = ask(client, COUNT_ALL)
    etag = first.headers["etag"]
    again = client.get("/sparql", params={"query": COUNT_ALL}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = ask(client, COUNT_ALL, "text/csv")
    assert other.headers["etag"] != etag
    assert first.headers["vary"].startswith("Accept")


def test_repeated_queries_come_from_the_cache(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    query = "SELECT (COUNT(*) AS ?cached) WHERE { ?s ?p ?o }"
    with caplog.at_level(logging.INFO, logger="llmkg.access"):
        ask(client, query)
        ask(client, query)
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "llmkg.access"]
    assert [r["cached"] for r in records[-2:]] == [False, True]
    assert records[-1]["path"] == "/sparql" and records[-1]["status"] == 200 and "ms" in records[-1]


def test_a_burst_of_one_query_runs_it_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = _endpoint(client)
    submitted: list[str] = []
    real_submit = endpoint.pool.submit

    async def counting_submit(job: Job) -> object:
        submitted.append(job.query)
        return await real_submit(job)

    monkeypatch.setattr(endpoint.pool, "submit", counting_submit)
    query = "SELECT (COUNT(*) AS ?burst) WHERE { ?s ?p ?o . ?x ?y ?z }"
    job = endpoint.job(query, accept="application/sparql-results+json")

    async def burst() -> list[engine_endpoint.Answer | engine_endpoint.StreamedAnswer]:
        return await asyncio.gather(*(endpoint.query(job) for _ in range(6)))

    answers = _on_the_loop(client, burst)
    assert submitted == [query]
    assert len({a.body for a in answers}) == 1 and sum(not a.cached for a in answers) == 1


def test_a_failing_query_fails_every_request_that_shared_it(client: TestClient) -> None:
    endpoint = _endpoint(client)
    job = endpoint.job(RUNAWAY, accept="application/sparql-results+json")

    async def burst() -> list[engine_endpoint.Answer | engine_endpoint.StreamedAnswer | BaseException]:
        return await asyncio.gather(*(endpoint.query(job) for _ in range(3)), return_exceptions=True)

    outcomes = _on_the_loop(client, burst)
    assert [getattr(o, "status", None) for o in outcomes] == [503, 503, 503]


def test_a_cancelled_request_leaves_the_waiting_ones_to_run_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = _endpoint(client)
    real_submit = endpoint.pool.submit

    async def slow_submit(job: Job) -> object:
        await asyncio.sleep(0.3)  # long enough for a second request to come and wait
        return await real_submit(job)

    monkeypatch.setattr(endpoint.pool, "submit", slow_submit)
    job = endpoint.job("SELECT (COUNT(*) AS ?cancelled) WHERE { ?s ?p ?o }", accept="application/sparql-results+json")

    async def leader_cancelled() -> engine_endpoint.Answer | engine_endpoint.StreamedAnswer:
        leader = asyncio.ensure_future(endpoint.query(job))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(endpoint.query(job))
        await asyncio.sleep(0.05)
        leader.cancel()
        return await waiting

    answer = _on_the_loop(client, leader_cancelled)
    assert isinstance(answer, engine_endpoint.Answer)
    assert json.loads(answer.body)["head"]["vars"] == ["cancelled"] and not answer.cached


def test_a_streamed_answer_is_cached_once_complete(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_endpoint, "STREAM_AFTER", 256)  # so that this small store's answer streams
    query = "SELECT ?s ?p ?o ?streamed WHERE { ?s ?p ?o }"
    first, second = ask(client, query), ask(client, query)
    assert first.status_code == second.status_code == 200 and first.content == second.content
    assert "content-length" not in first.headers and second.headers["content-length"] == str(len(second.content))


def test_the_cache_is_bounded_in_bytes() -> None:
    cache: engine_endpoint.ResultCache[tuple[str, bytes]] = engine_endpoint.ResultCache(
        entries=100, max_bytes=1000, max_entry_bytes=600
    )
    for key in "abc":
        cache.put(key, ("text/csv", b"x" * 400))
    cache.put("big", ("text/csv", b"x" * 700))  # larger than an entry may be: not kept
    assert [k for k in "abc" if cache.get(k)] == ["b", "c"] and cache.get("big") is None


def test_cors_and_security_headers(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": COUNT_ALL}, headers={"Origin": "https://yasgui.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    preflight = client.options(
        "/sparql",
        headers={
            "Origin": "https://yasgui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_a_worker_failure_is_logged_with_its_request_id(caplog: pytest.LogCaptureFixture) -> None:
    """A job made while a request is served carries its id to the worker process (through the frame)."""
    token = REQUEST_ID.set("req-42")
    try:
        job = Job.from_dict(json.loads(json.dumps(Job(query="ASK {}").to_dict())))
    finally:
        REQUEST_ID.reset(token)
    assert job.request_id == "req-42" and Job(query="ASK {}").request_id == ""
    with caplog.at_level(logging.WARNING, logger="llmkg.workers"):
        assert worker._failure(RuntimeError("engine broke"), None, job.request_id).status == 500
    assert "req-42" in caplog.text and "engine broke" in caplog.text


def test_request_ids(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert len(generated) == 32
