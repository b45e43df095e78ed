"""graph/findings answers as the whole graph does: every saved query that reads it, against its live query.

queries/live/NNN-name.rq is the whole-graph form of queries/examples/NNN-name.rq. Both run on the
shipped graph, and on the shipped graph with a fixture that makes a finding of every kind (so a query
whose shipped answer is empty is compared on rows too).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from llmkg.config import data_root
from llmkg.kg import asof, catalog
from llmkg.kg.build import Dataset, load_dataset, memory_store
from llmkg.namespaces import DEFAULT_GRAPH

from .conftest import FIXTURES, REPO

LIVE = sorted((data_root() / "queries" / "live").glob("*.rq"))
Answer = list[tuple[str, ...]] | bool


@pytest.fixture(scope="module")
def shipped(dataset: Dataset) -> ox.Store:
    return memory_store(dataset)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> ox.Store:
    """The shipped data with the files of tests/fixtures/findings/, built by the build itself."""
    root = tmp_path_factory.mktemp("seeded")
    for folder in ("ontology", "shapes", "triples", "queries"):
        shutil.copytree(REPO / folder, root / folder)
    for fixture in (FIXTURES / "findings").glob("*.ttl"):
        shutil.copy(fixture, root / "triples" / fixture.name)
    return memory_store(load_dataset(root))


def answer(result: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples) -> Answer:
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]
    return [tuple(str(row[n]) if row[n] is not None else "" for n in names) for row in result]


def both(path: Path, store: ox.Store) -> tuple[Answer, Answer]:
    """(the saved query's answer, the live query's), each over the served dataset, with the saved
    query's example parameters."""
    saved = catalog.find(path.stem)
    terms = catalog.bind(saved, {p.name: p.example for p in saved.params})
    live = store.query(path.read_text(encoding="utf-8"), substitutions=terms, default_graph=ox.NamedNode(DEFAULT_GRAPH))
    return answer(catalog.run(saved, store)), answer(live)


def test_there_are_live_queries() -> None:
    assert LIVE


@pytest.mark.parametrize("path", LIVE, ids=lambda p: p.stem)
def test_saved_query_answers_as_its_live_query_on_the_shipped_graph(path: Path, shipped: ox.Store) -> None:
    saved, live = both(path, shipped)
    assert saved == live


@pytest.mark.parametrize("path", LIVE, ids=lambda p: p.stem)
def test_saved_query_answers_as_its_live_query_with_a_finding_of_each_kind(path: Path, seeded: ox.Store) -> None:
    saved, live = both(path, seeded)
    assert live, f"the fixture makes no row of {path.stem}: the comparison would prove nothing"
    assert saved == live


@pytest.mark.parametrize("path", LIVE, ids=lambda p: p.stem)
def test_a_view_on_a_date_runs_the_live_query(path: Path, shipped: ox.Store) -> None:
    """An as-of view holds no graph/findings (it is today's), so a saved query over one asks its live form."""
    view = asof.dataset(shipped, AS_OF)
    saved = catalog.find(path.stem)
    terms = catalog.bind(saved, {p.name: p.example for p in saved.params})
    live = shipped.query(
        path.read_text(encoding="utf-8"),
        substitutions=terms,
        default_graph=view["default_graph"],  # type: ignore[arg-type]
        named_graphs=view["named_graphs"],  # type: ignore[arg-type]
    )
    assert answer(catalog.run(saved, shipped, dataset=view)) == answer(live)


#: A date on which the shipped graph has conflicts, secondary-only facts and sources of every kind.
AS_OF = "2025-06-01"
