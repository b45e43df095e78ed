"""Shared fixtures: the repository's dataset, and data roots made of fixture files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmkg.config import data_root
from llmkg.kg.build import Dataset, load_dataset
from tests.engines import oxigraph_engine, virtuoso_engine  # the real SPARQL engines, as fixtures

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """The shipped dataset, built once per test session."""
    return load_dataset(data_root())


def make_root(tmp: Path, triples: dict[str, Path | str]) -> Path:
    """A data root with the real ontology and shapes and the given files under triples/."""
    for folder in ("ontology", "shapes"):
        shutil.copytree(REPO / folder, tmp / folder)
    for name, content in triples.items():
        target = tmp / "triples" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_text(content, encoding="utf-8")
    return tmp


__all__ = ["dataset", "make_root", "oxigraph_engine", "virtuoso_engine"]
