"""The editor's examples: every saved query, parameters bound to their examples, answers as `llmkg query` does."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from llmkg.kg import catalog
from llmkg.kg.build import Dataset, memory_store
from llmkg.namespaces import DEFAULT_GRAPH
from llmkg.pages import editor

PARAMETERISED = [q for q in catalog.saved_queries() if q.params]


@pytest.fixture(scope="module")
def store(dataset: Dataset) -> ox.Store:
    return memory_store(dataset)


def answer(result: object) -> object:
    if isinstance(result, ox.QuerySolutions):
        names = [v.value for v in result.variables]
        return sorted(tuple(str(row[n]) for n in names) for row in result)
    if isinstance(result, ox.QueryTriples):
        return sorted(str(t) for t in result)
    return bool(result)


def test_every_saved_query_is_an_example() -> None:
    assert [e["id"] for e in editor.examples()] == [q.id for q in catalog.saved_queries()]


@pytest.mark.parametrize("query", PARAMETERISED, ids=lambda q: q.id)
def test_example_text_binds_the_example_parameters(query: catalog.SavedQuery, store: ox.Store) -> None:
    text = editor.with_examples(query)
    assert "VALUES" in text and all(f"?{p.name}" in text for p in query.params)
    expected = catalog.run(query, store, {p.name: p.example for p in query.params})
    assert answer(store.query(text, default_graph=ox.NamedNode(DEFAULT_GRAPH))) == answer(expected)


def test_a_query_without_parameters_is_shown_as_written() -> None:
    plain = next((q for q in catalog.saved_queries() if not q.params), None)
    if plain is None:
        pytest.skip("every saved query has parameters")
    assert editor.with_examples(plain) == plain.text
