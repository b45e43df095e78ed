"""The Python face (``import llmkg``): the README's examples run as doctests, embedded and over HTTP,
and the API's own promises (plain values, named tuples, errors) on the shipped graph."""

from __future__ import annotations

import asyncio
import datetime as dt
import doctest
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

import llmkg
from llmkg.kg import catalog, names
from llmkg.notebook import Graph, Rows, plain
from llmkg.sparql.query import QueryError

from .server_support import running_server

REPO = Path(__file__).resolve().parents[1]
#: The README's "Python" section: its text up to the next heading of the same level.
SECTION = re.search(r"^## Python\n(.*?)^## ", (REPO / "README.md").read_text(), re.S | re.M)
OPENING = "kg = llmkg.open()"


def readme_examples() -> list[doctest.Example]:
    assert SECTION is not None, "README.md has no '## Python' section"
    return doctest.DocTestParser().get_examples(SECTION.group(1))


def run_examples(examples: list[doctest.Example], globs: dict[str, object], name: str) -> None:
    test = doctest.DocTest(examples, globs, name, str(REPO / "README.md"), 0, None)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0 and runner.tries == len(examples), "".join(failures)


def test_the_readme_examples_run_on_the_shipped_graph() -> None:
    examples = readme_examples()
    assert any(e.source.strip() == OPENING for e in examples), "the examples open the shipped graph"
    run_examples(examples, {}, "README Python, embedded")


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped data as ``llmkg build --store DIR`` writes it."""
    folder = tmp_path_factory.mktemp("python-api")
    built = subprocess.run(
        [sys.executable, "-m", "llmkg.cli", "build", "--out", str(folder / "dist"), "--store", str(folder / "store")],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return folder / "store"


@pytest.fixture(scope="module")
def endpoint(built_store: Path) -> Iterator[str]:
    with running_server(built_store, log=built_store.parent / "serve.log", timeout_s=30.0) as server:
        yield server.base + "/sparql"


def test_the_readme_examples_give_the_same_answers_over_http(endpoint: str) -> None:
    """The same examples, with ``kg`` a running endpoint instead of the embedded graph."""
    examples = [e for e in readme_examples() if e.source.strip() != OPENING]
    run_examples(examples, {"llmkg": llmkg, "kg": llmkg.connect(endpoint)}, "README Python, over HTTP")


def test_the_readme_examples_give_the_same_answers_on_a_built_store(built_store: Path) -> None:
    """The same examples over a store on disk (``llmkg.open(store=DIR)``), read by the workers."""
    examples = [e for e in readme_examples() if e.source.strip() != OPENING]
    run_examples(examples, {"llmkg": llmkg, "kg": llmkg.open(store=built_store)}, "README Python, store on disk")


@pytest.fixture(scope="module")
def kg() -> Iterator[Graph]:
    with llmkg.open() as graph:
        yield graph


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (ox.Literal("42", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")), 42),
        (ox.Literal("14.4", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")), 14.4),
        (ox.Literal("true", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean")), True),
        (ox.Literal("2025-04-05", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")), dt.date(2025, 4, 5)),
        (ox.Literal("2025", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#gYear")), "2025"),
        (ox.Literal("Llama 4 Scout"), "Llama 4 Scout"),
        (ox.NamedNode("https://w3id.org/llmkg/id/model/llama-4-scout"), "model:llama-4-scout"),
        (ox.NamedNode("https://example.org/elsewhere"), "https://example.org/elsewhere"),
        (None, None),
    ],
)
def test_result_terms_become_plain_python_values(term: object, expected: object) -> None:
    assert plain(term) == expected and type(plain(term)) is type(expected)


EXAMPLE_RUNS = [q for q in catalog.saved_queries() if not q.extra.get("service")][:8]


@pytest.mark.parametrize("saved", EXAMPLE_RUNS, ids=lambda q: q.id)
def test_saved_queries_by_name_answer_as_the_catalogue_does(kg: Graph, saved: catalog.SavedQuery) -> None:
    """Each saved query, by number with its example parameters as keywords: one dict per row, in order."""
    answer = kg.run(saved.id.split("-", 1)[0], **{p.name: p.example for p in saved.params})
    if isinstance(answer, Rows):
        assert all(list(row) == answer.columns for row in answer)
        assert [tuple(row.values()) for row in answer] == [tuple(t) for t in answer.tuples()]


def test_unknown_saved_query_and_parameter_are_clear_errors(kg: Graph) -> None:
    with pytest.raises(catalog.CatalogError, match="no saved query named"):
        kg.run("no-such-query")
    with pytest.raises(catalog.ParamError, match="unknown parameter"):
        kg.run("001", nosuch="1")


def test_a_misspelt_entity_is_an_error_with_a_suggestion_never_an_empty_answer(kg: Graph) -> None:
    with pytest.raises(names.UnknownName, match="did you mean model:llama-4-maverick"):
        kg.why("model:llama-4-mavrick", "llmkg:totalParameters")
    with pytest.raises(names.UnknownName, match="no entity family:llama-5 in the graph; did you mean family:llama-4"):
        kg.run("001", family="family:llama-5")
    assert kg.why("model:llama-4-scout", "llmkg:noSuchProperty") == []  # a known entity without it: no error


def test_an_unknown_prefix_is_a_clear_error(kg: Graph) -> None:
    with pytest.raises(ValueError, match="known prefix"):
        kg.why("nosuchprefix:thing", "llmkg:totalParameters")


def test_facts_cover_every_property_why_gives_one(kg: Graph) -> None:
    facts = kg.facts("model:llama-4-scout")
    by_property = {f.property for f in facts}
    assert "llmkg:totalParameters" in by_property
    one = kg.why("model:llama-4-scout", "llmkg:totalParameters")
    assert {(f.value, f.preferred) for f in one} == {
        (f.value, f.preferred) for f in facts if f.property == "llmkg:totalParameters"
    }
    assert all(f.statements and all(r.source for r in f.statements) for f in facts)


def test_a_runaway_query_is_stopped_in_its_worker_and_the_graph_still_answers() -> None:
    with llmkg.open(timeout=1.0) as graph:
        runaway = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
        with pytest.raises(QueryError, match="longer than"):
            graph.query(runaway)
        assert graph.query("ASK { ?s ?p ?o }") is True


def test_the_package_loads_the_face_only_when_asked() -> None:
    code = "import sys, llmkg; assert 'llmkg.notebook' not in sys.modules; llmkg.open; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_it_answers_inside_a_running_event_loop_as_a_notebook_cell_runs(kg: Graph) -> None:
    """Jupyter runs each cell inside its event loop: the blocking API must still answer there."""

    async def cell() -> object:
        rows = kg.run("001", family="family:llama-4")
        assert isinstance(rows, Rows)
        return rows[0]["model"]

    assert asyncio.run(cell()) == "model:llama-4-behemoth"
