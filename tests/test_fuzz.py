"""Hostile input, fuzzed: every answer is a 4xx with a readable body or a correct 2xx, never a 500,
never a hang, never a crashed worker, never a path or a trace.

Schemathesis drives the real server from its own OpenAPI description; Hypothesis sends malformed
SPARQL, parameters, headers and bodies through the whole app in-process; raw sockets send what no
well-behaved client library would (invalid UTF-8, oversized heads, lying lengths) over the wire.
Examples are bounded so the module stays fast on two cores.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from llmkg.app import create_app
from llmkg.kg import catalog
from llmkg.kg.build import Dataset, write_store

from .server_support import RunningServer, running_server
from .sparql_support import COUNT_ALL, LABELS, SETTINGS, make_store, serve

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase  # the Case of an OpenAPI schema's operation

pytestmark = pytest.mark.xdist_group("fuzz")  # one server and one app for the whole module
FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
#: What a fuzzed request may be answered with. 503 only as "Query timeout" (a generated runaway).
ACCEPTABLE = {200, 204, 304, 400, 403, 404, 405, 406, 413, 415, 422}
LEAKS = ("Traceback", "/tmp/", "/work/", "/home/", "/root/", "site-packages", 'File "')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("fuzz")
    write_store(Dataset(quads=list(make_store())), folder / "store")
    with running_server(folder / "store", log=folder / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve() as test_client:
        yield test_client


def assert_sound(status: int, content_type: str, body: bytes, what: object, *, head: bool = False) -> None:
    """The invariant every answer keeps (an answer to HEAD has no body to check)."""
    text = body.decode("utf-8", "replace")
    if status == 503 and not head:
        assert json.loads(body)["title"] == "Query timeout", (what, text[:300])
    elif status == 503:
        pass
    else:
        assert status in ACCEPTABLE, (what, status, text[:300])
    if status >= 400 and not head:
        assert body.strip(), (what, status, "an error without a body")
        if content_type.startswith("application/problem+json"):
            problem = json.loads(body)
            assert problem["status"] == status and problem["detail"] and problem["request_id"], (what, problem)
    leaked = [leak for leak in LEAKS if leak in text]
    assert not leaked, (what, status, leaked, text[:300])


# --- schemathesis, from the server's own OpenAPI description ---------------------------------------------


def _openapi() -> dict[str, Any]:
    with warnings.catch_warnings():  # only the description is read: no worker starts
        warnings.simplefilter("ignore")
        return create_app(store=make_store(), settings=SETTINGS).openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@schemathesis.serializer("application/sparql-query")
def _sparql_query_body(ctx: object, value: object) -> bytes:
    """A SPARQL query body is text; whatever was generated for it is sent as its UTF-8 string."""
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def _sound_response(ctx: object, response: schemathesis.Response, case: OpenApiCase) -> bool:
    content_type = response.headers.get("content-type", [""])[0]
    assert_sound(response.status_code, content_type, response.content, case, head=case.method == "HEAD")
    return True


def test_the_openapi_description_is_well_formed(client: TestClient) -> None:
    """Fetched like any client would, without a warning, and with one operationId per operation."""
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    ids = [op["operationId"] for path in response.json()["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_operations_never_fail(case: OpenApiCase, server: RunningServer) -> None:
    response = case.call(base_url=server.base, timeout=15)
    case.validate_response(response, checks=[not_a_server_error, _sound_response])


# --- Hypothesis, through the whole app in-process --------------------------------------------------------

SEEDS = [COUNT_ALL, LABELS, "ASK { ?s ?p 3 }", "DESCRIBE <https://w3id.org/llmkg/id/model/m1>"] + [
    q.text for q in catalog.saved_queries()[:12]
]
SPARQL_BITS = ["{", "}", "(", ")", "[", "]", "<", ">", '"', "'", "\\", "#", "?", ":", ".", ";", ",", "^^", "@", "*"]
SPARQL_BITS += ["SELECT", "WHERE", "SERVICE", "GRAPH", "FILTER", "OPTIONAL", "UNION", "MINUS", "VALUES", "BIND"]
SPARQL_BITS += ["INSERT", "DELETE", "LOAD", "CLEAR", "\x00", "\ufffd", "\u202e", "\U0001f600", "'''", '"""']


@st.composite
def malformed_sparql(draw: st.DrawFn) -> str:
    """A real query mutated: cut, spliced with SPARQL fragments and noise, or nested deeply."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["cut", "insert", "noise", "nest"]))
        if action == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif action == "insert":
            text = text[:at] + draw(st.sampled_from(SPARQL_BITS)) + text[at:]
        elif action == "noise":
            text = text[:at] + draw(st.text(max_size=20)) + text[at:]
        else:
            depth = draw(st.integers(1, 3000))
            opener = draw(st.sampled_from(["{ ", "(", "[ ", "{ OPTIONAL { "]))
            text = text[:at] + opener * depth + text[at:]
    return text


@given(query=malformed_sparql(), how=st.sampled_from(["get", "form", "direct"]))
@FUZZ
def test_malformed_sparql(client: TestClient, query: str, how: str) -> None:
    if how == "get":
        response = client.get("/sparql", params={"query": query})
    elif how == "form":
        response = client.post("/sparql", data={"query": query})
    else:
        response = client.post("/sparql", content=query.encode(), headers={"Content-Type": "application/sparql-query"})
    assert_sound(response.status_code, response.headers.get("content-type", ""), response.content, query)


PARAM_NAMES = ["query", "update", "default-graph-uri", "named-graph-uri", "format", "output", "graph", "default", "x"]
param_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", COUNT_ALL, "http://e/g", "not an iri", "json", "csv", "text/turtle", "*/*", "%", "%ff"]),
)


@given(
    path=st.sampled_from(["/sparql", "/rdf-graphs", "/.well-known/void", "/dumps/llmkg.nq", "/health", "/version"]),
    params=st.lists(st.tuples(st.one_of(st.sampled_from(PARAM_NAMES), st.text(max_size=10)), param_values), max_size=6),
)
@FUZZ
def test_random_parameters(client: TestClient, path: str, params: list[tuple[str, str]]) -> None:
    response = client.get(path, params=tuple(params))  # a list would be invariant in its pairs
    assert_sound(response.status_code, response.headers.get("content-type", ""), response.content, params)


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
media_ranges = st.lists(
    st.one_of(
        st.sampled_from(["*/*", "text/*", "application/sparql-results+json", "text/csv;q=0.1", "text/turtle;q=x"]),
        header_text,
    ),
    max_size=80,
).map(", ".join)


@given(
    accept=media_ranges,
    extra=st.dictionaries(
        st.sampled_from(["If-None-Match", "X-Request-ID", "Origin", "Range", "Accept-Encoding", "Accept-Charset"]),
        header_text,
        max_size=4,
    ),
    query=st.sampled_from([COUNT_ALL, LABELS, "ASK {}"]),
)
@FUZZ
def test_random_headers(client: TestClient, accept: str, extra: dict[str, str], query: str) -> None:
    response = client.get("/sparql", params={"query": query}, headers={"Accept": accept, **extra})
    assert_sound(response.status_code, response.headers.get("content-type", ""), response.content, (accept, extra))


@given(
    body=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode)),
    content_type=st.one_of(
        st.sampled_from(
            [
                "application/sparql-query",
                "application/sparql-query; charset=latin-1",
                "application/x-www-form-urlencoded",
                "application/sparql-update",
                "multipart/form-data; boundary=x",
                "application/json",
                "",
            ]
        ),
        header_text,
    ),
)
@FUZZ
def test_random_bodies(client: TestClient, body: bytes, content_type: str) -> None:
    response = client.post("/sparql", content=body, headers={"Content-Type": content_type})
    assert_sound(response.status_code, response.headers.get("content-type", ""), response.content, (body, content_type))


ALL_FORMATS = [
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
    "text/turtle",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
    "application/n-quads",
    "application/trig",
]
UNUSUAL_RESULTS = {
    "triple-term-object": "CONSTRUCT { ?s <http://e/p> <<( ?s ?p ?o )>> } WHERE { ?s ?p ?o } LIMIT 2",
    "triple-term-binding": "SELECT (<<( <http://e/a> <http://e/b> <http://e/c> )>> AS ?t) WHERE {}",
    "directional-literal": 'SELECT ("x"@en--ltr AS ?l) WHERE {}',
    "literal-subject-dropped": 'CONSTRUCT { "x" <http://e/p> ?o } WHERE { ?s ?p ?o } LIMIT 2',
    "ill-typed-literal": 'SELECT ("abc"^^<http://www.w3.org/2001/XMLSchema#integer> AS ?x) WHERE {}',
    "catastrophic-regex": 'ASK { BIND(CONCAT("aaaaaaaaaaaaaaaaaaaaaaaaa", "!") AS ?x) FILTER(REGEX(?x, "^(a+)+$")) }',
}


@pytest.mark.parametrize("query", UNUSUAL_RESULTS.values(), ids=list(UNUSUAL_RESULTS))
def test_a_result_a_format_cannot_express_is_not_a_server_error(client: TestClient, query: str) -> None:
    """RDF 1.2 terms and other rarities: each format either writes them or the answer is a 406 saying why."""
    for accept in ALL_FORMATS:
        response = client.get("/sparql", params={"query": query}, headers={"Accept": accept})
        assert_sound(response.status_code, response.headers.get("content-type", ""), response.content, accept)


def test_no_fuzzed_request_crashed_a_worker(client: TestClient) -> None:
    """Runs after the fuzzing in this module (same client): no worker was lost to a parse or a serialiser."""
    health = client.get("/health").json()
    assert health["status"] == "ok", health


# --- what only raw sockets send, over the wire -------------------------------------------------------------


def raw_request(server: RunningServer, head: bytes, body: bytes = b"", *, timeout: float = 15) -> tuple[int, bytes]:
    """Send bytes as they are while reading the answer, as a browser does; return its status and body
    (status 0 if the server closed without one).
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sender = threading.Thread(target=_send_quietly, args=(sock, head + body), daemon=True)
        sender.start()
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:  # the server answered before reading all we sent, then closed
            pass
        sender.join(timeout)
    if not data:
        return 0, b""
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server has answered and closed: the rest is not wanted
        sock.sendall(data)


def request_head(target: bytes, *headers: bytes, method: bytes = b"GET") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


QUERY = b"/sparql?query=ASK%7B%7D"
RAW_CASES = {
    "invalid-utf8-percent-encoded": request_head(b"/sparql?query=ASK%20%7B%7D%ff%fe%c0%af"),
    "invalid-utf8-raw-target": request_head(b"/sparql?query=ASK\xff\xfe{}"),
    "invalid-utf8-header": request_head(QUERY, b"Accept: text/\xff\xfe"),
    "invalid-utf8-request-id": request_head(QUERY, b"X-Request-ID: \xff\xfe\xfd"),
    "bad-percent-escape": request_head(b"/sparql?query=%zz%"),
    "huge-accept": request_head(QUERY, b"Accept: " + b"text/x-a;q=0.1, " * 900),
    "huge-header-block": request_head(QUERY, *[b"X-Pad-%d: %s" % (i, b"y" * 100) for i in range(400)]),
    "huge-url": request_head(b"/sparql?query=" + b"%20" * 200_000),
    "nul-in-header": request_head(QUERY, b"Accept: text/csv\x00"),
    "absolute-form-target": request_head(b"http://169.254.169.254/sparql?query=ASK%7B%7D"),
    "asterisk-target": request_head(b"*", method=b"OPTIONS"),
    "unknown-method": request_head(QUERY, method=b"BREW"),
    "deep-nesting-get": request_head(b"/sparql?query=ASK%20" + b"%7B" * 20_000 + b"%7D" * 20_000),
    "body-larger-than-declared-limit": request_head(
        b"/sparql", b"Content-Type: application/sparql-query", b"Content-Length: 50000000", method=b"POST"
    ),
}


@pytest.mark.parametrize("name", RAW_CASES)
def test_raw_hostile_requests(server: RunningServer, name: str) -> None:
    status, body = raw_request(server, RAW_CASES[name])
    assert status != 0, "the server closed the connection without an answer"
    assert 200 <= status < 500 and status != 500, (name, status, body[:300])
    if status >= 400:
        assert body.strip(), (name, status)
    assert b"Traceback" not in body


def test_oversized_chunked_body_is_refused_while_it_streams(server: RunningServer) -> None:
    """No Content-Length to refuse up front: the server counts the chunks and stops at the limit."""
    chunk = b"#" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    head = request_head(
        b"/sparql", b"Content-Type: application/sparql-query", b"Transfer-Encoding: chunked", method=b"POST"
    )
    status, body = raw_request(server, head, chunks)
    assert status == 413, body[:300]


def test_a_stalled_client_holds_nobody_else_up(server: RunningServer) -> None:
    """A client that declares a body and never sends it ties up one connection, not the server."""
    head = request_head(b"/sparql", b"Content-Type: application/sparql-query", b"Content-Length: 1000", method=b"POST")
    stalled = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(20)]
    try:
        for sock in stalled:
            sock.sendall(head + b"SELECT")
        started = time.monotonic()
        with httpx2.Client(base_url=server.base, timeout=10) as other:
            answers = [other.get("/sparql", params={"query": f"ASK {{ ?s ?p {i} }}"}).status_code for i in range(10)]
        assert answers == [200] * 10
        assert time.monotonic() - started < 5
    finally:
        for sock in stalled:
            sock.close()
    time.sleep(0.5)
    log = server.log.read_text()
    assert "unhandled error" not in log and '"status": 500' not in log, "a client that went away was logged as a 500"


def test_many_concurrent_malformed_requests_leave_the_server_healthy(server: RunningServer) -> None:
    errors: list[object] = []

    def hammer(seed: int) -> None:  # eight clients, each from its own address (one has a share of 4 queries)
        own_address = httpx2.HTTPTransport(local_address=f"127.0.3.{seed + 1}")
        with httpx2.Client(base_url=server.base, timeout=15, transport=own_address) as own:
            for i in range(15):
                query = "SELECT * WHERE { " * (seed + i) + "?s ?p ?o"
                response = own.get("/sparql", params={"query": query})
                if response.status_code != 400:
                    errors.append((seed, i, response.status_code, response.text[:200]))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert httpx2.get(server.base + "/health", timeout=5).json()["status"] == "ok"
