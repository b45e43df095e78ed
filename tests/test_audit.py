"""Provenance auditing on a small fixture: a card, its revision, and a secondary summary disagree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkg.cli import app
from llmkg.kg.audit import build_report, why
from llmkg.kg.build import Dataset, load_dataset
from llmkg.namespaces import LLMKG, PREFERRED_GRAPH

from .conftest import FIXTURES, make_root, value

WIDGET = "https://w3id.org/llmkg/id/model/widget"
runner = CliRunner()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path, {p.name: p for p in (FIXTURES / "audit").glob("*.ttl")})


@pytest.fixture
def fixture_dataset(root: Path) -> Dataset:
    return load_dataset(root)


def test_conflict_lists_every_value_with_its_source(fixture_dataset: Dataset) -> None:
    report = build_report(fixture_dataset.quads)
    [conflict] = [c for c in report.conflicts if c.property == "llmkg:totalParameters"]
    assert sorted(v for vs in conflict.values.values() for v in vs) == ["100", "110", "120"]
    assert set(conflict.sources.values()) == {"source:card-v1", "source:card-v2", "source:blog-summary"}
    assert not conflict.acknowledged and report.unacknowledged


def test_equal_values_in_two_revisions_are_no_conflict(fixture_dataset: Dataset) -> None:
    report = build_report(fixture_dataset.quads)
    assert all(c.property != "llmkg:knowledgeCutoff" for c in report.conflicts)


def test_preferred_value_is_the_later_revision_of_the_primary_source(fixture_dataset: Dataset) -> None:
    preferred = {
        value(q.object)
        for q in fixture_dataset.quads
        if value(q.graph_name) == PREFERRED_GRAPH
        and value(q.subject) == WIDGET
        and q.predicate.value == LLMKG + "totalParameters"
    }
    assert preferred == {"110"}


def test_secondary_only_statements_are_listed(fixture_dataset: Dataset) -> None:
    report = build_report(fixture_dataset.quads)
    assert "model:widget llmkg:contextLength 4096" in report.secondary_only
    assert not any("totalParameters 110" in s for s in report.secondary_only)


def test_why_gives_document_version_location_and_preference(fixture_dataset: Dataset) -> None:
    reasons = why(fixture_dataset.quads, WIDGET, LLMKG + "totalParameters")
    by_value = {r.value: r for r in reasons}
    assert set(by_value) == {"100", "110", "120"}
    assert by_value["110"].preferred and not by_value["100"].preferred
    assert (by_value["100"].version, by_value["100"].locator) == ("v1", "Table 1")
    assert by_value["120"].evidence == "Secondary"


def test_strict_fails_on_unacknowledged_conflicts_then_passes_once_acknowledged(root: Path) -> None:
    assert runner.invoke(app, ["audit", "--strict", "--root", str(root)]).exit_code == 1
    (root / "triples" / "ack.ttl").write_text(
        "@prefix llmkg: <https://w3id.org/llmkg/ontology#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<> a llmkg:CuratedGraph ; llmkg:acknowledgedConflict <#n1> .\n"
        "<#n1> a llmkg:ConflictNote ; llmkg:conflictSubject <https://w3id.org/llmkg/id/model/widget> ;\n"
        '    llmkg:conflictProperty llmkg:totalParameters ; rdfs:comment "revisions and a summary differ" .\n'
    )
    result = runner.invoke(app, ["audit", "--strict", "--format", "json", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["conflicts"][0]["acknowledged"] is True


def test_statements_without_provenance_are_reported(root: Path) -> None:
    (root / "triples" / "headless.ttl").write_text("<https://w3id.org/llmkg/id/model/widget> <http://e/p> 1 .\n")
    report = build_report(load_dataset(root).quads)
    assert report.unprovenanced == [
        '<https://w3id.org/llmkg/id/model/widget> <http://e/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> '
        "(https://w3id.org/llmkg/graph/headless)"
    ]
    assert runner.invoke(app, ["audit", "--strict", "--root", str(root)]).exit_code == 1


def test_why_cli_prints_sources(root: Path) -> None:
    result = runner.invoke(app, ["why", "model:widget", "llmkg:totalParameters", "--root", str(root)])
    assert result.exit_code == 0 and "card-v2" in result.output and "preferred" in result.output
