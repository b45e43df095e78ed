"""The SPARQL protocol routes: they translate HTTP into :class:`~llmkg.engine.endpoint.Endpoint` calls.

Routes: ``/sparql`` (SPARQL 1.1 Protocol, query side; Service Description when there is no
query), ``/rdf-graphs`` (Graph Store Protocol, read side), ``/.well-known/void``,
``/dumps/llmkg.nq`` and ``/dumps/llmkg.trig``, ``/health``, ``/version``. Everything that writes
is refused. The app is built by :func:`llmkg.app.create_app`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from llmkg.api.http import (
    FORM,
    SPARQL_QUERY,
    QueryParams,
    not_modified,
    post_params,
    respond,
    url_params,
)
from llmkg.engine.endpoint import Endpoint
from llmkg.kg.build import DUMPS
from llmkg.sparql.formats import Format
from llmkg.sparql.query import Job, QueryError

router = APIRouter()
FORMAT_HELP = "json, xml, csv, tsv, turtle, ntriples, jsonld, rdfxml, nquads, trig or a media type; overrides Accept"
FormatParam = Annotated[str | None, Query(description=FORMAT_HELP)]


def _parameter(name: str, description: str, *, repeatable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}} if repeatable else {"type": "string"}
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


#: The SPARQL 1.1 Protocol's parameters of GET /sparql, for the OpenAPI description.
PROTOCOL_PARAMETERS = {
    "parameters": [
        _parameter("query", "the SPARQL query; without it, the Service Description"),
        _parameter("default-graph-uri", "IRI of a graph for the default graph (repeatable)", repeatable=True),
        _parameter("named-graph-uri", "IRI of a graph to make a named graph (repeatable)", repeatable=True),
        _parameter("format", FORMAT_HELP),
    ]
}
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


@get_and_head("/sparql", name="sparql", openapi_extra=PROTOCOL_PARAMETERS)
async def sparql_get(request: Request) -> Response:
    """Run a query given in the URL; without one, describe the service (SPARQL Service Description)."""
    # The handler takes the request alone, so FastAPI resolves no dependencies and validates nothing on
    # the hot path (a fifth of a lookup's time in the server); the parameters are read from the raw
    # query string, where the protocol's names have hyphens and may repeat, and described above.
    endpoint: Endpoint = request.app.state.endpoint
    params = QueryParams.from_multi(url_params(request))
    if params.query is None:
        return await _service_description(request, endpoint, params.format)
    return await respond(request, endpoint, await _checked(request, endpoint, params), conditional=True)


@router.post("/sparql", openapi_extra=POST_BODY)
async def sparql_post(request: Request) -> Response:
    """Run a query sent as ``application/sparql-query`` or as a form."""
    endpoint: Endpoint = request.app.state.endpoint
    params = await post_params(request, endpoint.settings.max_request_bytes)
    if params.query is None:
        raise QueryError(400, "Invalid request", "the form has no query parameter")
    return await respond(request, endpoint, await _checked(request, endpoint, params), conditional=False)


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
    """Graph Store Protocol, read side: ``?graph=IRI`` for one named graph, ``?default`` for graph/default."""
    if (graph is None) == (default is None):
        raise QueryError(400, "Invalid request", "give either ?graph=IRI or ?default")
    accept = request.headers.get("accept")
    job = await run_in_threadpool(lambda: endpoint.graph_job(graph, accept=accept, format_param=format))
    return await respond(request, endpoint, job, conditional=True)


@router.api_route("/rdf-graphs", methods=["PUT", "POST", "DELETE", "PATCH"], include_in_schema=False)
async def graph_store_write() -> Response:
    raise _read_only("GET, HEAD, OPTIONS")


@get_and_head("/.well-known/void")
async def void(request: Request, endpoint: EndpointDep, format: FormatParam = None) -> Response:
    """VoID description of the dataset: triples per graph, licence, sources, vocabularies, examples."""
    return await _description(request, endpoint, "void", format)


@get_and_head("/.well-known/dcat")
async def dcat(request: Request, endpoint: EndpointDep, format: FormatParam = None) -> Response:
    """DCAT 3 / schema.org description of the dataset: licence, version, dumps, SPARQL service, sources."""
    return await _description(request, endpoint, "dcat", format)


async def _description(request: Request, endpoint: Endpoint, kind: str, format_param: str | None) -> Response:
    """The dataset's VoID or DCAT description in the negotiated RDF format, with its ETag and 304."""
    base, accept = str(request.base_url), request.headers.get("accept")
    etag = endpoint.etag(kind, base, accept, format_param)
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    describe = endpoint.void if kind == "void" else endpoint.dcat
    fmt, body = await run_in_threadpool(lambda: describe(base_url=base, accept=accept, format_param=format_param))
    return _rdf(fmt, body, etag)


@router.get("/context.jsonld")
async def jsonld_context(endpoint: EndpointDep) -> Response:
    """The JSON-LD context that reads the graph's JSON-LD as plain JSON (one short name per property)."""
    body = await run_in_threadpool(endpoint.jsonld_context)
    return Response(body, media_type="application/ld+json", headers={"Access-Control-Allow-Origin": "*"})


@get_and_head("/dumps/{name}")
async def dump(request: Request, endpoint: EndpointDep, name: str) -> Response:
    """The whole dataset: ``llmkg.nq`` (N-Quads) or ``llmkg.trig`` (TriG), one named graph per file."""
    etag = endpoint.etag("dump", name)
    if name in DUMPS and not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    path = await endpoint.dump(name)
    return FileResponse(path, media_type=DUMPS[name], headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get("/health")
async def health(endpoint: EndpointDep) -> JSONResponse:
    """``ok``; ``busy`` while every query place is taken (still 200); ``degraded`` (503) while workers are missing."""
    status = endpoint.health()
    return JSONResponse(status, status_code=503 if status["status"] == "degraded" else 200)


@router.get("/version")
async def version(endpoint: EndpointDep) -> dict[str, str | None]:
    """Package version, ontology versionIRI and data version."""
    return await run_in_threadpool(endpoint.versions)


#: Query texts up to this length are checked on the event loop: the check is linear in the length and
#: takes well under a millisecond here, less than the trip to a thread and back (which also makes the
#: event loop wait for the interpreter lock). Longer texts are checked on a thread, so a megabyte of
#: query text never holds up other requests.
INLINE_CHECK_CHARS = 4096


async def _checked(request: Request, endpoint: Endpoint, params: QueryParams) -> Job:
    if len(params.query or "") <= INLINE_CHECK_CHARS:
        return _job(request, endpoint, params)
    return await run_in_threadpool(_job, request, endpoint, params)


def _job(request: Request, endpoint: Endpoint, params: QueryParams) -> Job:
    return endpoint.job(
        params.query or "",
        default_graphs=params.default_graphs,
        named_graphs=params.named_graphs,
        accept=request.headers.get("accept"),
        format_param=params.format,
        asof=params.asof,
        undated=params.undated,
    )


async def _service_description(request: Request, endpoint: Endpoint, format_param: str | None) -> Response:
    url, accept = str(request.url_for("sparql")), request.headers.get("accept")
    etag = endpoint.etag("sd", url, accept, format_param)
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    fmt, body = await run_in_threadpool(
        lambda: endpoint.service_description(endpoint=url, accept=accept, format_param=format_param)
    )
    return _rdf(fmt, body, etag)


def _rdf(fmt: Format, body: bytes, etag: str) -> Response:
    headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "no-cache"}
    return Response(body, media_type=fmt.content_type, headers=headers)


def _read_only(allow: str) -> HTTPException:
    return HTTPException(
        405, "this endpoint is read-only: no SPARQL Update, no Graph Store writes", headers={"Allow": allow}
    )
