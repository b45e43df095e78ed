"""The remote adapter without an engine: parameter binding in text, reading answers, dialects."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from llmkg.engine.remote_pool import as_query_error
from llmkg.sparql.answers import read_result
from llmkg.sparql.remote import RemoteError, parse_auth
from llmkg.sparql.store import Backend
from llmkg.sparql.text import BindingError, inspect, scope_graph_variables, with_bindings

X = {ox.Variable("x"): ox.NamedNode("http://example.org/x")}
JSON = "application/sparql-results+json"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT ?x { ?x ?p ?o }", "SELECT ?x { BIND(<http://example.org/x> AS ?x) ?x ?p ?o }"),
        ("ASK{?x ?p ?o}", "ASK{ BIND(<http://example.org/x> AS ?x) ?x ?p ?o}"),
        (
            "CONSTRUCT { ?x ?p ?o } { ?x ?p ?o }",
            "CONSTRUCT { ?x ?p ?o } { BIND(<http://example.org/x> AS ?x) ?x ?p ?o }",
        ),
        (
            'PREFIX s: <http://x/> SELECT ("{" AS ?b) ?x WHERE { ?x ?p ?o }',
            'PREFIX s: <http://x/> SELECT ("{" AS ?b) ?x WHERE { BIND(<http://example.org/x> AS ?x) ?x ?p ?o }',
        ),
        ("# {\nSELECT * { { SELECT ?x WHERE { ?x ?p ?o } } }", None),
    ],
)
def test_bindings_go_first_in_the_outermost_group(query: str, expected: str | None) -> None:
    bound = with_bindings(query, X)
    if expected is not None:
        assert bound == expected
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://example.org/x"), ox.NamedNode("http://example.org/p"), ox.Literal("1")))
    store.add(ox.Quad(ox.NamedNode("http://example.org/y"), ox.NamedNode("http://example.org/p"), ox.Literal("2")))
    result = store.query(bound)
    rows = [result] if isinstance(result, ox.QueryBoolean) else list(result)
    assert len(rows) == 1, bound


def test_a_literal_binding_keeps_its_escaping() -> None:
    bound = with_bindings("SELECT ?v { }", {ox.Variable("v"): ox.Literal('a "quoted"\nline')})
    result = ox.Store().query(bound)
    assert isinstance(result, ox.QuerySolutions)
    (row,) = result
    assert row["v"] == ox.Literal('a "quoted"\nline')


def test_unbindable_queries_say_why() -> None:
    with pytest.raises(BindingError, match="CONSTRUCT WHERE"):
        with_bindings("CONSTRUCT WHERE { ?x ?p ?o }", X)
    with pytest.raises(BindingError, match="blank node"):
        with_bindings("SELECT ?x {}", {ox.Variable("x"): ox.BlankNode()})


def test_virtuoso_booleans_are_read_as_booleans() -> None:
    binding = {"type": "typed-literal", "datatype": "http://www.w3.org/2001/XMLSchema#boolean", "value": "0"}
    body = json.dumps({"head": {"vars": ["b"]}, "results": {"bindings": [{"b": binding}]}}).encode()
    result = read_result(body, JSON, ask=False)
    assert isinstance(result, ox.QuerySolutions)
    (row,) = result
    assert row["b"] == ox.Literal("false", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"))


def test_repeated_rows_of_a_distinct_query_are_dropped_in_order() -> None:
    rows = [{"x": {"type": "literal", "value": v}} for v in ("b", "a", "b", "c", "a")]
    body = json.dumps({"head": {"vars": ["x"]}, "results": {"bindings": rows}}).encode()
    distinct, every = read_result(body, JSON, ask=False, distinct=True), read_result(body, JSON, ask=False)
    assert isinstance(distinct, ox.QuerySolutions) and isinstance(every, ox.QuerySolutions)
    assert [r["x"].value for r in distinct] == ["b", "a", "c"]
    assert len(list(every)) == 5


@pytest.mark.parametrize(("body", "truth"), [(b"?b\n1\n", True), (b"?b\n0\n", False), (b"?b\n", False)])
def test_ask_answered_as_a_table_is_a_boolean(body: bytes, truth: bool) -> None:
    answer = read_result(body, "text/tab-separated-values", ask=True)
    assert isinstance(answer, ox.QueryBoolean) and bool(answer) is truth


def test_distinct_is_read_from_the_top_level_select_only() -> None:
    assert inspect("PREFIX d: <http://x/> SELECT DISTINCT ?x {}").distinct
    assert not inspect("SELECT ?x { { SELECT DISTINCT ?x {} } }").distinct
    assert not inspect('SELECT ("DISTINCT" AS ?x) {}').distinct


def test_engine_failures_become_endpoint_errors() -> None:
    assert as_query_error(RemoteError(400, "syntax error at 'SELEC'", "u"), 5).status == 400
    assert as_query_error(RemoteError(0, "ReadTimeout: timed out", "u"), 5).status == 503
    assert as_query_error(RemoteError(500, "disk full", "u"), 5).status == 502


def test_both_stores_are_backends() -> None:
    assert isinstance(ox.Store(), Backend)
    assert parse_auth("dba:secret:with:colons") == ("dba", "secret:with:colons") and parse_auth(None) is None


KEPT = "http://example.org/kept/"


def test_graph_variables_see_only_the_datasets_graphs() -> None:
    """Virtuoso keeps graphs of its own; GRAPH ?var is narrowed to llmkg's, a graph named outright is not."""
    store = ox.Store()
    for graph in (KEPT + "1", KEPT + "2", "http://example.org/engine-own"):
        s, p = ox.NamedNode("http://example.org/s"), ox.NamedNode("http://example.org/p")
        store.add(ox.Quad(s, p, ox.Literal("o"), ox.NamedNode(graph)))
    listing = scope_graph_variables("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", KEPT)
    graphs = store.query(listing)
    assert isinstance(graphs, ox.QuerySolutions)
    assert {row["g"].value for row in graphs} == {KEPT + "1", KEPT + "2"}
    named = "ASK { GRAPH <http://example.org/engine-own> { ?s ?p ?o } }"
    assert scope_graph_variables(named, KEPT) == named


@pytest.mark.parametrize(
    ("query", "narrowed"),
    [
        ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o GRAPH $h { ?s ?p ?o } }GRAPH ?k { ?s ?p ?o } }", 3),
        ('SELECT * WHERE { ?s ?p "GRAPH ?x {" . # GRAPH ?y {\n OPTIONAL { GRAPH ?g { ?s ?p "}" } } }', 1),
        ("ASK { FILTER EXISTS { GRAPH ?g { } } GRAPH <http://example.org/x> { ?s ?p ?o } }", 1),
    ],
)
def test_the_graph_rewrite_leaves_a_query_that_parses(query: str, narrowed: int) -> None:
    scoped = scope_graph_variables(query, KEPT)
    ox.Store().query(scoped)
    assert scoped.count("FILTER(STRSTARTS(STR(") == narrowed, scoped
