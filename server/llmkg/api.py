"""The web layer: FastAPI routes that translate HTTP into :class:`~llmkg.service.Endpoint` calls.

Routes: ``/sparql`` (SPARQL 1.1 Protocol, query side; Service Description when there is no
query), ``/rdf-graphs`` (Graph Store Protocol, read side), ``/.well-known/void``,
``/dumps/llmkg.nq`` and ``/dumps/llmkg.trig``, ``/health``, ``/version``. Everything that writes
is refused. Build an app with :func:`create_app`; tests swap the store by passing their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import pyoxigraph as ox
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from llmkg import __version__, audit_page, pages, queries_api
from llmkg.backend import Backend
from llmkg.build import Dataset, read_store_info
from llmkg.config import ServerSettings
from llmkg.editor import endpoint_runner
from llmkg.service import Endpoint, StreamedAnswer, job_key
from llmkg.site import PageSettings
from llmkg.sparql import Format, Job, QueryError
from llmkg.web import FORM, SPARQL_QUERY, QueryParams, RequestContext, install_error_handlers, post_params, url_params

router = APIRouter()
GraphParam = Annotated[list[str] | None, Query(description="IRI of a graph for the default graph (repeatable)")]
NamedParam = Annotated[list[str] | None, Query(description="IRI of a graph to make a named graph (repeatable)")]
FormatParam = Annotated[
    str | None,
    Query(
        description="json, xml, csv, tsv, turtle, ntriples, jsonld, rdfxml, "
        "nquads, trig or a media type; overrides Accept"
    ),
]
POST_BODY = {
    "requestBody": {
        "content": {
            SPARQL_QUERY: {"schema": {"type": "string"}},
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {
                        "query": {"type": "string"},
                        "default-graph-uri": {"type": "array", "items": {"type": "string"}},
                        "named-graph-uri": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
        }
    }
}
DUMP_TYPES = {"llmkg.nq": "application/n-quads", "llmkg.trig": "application/trig"}


Handler = TypeVar("Handler", bound=Callable[..., Any])


def get_and_head(path: str, **options: Any) -> Callable[[Handler], Handler]:
    """Route GET (in the OpenAPI description) and HEAD (answered alike, left out of it) to one handler."""

    def register(handler: Handler) -> Handler:
        router.add_api_route(path, handler, methods=["GET"], **options)
        router.add_api_route(path, handler, methods=["HEAD"], include_in_schema=False)
        return handler

    return register


async def endpoint_of(request: Request) -> Endpoint:
    """The app's Endpoint (async, so FastAPI does not hop to a thread to fetch it)."""
    endpoint: Endpoint = request.app.state.endpoint
    return endpoint


EndpointDep = Annotated[Endpoint, Depends(endpoint_of)]


@get_and_head("/sparql", name="sparql")
async def sparql_get(
    request: Request,
    endpoint: EndpointDep,
    query: str | None = None,
    default_graph_uri: GraphParam = None,
    named_graph_uri: NamedParam = None,
    format: FormatParam = None,
) -> Response:
    """Run a query given in the URL; without one, describe the service (SPARQL Service Description)."""
    params = QueryParams.from_multi(url_params(request))
    if params.query is None:
        return await _service_description(request, endpoint, params.format)
    job = await run_in_threadpool(_job, request, endpoint, params)  # reading the text: never on the event loop
    return await _respond(request, endpoint, job, conditional=True)


@router.post("/sparql", openapi_extra=POST_BODY)
async def sparql_post(request: Request, endpoint: EndpointDep) -> Response:
    """Run a query sent as ``application/sparql-query`` or as a form."""
    params = await post_params(request, endpoint.settings.max_request_bytes)
    if params.query is None:
        raise QueryError(400, "Invalid request", "the form has no query parameter")
    job = await run_in_threadpool(_job, request, endpoint, params)
    return await _respond(request, endpoint, job, conditional=False)


@router.api_route("/sparql", methods=["PUT", "DELETE", "PATCH"], include_in_schema=False)
async def sparql_write() -> Response:
    raise _read_only("GET, HEAD, POST, OPTIONS")


@get_and_head("/rdf-graphs")
async def graph_store(
    request: Request,
    endpoint: EndpointDep,
    graph: str | None = None,
    default: str | None = None,
    format: FormatParam = None,
) -> Response:
    """Graph Store Protocol, read side: ``?graph=IRI`` for one named graph, ``?default`` for the union."""
    if (graph is None) == (default is None):
        raise QueryError(400, "Invalid request", "give either ?graph=IRI or ?default")
    accept = request.headers.get("accept")
    job = await run_in_threadpool(lambda: endpoint.graph_job(graph, accept=accept, format_param=format))
    return await _respond(request, endpoint, job, conditional=True)


@router.api_route("/rdf-graphs", methods=["PUT", "POST", "DELETE", "PATCH"], include_in_schema=False)
async def graph_store_write() -> Response:
    raise _read_only("GET, HEAD, OPTIONS")


@get_and_head("/.well-known/void")
async def void(request: Request, endpoint: EndpointDep, format: FormatParam = None) -> Response:
    """VoID description of the dataset: triples per graph, licence, sources, vocabularies, examples."""
    base = str(request.base_url)
    etag = endpoint.etag("void", base, request.headers.get("accept"), format)
    if _not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    accept = request.headers.get("accept")
    fmt, body = await run_in_threadpool(lambda: endpoint.void(base_url=base, accept=accept, format_param=format))
    return _rdf(fmt, body, etag)


@get_and_head("/dumps/{name}")
async def dump(request: Request, endpoint: EndpointDep, name: str) -> Response:
    """The whole dataset: ``llmkg.nq`` (N-Quads) or ``llmkg.trig`` (TriG), one named graph per file."""
    etag = endpoint.etag("dump", name)
    if name in DUMP_TYPES and _not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    path = await run_in_threadpool(endpoint.dump, name)
    return FileResponse(path, media_type=DUMP_TYPES[name], headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get("/health")
async def health(endpoint: EndpointDep) -> JSONResponse:
    """``ok`` while every query worker is alive; ``degraded`` (503) otherwise."""
    status = endpoint.health()
    return JSONResponse(status, status_code=200 if status["status"] == "ok" else 503)


@router.get("/version")
async def version(endpoint: EndpointDep) -> dict[str, str | None]:
    """Package version, ontology versionIRI and data version."""
    return await run_in_threadpool(endpoint.versions)


def _job(request: Request, endpoint: Endpoint, params: QueryParams) -> Job:
    return endpoint.job(
        params.query or "",
        default_graphs=params.default_graphs,
        named_graphs=params.named_graphs,
        accept=request.headers.get("accept"),
        format_param=params.format,
    )


async def _respond(request: Request, endpoint: Endpoint, job: Job, *, conditional: bool) -> Response:
    headers = {"Vary": "Accept", "Cache-Control": "no-cache"}
    if conditional:
        headers["ETag"] = endpoint.etag(job_key(job))
        if _not_modified(request, headers["ETag"]):
            return Response(status_code=304, headers=headers)
    answer = await endpoint.query(job)
    request.state.query_ms, request.state.cached = round(answer.query_ms, 2), answer.cached
    headers["Server-Timing"] = f"query;dur={answer.query_ms:.1f}"
    if isinstance(answer, StreamedAnswer):
        return StreamingResponse(answer.stream, media_type=answer.content_type, headers=headers)
    return Response(answer.body, media_type=answer.content_type, headers=headers)


async def _service_description(request: Request, endpoint: Endpoint, format_param: str | None) -> Response:
    url, accept = str(request.url_for("sparql")), request.headers.get("accept")
    etag = endpoint.etag("sd", url, accept, format_param)
    if _not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    fmt, body = await run_in_threadpool(
        lambda: endpoint.service_description(endpoint=url, accept=accept, format_param=format_param)
    )
    return _rdf(fmt, body, etag)


def _rdf(fmt: Format, body: bytes, etag: str) -> Response:
    headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "no-cache"}
    return Response(body, media_type=fmt.content_type, headers=headers)


def _not_modified(request: Request, etag: str) -> bool:
    """If-None-Match with weak comparison (RFC 9110 §13.1.2)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def _read_only(allow: str) -> HTTPException:
    return HTTPException(
        405, "this endpoint is read-only: no SPARQL Update, no Graph Store writes", headers={"Allow": allow}
    )


def create_app(*, store: Backend | Path, settings: ServerSettings | None = None, version: str | None = None) -> FastAPI:
    """The endpoint over ``store``: an in-memory store, the directory of one built by ``llmkg build --store``,
    or a :class:`~llmkg.remote.RemoteStore` (any SPARQL 1.1 engine, see backend.py).

    ``version`` is the data version (ETag); by default it is read from the store directory's build
    record, or computed from the quads. Query workers start with the app's lifespan.
    """
    settings = settings or ServerSettings.from_env()
    endpoint = _open(store, settings, version)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        endpoint.start()
        try:
            yield
        finally:
            endpoint.close()

    app = FastAPI(title="llmkg SPARQL endpoint", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.endpoint = endpoint
    pages_settings = PageSettings.from_env(public_base=settings.public_base)
    # The pages read the store only through the Backend methods (their annotations say ox.Store).
    site_store = cast(ox.Store, endpoint.store)
    pages.install(app, site_store, settings=pages_settings, runner=endpoint_runner(endpoint))  # the web face
    app.include_router(router)
    app.include_router(queries_api.router)
    app.include_router(audit_page.router)
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["ETag", "X-Request-ID", "Server-Timing"],
        max_age=86400,
    )
    app.add_middleware(RequestContext)
    return app


def _open(store: Backend | Path, settings: ServerSettings, version: str | None) -> Endpoint:
    if isinstance(store, Path):
        recorded, _ = read_store_info(store)
        return Endpoint(ox.Store.read_only(str(store)), source=store, settings=settings, version=version or recorded)
    return Endpoint(store, source=store, settings=settings, version=version or Dataset(quads=list(store)).version)
