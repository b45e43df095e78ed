"""What the graph holds, per category of the data issues: counts that must not silently shrink.

Thresholds sit below today's counts; a data change that drops below one is a loss to explain.
Run with -s to print the counts.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from llmkg.kg.build import Dataset, memory_store
from llmkg.namespaces import sparql_prefixes

L4 = "VALUES ?model { model:llama-4-scout model:llama-4-maverick model:llama-4-behemoth }"
L3 = "VALUES ?model { model:llama-3-8b model:llama-3-70b model:llama-3.1-8b model:llama-3.1-70b model:llama-3.1-405b }"

COUNTS: dict[str, tuple[str, int]] = {
    "llama4 variants": (f"SELECT (COUNT(DISTINCT ?model) AS ?n) {{ {L4} ?model a llmkg:Model }}", 3),
    "llama4 checkpoints with HF id": (
        f"SELECT (COUNT(DISTINCT ?c) AS ?n) {{ {L4} ?c llmkg:checkpointOf ?model ; llmkg:huggingFaceRepository ?r }}",
        5,
    ),
    "llama4 facts about variants": (
        f"SELECT (COUNT(*) AS ?n) {{ {L4} GRAPH ?g {{ ?model ?p ?o }} ?g a llmkg:FactGraph }}",
        100,
    ),
    "llama4 evaluation results": (
        f"SELECT (COUNT(DISTINCT ?r) AS ?n) {{ {L4} ?c llmkg:checkpointOf ?model . ?r llmkg:evaluatedModel ?c }}",
        40,
    ),
    "llama4 training stages": (f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ {L4} ?s llmkg:trainingOf ?model }}", 2),
    "llama3 evaluation results": (
        f"SELECT (COUNT(DISTINCT ?r) AS ?n) {{ {L3} ?c llmkg:checkpointOf ?model . ?r llmkg:evaluatedModel ?c }}",
        100,
    ),
    "llama3 training stages": (f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ {L3} ?s llmkg:trainingOf ?model }}", 5),
    "licences with obligations": ("SELECT (COUNT(DISTINCT ?l) AS ?n) { ?l a llmkg:Licence ; llmkg:obligation ?o }", 3),
    "mlgym tasks": ("SELECT (COUNT(DISTINCT ?t) AS ?n) { ?t llmkg:taskOf benchmark:mlgym-bench }", 13),
    "mlgym results": (
        "SELECT (COUNT(DISTINCT ?r) AS ?n) { ?r llmkg:benchmark ?t . ?t llmkg:taskOf benchmark:mlgym-bench }",
        100,
    ),
    "source documents": ("SELECT (COUNT(DISTINCT ?d) AS ?n) { ?d a llmkg:SourceDocument }", 30),
    "fact graphs": ("SELECT (COUNT(DISTINCT ?g) AS ?n) { ?g a llmkg:FactGraph }", 100),
}


@pytest.fixture(scope="module")
def store(dataset: Dataset) -> ox.Store:
    return memory_store(dataset)


@pytest.mark.parametrize("category", list(COUNTS))
def test_category_holds_at_least(category: str, store: ox.Store) -> None:
    query, minimum = COUNTS[category]
    result = store.query(sparql_prefixes() + query, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    count = int(next(iter(result))["n"].value)
    print(f"{category}: {count}")
    assert count >= minimum, f"{category}: {count} < {minimum}"
