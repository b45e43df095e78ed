"""What every HTML page shares: templates, links to resources, headers, and the routes of the static files.

Pages load scripts and styles only from this server (``/static``, and ``/assets`` for the npm
packages), never from a CDN, and say so in their Content-Security-Policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from llmkg import __version__
from llmkg.kg.build import DUMPS
from llmkg.namespaces import expand
from llmkg.pages.data import Site
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
    }
    response = templates.TemplateResponse(request, template, {**helpers, **context}, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    response.headers.update(headers or {})
    return response


def prefers_json(request: Request) -> bool:
    """Whether the client asks for JSON rather than a page (no Accept, or ``*/*``, means a page)."""
    return best(request.headers.get("accept"), ["text/html", "application/json"]) == "application/json"


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
