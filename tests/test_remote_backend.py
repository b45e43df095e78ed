"""``llmkg serve --backend sparql``: the same endpoint features over a real remote engine.

The app is built over :class:`~llmkg.remote.RemoteStore` (what ``--backend sparql --endpoint URL``
does) and asked what the embedded app is asked; the answers must match: content negotiation,
booleans, graphs, the Graph Store read side, saved queries with parameters, errors, pages.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from dataclasses import replace

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.kg.build import Dataset, memory_store
from llmkg.namespaces import GRAPH, ID, LLMKG
from llmkg.sparql.remote import RemoteStore
from tests.engines import Engine

SETTINGS = ServerSettings(workers=1, query_timeout_s=30.0, cache_entries=0)
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
MODELS = f"SELECT ?m ?label WHERE {{ ?m a <{LLMKG}Model> ; {LABEL} ?label }}"
ORDERED = MODELS + " ORDER BY ?m ?label"
LABELS = f"CONSTRUCT {{ ?m {LABEL} ?l }} WHERE {{ ?m a <{LLMKG}Model> ; {LABEL} ?l }}"
ENGINES = [
    pytest.param("oxigraph", marks=pytest.mark.xdist_group("oxigraph")),
    pytest.param("virtuoso", marks=pytest.mark.xdist_group("virtuoso")),
]


@pytest.fixture(scope="module")
def embedded(dataset: Dataset) -> Iterator[TestClient]:
    with TestClient(create_app(store=memory_store(dataset), settings=SETTINGS, version=dataset.version)) as client:
        yield client


class RemoteClient(TestClient):
    """A client of the app served from ``engine``."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(create_app(store=engine.store(), settings=SETTINGS))
        self.engine = engine


@pytest.fixture(scope="module", params=ENGINES)
def remote(request: pytest.FixtureRequest) -> Iterator[RemoteClient]:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    with RemoteClient(engine) as client:
        yield client


def graph(body: bytes, fmt: ox.RdfFormat) -> set[ox.Triple]:
    return set(ox.parse(body, fmt))


@pytest.mark.parametrize("accept", ["text/csv", "text/tab-separated-values", "application/sparql-results+xml"])
def test_select_answers_alike_in_each_format(remote: TestClient, embedded: TestClient, accept: str) -> None:
    got = remote.get("/sparql", params={"query": ORDERED}, headers={"Accept": accept})
    want = embedded.get("/sparql", params={"query": ORDERED}, headers={"Accept": accept})
    assert got.status_code == want.status_code == 200
    assert got.headers["content-type"] == want.headers["content-type"]
    assert got.content == want.content


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "text/tab-separated-values"])
def test_ask_is_a_boolean_in_every_format(remote: TestClient, embedded: TestClient, accept: str) -> None:
    """Virtuoso answers ASK as a one-row table in some formats; the adapter gives the boolean."""
    for query in (f"ASK {{ <{ID}model/llama-4-scout> ?p ?o }}", "ASK { <http://example.org/nothing> ?p ?o }"):
        got = remote.get("/sparql", params={"query": query}, headers={"Accept": accept})
        assert got.content == embedded.get("/sparql", params={"query": query}, headers={"Accept": accept}).content


def test_direct_post_is_answered(remote: TestClient) -> None:
    """A client's application/sparql-query POST works even on Virtuoso, which never answers one itself."""
    answer = remote.post(
        "/sparql", content=MODELS, headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"}
    )
    assert answer.status_code == 200 and answer.text.count("\n") > 5


def test_construct_is_the_same_graph(remote: TestClient, embedded: TestClient) -> None:
    headers = {"Accept": "application/n-triples"}
    got = remote.get("/sparql", params={"query": LABELS}, headers=headers)
    want = embedded.get("/sparql", params={"query": LABELS}, headers=headers)
    assert graph(got.content, ox.RdfFormat.N_TRIPLES) == graph(want.content, ox.RdfFormat.N_TRIPLES) != set()


def test_graph_store_read_side_gives_one_graph(remote: TestClient, embedded: TestClient) -> None:
    params, headers = {"graph": GRAPH + "entities/llama4-card"}, {"Accept": "application/n-triples"}
    got, want = remote.get("/rdf-graphs", params=params, headers=headers), embedded.get("/rdf-graphs", params=params)
    assert got.status_code == 200
    assert graph(got.content, ox.RdfFormat.N_TRIPLES) == graph(want.content, ox.RdfFormat.TURTLE)
    assert remote.get("/rdf-graphs", params={"graph": GRAPH + "no/such"}).status_code == 404


def test_saved_query_with_a_parameter(remote: TestClient, embedded: TestClient) -> None:
    params = {"model": f"{ID}model/llama-4-scout"}
    path = "/queries/020-checkpoints-of-a-model/results"
    got = remote.get(path, params=params, headers={"Accept": "text/csv"})
    assert got.status_code == 200
    assert sorted(got.text.splitlines()) == sorted(
        embedded.get(path, params=params, headers={"Accept": "text/csv"}).text.splitlines()
    )


def test_a_malformed_query_is_a_400_with_the_engines_reason(remote: TestClient) -> None:
    answer = remote.get("/sparql", params={"query": "SELEC ?x"})
    assert answer.status_code == 400 and answer.json()["title"] == "Malformed query"


def test_updates_are_refused_before_reaching_the_engine(remote: TestClient) -> None:
    answer = remote.post("/sparql", data={"query": "DROP ALL"})
    assert answer.status_code == 403


def test_pages_render(remote: TestClient) -> None:
    assert remote.get("/id/model/llama-4-scout", headers={"Accept": "text/html"}).status_code == 200


def test_the_audit_is_made_at_start_from_the_quads_read_for_the_version(
    remote: RemoteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No page waits for every quad to come over HTTP: the engine is never read whole after start."""

    def whole(_: object) -> None:
        raise AssertionError("the remote store was read whole after the app started")

    monkeypatch.setattr(RemoteStore, "__iter__", whole)
    for path in ("/audit", "/conflicts", "/id/model/llama-4-maverick"):
        assert remote.get(path, headers={"Accept": "text/html"}).status_code == 200, path


def test_data_version_survives_the_round_trip(remote: RemoteClient, embedded: TestClient) -> None:
    """oxigraph gives back every quad as loaded, so the data version (ETag) is the embedded one.

    Virtuoso keeps one datatype per number (8 and 8.0 become one), so its version differs: docs/deploy.md.
    """
    got, want = remote.get("/version").json()["data"], embedded.get("/version").json()["data"]
    if remote.engine.name == "virtuoso":
        assert got.split("+")[0] == want.split("+")[0]
    else:
        assert got == want


@pytest.mark.parametrize("name", ENGINES)
def test_results_are_freed_on_the_thread_that_read_them(
    name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyoxigraph reports (and leaks) a QuerySolutions dropped on another thread than the one that made it.

    A 406 (no format for the result) or a 422 (result too large) is raised while the result is alive,
    on the query thread; the error must not carry it to the event loop's thread.
    """
    engine: Engine = request.getfixturevalue(f"{name}_engine")
    reported: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(f"{u.exc_value}"))
    settings = replace(SETTINGS, max_result_bytes=2000)
    with TestClient(create_app(store=engine.store(), settings=settings, version="test")) as client:
        assert client.get("/sparql", params={"query": MODELS}, headers={"Accept": "text/turtle"}).status_code == 406
        assert client.get("/sparql", params={"query": MODELS}, headers={"Accept": "text/csv"}).status_code == 422
        gc.collect()
    assert reported == []
