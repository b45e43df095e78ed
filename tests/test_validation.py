"""Shapes as a product: the repository conforms, and every shape is proven to fire by its fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from typer.testing import CliRunner

from llmkg.cli import app
from llmkg.kg.build import Dataset, load_dataset
from llmkg.kg.validation import Problem, validate

from .conftest import FIXTURES, REPO, make_root

SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
INVALID = sorted((FIXTURES / "invalid").glob("*.ttl"))
runner = CliRunner()


def expected_shape(fixture: Path) -> str:
    name = fixture.stem.split("--", 1)[0]
    return name if name == "undefined-term" else f"shapes:{name}"


def also_fires(fixture: Path) -> set[str]:
    """Shapes a fixture declares it cannot avoid firing too, in '# also-fires: <shape> (why)' lines."""
    lines = fixture.read_text().splitlines()
    return {line.split()[2] for line in lines if line.startswith("# also-fires:")}


def fixture_problems(tmp_path: Path, fixture: Path | None) -> list[Problem]:
    files: dict[str, Path | str] = {"base.ttl": FIXTURES / "valid" / "base.ttl"}
    if fixture is not None:
        files["fixture.ttl"] = fixture
    return validate(load_dataset(make_root(tmp_path, files)))


def test_repository_has_no_violations(dataset: Dataset) -> None:
    violations = [p for p in validate(dataset) if p.severity == "Violation"]
    assert violations == [], "\n".join(f"{p.shape} {p.focus} {p.path}: {p.message} {p.files}" for p in violations)


def test_base_fixture_is_valid(tmp_path: Path) -> None:
    assert fixture_problems(tmp_path, None) == []


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_fires_exactly_its_shape(tmp_path: Path, fixture: Path) -> None:
    fired = {p.shape for p in fixture_problems(tmp_path, fixture)}
    assert fired == {expected_shape(fixture)} | also_fires(fixture)


def test_every_shape_has_an_invalid_fixture() -> None:
    shapes = rdflib.Graph()
    for path in (REPO / "shapes").glob("*.ttl"):
        shapes.parse(path)
    firing = {s for s in shapes.subjects(rdflib.RDF.type, SH.PropertyShape) if isinstance(s, rdflib.URIRef)}
    firing |= {s for s in shapes.subjects(rdflib.RDF.type, SH.SPARQLConstraint) if isinstance(s, rdflib.URIRef)}
    for node in shapes.subjects(rdflib.RDF.type, SH.NodeShape):
        if any((node, p, None) in shapes for p in (SH["or"], SH.pattern, SH["class"], SH.datatype)):
            assert isinstance(node, rdflib.URIRef), node
            firing.add(node)
    names = {f"shapes:{str(s).rsplit('#', 1)[1]}" for s in firing}
    covered = {expected_shape(f) for f in INVALID}
    assert names - covered == set(), "shapes without an invalid fixture"
    assert covered - names - {"undefined-term"} == set(), "fixtures named after no shape"


def test_validate_exits_nonzero_on_an_invalid_fixture(tmp_path: Path) -> None:
    fixture = FIXTURES / "invalid" / "TypedValueShape-range--parameters-as-string.ttl"
    root = make_root(tmp_path, {"base.ttl": FIXTURES / "valid" / "base.ttl", "bad.ttl": fixture})
    result = runner.invoke(app, ["validate", "--root", str(root)])
    assert result.exit_code == 1
    assert "triples/bad.ttl" in result.output and "TypedValueShape-range" in result.output


def test_validate_exits_zero_on_the_repository() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
