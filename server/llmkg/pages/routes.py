"""The web face: home page, query editor, leaderboards, family comparisons, conflicts and sources.

Build it into any FastAPI app with :func:`install`; the Linked Data routes (llmkg.resolve) come with it.
Handlers only read the request, call one function of views/boards/compare and render a template.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import pyoxigraph as ox
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from llmkg.kg import asof, catalog
from llmkg.namespaces import expand
from llmkg.pages import boards, compare, editor, kit, licence, resolve
from llmkg.pages.data import PageSettings, Runner, Site
from llmkg.pages.kit import base, not_found, page, prefers_json, site_of

router = APIRouter(include_in_schema=False)


def install(
    app: FastAPI, store: ox.Store, *, settings: PageSettings | None = None, runner: Runner | None = None
) -> Site:
    """Add the pages and the Linked Data routes to ``app``, serving ``store``."""
    site = Site(store, settings=settings or PageSettings.from_env(), runner=runner)
    app.state.site = site
    app.include_router(router)
    app.include_router(resolve.router)
    app.include_router(kit.router)
    return site


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The home page; a client that prefers JSON gets the list of entry points instead."""
    if kit.prefers_json(request):
        return JSONResponse(kit.entry_points(base(request)), headers={"Vary": "Accept"})
    site = site_of(request)
    context = {
        "families": await run_in_threadpool(_families, site),
        "queries": catalog.saved_queries(site.settings.data, strict=False),
        "boards": await run_in_threadpool(boards.index, site),
    }
    return page(request, "home.html", context, headers={"Vary": "Accept"})


def _families(site: Site) -> list[str]:
    found = site.select("SELECT DISTINCT ?f WHERE { ?f a llmkg:ModelFamily . FILTER EXISTS { ?m llmkg:inFamily ?f } }")
    return sorted((r["f"].value for r in found), key=site.label)


@router.get("/editor", response_class=HTMLResponse)
async def query_editor(
    request: Request,
    query: Annotated[str | None, Query(max_length=100_000)] = None,
    example: str | None = None,
) -> Response:
    """YASGUI with every saved query as a named example; a plain form (that runs queries here) without it."""
    site = site_of(request)
    context = await run_in_threadpool(editor.context, site, query, example)
    return page(request, "editor.html", context, status=context.get("status", 200))


@router.get("/leaderboards", response_class=HTMLResponse)
async def leaderboards(request: Request) -> Response:
    return page(request, "leaderboards.html", {"boards": await run_in_threadpool(boards.index, site_of(request))})


@router.get("/leaderboards/{slug}", response_class=HTMLResponse)
async def leaderboard(request: Request, slug: str) -> Response:
    """Every setting of a benchmark (and of each task of a suite): a table and a bar chart."""
    site = site_of(request)
    iri = site.settings.iris.iri(f"id/benchmark/{slug}")
    board = await run_in_threadpool(boards.leaderboard, site, iri)
    if not board.boards and not board.tasks:  # a task of a suite (MLGym) has the same kind of link
        board = await run_in_threadpool(boards.leaderboard, site, site.settings.iris.iri(f"id/task/{slug}"))
    if not board.boards and not board.tasks:
        return not_found(request, f"No results for <{iri}>.")
    return page(request, "leaderboard.html", {"board": board})


@router.get("/compare/{slug}", response_class=HTMLResponse)
async def family(request: Request, slug: str) -> Response:
    """The variants of a family side by side."""
    site = site_of(request)
    iri = site.settings.iris.iri(f"id/family/{slug}")
    view = await run_in_threadpool(compare.comparison, site, iri)
    if not view.models:
        return not_found(request, f"No family <{iri}> with members.")
    return page(request, "compare.html", {"cmp": view})


@router.get("/conflicts", response_class=HTMLResponse)
async def conflicts(request: Request) -> Response:
    """Every value on which sources disagree, as the audit finds them."""
    report = await run_in_threadpool(lambda: site_of(request).report)
    return page(request, "conflicts.html", {"conflicts": report.conflicts})


@router.get("/sources", response_class=HTMLResponse)
async def sources(request: Request) -> Response:
    report = await run_in_threadpool(lambda: site_of(request).report)
    return page(request, "sources.html", {"sources": report.sources})


@router.get("/audit")
async def audit(request: Request) -> Response:
    """Sources, statements without provenance, conflicts, secondary-only statements and coverage."""
    report = await run_in_threadpool(lambda: site_of(request).report)
    if prefers_json(request) or request.query_params.get("format") == "json":
        return JSONResponse(report.as_dict(), headers={"Vary": "Accept"})
    return page(request, "audit.html", {"report": report}, headers={"Vary": "Accept"})


@router.get("/diff")
async def diff(
    request: Request,
    before: Annotated[str, Query(alias="from", description="The earlier date, YYYY-MM-DD.")],
    after: Annotated[str, Query(alias="to", description="The later date, YYYY-MM-DD.")],
    family: Annotated[str | None, Query(description="Only facts about this family (IRI or prefixed name).")] = None,
    prop: Annotated[str | None, Query(alias="property", description="Only this property.")] = None,
    undated: Annotated[Literal["include", "exclude"], Query(description="Undated source versions.")] = "include",
) -> JSONResponse:
    """Facts added, changed and removed between the graph as of two dates (``llmkg diff``), as JSON."""

    def changes() -> list[asof.Change]:
        quads = site_of(request).quads  # read through the query workers, once per server
        kept = {"family": expand(family) if family else None, "prop": expand(prop) if prop else None}
        return asof.diff(quads, before, after, undated=undated == "include", **kept)

    try:
        found = await run_in_threadpool(changes)
    except ValueError as error:  # a malformed date, an unknown prefix
        return JSONResponse({"title": "Invalid request", "status": 400, "detail": str(error)}, status_code=400)
    return JSONResponse([dataclasses.asdict(c) for c in found])


@router.get("/licence-check", response_class=HTMLResponse)
async def licence_check(request: Request) -> Response:
    """A form describing a derivative (fine-tune, quantisation, ...) and the check of its base model's licence."""
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    view = await run_in_threadpool(licence.context, site_of(request), params)
    status = 400 if view["error"] else 200
    return page(request, "licence.html", view, status=status)
