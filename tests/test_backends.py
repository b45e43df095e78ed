"""Every saved query gives the same answer on the embedded store and on each real remote engine.

The shipped graph is loaded once per engine (``llmkg load`` by Graph Store Protocol), then each
saved query runs through :class:`~llmkg.remote.RemoteStore`, the adapter ``llmkg serve --backend
sparql`` uses, with its example parameters bound. Where an engine really answers differently the
query is listed below by id with the reason (docs/deploy.md explains each); such a test is an
expected failure, and a strict one, so a difference that goes away is noticed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest

from llmkg import catalog
from llmkg.build import Dataset, memory_store
from llmkg.config import data_root
from llmkg.remote import RemoteStore
from tests.engines import Engine

EXAMPLES = [catalog.load_query(p) for p in sorted((data_root() / "queries" / "examples").glob("*.rq"))]
LOCAL = [q for q in EXAMPLES if not q.extra.get("service")]
XSD = "http://www.w3.org/2001/XMLSchema#"
NUMBERS = {XSD + "integer", XSD + "decimal", XSD + "double", XSD + "float"}
#: Real differences of Virtuoso 7.2 (Debian bookworm), by saved query.
VIRTUOSO_DIFFERS = {
    "032-lineage-across-families": "a comparison with an unbound variable (?derivedFamily != ?sourceFamily) is "
    "true on Virtuoso, where SPARQL 1.1 makes it an error that leaves ?crossFamily unbound",
    "051-preferred-value-and-alternatives": "Virtuoso adds a row with the nested OPTIONAL's columns unbound "
    "for a value that other rows already give with their source",
}


@pytest.fixture(scope="module")
def embedded(dataset: Dataset) -> ox.Store:
    return memory_store(dataset)


def answer(result: object, *, numbers_by_value: bool = False) -> list[tuple[str, ...]]:
    """Rows of terms as text (a graph as sorted triples); ``numbers_by_value``: 8 and 8.0 read alike."""
    if isinstance(result, list):
        return [tuple(_text(cell, numbers_by_value) for cell in row) for row in result]
    if isinstance(result, ox.QueryBoolean):
        return [(str(bool(result)),)]
    if not isinstance(result, ox.QuerySolutions):
        return sorted((str(t),) for t in result)  # type: ignore[attr-defined]
    names = [v.value for v in result.variables]
    return [tuple(_term(row[n], numbers_by_value) for n in names) for row in result]


def _term(term: object, by_value: bool) -> str:
    if term is None:
        return ""
    if by_value and isinstance(term, ox.Literal) and term.datatype.value in NUMBERS:
        return f"number {Decimal(term.value.replace('INF', 'Infinity')).normalize()}"
    return str(term)


def _text(cell: str, by_value: bool) -> str:
    """A cell of a cached answer (a term as N-Triples) read again, numbers by value if asked."""
    if not by_value or not cell.startswith('"'):
        return cell
    return _term(next(iter(ox.parse(f"<x:s> <x:p> {cell} .", ox.RdfFormat.N_TRIPLES))).object, by_value)


def same(query: catalog.SavedQuery, got: object, want: object, *, numbers_by_value: bool) -> None:
    rows, expected = answer(got, numbers_by_value=numbers_by_value), answer(want, numbers_by_value=numbers_by_value)
    if not query.ordered:
        rows, expected = sorted(rows), sorted(expected)
    missing = [r for r in expected if r not in rows][:5]
    extra = [r for r in rows if r not in expected][:5]
    assert rows == expected, f"{query.id}: {len(rows)} rows, want {len(expected)}; missing {missing}; extra {extra}"


_EMBEDDED: dict[str, object] = {}  # each embedded answer is computed once, whichever engine asks first


def run_everywhere(query: catalog.SavedQuery, remote: RemoteStore, local: ox.Store) -> tuple[object, object]:
    params = {p.name: p.example for p in query.params}
    if query.id not in _EMBEDDED:
        _EMBEDDED[query.id] = answer(catalog.run(query, local, params))
    return catalog.run(query, remote, params), _EMBEDDED[query.id]


@pytest.mark.xdist_group("oxigraph")
@pytest.mark.parametrize("query", LOCAL, ids=lambda q: q.id)
def test_oxigraph_server_answers_like_the_embedded_store(
    query: catalog.SavedQuery, oxigraph_engine: Engine, embedded: ox.Store
) -> None:
    with oxigraph_engine.store() as remote:
        got, want = run_everywhere(query, remote, embedded)
    same(query, got, want, numbers_by_value=False)


def _virtuoso_cases() -> list[object]:
    return [
        pytest.param(q, id=q.id, marks=pytest.mark.xfail(reason=VIRTUOSO_DIFFERS[q.id], strict=True))
        if q.id in VIRTUOSO_DIFFERS
        else pytest.param(q, id=q.id)
        for q in LOCAL
    ]


@pytest.mark.xdist_group("virtuoso")
@pytest.mark.parametrize("query", _virtuoso_cases())
def test_virtuoso_answers_like_the_embedded_store(
    query: catalog.SavedQuery, virtuoso_engine: Engine, embedded: ox.Store
) -> None:
    """Virtuoso keeps one datatype per number (8 and 8.0 are one value to it), so numbers compare by value."""
    with virtuoso_engine.store() as remote:
        got, want = run_everywhere(query, remote, embedded)
    same(query, got, want, numbers_by_value=True)


def test_every_saved_query_is_compared() -> None:
    assert set(VIRTUOSO_DIFFERS) <= {q.id for q in LOCAL}, "a listed difference names no saved query"
    assert LOCAL and all(Path(q.path).is_file() for q in LOCAL)
