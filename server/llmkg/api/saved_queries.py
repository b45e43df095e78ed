"""Routes of the saved-query catalogue (list, show, run with parameters) and the export profiles.

Parameters arrive as query-string values (IRIs as prefixed names or in full; ``*`` for any; a
parameter left out takes its example, named in the ``LLMKG-Defaults`` header), are checked against
the query's header and the graph's names and bound with the engine's substitutions (never spliced
into the text); results follow the endpoint's content negotiation (``Accept`` or ``format``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pyoxigraph as ox
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from llmkg.api.http import respond
from llmkg.kg import catalog
from llmkg.namespaces import text
from llmkg.sparql.formats import best
from llmkg.sparql.query import QueryError
from llmkg.sparql.text import anchored

router = APIRouter()
#: The response header naming the parameters that took their default (``family=family:llama-4``).
DEFAULTS_HEADER = "LLMKG-Defaults"
#: Query-string names that belong to the protocol, not to the saved query's parameters.
RESERVED = {"format"}


def _catalogue(request: Request) -> tuple[catalog.SavedQuery, ...]:
    """The saved queries of the data root's queries/ folder, read once when the server started."""
    queries: tuple[catalog.SavedQuery, ...] = request.app.state.catalogue
    return queries


def _saved(request: Request, query_id: str) -> catalog.SavedQuery:
    try:
        return catalog.lookup(query_id, _catalogue(request))
    except catalog.CatalogError:
        raise HTTPException(404, f"no saved query {query_id!r}; GET /queries lists them") from None


@router.get("/queries")
async def list_queries(request: Request) -> list[dict[str, Any]]:
    """Every saved query: id, IRI, summary, description, tags, kind and parameters."""
    return [{**catalog.describe(q), "results": f"/queries/{q.id}/results"} for q in _catalogue(request)]


@router.get("/queries/{query_id}")
async def show_query(request: Request, query_id: str) -> Any:
    """One saved query: its metadata as JSON, or its text for ``Accept: application/sparql-query``."""
    saved = _saved(request, query_id)
    offers = ["application/json", "application/sparql-query"]
    if best(request.headers.get("accept"), offers) == "application/sparql-query":
        return PlainTextResponse(saved.text, media_type="application/sparql-query")
    return {**catalog.describe(saved), "query": saved.text, "results": f"/queries/{saved.id}/results"}


@router.get("/queries/{query_id}/results")
async def run_query(request: Request, query_id: str) -> Response:
    """Run a saved query; its parameters come from the query string (``?model=model:llama-4-scout``, a full
    IRI, or ``*`` for any). A parameter not given takes its example; the ``LLMKG-Defaults`` header says
    which did. An IRI the graph does not know is a 400 that suggests close ones."""

    saved = _saved(request, query_id)
    given = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    endpoint = request.app.state.endpoint
    try:
        values, defaults = catalog.arguments(saved, given)
        terms = catalog.bind(saved, values)
        await run_in_threadpool(catalog.check_names, endpoint.store, terms)
    except catalog.CatalogError as error:
        raise QueryError(400, "Bad parameter", str(error)) from None
    job = await run_in_threadpool(
        lambda: endpoint.job(
            anchored(saved.text, terms),
            accept=request.headers.get("accept"),
            format_param=request.query_params.get("format"),
        )
    )
    bindings = tuple(
        (
            var.value,
            "iri" if isinstance(term, ox.NamedNode) else "literal",
            text(term),
            text(getattr(term, "datatype", "")),
        )
        for var, term in terms.items()
    )
    response = await respond(request, endpoint, dataclasses.replace(job, bindings=bindings), conditional=True)
    if defaults:
        response.headers[DEFAULTS_HEADER] = catalog.shown(saved, defaults)
    return response
