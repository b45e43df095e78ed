"""The saved-query catalogue, tested from the folder: headers, terms, prefixes, answers, checks."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from llmkg.cli import app
from llmkg.config import data_root
from llmkg.kg import catalog
from llmkg.kg.build import Dataset, memory_store
from llmkg.namespaces import LLMKG, PREFIXES, QUERIES_GRAPH
from llmkg.sparql.text import anchored

from .conftest import value

EXAMPLES = sorted((data_root() / "queries" / "examples").glob("*.rq"))
CHECKS = sorted((data_root() / "queries" / "checks").glob("*-violation.rq"))
runner = CliRunner()


@pytest.fixture(scope="module")
def store(dataset: Dataset) -> ox.Store:
    return memory_store(dataset)


GRAPH_ONTOLOGY = "https://w3id.org/llmkg/graph/ontology/"


def ontology_terms(dataset: Dataset) -> set[str]:
    return {value(q.subject) for q in dataset.quads if value(q.graph_name).startswith(GRAPH_ONTOLOGY)}


def rows(result: ox.QuerySolutions) -> list[tuple[str, ...]]:
    names = [v.value for v in result.variables]
    return [tuple(str(r[n]) if r[n] is not None else "" for n in names) for r in result]


def expected_rows(path: Path) -> list[tuple[str, ...]]:
    parsed = ox.parse_query_results(path=path, format=ox.QueryResultsFormat.TSV)
    assert isinstance(parsed, ox.QuerySolutions), f"{path.name} holds no solutions"
    return rows(parsed)


def test_catalogue_has_the_three_uses() -> None:
    tags = {t for q in catalog.saved_queries() for t in q.tags}
    assert {"querying", "linking", "provenance"} <= tags


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_header_parses_with_known_keys(path: Path) -> None:
    query = catalog.load_query(path)
    assert query.summary and query.description and query.tags


@pytest.mark.parametrize("path", EXAMPLES + CHECKS, ids=lambda p: p.stem)
def test_declares_only_canonical_prefixes(path: Path) -> None:
    for name, iri in re.findall(r"^\s*PREFIX\s+(\w*):\s*<([^>]*)>", path.read_text(), re.MULTILINE | re.IGNORECASE):
        assert PREFIXES.get(name) == iri, f"PREFIX {name}: <{iri}> is not the canonical prefix"


@pytest.mark.parametrize("path", EXAMPLES + CHECKS, ids=lambda p: p.stem)
def test_uses_only_terms_the_ontology_defines(path: Path, dataset: Dataset) -> None:
    text = path.read_text()
    used = {LLMKG + t for t in re.findall(r"\bllmkg:(\w+)", text)}
    used |= set(re.findall(r"<(https://w3id\.org/llmkg/ontology#\w+)>", text))
    assert used - ontology_terms(dataset) == set()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_runs_and_returns_its_expected_answer(path: Path, store: ox.Store) -> None:
    query = catalog.load_query(path)
    if query.extra.get("service"):
        pytest.skip("federated query: run against a stand-in endpoint in test_federation")
    params = {p.name: p.example for p in query.params}
    result = catalog.run(query, store, params)
    expected = query.expected_path()
    assert expected is not None and expected.is_file(), f"{path.name} needs an expected answer beside it"
    if isinstance(result, ox.QuerySolutions):
        got, want = rows(result), expected_rows(expected)
        if not query.ordered:
            got, want = sorted(got), sorted(want)
        assert got == want
    else:
        assert str(bool(result)).lower() == expected.read_text().strip()


@pytest.mark.parametrize("path", CHECKS, ids=lambda p: p.stem)
def test_violation_check_returns_no_rows(path: Path, store: ox.Store) -> None:
    result = store.query(path.read_text(), use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions), f"{path.name} is not a SELECT query"
    found = rows(result)
    assert found == [], "\n".join("\t".join(r) for r in found)


def test_catalogue_is_in_the_graph(store: ox.Store) -> None:
    found = store.query(
        "SELECT (COUNT(?q) AS ?n) WHERE { GRAPH ?g { ?q a ?kind } "
        "FILTER(STRSTARTS(STR(?kind), 'http://www.w3.org/ns/shacl#SPARQL')) }",
        default_graph=ox.NamedNode(QUERIES_GRAPH),
        named_graphs=[ox.NamedNode(QUERIES_GRAPH)],
    )
    assert isinstance(found, ox.QuerySolutions)
    assert int(next(iter(found))["n"].value) == len(EXAMPLES)


def test_unknown_parameter_is_a_clear_error() -> None:
    if not EXAMPLES:
        pytest.skip("no saved queries yet")
    result = runner.invoke(app, ["query", EXAMPLES[0].stem, "--param", "nosuch=1"])
    assert result.exit_code == 2 and "unknown parameter" in result.output


def test_cli_lists_every_saved_query() -> None:
    result = runner.invoke(app, ["queries"])
    assert result.exit_code == 0 and f"{len(EXAMPLES)} saved queries" in result.output


PARAMETERISED = [p for p in EXAMPLES if catalog.load_query(p).params and not catalog.load_query(p).extra.get("service")]


@pytest.mark.parametrize("path", PARAMETERISED, ids=lambda p: p.stem)
def test_the_planner_hint_changes_no_answer(path: Path, store: ox.Store) -> None:
    """The VALUES block `catalog.anchored` adds for speed gives the answer the substitutions alone give."""
    query = catalog.load_query(path)
    terms = catalog.bind(query, {p.name: p.example for p in query.params})
    hinted_text = anchored(query.text, terms)
    assert (hinted_text != query.text) == any(isinstance(t, ox.NamedNode) for t in terms.values())
    plain = store.query(query.text, use_default_graph_as_union=True, substitutions=terms)
    hinted = store.query(hinted_text, use_default_graph_as_union=True, substitutions=terms)
    if isinstance(plain, ox.QueryBoolean):
        assert bool(plain) == bool(hinted)
    else:
        assert isinstance(plain, ox.QuerySolutions) and isinstance(hinted, ox.QuerySolutions)
        assert sorted(rows(plain)) == sorted(rows(hinted))


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ('SELECT (COUNT(*) AS ?n) WHERE { ?s ?p "{ not this" }', ' ?s ?p "{ not this" }'),
        ("PREFIX x: <http://e/> ASK { ?s x:p '{' }", " ?s x:p '{' }"),
        ("CONSTRUCT { ?s ?p ?o } { ?s ?p ?o . # { }\n}", " ?s ?p ?o . # { }\n}"),
        ("CONSTRUCT WHERE { ?s ?p ?o }", None),
        ("SELECT * { { SELECT ?s WHERE { ?s ?p ?o } } }", " { SELECT ?s WHERE { ?s ?p ?o } } }"),
    ],
)
def test_where_clause_is_found_past_strings_comments_and_iris(text: str, inside: str | None) -> None:
    """The hint goes just inside the query's outer group; a query with none is left as it is."""
    hinted = anchored(text, {ox.Variable("x"): ox.NamedNode("http://e/x")})
    if inside is None:
        assert hinted == text
    else:
        assert hinted.endswith(" VALUES ?x { <http://e/x> } " + inside)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_parameter_has_a_default(path: Path) -> None:
    query = catalog.load_query(path)
    assert all(p.example for p in query.params), "a parameter's example is its default"
    assert catalog.arguments(query, {})[1] == {p.name: p.example for p in query.params}


def csv_rows(*args: str) -> tuple[int, list[str], str]:
    """Exit status, CSV lines and everything printed, of `llmkg query …`."""
    result = runner.invoke(app, ["query", *args, "--format", "csv"])
    return result.exit_code, [line for line in result.stdout.splitlines() if line], result.output


def test_a_saved_query_runs_with_its_defaults_and_says_which() -> None:
    query = catalog.find("003")
    (param,) = query.params
    status, rows, output = csv_rows("003")
    assert status == 0 and f"defaults: {param.name}=model:llama-4-scout" in output
    assert (0, rows) == csv_rows("003", "--param", f"{param.name}={param.example}")[:2]


def test_a_prefixed_name_is_the_full_iri() -> None:
    full = csv_rows("003", "--param", "model=https://w3id.org/llmkg/id/model/llama-4-maverick")
    short = csv_rows("003", "--param", "model=model:llama-4-maverick")
    assert full[0] == 0 and len(full[1]) > 1 and full[:2] == short[:2] and "defaults" not in short[2]


def test_star_lifts_a_parameter_to_any() -> None:
    status, every, output = csv_rows("002", "--param", "family=*")
    assert status == 0 and "defaults" not in output
    assert len(every) > len(csv_rows("002")[1]) > 1


@pytest.mark.parametrize(
    ("value", "message"),
    [("model:llama-4-mavrick", "did you mean model:llama-4-maverick?"), ("nosuch:x", "known prefix")],
)
def test_an_unknown_name_is_an_error_never_an_empty_answer(value: str, message: str) -> None:
    status, rows, output = csv_rows("003", "--param", f"model={value}")
    assert status == 2 and rows == [] and message in " ".join(output.split())


def test_why_suggests_a_close_name() -> None:
    result = runner.invoke(app, ["why", "model:llama-4-mavrick"])
    assert result.exit_code == 1 and "did you mean model:llama-4-maverick?" in " ".join(result.output.split())


def test_why_suggests_a_close_property_of_the_subject() -> None:
    result = runner.invoke(app, ["why", "model:llama-4-maverick", "llmkg:totalParameter"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "holds nothing" in said and "did you mean llmkg:totalParameters?" in said
