"""Output that fits: tables never cut a value, a table too wide becomes records, TSV into a pipe, ``why``
and ``audit`` fit 100 columns, and every option with fixed values refuses others by naming them."""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest
from rich.console import Console
from typer.testing import CliRunner

from llmkg import __version__
from llmkg.cli import app
from llmkg.kg import catalog
from llmkg.kg.audit import Report, build_report, why
from llmkg.kg.build import Dataset, memory_store
from llmkg.namespaces import LLMKG, RDF_TYPE, text
from llmkg.terminal import (
    GAP,
    SECTIONS,
    Cell,
    Section,
    cell,
    compact_sources,
    print_history,
    print_reasons,
    print_section,
    print_table,
)

from .conftest import FIXTURES, make_root

runner = CliRunner()
SAVED = [q for q in catalog.saved_queries() if q.kind == "SELECT" and not q.extra.get("service")]
WIDTHS = (80, 100, 200)
MODEL = LLMKG + "Model"


@pytest.fixture(scope="module")
def answers(dataset: Dataset) -> dict[str, tuple[list[str], list[list[Cell]]]]:
    store = memory_store(dataset)
    found = {}
    for query in SAVED:
        result = catalog.run(query, store, {p.name: p.example for p in query.params})
        assert isinstance(result, ox.QuerySolutions)
        names = [v.value for v in result.variables]
        found[query.id] = (names, [[cell(row[n]) for n in names] for row in result][:200])
    return found


def rendered(headers: list[str], rows: list[list[Cell]], width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    print_table(console, headers, rows)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("query", SAVED, ids=lambda q: q.id)
def test_every_saved_answer_fits_and_keeps_every_value_whole(
    answers: dict[str, tuple[list[str], list[list[Cell]]]], query: catalog.SavedQuery, width: int
) -> None:
    headers, rows = answers[query.id]
    lines = rendered(headers, rows, width)
    room = width - max(len(h) for h in headers) - GAP  # a record's value column
    too_long = [line for line in lines if len(line) > width]
    assert not too_long, f"{len(too_long)} line(s) wider than {width}: {too_long[0]!r}"
    text = "\n".join(lines)
    for row in rows:
        for c in row:
            if c.wraps:
                assert all(word in text for word in c.text.split()), c.text
            elif c.text and len(c.text) <= room:
                assert any(c.text in line for line in lines), f"{c.text!r} cut or broken"


@pytest.mark.parametrize(
    ("width", "layout"),
    [(200, "table"), (60, "records")],
)
def test_a_table_that_cannot_fit_becomes_one_block_per_record(width: int, layout: str) -> None:
    headers = ["model", "totalParameters", "source"]
    rows = [
        [Cell("model:llama-4-behemoth"), Cell("2000000000000", number=True), Cell("source:llama4-model-card-5fdf831")]
    ]
    lines = rendered(headers, rows, width)
    assert (lines[0].startswith("record 1")) == (layout == "records")
    assert any("2000000000000" in line for line in lines) and all(len(line) <= width for line in lines)


def test_free_text_wraps_in_a_table_while_identifiers_stay_whole() -> None:
    text = "a summary long enough that it has to wrap over several lines of a narrow terminal"
    lines = rendered(["id", "summary"], [[Cell("001-moe-variants"), Cell(text, wraps=True)]], 50)
    assert not lines[0].startswith("record") and "001-moe-variants" in lines[1]
    assert len(lines) > 3 and all(len(line) <= 50 for line in lines)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["source:card-5fdf831", "source:card-4daa965"], "card (5fdf831, 4daa965)"),
        (["source:blog-2025-04-05", "source:card-5fdf831"], "blog-2025-04-05; card (5fdf831)"),
        (["source:card-5fdf831", "source:card-5fdf831"], "card (5fdf831)"),
    ],
)
def test_sources_are_listed_compactly(names: list[str], expected: str) -> None:
    assert compact_sources(names) == expected


def test_version_option() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == __version__


@pytest.mark.parametrize(
    ("arguments", "allowed"),
    [
        (["audit", "--format", "yaml"], ["table", "json"]),
        (["audit", "--section", "everything"], ["sources", "conflicts", "missing", "all"]),
        (["query", "001", "--format", "xml"], ["table", "csv", "tsv", "json"]),
        (["check-licence", "x.yaml", "--format", "html"], ["text", "json"]),
        (["serve", "--backend", "virtuoso"], ["embedded", "sparql"]),
        (["audit", "--max-age-days", "-3"], ["0"]),
    ],
)
def test_an_invalid_option_value_is_an_error_naming_the_allowed_ones(arguments: list[str], allowed: list[str]) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    message = re.sub(r"[\s│╭╮╰╯─]+", " ", result.output)
    assert all(f"'{a}'" in message or a in message for a in allowed), message


def test_a_query_into_a_pipe_is_tsv_and_a_table_when_asked() -> None:
    piped = runner.invoke(app, ["query", "001", "--param", "family=https://w3id.org/llmkg/id/family/llama-4"])
    assert piped.exit_code == 0, piped.output
    header, *rows = piped.output.strip().splitlines()
    assert header.startswith("?family\t?model") and len(rows) == 3
    assert "\t2000000000000\t" in piped.output
    table = runner.invoke(
        app,
        ["query", "001", "-f", "table", "--param", "family=https://w3id.org/llmkg/id/family/llama-4"],
        env={"COLUMNS": "200"},
    )
    assert "model:llama-4-behemoth" in table.output and "2000000000000" in table.output
    assert "3 row(s)" in table.output and "…" not in table.output


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path, {p.name: p for p in (FIXTURES / "audit").glob("*.ttl")})


def test_why_prints_one_line_per_value_and_marks_the_preferred_once(root: Path) -> None:
    result = runner.invoke(
        app, ["why", "model:widget", "llmkg:totalParameters", "--root", str(root)], env={"COLUMNS": "100"}
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].strip() == "llmkg:totalParameters"
    values = {line.split()[0]: line for line in lines[1:]}
    assert set(values) == {"100", "110", "120"} and result.output.count("preferred") == 1
    assert "preferred" in values["110"] and "card (v2)" not in values["110"] and "card-v2" in values["110"]
    assert all(len(line) <= 100 for line in lines)


def test_why_history_lists_revisions_oldest_first_with_what_changed(root: Path) -> None:
    result = runner.invoke(
        app, ["why", "model:widget", "llmkg:totalParameters", "--history", "--root", str(root)], env={"COLUMNS": "100"}
    )
    assert result.exit_code == 0, result.output
    order = [line.split()[1] for line in result.output.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert order == ["card-v1", "card-v2", "blog-summary"]  # v2 revises v1 on the same day; the summary is later
    assert "was 100 in card-v1" in result.output


def test_audit_prints_a_summary_then_only_the_sections_asked(root: Path) -> None:
    summary = runner.invoke(app, ["audit", "--root", str(root)], env={"COLUMNS": "100"})
    assert summary.exit_code == 0, summary.output
    assert re.search(r"conflicts\s+1\s", summary.output) and "--section" in summary.output
    assert "widget" not in summary.output  # no section unless asked
    conflicts = runner.invoke(app, ["audit", "-s", "conflicts", "--root", str(root)], env={"COLUMNS": "100"})
    assert "model:widget llmkg:totalParameters (new)" in conflicts.output
    assert "Sources" not in conflicts.output and all(len(line) <= 100 for line in conflicts.output.splitlines())
    every = runner.invoke(app, ["audit", "-s", "all", "-f", "json", "--root", str(root)])
    assert every.exit_code == 0 and '"secondary_only"' in every.output


def printed(show: Callable[[Console], None], width: int = 100) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    show(console)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def report(dataset: Dataset) -> Report:
    return build_report(dataset.quads)


def test_why_and_its_history_fit_100_columns_for_every_model(dataset: Dataset) -> None:
    models = {text(q.subject) for q in dataset.quads if (text(q.predicate), text(q.object)) == (RDF_TYPE, MODEL)}
    assert models
    for model in sorted(models):
        reasons = why(dataset.quads, model)
        for show in (print_reasons, print_history):
            lines = printed(functools.partial(show, reasons))
            assert all(len(line) <= 100 for line in lines), (model, max(lines, key=len))
        shown = "\n".join(printed(functools.partial(print_reasons, reasons)))
        assert all(r.value.split()[0] in shown for r in reasons if r.value.strip()), model


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_audit_section_of_the_shipped_graph_fits_100_columns(report: Report, section: Section) -> None:
    lines = printed(lambda console: print_section(report, section, console))
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert not any(line.startswith("record ") for line in lines), "a section fell back to one block per record"


def test_the_query_list_is_tsv_into_a_pipe_json_or_a_table_when_asked() -> None:
    piped = runner.invoke(app, ["queries"])
    assert piped.exit_code == 0, piped.output
    lines = piped.stdout.splitlines()
    assert lines[0] == "id\tsummary\ttags\tparams" and len(lines) == len(catalog.saved_queries()) + 1
    listed = runner.invoke(app, ["queries", "-f", "json", "--tag", "revisions"])
    assert {q["id"] for q in json.loads(listed.stdout)} == {
        q.id for q in catalog.saved_queries() if "revisions" in q.tags
    }
    table = runner.invoke(app, ["queries", "-f", "table"], env={"COLUMNS": "100"})
    assert all(q.id in table.stdout for q in catalog.saved_queries())
    assert all(len(line) <= 100 for line in table.stdout.splitlines())
