"""What every HTML page shares: templates, links to resources, headers, and the routes of the static files.

Pages load scripts and styles only from this server (``/static``, and ``/assets`` for the npm
packages), never from a CDN, and say so in their Content-Security-Policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Scope

from llmkg import __version__
from llmkg.kg.build import DUMPS
from llmkg.namespaces import expand
from llmkg.pages import cite, discovery, entity, ontology_doc
from llmkg.pages.data import Site
from llmkg.pages.linkeddata import HTML, alternates, choose
from llmkg.sparql.formats import best

router = APIRouter(include_in_schema=False)
HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def base(request: Request) -> str:
    """The address this server is reached at (honouring a proxy's root path), ending in a slash."""
    site = site_of(request)
    return site.settings.iris.site or str(request.base_url)


def href(request: Request, iri: str) -> str:
    """Where a link to ``iri`` goes: this server for IRIs of the graph, the IRI itself elsewhere."""
    return site_of(request).settings.iris.url(iri, base(request))


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` with the helpers every template uses."""
    site = site_of(request)
    root = base(request)
    helpers = {
        "href": lambda iri: href(request, iri),
        "url": lambda path="": root + path.lstrip("/"),
        "label": site.label,
        "iri": expand,
        "public": site.settings.iris.public,
        "version": __version__,
        "assets": site.settings.has("yasgui.min.js", "yasgui.min.css"),
        "charts": site.settings.has("chart.umd.min.js"),
        "alternates": alternates,
        "anchor": entity.anchor,
        "term_href": lambda iri: ontology_doc.link(site, root, iri) or href(request, iri),
        "citation": lambda: cite.dataset(site, root),
        "bibtex": cite.bibtex,
        "csl_json": cite.csl_json,
        "licences": [(u, discovery.licence_name(u)) for u in discovery.about(discovery.dataset_iri(site)).licences],
    }
    response = templates.TemplateResponse(request, template, {**helpers, **context}, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    response.headers.update(headers or {})
    return response


def prefers_json(request: Request) -> bool:
    """Whether the client asks for JSON rather than a page (no Accept, or ``*/*``, means a page)."""
    return best(request.headers.get("accept"), ["text/html", "application/json"]) == "application/json"


def asks_for_a_page(accept: str | None) -> bool:
    """Whether a client names HTML among what it accepts and prefers it to every RDF format.

    Browsers do; programs send ``*/*`` or an RDF type, and keep getting data.

    >>> asks_for_a_page("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    True
    >>> asks_for_a_page("*/*"), asks_for_a_page("text/turtle, text/html;q=0.5"), asks_for_a_page(None)
    (False, False, False)
    """
    if not accept or "html" not in accept:
        return False
    return choose(accept, None) == HTML


#: Parameters that make a request one for data whatever its Accept says (a query, a chosen format).
DATA_PARAMS = {"query", "update", "format", "output"}


class PageRoute(APIRoute):
    """A route that only answers browsers: a program, or a request for data (``?query=``, ``?format=``),
    falls through to the API's route at the same path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        headers = dict(scope.get("headers") or [])
        accept = headers.get(b"accept", b"").decode("latin-1")
        params = {k for k, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)}
        if not asks_for_a_page(accept) or params & DATA_PARAMS:
            return Match.NONE, {}
        return match, child


def entry_points(root: str) -> dict[str, Any]:
    """Where everything is, for programs that ask the home page for JSON."""
    return {
        "sparql": root + "sparql",
        "graph_store": root + "rdf-graphs",
        "void": root + ".well-known/void",
        "dumps": [root + "dumps/" + name for name in DUMPS],
        "openapi": root + "openapi.json",
        "editor": root + "editor",
        "leaderboards": root + "leaderboards",
        "resources": root + "id/",
    }


def not_found(request: Request, what: str) -> HTMLResponse:
    return page(request, "error.html", {"title": "Not found", "detail": what}, status=404)


async def not_found_anywhere(request: Request, error: Exception) -> Response:
    """A 404 from any route (or from no route): a page for a browser; for a program, what the app's own
    handler of HTTP errors answers (the API's problem document), else the framework's JSON."""
    assert isinstance(error, HTTPException)
    if asks_for_a_page(request.headers.get("accept")):
        return not_found(request, f"There is no page at {request.url.path}: {error.detail}")
    handler = request.app.exception_handlers.get(HTTPException)
    if handler is not None:
        response: Response = await handler(request, error)
        return response
    return JSONResponse({"detail": error.detail}, status_code=404)


@router.get("/assets/{name}")
async def vendor(request: Request, name: str) -> Response:
    """A file of an npm package (YASGUI, Chart.js) from node_modules; 404 when ``npm ci`` has not run."""
    path = site_of(request).settings.vendor_file(name)
    if path is None:
        return Response(f"{name} is not installed: run `npm ci` at the repository root\n", 404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/{name}")
async def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in STATIC_TYPES:
        return Response("not found\n", 404)
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
