"""HTTP plumbing shared by every route: request ids, security headers, access log, errors, bodies.

Errors leave as RFC 9457 problem documents (``application/problem+json``) with the request id,
never with a stack trace; the trace goes to the server log under the same id.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmkg.engine.endpoint import Endpoint, StreamedAnswer, job_key
from llmkg.sparql.query import CLIENT, REQUEST_ID, Job, QueryError

access_log = logging.getLogger("llmkg.access")
log = logging.getLogger("llmkg.web")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"cross-origin"),
]
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
READ_ONLY = QueryError(403, "Read-only endpoint", "SPARQL Update is not accepted: this endpoint is read-only")


class RequestContext:
    """ASGI middleware around everything: a request id, security headers, one access-log line.

    An exception that escapes the app becomes a bare 500 problem here, so no trace ever leaves.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        REQUEST_ID.set(rid)  # read by the query jobs this request makes, for the workers' log lines
        CLIENT.set((scope.get("client") or ("unknown", 0))[0])  # the per-client limit's key
        seen: dict[str, Any] = {"status": 0, "bytes": 0, "started": time.perf_counter()}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                headers = message.get("headers", [])
                own = {name.lower() for name, _ in headers}  # a page's own CSP (llmkg.webkit) stands
                extra = [h for h in SECURITY_HEADERS if h[0] not in own]
                message["headers"] = [*headers, (b"x-request-id", rid.encode()), *extra]
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        refused = _bad_path(str(scope.get("path", "")))
        try:
            if refused:
                await _send_error(send_with_headers, rid, 404, "Not Found", refused)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error in request %s", rid)
            if seen["status"]:
                raise  # the response had started: abort the connection rather than send a truncated body
            await _send_problem(send_with_headers, rid)
        finally:
            _log_access(scope, rid, seen)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _SAFE_REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


#: No slug, file name or IRI segment this server serves is longer (a file name's limit, NAME_MAX).
_MAX_SEGMENT = 255
#: What an IRI path may hold (RFC 3987: ipchar, "/", and "%" before two hex digits); any other character,
#: U+FFFD for bytes that were not UTF-8 among them, is in no path of this server.
_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd"
    "\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd\U00070000-\U0007fffd\U00080000-\U0008fffd"
    "\U00090000-\U0009fffd\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd\U000d0000-\U000dfffd"
    "\U000e1000-\U000efffd"
)
_NOT_IN_A_PATH = re.compile(rf"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%{_UCSCHAR}]|\ufffd|%(?![0-9A-Fa-f]{{2}})")


def _bad_path(path: str) -> str | None:
    """Why no route can answer ``path`` (the percent-decoded request path), or None when one may.

    Every route's path parameters are slugs or IRI paths, so this one check at the door keeps
    them all to the characters an IRI allows, before any route builds an IRI or a file name.

    >>> _bad_path("/compare/llama-4") is None, _bad_path("/compare/<img src=x>")
    (True, 'no page or resource has a path with "<" (at position 10)')
    """
    found = _NOT_IN_A_PATH.search(path)
    if found is not None:
        return f"no page or resource has a path with {json.dumps(found.group())} (at position {found.start() + 1})"
    longest = max(path.split("/"), key=len)
    if len(longest.encode()) > _MAX_SEGMENT:
        return f"no page or resource has a path segment longer than {_MAX_SEGMENT} bytes"
    return None


async def _send_problem(send: Send, rid: str) -> None:
    await _send_error(send, rid, 500, "Internal Server Error", "the server failed to answer; the log has the details")


async def _send_error(send: Send, rid: str, status: int, title: str, detail: str) -> None:
    problem = {"type": "about:blank", "title": title, "status": status, "detail": detail, "request_id": rid}
    body = json.dumps(problem).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _log_access(scope: Scope, rid: str, seen: dict[str, Any]) -> None:
    state = scope.get("state", {})
    record = {
        "request_id": rid,
        "method": scope.get("method"),
        "path": scope.get("path"),
        "status": seen["status"],
        "bytes": seen["bytes"],
        "ms": round((time.perf_counter() - seen["started"]) * 1000, 2),
        "query_ms": state.get("query_ms"),
        "cached": state.get("cached"),
        "client": (scope.get("client") or ("", 0))[0],
    }
    access_log.info(json.dumps(record))


def problem(
    request: Request, status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error a route or the framework raises becomes a problem document."""

    async def query_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, QueryError)
        extra = dict(error.extra)
        retry = extra.pop("retry_after", None)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return problem(request, error.status, error.title, error.detail, headers=headers, **extra)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        title = HTTPStatus(error.status_code).phrase
        return problem(request, error.status_code, title, str(error.detail), headers=error.headers)

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
        return problem(request, 400, "Invalid request", where)

    app.add_exception_handler(QueryError, query_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


@dataclass
class QueryParams:
    """The SPARQL Protocol's parameters of one request, wherever they came from."""

    query: str | None = None
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)
    format: str | None = None
    #: Extension: the view on a date (YYYY-MM-DD), undated sources included or not (kg/asof.py).
    asof: str | None = None
    undated: str | None = None

    @classmethod
    def from_multi(cls, params: dict[str, list[str]], query: str | None = None) -> QueryParams:
        if "update" in params:
            raise READ_ONLY
        queries = params.get("query", [])
        if len(queries) > 1:
            raise QueryError(400, "Invalid request", "give exactly one query parameter")
        formats: list[str | None] = [*params.get("format", []), *params.get("output", []), None]
        return cls(
            query=query if query is not None else (queries[0] if queries else None),
            default_graphs=params.get("default-graph-uri", []),
            named_graphs=params.get("named-graph-uri", []),
            format=formats[0],
            asof=_single(params, "asof"),
            undated=_single(params, "undated"),
        )


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise QueryError(400, "Invalid request", f"give at most one {name} parameter")
    return values[0] if values else None


def url_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


async def post_params(request: Request, limit: int) -> QueryParams:
    """The parameters of a POST per SPARQL 1.1 Protocol §2.1.2 and §2.1.3; 403 for updates, 413, 415."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == SPARQL_UPDATE:
        raise READ_ONLY
    if media_type not in (FORM, SPARQL_QUERY):
        raise QueryError(415, "Unsupported Media Type", f"send the query as {SPARQL_QUERY} or {FORM}")
    text = _utf8(await read_body(request, limit))
    if media_type == SPARQL_QUERY:
        return QueryParams.from_multi(url_params(request), query=text)
    try:
        form = parse_qs(text, keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=1000)
    except (ValueError, UnicodeDecodeError):
        raise QueryError(400, "Invalid request", "the form body is not valid UTF-8 form data") from None
    return QueryParams.from_multi({**url_params(request), **form})


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to answer: end the request as a client error, not ours
        raise QueryError(400, "Invalid request", "the client went away before sending the whole body") from None
    return b"".join(chunks)


def _too_large(limit: int) -> QueryError:
    return QueryError(413, "Content Too Large", f"the request body exceeds {limit} bytes")


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise QueryError(400, "Invalid request", f"the body is not UTF-8 (byte {error.start})") from None


async def respond(request: Request, endpoint: Endpoint, job: Job, *, conditional: bool) -> Response:
    headers = {"Vary": "Accept", "Cache-Control": "no-cache"}
    if conditional:
        headers["ETag"] = endpoint.etag(job_key(job))
        if not_modified(request, headers["ETag"]):
            return Response(status_code=304, headers=headers)
    answer = await endpoint.query(job)
    request.state.query_ms, request.state.cached = round(answer.query_ms, 2), answer.cached
    headers["Server-Timing"] = f"query;dur={answer.query_ms:.1f}"
    if isinstance(answer, StreamedAnswer) and request.scope.get("http_version") != "1.0":
        return StreamingResponse(answer.stream, media_type=answer.content_type, headers=headers)
    if isinstance(answer, StreamedAnswer):  # HTTP/1.0 has no chunks: a cut body would look complete
        body = b"".join([chunk async for chunk in answer.stream])
        return Response(body, media_type=answer.content_type, headers=headers)
    return Response(answer.body, media_type=answer.content_type, headers=headers)


def not_modified(request: Request, etag: str) -> bool:
    """If-None-Match with weak comparison (RFC 9110 §13.1.2)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags
