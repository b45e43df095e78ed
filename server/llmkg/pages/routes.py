"""The web face: home page, query editor, leaderboards, family comparisons, conflicts and sources.

Build it into any FastAPI app with :func:`install`; the Linked Data routes (llmkg.resolve) come with it.
Handlers only read the request, call one function of views/boards/compare and render a template.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import pyoxigraph as ox
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from llmkg.kg import asof, catalog
from llmkg.kg import audit as audit_report
from llmkg.namespaces import expand, shorten
from llmkg.pages import boards, cite, compare, discovery, editor, kit, licence, models, resolve, search
from llmkg.pages.data import HasStatistics, PageSettings, Runner, Site
from llmkg.pages.kit import PageRoute, base, not_found, page, prefers_json, site_of

router = APIRouter(include_in_schema=False)
#: Paths the API serves to programs, answered here with a page when a browser asks (mounted first).
for_browsers = APIRouter(include_in_schema=False, route_class=PageRoute)


def install(
    app: FastAPI,
    store: ox.Store,
    *,
    settings: PageSettings | None = None,
    runner: Runner | None = None,
    api: Sequence[APIRouter] = (),
    version: str | None = None,
    statistics: HasStatistics | None = None,
    report: audit_report.Report | None = None,
    recorded: dict[str, Any] | None = None,
) -> Site:
    """Add the pages and the Linked Data routes to ``app``, serving ``store``.

    The ``api`` routers go between the browsers' views of the API paths and the pages: FastAPI tries
    routes in order, and trying the 26 page routes first cost every SPARQL request about 0.1 ms.
    """
    settings = settings or PageSettings.from_env()
    site = Site(
        store,
        settings=settings,
        runner=runner,
        version=version,
        statistics=statistics,
        report=report,
        recorded=recorded,
    )
    app.state.site = site
    app.include_router(for_browsers)
    for routes in api:
        app.include_router(routes)
    app.include_router(router)
    app.include_router(resolve.router)
    app.include_router(kit.router)
    app.add_exception_handler(404, kit.not_found_anywhere)
    return site


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The home page; a client that prefers JSON gets the list of entry points instead."""
    if kit.prefers_json(request):
        return JSONResponse(kit.entry_points(base(request)), headers={"Vary": "Accept"})
    site = site_of(request)
    context = {
        "families": await run_in_threadpool(models.families, site),
        "queries": catalog.saved_queries(site.settings.data, strict=False),
        "boards": await run_in_threadpool(boards.index, site),
    }
    context["jsonld"] = discovery.dataset_jsonld(site, base(request))
    return page(request, "home.html", context, headers={"Vary": "Accept"})


@for_browsers.get("/sparql", response_class=HTMLResponse)
async def sparql_for_browsers(request: Request) -> Response:
    """A browser opening the endpoint gets the editor (programs get the Service Description)."""
    context = await run_in_threadpool(editor.context, site_of(request), None, None)
    return page(request, "editor.html", context, headers={"Vary": "Accept"})


@for_browsers.get("/queries", response_class=HTMLResponse)
async def queries_for_browsers(request: Request) -> Response:
    """The saved queries as a table (programs get the JSON list)."""
    listed = catalog.saved_queries(site_of(request).settings.data, strict=False)
    return page(request, "queries.html", {"queries": listed}, headers={"Vary": "Accept"})


@for_browsers.get("/.well-known/void", response_class=HTMLResponse)
async def void_for_browsers(request: Request) -> Response:
    """The VoID description as a page (programs get RDF)."""
    view = await run_in_threadpool(discovery.void_view, site_of(request), base(request))
    shown = one_page(request, view.graphs, "The list of named graphs")
    if isinstance(shown, Response):
        return shown
    return page(request, "void.html", {"void": view, "graphs": shown.rows, **shown.context}, headers={"Vary": "Accept"})


#: The most URLs one sitemap may list (sitemaps.org); a longer list becomes an index of parts.
SITEMAP_URLS = 50_000


@router.get("/sitemap.xml")
async def sitemap(request: Request, part: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """The pages worth indexing; past SITEMAP_URLS, an index of parts (``?part=N``), as the protocol asks."""
    paths = await run_in_threadpool(discovery.sitemap_paths, site_of(request))
    parts = -(-len(paths) // SITEMAP_URLS)
    if part is not None and part > parts:
        return PlainTextResponse(f"The sitemap has parts 1 to {parts}.", status_code=404)
    if part is None and parts > 1:
        listed = [f"sitemap.xml?part={n}" for n in range(1, parts + 1)]
        body = kit.templates.get_template("sitemap.xml").render(root=base(request), paths=listed, index=True)
    else:
        first = ((part or 1) - 1) * SITEMAP_URLS
        shown = paths[first : first + SITEMAP_URLS]
        body = kit.templates.get_template("sitemap.xml").render(root=base(request), paths=shown, index=False)
    return Response(body, media_type="application/xml")


@router.get("/robots.txt")
async def robots(request: Request) -> Response:
    return PlainTextResponse(discovery.robots(base(request)))


@router.get("/search", response_class=HTMLResponse)
async def find(
    request: Request,
    q: Annotated[str, Query(max_length=search.MAX_QUERY)] = "",
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    format: str | None = None,
) -> Response:
    """Things whose names match ``q``, best first: a page, or JSON for programs (and the suggestions)."""
    site = site_of(request)
    hits = await run_in_threadpool(search.search, site, q, limit)
    if format == "json" or (format is None and prefers_json(request)):
        results = [h.as_dict(kit.href(request, h.iri)) for h in hits]
        return JSONResponse({"query": q, "results": results}, headers={"Vary": "Accept"})
    return page(request, "search.html", {"q": q, "hits": hits}, headers={"Vary": "Accept"})


@router.get("/models", response_class=HTMLResponse)
async def model_index(request: Request) -> Response:
    """Every model and checkpoint with the facts people compare; facets filter (``?family=IRI&year=2025``)."""
    chosen = {name: request.query_params.getlist(name) for name in models.FACETS}
    view = await run_in_threadpool(models.index, site_of(request), chosen)
    shown = one_page(request, view.rows, "The model index")
    if isinstance(shown, Response):
        return shown
    helpers = {"toggled": models.toggled, "size": models.size, "open_weights": models.open_weights_of}
    context = {"index": view, "rows": shown.rows, "link": models.link(view.chosen), **shown.context}
    return page(request, "models.html", context | helpers)


@router.get("/cite", response_class=HTMLResponse)
async def citation(request: Request, format: str | None = None, of: str | None = None) -> Response:
    """How to cite the dataset (or, with ``of=IRI``, a source document): a page, BibTeX or CSL-JSON."""
    site = site_of(request)
    found = await run_in_threadpool(cite.document, site, of) if of else cite.dataset(site, base(request))
    if found is None:
        return not_found(request, f"No source document <{of}> with a title to cite.")
    writers = {"bibtex": (cite.bibtex, cite.BIBTEX), "csl-json": (cite.csl_json, cite.CSL_JSON)}
    if format in writers:
        write, media = writers[format]
        disposition = f'inline; filename="{found.key}.{"bib" if format == "bibtex" else "json"}"'
        return Response(write(found), media_type=media, headers={"Content-Disposition": disposition})
    if format is not None:
        return page(
            request, "error.html", {"title": "Unknown format", "detail": "format is bibtex or csl-json"}, status=400
        )
    return page(request, "cite.html", {"cited": found, "of": of})


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


@router.get("/compare", response_class=HTMLResponse)
async def compare_chosen(
    request: Request,
    m: Annotated[list[str] | None, Query(max_length=500)] = None,
    t: bool = False,
) -> Response:
    """Any models side by side (``?m=model:llama-4-maverick&m=model:llama-3.1-405b``); ``t=1`` transposes."""
    site = site_of(request)
    given = m or []
    try:
        view = await run_in_threadpool(compare.chosen, site, given)
    except compare.ChoiceError as error:
        problem = {"title": "Cannot compare these models", "detail": str(error)}
        return page(request, "error.html", problem, status=400)
    options = await run_in_threadpool(compare.candidates, site)
    names = [shorten(ox.NamedNode(iri)) for iri, _ in view.models]
    context = {"chosen": names, "transposed": t, "options": options, "link": compare.link}
    return page(request, "compare.html", {"cmp": view, **context})


@router.get("/compare/{slug}", response_class=HTMLResponse)
async def family(request: Request, slug: str) -> Response:
    """The variants of a family side by side."""
    site = site_of(request)
    iri = site.settings.iris.iri(f"id/family/{slug}")
    view = await run_in_threadpool(compare.comparison, site, iri)
    if not view.models:
        return not_found(request, f"No family <{iri}> with members.")
    choose = [shorten(ox.NamedNode(iri)) for iri, _ in view.models]
    return page(request, "compare.html", {"cmp": view, "family_link": compare.link(choose), "chosen": None})


@router.get("/conflicts", response_class=HTMLResponse)
async def conflicts(request: Request) -> Response:
    """Every value on which sources disagree, as the audit finds them."""
    report = await run_in_threadpool(lambda: site_of(request).report)
    shown = one_page(request, report.conflicts, "The list of conflicts")
    if isinstance(shown, Response):
        return shown
    return page(request, "conflicts.html", {"conflicts": shown.rows, **shown.context})


@router.get("/sources", response_class=HTMLResponse)
async def sources(request: Request) -> Response:
    report = await run_in_threadpool(lambda: site_of(request).report)
    shown = one_page(request, report.sources, "The list of sources")
    if isinstance(shown, Response):
        return shown
    return page(request, "sources.html", {"sources": shown.rows, **shown.context})


@router.get("/audit")
async def audit(request: Request) -> Response:
    """Sources, statements without provenance, conflicts, secondary-only statements and coverage."""
    report = await run_in_threadpool(lambda: site_of(request).report)
    if prefers_json(request) or request.query_params.get("format") == "json":
        return JSONResponse(report.as_dict(), headers={"Vary": "Accept"})
    section = request.query_params.get("section", "sources")
    if section not in AUDIT_SECTIONS:
        return not_found(request, f"The audit has no section {section!r}; it has {', '.join(AUDIT_SECTIONS)}.")
    shown = one_page(request, AUDIT_SECTIONS[section](report), f"The audit section {section!r}")
    if isinstance(shown, Response):
        return shown
    context = {"report": report, "section": section, "rows": shown.rows, **shown.context}
    return page(request, "audit.html", context, headers={"Vary": "Accept"})


#: The audit page shows its summary and one section at a time, LIST_PAGE rows a page; the lists of
#: conflicts, of sources and of models too (a graph of 10M quads has twenty thousand conflicts and
#: forty thousand models and checkpoints).
LIST_PAGE = 200


@dataclasses.dataclass
class Page:
    rows: list[Any]
    number: int
    pages: int
    total: int

    @property
    def context(self) -> dict[str, int]:
        return {"page_number": self.number, "pages": self.pages, "total": self.total}


def one_page(request: Request, rows: Sequence[Any], what: str) -> Page | Response:
    """The rows of the page ``?page=`` asks for (LIST_PAGE a page), or a 404 naming the pages there are."""
    number = request.query_params.get("page", "1")
    pages = max(1, -(-len(rows) // LIST_PAGE))
    if not number.isdigit() or not 1 <= int(number) <= pages:
        return not_found(request, f"{what} has pages 1 to {pages}.")
    first = (int(number) - 1) * LIST_PAGE
    return Page(list(rows[first : first + LIST_PAGE]), int(number), pages, len(rows))


AUDIT_SECTIONS: dict[str, Callable[[audit_report.Report], list[Any]]] = {
    "sources": lambda report: list(report.sources),
    "unprovenanced": lambda report: list(report.unprovenanced),
    "secondary": lambda report: list(report.secondary_only),
    "missing": lambda report: list(report.missing.items()),
}


@router.get("/diff")
async def diff(
    request: Request,
    before: Annotated[str | None, Query(alias="from", description="The earlier date, YYYY-MM-DD.")] = None,
    after: Annotated[str | None, Query(alias="to", description="The later date, YYYY-MM-DD.")] = None,
    family: Annotated[str | None, Query(description="Only facts about this family (IRI or prefixed name).")] = None,
    prop: Annotated[str | None, Query(alias="property", description="Only this property.")] = None,
    undated: Annotated[Literal["include", "exclude"], Query(description="Undated source versions.")] = "include",
) -> Response:
    """Facts added, changed and removed between the graph as of two dates (``llmkg diff``): JSON, or a
    page with a form for a browser."""
    browser = kit.asks_for_a_page(request.headers.get("accept"))
    form = {"from": before or "", "to": after or "", "family": family or "", "property": prop or "", "undated": undated}
    if before is None or after is None:
        if browser:
            return page(request, "diff.html", {"form": form, "changes": None})
        detail = "give both dates: /diff?from=YYYY-MM-DD&to=YYYY-MM-DD"
        return JSONResponse({"title": "Invalid request", "status": 400, "detail": detail}, status_code=400)
    start, end = before, after

    def changes() -> list[asof.Change]:
        quads = site_of(request).quads  # read through the query workers, once per server
        kept = {"family": expand(family) if family else None, "prop": expand(prop) if prop else None}
        return asof.diff(quads, start, end, undated=undated == "include", **kept)

    try:
        found = await run_in_threadpool(changes)
    except ValueError as error:  # a malformed date, an unknown prefix
        if browser:
            return page(request, "diff.html", {"form": form, "changes": None, "error": str(error)}, status=400)
        return JSONResponse({"title": "Invalid request", "status": 400, "detail": str(error)}, status_code=400)
    if browser:
        return page(request, "diff.html", {"form": form, "changes": found})
    return JSONResponse([dataclasses.asdict(c) for c in found])


@router.get("/licence-check", response_class=HTMLResponse)
async def licence_check(request: Request) -> Response:
    """A form describing a derivative (fine-tune, quantisation, ...) and the check of its base model's licence."""
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    view = await run_in_threadpool(licence.context, site_of(request), params)
    status = 400 if view["error"] else 200
    return page(request, "licence.html", view, status=status)
