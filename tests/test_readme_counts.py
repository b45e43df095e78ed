"""The figures the README gives for the shipped graph are the build's own, checked here, never typed from memory.

When the data changes, this test fails with the figures to write.
"""

from __future__ import annotations

import re

from llmkg.kg.build import Dataset
from llmkg.namespaces import LLMKG, RDF_TYPE

from .conftest import REPO, value

FIGURES = re.compile(
    r"([\d,]+) quads\s+in\s+([\d,]+)\s+named\s+graphs\s+from\s+([\d,]+)\s+source\s+documents,\s+"
    r"with\s+([\d,]+)\s+models\s+and\s+([\d,]+)\s+evaluation\s+results"
)


def figures(dataset: Dataset) -> tuple[int, int, int, int, int]:
    typed = {(value(q.subject), value(q.object)) for q in dataset.quads if q.predicate.value == RDF_TYPE}

    def count(cls: str) -> int:
        return sum(1 for _, kind in typed if kind == LLMKG + cls)

    graphs = {q.graph_name for q in dataset.quads}
    return len(dataset.quads), len(graphs), count("SourceDocument"), count("Model"), count("EvaluationResult")


def test_the_readme_states_the_figures_of_the_build(dataset: Dataset) -> None:
    found = FIGURES.search((REPO / "README.md").read_text())
    built = figures(dataset)
    wanted = "{:,} quads in {:,} named graphs from {:,} source documents, with {:,} models and {:,} evaluation results"
    assert found, f"README.md should say: {wanted.format(*built)}"
    stated = tuple(int(g.replace(",", "")) for g in found.groups())
    assert stated == built, f"README.md says {found.group()}; the build has: {wanted.format(*built)}"
