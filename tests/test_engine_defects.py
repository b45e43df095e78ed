"""The engine defects of docs/engine-defects.md, sent through every query path: the request or command that
carries one fails with a clear error, and nothing else does (the server, its other requests, the terminal).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from llmkg.cli import ENGINE_FAILED, app
from llmkg.namespaces import order_key
from llmkg.sparql.query import QueryError

from .sparql_support import COUNT_ALL, ask, count, default_size, problem, serve

pytestmark = pytest.mark.xdist_group("engine-defects")
REPO = Path(__file__).resolve().parents[1]
#: pyoxigraph 0.5.13 aborts the process sorting numbers together with a date (docs/engine-defects.md §1).
ABORT = (
    "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
    'SELECT ?o { VALUES ?o { "2025-04-05"^^xsd:date 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 "a" } }\n'
    "ORDER BY ?o\n"
)
#: The same query as a saved query with a parameter, so the saved-query route can reach it.
SAVED = """#+ summary: Sorts numbers among dates
#+ description: The engine defect of docs/engine-defects.md, behind a parameter.
#+ tags: [test]
#+ params:
#+   skip: {type: string, example: "b"}
#+ expect: {file: 900-engine-abort.expected.tsv}
#+ ordered: true
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
SELECT ?o ?skip { VALUES ?o { "2025-04-05"^^xsd:date 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 "a" }
  FILTER(!sameTerm(?o, ?skip)) }
ORDER BY ?o
"""
SPARQL_QUERY = {"Content-Type": "application/sparql-query"}
#: Every HTTP route that runs a query a client gives: (method, path, request arguments).
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/sparql", {"params": {"query": ABORT}}),
    ("POST", "/sparql", {"content": ABORT.encode(), "headers": SPARQL_QUERY}),
    ("POST", "/sparql", {"data": {"query": ABORT}}),
    ("GET", "/queries/900-engine-abort/results", {"params": {"skip": "b"}}),
    ("GET", "/queries/900-engine-abort/results", {"params": {"skip": "b", "format": "csv"}}),
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("defects")
    (root / "queries" / "examples").mkdir(parents=True)
    (root / "queries" / "examples" / "900-engine-abort.rq").write_text(SAVED)
    return root


@pytest.fixture(scope="module")
def client(data_root: Path) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LLMKG_DATA", str(data_root))
        with serve() as test_client:
            yield test_client


def restarts(client: TestClient) -> int:
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    return int(health.json()["workers"]["restarts"])


def assert_engine_failed(body: dict[str, Any]) -> None:
    assert body["title"] == "Query engine failed"
    assert "query engine failed" in body["detail"] and "out of memory" not in body["detail"]


@pytest.mark.parametrize(("method", "path", "arguments"), ROUTES, ids=lambda v: str(v)[:40])
def test_an_engine_abort_costs_one_request_and_one_worker(
    client: TestClient, method: str, path: str, arguments: dict[str, Any]
) -> None:
    before = restarts(client)
    assert_engine_failed(problem(client.request(method, path, **arguments), 503))
    assert restarts(client) == before + 1
    assert count(ask(client, COUNT_ALL)) == default_size()


def test_the_plain_editor_form_shows_the_engine_failure(client: TestClient) -> None:
    before = restarts(client)
    response = client.get("/editor", params={"query": ABORT})
    assert response.status_code == 503 and "Query engine failed" in response.text, response.text[:500]
    assert restarts(client) == before + 1


def test_the_pages_own_queries_run_in_the_workers(client: TestClient) -> None:
    """What the pages, statistics and audit read goes through the workers: an abort there is a QueryError."""
    assert isinstance(client.app, FastAPI)
    site = client.app.state.site
    before = restarts(client)
    with pytest.raises(QueryError) as raised:
        site.select(ABORT)
    assert raised.value.status == 503 and raised.value.title == "Query engine failed"
    assert restarts(client) == before + 1
    assert [row["n"].value for row in site.select(COUNT_ALL)] == [str(default_size())]


def test_the_cli_reports_an_engine_abort_without_a_backtrace_or_a_core_file(tmp_path: Path) -> None:
    query = tmp_path / "abort.rq"
    query.write_text(ABORT)
    command = [sys.executable, "-m", "llmkg.cli", "query", str(query)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == ENGINE_FAILED, done.stderr
    assert done.stdout == ""
    assert "query engine" in done.stderr and "does not correctly implement a total order" in done.stderr
    assert "panicked" not in done.stderr and "backtrace" not in done.stderr.lower()
    assert [p.name for p in tmp_path.iterdir()] == ["abort.rq"]  # no core file


def _abort(*args: object, **kwargs: object) -> None:
    os.abort()


#: Each engine-facing command, and a function it calls that stands in for an engine abort.
COMMANDS: list[tuple[list[str], str]] = [
    (["query", "001", "--root", str(REPO)], "llmkg.kg.catalog.run"),
    (["why", "model:llama-4-scout", "--root", str(REPO)], "llmkg.kg.audit.why"),
    (["audit", "--root", str(REPO)], "llmkg.kg.audit.build_report"),
    (["validate", "--root", str(REPO)], "llmkg.kg.validation.validate"),
]


@pytest.mark.parametrize(("args", "target"), COMMANDS, ids=lambda v: str(v))
def test_each_command_survives_an_abort_in_its_engine(
    monkeypatch: pytest.MonkeyPatch, args: list[str], target: str
) -> None:
    monkeypatch.setattr(target, _abort)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == ENGINE_FAILED, result.output
    assert "the query engine" in result.output and "SIGABRT" in result.output


def test_a_command_that_ends_normally_passes_its_output_and_status_on() -> None:
    result = CliRunner().invoke(app, ["query", "001", "--format", "csv", "--root", str(REPO)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("family,model,label,")
    assert CliRunner().invoke(app, ["query", "001", "--param", "nosuch=1", "--root", str(REPO)]).exit_code == 2


XSD = "http://www.w3.org/2001/XMLSchema#"


def test_order_key_is_a_total_order_over_the_terms_the_engine_cannot_sort() -> None:
    terms: list[ox.NamedNode | ox.Literal] = [
        ox.Literal("2025-04-05", datatype=ox.NamedNode(XSD + "date")),
        *(ox.Literal(str(i), datatype=ox.NamedNode(XSD + "integer")) for i in (20, 3, 11)),
        ox.Literal("2.5", datatype=ox.NamedNode(XSD + "decimal")),
        ox.Literal("NaN", datatype=ox.NamedNode(XSD + "double")),
        ox.Literal("2025-04", datatype=ox.NamedNode(XSD + "gYearMonth")),
        ox.Literal("a"),
        ox.NamedNode("http://example.org/x"),
    ]
    ordered = [t.value for t in sorted(terms, key=order_key)]
    assert ordered == ["2.5", "3", "11", "20", "2025-04-05", "NaN", "2025-04", "a", "http://example.org/x"]
    assert sorted(reversed(terms), key=order_key) == sorted(terms, key=order_key)
