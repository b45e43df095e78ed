"""``llmkg load --into URL``: every named graph replaced, never duplicated, and a clear report on failure.

Against real engines (oxigraph serve, Virtuoso) loaded by the session fixtures, plus a store whose
HTTP answers are doctored (``httpx.MockTransport`` in front of a real engine) to make the Graph
Store Protocol refuse, or a request fail half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from llmkg.cli import app
from llmkg.kg.build import Dataset
from llmkg.kg.push import by_graph, load_into
from llmkg.namespaces import GRAPH
from llmkg.sparql.remote import RemoteStore
from tests.conftest import value
from tests.engines import Engine

TEST_GRAPHS = [GRAPH + f"test/load/{n}" for n in range(5)]
Doctor = Callable[[httpx.Request, int], httpx.Response | None]


def small_dataset() -> list[ox.Quad]:
    """Five small graphs under graph/test/load/, with literals that need escaping."""
    return [
        ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), ox.NamedNode("http://example.org/p"), value, ox.NamedNode(g))
        for n, g in enumerate(TEST_GRAPHS)
        for i, value in enumerate((ox.Literal(f'quote " and\nnewline {n}'), ox.Literal("é", language="fr")))
    ]


@contextmanager
def doctored(engine: Engine, doctor: Doctor) -> Iterator[RemoteStore]:
    """A client of ``engine`` whose requests pass ``doctor`` first: a Response it returns replaces the real one."""
    store = engine.store(writer=True)
    real, seen = store.client, [0]

    def handle(request: httpx.Request) -> httpx.Response:
        seen[0] += 1
        fake = doctor(request, seen[0])
        if fake is not None:
            return fake
        return real.request(request.method, request.url, content=request.content, headers=request.headers)

    store.client = httpx.Client(transport=httpx.MockTransport(handle))
    try:
        with store:
            yield store
    finally:
        real.close()


def drop_test_graphs(engine: Engine) -> None:
    with engine.store(writer=True) as store:
        store.update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in TEST_GRAPHS))


ENGINES = [
    pytest.param("oxigraph", marks=pytest.mark.xdist_group("oxigraph")),
    pytest.param("virtuoso", marks=pytest.mark.xdist_group("virtuoso")),
]


def engine_named(request: pytest.FixtureRequest, name: str) -> Engine:
    engine: Engine = request.getfixturevalue(f"{name}_engine")
    return engine


@pytest.mark.parametrize("name", ENGINES)
def test_a_second_load_replaces_every_graph(request: pytest.FixtureRequest, name: str, dataset: Dataset) -> None:
    with engine_named(request, name).store(writer=True) as store:
        before = store.graph_sizes(GRAPH)
        report = load_into(store, dataset.quads)
        assert report.ok and not report.stale, "\n".join(report.lines())
        assert store.graph_sizes(GRAPH) == before == {g: len(set(t)) for g, t in by_graph(dataset.quads).items()}


@pytest.mark.xdist_group("oxigraph")
def test_graphs_gone_from_the_dataset_are_reported_and_pruned_on_request(oxigraph_engine: Engine) -> None:
    quads = small_dataset()
    with oxigraph_engine.store(writer=True) as store:
        load_into(store, quads)
        kept = [q for q in quads if value(q.graph_name) != TEST_GRAPHS[0]]
        report = load_into(store, kept)
        assert TEST_GRAPHS[0] in report.stale and any("--prune" in line for line in report.lines())
        report = load_into(store, kept, prune=True)
        assert TEST_GRAPHS[0] not in store.graph_sizes(GRAPH + "test/")
        assert report.stale == [] and set(store.graph_sizes(GRAPH + "test/")) == set(TEST_GRAPHS[1:])
    drop_test_graphs(oxigraph_engine)


@pytest.mark.xdist_group("oxigraph")
def test_refused_graph_store_protocol_falls_back_to_update_in_batches(oxigraph_engine: Engine) -> None:
    def refuse_put(request: httpx.Request, _: int) -> httpx.Response | None:
        return httpx.Response(405) if request.method == "PUT" else None

    with doctored(oxigraph_engine, refuse_put) as store:
        report = load_into(store, small_dataset(), batch=1)
        assert report.ok and "Graph Store Protocol refused (HTTP 405)" in report.lines()[1]
        assert store.graph_sizes(GRAPH + "test/") == dict.fromkeys(TEST_GRAPHS, 2)
    drop_test_graphs(oxigraph_engine)


@pytest.mark.parametrize("name", ENGINES)
def test_a_failure_half_way_says_what_was_and_was_not_loaded(request: pytest.FixtureRequest, name: str) -> None:
    engine = engine_named(request, name)

    puts = 0

    def fail_third_put(request: httpx.Request, _: int) -> httpx.Response | None:
        nonlocal puts
        puts += request.method == "PUT"
        return httpx.Response(500, text="disk full") if request.method == "PUT" and puts == 3 else None

    with doctored(engine, fail_third_put) as store:
        report = load_into(store, small_dataset())
        assert not report.ok and report.failed is not None
        assert list(report.loaded) == TEST_GRAPHS[:2] and report.failed[0] == TEST_GRAPHS[2]
        assert report.not_attempted == TEST_GRAPHS[3:] and "disk full" in report.failed[1]
        text = "\n".join(report.lines())
        assert f"FAILED at {TEST_GRAPHS[2]}" in text and "not attempted: 2 graphs" in text
        assert set(store.graph_sizes(GRAPH + "test/")) == set(TEST_GRAPHS[:2])
        rerun = load_into(store, small_dataset())  # the re-run the report asks for completes the load
        assert rerun.ok and store.graph_sizes(GRAPH + "test/") == dict.fromkeys(TEST_GRAPHS, 2)
    drop_test_graphs(engine)


@pytest.mark.xdist_group("virtuoso")
def test_virtuoso_loads_by_update_in_batches_and_keeps_every_character(virtuoso_engine: Engine) -> None:
    with virtuoso_engine.store(writer=True, gsp=False) as store:
        report = load_into(store, small_dataset(), batch=1)
        assert report.ok, "\n".join(report.lines())
        found = store.select(f"SELECT ?o WHERE {{ GRAPH <{TEST_GRAPHS[4]}> {{ ?s ?p ?o }} }}")
        assert {str(row["o"]) for row in found} == {'"quote \\" and\\nnewline 4"', '"é"@fr'}
    drop_test_graphs(virtuoso_engine)


@pytest.mark.xdist_group("oxigraph")
def test_cli_load_prints_the_report(oxigraph_engine: Engine) -> None:
    args = ["load", "--into", oxigraph_engine.query, "--gsp", oxigraph_engine.gsp]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "oxigraph store" in result.output and "Graph Store Protocol" in result.output
    assert "loaded" in result.output and "FAILED" not in result.output


def test_cli_load_names_an_unreachable_store() -> None:
    result = CliRunner().invoke(app, ["load", "--into", "http://127.0.0.1:9/sparql"])
    assert result.exit_code == 2 and "127.0.0.1:9" in result.output
