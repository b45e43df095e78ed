"""Shared fixtures: the repository's dataset, and data roots made of fixture files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

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


def value(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | ox.DefaultGraph) -> str:
    """The IRI, blank-node id or lexical form of a quad's term; the data has no RDF-star triples nor default graph."""
    assert not isinstance(term, (ox.Triple, ox.DefaultGraph)), term
    return term.value


def integer(term: rdflib.term.Node | None) -> int:
    """The number an integer literal rdflib read stands for."""
    assert isinstance(term, rdflib.Literal), term
    return int(term)


__all__ = ["dataset", "integer", "make_root", "oxigraph_engine", "value", "virtuoso_engine"]
