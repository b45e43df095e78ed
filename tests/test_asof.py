"""The graph as of a date (kg/asof.py): on fixtures made for it (three revisions of one card, one
undated page) and on the shipped data, through the build's rule, the endpoint, the CLI and Python."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import llmkg
from llmkg.app import create_app
from llmkg.cli import app
from llmkg.kg import asof, provenance
from llmkg.kg.build import Dataset, load_dataset, memory_store
from llmkg.namespaces import DEFAULT_GRAPH, ID, LLMKG, VALID_GRAPHS, is_derived, text

from .conftest import FIXTURES, make_root

runner = CliRunner()
GADGET = ID + "model/gadget"
#: (date, undated sources included?, property, the view's values) for the fixture card and page:
#: v1 from 2024-01-10, v2 (parameters changed, cutoff added) from 2024-02-10, v3 (context dropped)
#: from 2024-03-10; the undated page states a context length and an expert count.
CASES = [
    ("2024-01-01", True, "contextLength", {"2048"}),
    ("2024-01-01", False, "contextLength", set()),
    ("2024-01-01", False, "totalParameters", set()),
    ("2024-01-10", True, "contextLength", {"4096"}),
    ("2024-01-10", True, "totalParameters", {"7000000000"}),
    ("2024-02-09", True, "totalParameters", {"7000000000"}),
    ("2024-02-09", True, "knowledgeCutoff", set()),
    ("2024-02-10", True, "totalParameters", {"8000000000"}),
    ("2024-02-10", True, "knowledgeCutoff", {"2023-12"}),
    ("2024-03-10", True, "contextLength", {"2048"}),
    ("2024-03-10", False, "contextLength", set()),
    ("2024-03-10", False, "expertCount", set()),
    ("2030-01-01", True, "expertCount", {"8"}),
]
SELECT = "SELECT ?v WHERE {{ <{s}> <{p}> ?v }}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = {f"gadget/{p.name}": p for p in sorted((FIXTURES / "asof").glob("*.ttl")) if p.name != "sources.ttl"}
    return make_root(
        tmp_path_factory.mktemp("asof"), {"sources/gadget.ttl": FIXTURES / "asof" / "sources.ttl", **files}
    )


@pytest.fixture(scope="module")
def built(root: Path) -> Dataset:
    return load_dataset(root)


@pytest.fixture(scope="module")
def client(built: Dataset) -> Iterator[TestClient]:
    with TestClient(create_app(store=memory_store(built), version=built.version)) as test_client:
        yield test_client


def by_rule(dataset: Dataset, date: str, undated: bool, prop: str) -> set[str]:
    """The build's own rule applied to the graphs in effect on ``date``: what every path must agree with."""
    view = asof.view_quads(dataset.quads, date, undated=undated)
    return {
        text(q.object)
        for q in provenance.preferred_quads(view)
        if (text(q.subject), text(q.predicate)) == (GADGET, LLMKG + prop)
    }


@pytest.mark.parametrize(("date", "undated", "prop", "expected"), CASES)
def test_the_rule_over_the_versions_in_effect(
    built: Dataset, date: str, undated: bool, prop: str, expected: set[str]
) -> None:
    assert by_rule(built, date, undated, prop) == expected


@pytest.mark.parametrize(("date", "undated", "prop", "expected"), CASES)
def test_the_endpoint_answers_as_of(
    client: TestClient, date: str, undated: bool, prop: str, expected: set[str]
) -> None:
    params = {
        "query": SELECT.format(s=GADGET, p=LLMKG + prop),
        "asof": date,
        "undated": "include" if undated else "exclude",
    }
    response = client.get("/sparql", params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert {row[0] for row in list(csv.reader(io.StringIO(response.text)))[1:]} == expected


def test_the_as_of_default_graph_is_graph_default_rebuilt_from_the_versions_in_effect(built: Dataset) -> None:
    """The materialised spans give, on every date, exactly what the build would make of that day's graphs."""
    store = memory_store(built)
    line = asof.timeline(store)
    dates = sorted({d for span in line.fact_graphs.values() for d in (span.start, span.end) if d})
    for date in ["2000-01-01", *dates, "2099-01-01"]:
        for undated in (True, False):
            assert _as_of_default(built, line, date, undated) == _rebuilt_default(built, date, undated), date


def _as_of_default(dataset: Dataset, line: asof.Timeline, date: str, undated: bool) -> set[tuple[str, str, str]]:
    graphs = set(line.dataset(date, undated=undated)[0])
    return {
        (str(q.subject), str(q.predicate), str(q.object))
        for q in dataset.quads
        if text(q.graph_name) in graphs and not is_derived(text(q.subject))
    }


def _rebuilt_default(dataset: Dataset, date: str, undated: bool) -> set[tuple[str, str, str]]:
    view = asof.view_quads(dataset.quads, date, undated=undated)
    made = provenance.default_quads([*view, *provenance.preferred_quads(view)])
    return {(str(q.subject), str(q.predicate), str(q.object)) for q in made if not is_derived(text(q.subject))}


@pytest.mark.parametrize("date", ["2024-13-01", "yesterday", "2024-1-5", ""])
def test_a_malformed_date_is_refused_with_400(client: TestClient, date: str) -> None:
    response = client.get("/sparql", params={"query": "ASK {}", "asof": date})
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.json()["detail"]


def test_asof_with_a_dataset_of_its_own_is_refused(client: TestClient) -> None:
    params = {"query": "ASK {}", "asof": "2024-02-10", "default-graph-uri": DEFAULT_GRAPH}
    assert client.get("/sparql", params=params).status_code == 400
    assert client.get("/sparql", params={"query": "ASK {}", "asof": "2024-02-10", "undated": "no"}).status_code == 400


def test_the_service_description_names_the_extension(client: TestClient) -> None:
    description = client.get("/sparql", headers={"Accept": "text/turtle"}).text
    assert "AsOfQuery" in description and "asof=YYYY-MM-DD" in description


def test_graph_patterns_as_of_see_only_the_versions_in_effect(client: TestClient) -> None:
    query = f"SELECT ?doc WHERE {{ GRAPH ?g {{ <{GADGET}> <{LLMKG}totalParameters> ?v }} ?g prov:wasDerivedFrom ?doc }}"
    response = client.get("/sparql", params={"query": query, "asof": "2024-02-20"}, headers={"Accept": "text/csv"})
    assert response.text.split()[1:] == [ID + "source/gadget-card-v2"]


def test_the_cli_query_and_why_take_as_of(root: Path, tmp_path: Path) -> None:
    query = tmp_path / "q.rq"
    query.write_text(SELECT.format(s=GADGET, p=LLMKG + "totalParameters"))
    for date, expected in [("2024-01-20", "7000000000"), ("2024-02-20", "8000000000")]:
        result = runner.invoke(app, ["query", str(query), "--as-of", date, "--format", "csv", "--root", str(root)])
        assert result.exit_code == 0, result.output
        assert result.stdout.split() == ["v", expected]
        why = runner.invoke(app, ["why", "model:gadget", "llmkg:totalParameters", "--as-of", date, "--root", str(root)])
        assert expected in why.stdout and why.exit_code == 0
    why = runner.invoke(
        app, ["why", "model:gadget", "llmkg:totalParameters", "--as-of", "2024-01-20", "--root", str(root)]
    )
    assert "gadget-card-v2" not in why.stdout and "gadget-card-v1" in why.stdout
    bad = runner.invoke(app, ["query", str(query), "--as-of", "2024-02-30", "--root", str(root)])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_the_python_api_takes_as_of(root: Path) -> None:
    with llmkg.open(root) as kg:
        query = SELECT.format(s=GADGET, p=LLMKG + "contextLength")
        assert kg.query(query, as_of="2024-03-10") == [{"v": 2048}]
        assert kg.query(query, as_of="2024-03-10", undated=False) == []
        assert kg.query(query) == [{"v": 4096}]  # today's view keeps the dropped value of v2
        stated = kg.run("040", subject="model:gadget", property="llmkg:totalParameters", as_of="2024-01-20")
        assert [(row["value"], row["document"]) for row in stated] == [(7000000000, "source:gadget-card-v1")]


# --- the shipped data (values checked with SPARQL over the build before these were written) -------

GPQA = ID + "result/llama-3.1-70b-instruct--gpqa--0-shot"
SCOUT = ID + "model/llama-4-scout"


@pytest.fixture(scope="module")
def shipped(dataset: Dataset) -> Iterator[TestClient]:
    with TestClient(create_app(store=memory_store(dataset), version=dataset.version)) as test_client:
        yield test_client


@pytest.mark.parametrize(("date", "expected"), [("2024-09-23", "41.7"), ("2024-09-24", "46.7")])
def test_llama_3_1_70b_gpqa_as_of(shipped: TestClient, date: str, expected: str) -> None:
    """The 685ac4c card revision of 2024-09-24 changed the score; the day before, 5ee9cb5's was in effect."""
    query = SELECT.format(s=GPQA, p=LLMKG + "value")
    response = shipped.get("/sparql", params={"query": query, "asof": date}, headers={"Accept": "text/csv"})
    assert response.text.split()[1:] == [expected]


def test_llama_4_scout_release_date_as_of_the_card_day(shipped: TestClient) -> None:
    """All four card revisions are of 2025-04-05: on that day the last (038acb9) is in effect, which
    states April 5; the first revision's April 7 is in its history (test_history)."""
    query = (
        f"SELECT ?v ?doc WHERE {{ GRAPH ?g {{ <{SCOUT}> dcterms:issued ?v }} ?g prov:wasDerivedFrom ?doc"
        " FILTER(CONTAINS(STR(?doc), 'llama4-model-card')) }"
    )
    response = shipped.get("/sparql", params={"query": query, "asof": "2025-04-05"}, headers={"Accept": "text/csv"})
    assert response.text.split()[1:] == [f"2025-04-05,{ID}source/llama4-model-card-038acb9"]
    before = shipped.get("/sparql", params={"query": query, "asof": "2025-04-04"}, headers={"Accept": "text/csv"})
    assert before.text.split()[1:] == []


def test_the_shipped_spans_rebuild_the_default_graph(dataset: Dataset) -> None:
    line = asof.timeline(memory_store(dataset))
    for date in ("2024-09-23", "2024-09-24", "2025-04-05"):
        assert _as_of_default(dataset, line, date, True) == _rebuilt_default(dataset, date, True), date


def test_every_as_of_graph_states_its_span(dataset: Dataset) -> None:
    store = memory_store(dataset)
    valid = {text(q.graph_name) for q in dataset.quads if text(q.graph_name).startswith(VALID_GRAPHS)}
    assert valid and set(asof.timeline(store).valid_graphs) == valid
    assert all(ox.NamedNode(g) in set(store.named_graphs()) for g in valid)


# --- history: each value of a fact, from which revision until which -------------------------------


def test_history_gives_each_value_from_when_to_when(root: Path) -> None:
    result = runner.invoke(app, ["why", "model:gadget", "llmkg:totalParameters", "--history", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert (
        "in effect: 7000000000 from gadget-card-v1 (2024-01-10) until gadget-card-v2 (2024-02-10),"
        " then 8000000000 from gadget-card-v2 (2024-02-10)" in " ".join(result.stdout.split())
    )


def test_history_shows_an_undated_source_as_undated(root: Path) -> None:
    result = runner.invoke(app, ["why", "model:gadget", "llmkg:expertCount", "--history", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "undated" in result.stdout and "gadget-wiki" in result.stdout


@pytest.mark.parametrize(
    ("subject", "prop", "timeline"),
    [
        (
            "model:llama-4-scout",
            "dcterms:issued",
            "2025-04-07 from llama4-model-card-5fdf831 (2025-04-05) until llama4-model-card-1ba7d45 (2025-04-05),"
            " then 2025-04-05 from llama4-model-card-1ba7d45 (2025-04-05)",
        ),
        (
            "result:llama-3.1-70b-instruct--gpqa--0-shot",
            "llmkg:value",
            "41.7 from llama3.1-model-card-1f0feb7 (2024-07-23) until llama3.1-model-card-685ac4c (2024-09-24),"
            " then 46.7 from llama3.1-model-card-685ac4c (2024-09-24)",
        ),
    ],
)
def test_history_of_the_shipped_examples(subject: str, prop: str, timeline: str) -> None:
    result = runner.invoke(app, ["why", subject, prop, "--history"])
    assert result.exit_code == 0, result.output
    assert f"in effect: {timeline}" in " ".join(result.stdout.split())


# --- diff between two dates ----------------------------------------------------------------------


def diff_rows(*args: str) -> list[dict[str, str]]:
    result = runner.invoke(app, ["diff", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


def test_diff_lists_changed_added_and_removed_facts_with_their_source(root: Path) -> None:
    rows = diff_rows("2024-01-20", "2024-03-20", "--undated", "exclude", "--root", str(root))
    found = {(r["change"], r["property"], r["before"], r["after"], r["source"]) for r in rows}
    assert found == {
        ("changed", "llmkg:totalParameters", "7000000000", "8000000000", "source:gadget-card-v3"),
        ("added", "llmkg:knowledgeCutoff", "", "2023-12", "source:gadget-card-v3"),
        ("removed", "llmkg:contextLength", "4096", "", "source:gadget-card-v3"),
    }


def test_diff_filters_by_property_and_family(root: Path) -> None:
    rows = diff_rows("2024-01-20", "2024-03-20", "--property", "llmkg:contextLength", "--root", str(root))
    assert [(r["change"], r["before"], r["after"]) for r in rows] == [("changed", "4096", "2048")]
    assert diff_rows("2024-01-20", "2024-03-20", "--family", "family:none", "--root", str(root)) == []


def test_diff_of_the_shipped_gpqa_correction() -> None:
    rows = diff_rows("2024-09-23", "2024-09-24", "--family", "family:llama-3.1", "--property", "llmkg:value")
    assert {(r["subject"], r["before"], r["after"], r["source"]) for r in rows} == {
        ("result:llama-3.1-70b-instruct--gpqa--0-shot", "41.7", "46.7", "source:llama3.1-model-card-685ac4c")
    }


def test_diff_refuses_a_malformed_date(root: Path) -> None:
    result = runner.invoke(app, ["diff", "2024-01-20", "soon", "--root", str(root)])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_the_diff_route_gives_what_the_cli_gives(client: TestClient, root: Path) -> None:
    params = {"from": "2024-01-20", "to": "2024-03-20", "undated": "exclude"}
    response = client.get("/diff", params=params)
    assert response.status_code == 200, response.text
    assert response.json() == diff_rows("2024-01-20", "2024-03-20", "--undated", "exclude", "--root", str(root))
    only = client.get("/diff", params={**params, "property": "llmkg:knowledgeCutoff"}).json()
    assert [r["change"] for r in only] == ["added"]


@pytest.mark.parametrize("params", [{"from": "2024-01-20", "to": "2024-02-31"}, {"from": "x", "to": "2024-01-01"}])
def test_the_diff_route_refuses_a_malformed_date(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/diff", params=params)
    assert response.status_code == 400 and "YYYY-MM-DD" in response.json()["detail"]


def test_the_diff_route_on_the_shipped_data(shipped: TestClient) -> None:
    params = {"from": "2024-09-23", "to": "2024-09-24", "property": "llmkg:value"}
    rows = shipped.get("/diff", params=params).json()
    assert [(r["subject"], r["before"], r["after"]) for r in rows] == [
        ("result:llama-3.1-70b-instruct--gpqa--0-shot", "41.7", "46.7")
    ]


# --- entity pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "shown", "hidden"), [("", "46.7", "As the graph stood"), ("?asof=2024-09-01", "41.7", "46.7")]
)
def test_an_entity_page_as_of_a_date(shipped: TestClient, query: str, shown: str, hidden: str) -> None:
    page = shipped.get("/id/result/llama-3.1-70b-instruct--gpqa--0-shot" + query, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert shown in page.text and hidden not in page.text
    assert ("As the graph stood on 2024-09-01" in page.text) == bool(query)


def test_an_entity_page_refuses_a_malformed_date(client: TestClient) -> None:
    page = client.get("/id/model/gadget?asof=2024-02-30", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "YYYY-MM-DD" in page.text


@pytest.mark.parametrize(
    ("entity", "rows"),
    [
        (
            "model/llama-4-scout",
            [
                "dcterms:issued 2025-04-07 source:llama4-model-card-5fdf831 (2025-04-05) "
                "source:llama4-model-card-1ba7d45 (2025-04-05)",
                "dcterms:issued 2025-04-05 source:llama4-model-card-1ba7d45 (2025-04-05) latest revision",
            ],
        ),
        (
            "result/llama-3.1-70b-instruct--gpqa--0-shot",
            [
                "llmkg:value 41.7 source:llama3.1-model-card-1f0feb7 (2024-07-23) "
                "source:llama3.1-model-card-685ac4c (2024-09-24)",
                "llmkg:value 46.7 source:llama3.1-model-card-685ac4c (2024-09-24) latest revision",
            ],
        ),
    ],
)
def test_an_entity_page_shows_how_its_values_changed(shipped: TestClient, entity: str, rows: list[str]) -> None:
    html = shipped.get(f"/id/{entity}", headers={"Accept": "text/html"}).text
    table = html[html.index('data-name="timeline"') : html.index("</table>", html.index('data-name="timeline"'))]
    shown = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in table.split("<tr>")[2:]]
    assert [row for row in shown if row.split()[0] == rows[0].split()[0]][:2] == rows


def test_a_browser_gets_the_diff_as_a_page_with_a_form_and_programs_get_json(shipped: TestClient) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    empty = shipped.get("/diff", headers=browser)
    assert empty.status_code == 200 and 'name="from"' in empty.text and 'data-name="diff"' not in empty.text
    page = shipped.get("/diff?from=2024-09-23&to=2024-09-24", headers=browser)
    table = page.text[page.text.index('data-name="diff"') : page.text.index("</table>")]
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in table.split("<tr>")[2:]]
    assert rows == [
        "changed result:llama-3.1-70b-instruct--gpqa--0-shot llmkg:value 41.7 46.7 source:llama3.1-model-card-685ac4c"
    ]
    data = shipped.get("/diff?from=2024-09-23&to=2024-09-24").json()
    assert [(c["change"], c["before"], c["after"]) for c in data] == [("changed", "41.7", "46.7")]
    assert shipped.get("/diff").status_code == 400
    assert shipped.get("/diff?from=2024-02-30&to=2024-09-24", headers=browser).status_code == 400
