"""The query editor page: saved queries as named examples, the prefixes, and the plain form's results.

With the npm assets installed the page is YASGUI (``@zazuko/yasgui``), configured from
:func:`config`. Without them, or without JavaScript, it is a plain form whose query runs here, through
the site's runner (in the served app, the endpoint's worker pool with its limits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyoxigraph as ox

from llmkg.kg import catalog
from llmkg.namespaces import PREFIXES, shorten, sparql_prefixes
from llmkg.pages.data import Site
from llmkg.sparql.query import QueryError
from llmkg.sparql.text import BindingError, outer_group

DEFAULT_QUERY = """SELECT ?model ?label WHERE {
  ?model a llmkg:Model ; rdfs:label ?label .
}
ORDER BY ?label
LIMIT 50
"""
MAX_ROWS_SHOWN = 1000


def examples(root: Path | None = None) -> list[dict[str, Any]]:
    """Every saved query, as the editor lists it (id, name, description, text)."""
    return [
        {"id": q.id, "name": q.summary, "description": q.description, "tags": list(q.tags), "query": with_examples(q)}
        for q in catalog.saved_queries(root, strict=False)
    ]


def with_examples(query: catalog.SavedQuery) -> str:
    """The query's text with its parameters bound to their example values by a VALUES block opening its WHERE.

    The block is plain SPARQL, so a person sees what is bound and can change or delete it.
    """
    try:
        bound = catalog.bind(query, {p.name: p.example for p in query.params if p.example})
    except catalog.CatalogError:
        return query.text
    try:
        at = outer_group(query.text)
    except BindingError:
        return query.text
    if not bound:
        return query.text
    names = " ".join(str(v) for v in bound)
    values = " ".join(str(t) for t in bound.values())
    block = "\n  # parameters bound to their example values: change them, or delete this line for all\n"
    block += f"  VALUES ({names}) {{ ({values}) }}"
    return query.text[:at] + block + query.text[at:]


def config(listed: list[dict[str, Any]]) -> dict[str, Any]:
    """What static/editor.js needs: prefixes, default query and the examples (the page gives the endpoint)."""
    return {
        "prefixes": PREFIXES,
        "defaultQuery": sparql_prefixes() + "\n" + DEFAULT_QUERY,
        "examples": listed,
    }


def context(site: Site, query: str | None, example: str | None) -> dict[str, Any]:
    """The editor page's data; runs ``query`` (the plain form's submission) when there is one."""
    listed = examples(site.settings.data)
    chosen = next((e for e in listed if e["id"] == example), None)
    text = query if query is not None else chosen["query"] if chosen else sparql_prefixes() + "\n" + DEFAULT_QUERY
    out: dict[str, Any] = {
        "examples": listed,
        "config": config(listed),
        "text": text,
        "chosen": chosen,
        "ran": query is not None,
    }
    if query is None:
        return out
    try:
        answer = site.runner(query)
    except QueryError as error:
        return {**out, "error": f"{error.title}: {error.detail}", "status": error.status}
    if isinstance(answer, bool):
        return {**out, "boolean": answer}
    names, rows = answer
    cells = [[_cell(row.get(n)) for n in names] for row in rows[:MAX_ROWS_SHOWN]]
    return {**out, "columns": names, "rows": cells, "total": len(rows)}


def _cell(term: object) -> tuple[str, str | None]:
    """(text, IRI) of one result cell."""
    if isinstance(term, ox.NamedNode):
        return shorten(term), term.value
    if term is None:
        return "", None
    return getattr(term, "value", str(term)), None
