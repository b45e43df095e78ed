"""The served dataset over the shipped graph: graph/default holds one value per fact, every source's own
value stays one ``GRAPH ?g`` away, and queries may use the graph's prefixes without declaring them."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from llmkg.app import create_app
from llmkg.kg import findings
from llmkg.kg.build import Dataset, memory_store
from llmkg.kg.provenance import graph_infos, statements_by_key
from llmkg.namespaces import DEFAULT_GRAPH, GRAPH, ID, LLMKG, PREFERRED_GRAPH, QUERIES_GRAPH, text
from llmkg.sparql.text import declared_prefixes, names_a_graph

MAVERICK = ID + "model/llama-4-maverick"


@pytest.fixture(scope="module")
def client(dataset: Dataset) -> Iterator[TestClient]:
    with TestClient(create_app(store=memory_store(dataset), version=dataset.version)) as test_client:
        yield test_client


def table(client: TestClient, query: str, **params: str) -> list[tuple[str, ...]]:
    response = client.get("/sparql", params={"query": query, **params}, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    return [tuple(row) for row in list(csv.reader(io.StringIO(response.text)))[1:]]


def test_a_plain_pattern_returns_each_fact_once(client: TestClient, dataset: Dataset) -> None:
    rows = table(client, f"SELECT ?p ?o WHERE {{ <{MAVERICK}> ?p ?o }}")
    assert rows and [r for r, n in Counter(rows).items() if n > 1] == []
    node = ox.NamedNode(MAVERICK)
    stated = len([q for q in dataset.quads if q.subject == node and text(q.graph_name) != DEFAULT_GRAPH])
    assert len(rows) < stated, "the union of every graph would repeat facts several sources state"


def test_the_default_graph_is_preferred_values_graph_records_ontology_and_catalogue(dataset: Dataset) -> None:
    by_graph: dict[str, set[tuple[str, str, str]]] = {}
    for q in dataset.quads:
        by_graph.setdefault(text(q.graph_name), set()).add((str(q.subject), str(q.predicate), str(q.object)))
    records = {t for g, ts in by_graph.items() if g != DEFAULT_GRAPH for t in ts if t[0] == f"<{g}>"}
    whole = {t for g, ts in by_graph.items() if g.startswith((GRAPH + "ontology/", QUERIES_GRAPH)) for t in ts}
    own = {t for t in by_graph[DEFAULT_GRAPH] if t[0] == f"<{DEFAULT_GRAPH}>"}
    assert by_graph[DEFAULT_GRAPH] == by_graph[PREFERRED_GRAPH] | records | whole | own


def test_a_disagreement_shows_one_source_by_default_and_every_value_by_graph(
    client: TestClient, dataset: Dataset
) -> None:
    infos = graph_infos(dataset.quads)
    grouped = statements_by_key(dataset.quads, infos)
    found = findings.single_valued(findings.conflicting_facts(grouped, infos), dataset.quads)
    (subject, prop) = next(key for key in sorted(found, key=str) if key[0].value == MAVERICK)
    values = {g: {text(q.object) for q in quads} for g, quads in grouped[(subject, prop)].items()}
    by_default = {o for (o,) in table(client, f"SELECT ?o WHERE {{ {subject} {prop} ?o }}")}
    per_source = table(
        client, f"SELECT DISTINCT ?g ?o WHERE {{ GRAPH ?g {{ {subject} {prop} ?o }} ?g prov:wasDerivedFrom ?d }}"
    )
    assert by_default in values.values(), "the default graph holds one source's value set, not a mix"
    assert {o for _, o in per_source} == set().union(*values.values()) != by_default


def test_graph_patterns_range_over_every_named_graph(client: TestClient, dataset: Dataset) -> None:
    named = {q.graph_name.value for q in dataset.quads if isinstance(q.graph_name, ox.NamedNode)}
    found = {g for (g,) in table(client, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}
    assert found == named


def test_from_and_from_named_replace_the_default_dataset(client: TestClient) -> None:
    query = f"SELECT (COUNT(*) AS ?n) FROM <{PREFERRED_GRAPH}> WHERE {{ ?s ?p ?o }}"
    assert table(client, query) == table(
        client, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{PREFERRED_GRAPH}> {{ ?s ?p ?o }} }}"
    )
    named_only = f"SELECT DISTINCT ?g FROM NAMED <{PREFERRED_GRAPH}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert table(client, named_only) == [(PREFERRED_GRAPH,)]


def test_the_graphs_prefixes_need_no_declaration(client: TestClient) -> None:
    short = table(client, "SELECT ?o WHERE { model:llama-4-maverick llmkg:totalParameters ?o }")
    assert short == table(client, f"SELECT ?o WHERE {{ <{MAVERICK}> <{LLMKG}totalParameters> ?o }}") != []
    own = "PREFIX model: <https://example.org/> SELECT ?o WHERE { model:llama-4-maverick ?p ?o }"
    assert table(client, own) == [], "a query's own declaration wins"


def test_an_undeclared_unknown_prefix_is_a_syntax_error(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": "SELECT * WHERE { nosuch:x ?p ?o }"})
    assert response.status_code == 400 and response.json()["line"] == 1


@pytest.mark.parametrize(
    ("query", "declared", "names_graph"),
    [
        ("PREFIX a: <http://a/> prefix : <http://b/> SELECT * { ?s a:PREFIX ?o }", {"a", ""}, False),
        ('SELECT ("PREFIX x: <y>" AS ?t) { GRAPH ?g { ?s ?p ?o } }', set(), False),
        ("ASK { GRAPH graph:preferred { ?s ?p ?o } }", set(), True),
        ("ASK { GRAPH <https://w3id.org/llmkg/graph/preferred> { } } # GRAPH ?g", set(), True),
    ],
)
def test_what_a_remote_engine_is_told_is_read_by_the_lexer(query: str, declared: set[str], names_graph: bool) -> None:
    assert declared_prefixes(query) == declared and names_a_graph(query) == names_graph
