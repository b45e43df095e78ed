"""Read a SPARQL engine's answer into pyoxigraph's result types, evening out engines' spellings.

Whatever format an engine answers in, callers get ``QuerySolutions``, ``QueryBoolean`` or
``QueryTriples``, exactly as ``pyoxigraph.Store.query`` returns them, so the serialisers, the
CLI and the saved-query runner need no second code path. Two spellings are normalised, both
different lexical forms of one value rather than different answers: booleans written ``"1"`` and
``"0"`` (valid ``xsd:boolean`` lexical forms that Virtuoso returns for ``true`` and ``false``)
become the canonical ``"true"`` and ``"false"``, and an ASK answered as a one-row table (as
Virtuoso does in formats without a boolean) becomes the boolean it stands for.

>>> answer = b'{"head":{"vars":["b"]},"results":{"bindings":[{"b":{"type":"typed-literal",'
>>> answer += b'"datatype":"http://www.w3.org/2001/XMLSchema#boolean","value":"1"}}]}}'
>>> [str(row["b"]) for row in read_result(answer, "application/sparql-results+json", ask=False)]
['"true"^^<http://www.w3.org/2001/XMLSchema#boolean>']
>>> bool(read_result(b"?bool\\n1\\n", "text/tab-separated-values", ask=True))
True
"""

from __future__ import annotations

import json
import traceback
from typing import Any

import pyoxigraph as ox

from llmkg.sparql.formats import readable_results

QueryResult = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples
XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
_CANONICAL_BOOLEAN = {"1": "true", "0": "false"}


class UnreadableAnswer(ValueError):
    """The engine answered in a media type that is neither SPARQL results nor RDF."""


def read_result(body: bytes, media_type: str, *, ask: bool, distinct: bool = False) -> QueryResult:
    """Parse ``body`` (of ``media_type``); raise SyntaxError on bad data.

    ``ask``: the query was an ASK. ``distinct``: it was a SELECT DISTINCT, so a row repeated in
    the answer (as Virtuoso repeats some rows whose OPTIONAL columns are unbound) is dropped.
    """
    if media_type in ("application/sparql-results+json", "application/json"):
        body = _canonical_json(body, distinct=distinct)
    results_format = readable_results(media_type)
    if results_format is not None:
        result = ox.parse_query_results(body, format=results_format)
        if ask and isinstance(result, ox.QuerySolutions):
            return _table_as_boolean(result)
        return result
    rdf_format = ox.RdfFormat.from_media_type(media_type)
    if rdf_format is None:
        raise UnreadableAnswer(f"unreadable answer of type {media_type!r}")
    graph = ox.Store()
    graph.bulk_extend(ox.Quad(t.subject, t.predicate, _canonical(t.object)) for t in ox.parse(body, rdf_format))
    return graph.query("CONSTRUCT WHERE { ?s ?p ?o }")


def without_frames(error: BaseException, *, keep_text: bool = True) -> BaseException:
    """``error``, and the exceptions it chains, with no traceback: its text, if ``keep_text``, becomes a note.

    ``QuerySolutions`` and ``QueryTriples`` belong to the thread that made them (pyoxigraph declares
    them unsendable): dropped on another thread, they are leaked and reported. An exception raised
    while one is alive keeps it through its traceback, in a frame's locals or in the closure of the
    function a frame runs (which ``frame.clear()`` leaves), and the remote backend's exceptions cross
    from the query thread to the event loop's. Call this on the query thread before they go.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if keep_text and current.__traceback__ is not None:
            current.add_note("On the query thread:\n" + "".join(traceback.format_tb(current.__traceback__)).rstrip())
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]
    return error


def _canonical_json(body: bytes, *, distinct: bool) -> bytes:
    """SPARQL JSON results with ``"1"``/``"0"`` booleans written ``"true"``/``"false"``, and no repeated
    row if ``distinct`` (the first of equal rows stays where it was, so ORDER BY holds)."""
    if not distinct and XSD_BOOLEAN.encode() not in body:
        return body
    document: dict[str, Any] = json.loads(body)
    rows, seen = [], set()
    for row in document.get("results", {}).get("bindings", []):
        for term in row.values():
            if term.get("datatype") == XSD_BOOLEAN and term.get("value") in _CANONICAL_BOOLEAN:
                term["value"] = _CANONICAL_BOOLEAN[term["value"]]
        key = json.dumps(row, sort_keys=True)
        if not (distinct and key in seen):
            rows.append(row)
            seen.add(key)
    if "results" in document:
        document["results"]["bindings"] = rows
    return json.dumps(document).encode()


def _canonical(
    term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple,
) -> ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple:
    if isinstance(term, ox.Literal) and term.datatype.value == XSD_BOOLEAN and term.value in _CANONICAL_BOOLEAN:
        return ox.Literal(_CANONICAL_BOOLEAN[term.value], datatype=term.datatype)
    return term


def _table_as_boolean(solutions: ox.QuerySolutions) -> ox.QueryBoolean:
    """A one-row, one-value table (``1``, ``true``) as the boolean it stands for."""
    rows = list(solutions)
    values = [term.value for row in rows for term in row if term is not None]
    truth = len(rows) == 1 and bool(values) and values[0].lower() in ("1", "true")
    answer = ox.parse_query_results(json.dumps({"head": {}, "boolean": truth}), ox.QueryResultsFormat.JSON)
    assert isinstance(answer, ox.QueryBoolean)
    return answer
