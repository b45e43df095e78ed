"""The endpoint over real HTTP: `llmkg serve --store DIR` on a loopback port, driven by SPARQLWrapper.

Every answer is read back by an independent parser; every kind of write attempt leaves the store's
quads unchanged; a runaway query is stopped at the (short) timeout while simple queries answer.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import httpx2
import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, POSTDIRECTLY, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

from llmkg.kg.build import Dataset, read_store_info, write_store
from llmkg.namespaces import DEFAULT_GRAPH

from .sparql_support import COUNT_ALL, LABELS, RESULTS_XML, RUNAWAY, default_size, make_store, parse_rdf

TIMEOUT_S = 2.0
SNAPSHOT = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g ?s ?p ?o"


#: One app (and one set of worker processes) per module: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("server-http")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc), so the test can see none outlives the server."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found |= {child} | descendants(child)
    return found


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("served") / "store"
    write_store(Dataset(quads=list(make_store())), target)
    return target


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, log = free_port(), tmp_path_factory.mktemp("log") / "serve.log"
    command = [
        sys.executable,
        "-m",
        "llmkg.cli",
        "serve",
        "--store",
        str(store_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--timeout",
        str(TIMEOUT_S),
        "--workers",
        "4",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output, env={**os.environ, "NO_COLOR": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log)
        children = descendants(process.pid)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
    time.sleep(0.5)
    assert not {pid for pid in children if _alive(pid)}, "worker processes outlived the server"


def _alive(pid: int) -> bool:
    """Running, that is: neither gone nor a zombie waiting for this container's init to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def session(server: str) -> Iterator[httpx2.Client]:
    """One keep-alive client for the module's plain HTTP requests."""
    with httpx2.Client(base_url=server, timeout=30) as client:
        yield client


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llmkg serve exited:\n{log.read_text()}")
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            time.sleep(0.2)
    pytest.fail(f"llmkg serve did not come up:\n{log.read_text()}")


def wrapper(base: str, query: str, fmt: str) -> SPARQLWrapper:
    client = SPARQLWrapper(base + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt)
    return client


def converted(client: SPARQLWrapper) -> object:
    """The answer as SPARQLWrapper converts it, with its connection closed."""
    result = client.query()
    try:
        return result.convert()
    finally:
        result.response.close()


def raw(client: SPARQLWrapper) -> bytes:
    """The answer's bytes as the server sent them, with the connection closed."""
    result = client.query()
    try:
        return bytes(result.response.read())
    finally:
        result.response.close()


def snapshot(session: httpx2.Client) -> str:
    return session.get("/sparql", params={"query": SNAPSHOT}, headers={"Accept": "text/csv"}).text


# --- SPARQLWrapper as a real client, every format read back independently --------------------------


SELECT = "SELECT ?s ?v WHERE { ?s <http://example.org/value> ?v } ORDER BY ?v"
EXPECTED_ROWS = [(f"http://example.org/n{i}", str(i)) for i in range(24)]


def test_select_as_json(server: str) -> None:
    result = converted(wrapper(server, SELECT, JSON))
    assert isinstance(result, dict)
    assert [(b["s"]["value"], b["v"]["value"]) for b in result["results"]["bindings"]] == EXPECTED_ROWS


def test_select_as_xml(server: str) -> None:
    body = raw(wrapper(server, SELECT, XML))
    rows = []
    for result in ET.fromstring(body).iter(RESULTS_XML + "result"):
        values = {b.get("name"): "".join(b.itertext()) for b in result.iter(RESULTS_XML + "binding")}
        rows.append((values["s"], values["v"]))
    assert rows == EXPECTED_ROWS


@pytest.mark.parametrize(("fmt", "delimiter"), [(CSV, ","), (TSV, "\t")])
def test_select_as_csv_and_tsv(server: str, fmt: str, delimiter: str) -> None:
    raw = converted(wrapper(server, SELECT, fmt))
    assert isinstance(raw, bytes)
    rows = list(csv.reader(io.StringIO(raw.decode()), delimiter=delimiter))
    if fmt == TSV:
        assert rows[0] == ["?s", "?v"] and rows[1] == ["<http://example.org/n0>", "0"]
    else:
        assert [tuple(r) for r in rows[1:]] == EXPECTED_ROWS


def test_ask(server: str) -> None:
    assert converted(wrapper(server, "ASK { ?s ?p 23 }", JSON)) == {"head": {}, "boolean": True}


def _expected_graph() -> rdflib.Graph:
    triples = make_store().query(LABELS, default_graph=ox.NamedNode(DEFAULT_GRAPH))
    assert isinstance(triples, ox.QueryTriples)
    return parse_rdf(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"", "nt")


@pytest.mark.parametrize(
    ("fmt", "rdflib_format"), [(TURTLE, "turtle"), (N3, "turtle"), (RDFXML, "xml"), (JSONLD, "json-ld")]
)
def test_construct_in_rdf_formats(server: str, fmt: str, rdflib_format: str) -> None:
    body = raw(wrapper(server, LABELS, fmt))
    assert isomorphic(parse_rdf(body, rdflib_format), _expected_graph())


@pytest.mark.parametrize("request_method", ["urlencoded", POSTDIRECTLY])
def test_post(server: str, request_method: str) -> None:
    client = wrapper(server, COUNT_ALL, JSON)
    client.setMethod(POST)
    client.setRequestMethod(request_method)
    result = converted(client)
    assert isinstance(result, dict)
    assert int(result["results"]["bindings"][0]["n"]["value"]) == default_size()


def test_update_through_sparqlwrapper_is_refused(server: str) -> None:
    client = wrapper(server, "INSERT DATA { <http://e/a> <http://e/b> <http://e/c> }", JSON)
    client.setMethod(POST)
    with pytest.raises(urllib.error.HTTPError) as refused:
        client.query()
    assert refused.value.code == 403
    assert b"read-only" in refused.value.read()
    refused.value.close()


# --- read-only, proven over the wire ---------------------------------------------------------------


def _attacks(session: httpx2.Client) -> Iterator[httpx2.Response]:
    insert = "INSERT DATA { GRAPH <http://e/g> { <http://e/a> <http://e/b> <http://e/c> } }"
    base, sparql, graphs = str(session.base_url).rstrip("/"), "/sparql", "/rdf-graphs"
    for update in (
        insert,
        "DELETE WHERE { ?s ?p ?o }",
        "LOAD <file:///etc/passwd>",
        "CLEAR ALL",
        "DROP ALL",
        "CREATE GRAPH <http://e/g>",
        "COPY DEFAULT TO <http://e/g>",
        f"LOAD <{base}/dumps/llmkg.nq>",
    ):
        yield session.post(sparql, data={"update": update})
        yield session.post(sparql, content=update, headers={"Content-Type": "application/sparql-update"})
        yield session.post(sparql, content=update, headers={"Content-Type": "application/sparql-query"})
        yield session.get(sparql, params={"query": update})
        yield session.get(sparql, params={"update": update})
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        for target in ({"default": ""}, {"graph": "http://e/g"}):
            yield session.request(
                method,
                graphs,
                params=target,
                content=b"<http://e/a> <http://e/b> <http://e/c> .",
                headers={"Content-Type": "application/n-triples"},
            )
        yield session.request(method, "/dumps/llmkg.nq", content=b"x")
    for endpoint in (f"{base}/sparql", "file:///etc/passwd", "http://169.254.169.254/latest/"):
        yield session.get(sparql, params={"query": f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?s ?p ?o }} }}"})


def _raw_get(base: str, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written, so no client normalises its ``..`` away."""
    host, port = base.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_every_write_attempt_leaves_the_store_unchanged(server: str, session: httpx2.Client, store_dir: Path) -> None:
    before = snapshot(session)
    for response in _attacks(session):
        assert 400 <= response.status_code < 500, (response.request.method, response.request.url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    for path in (
        "/dumps/../../../../etc/passwd",
        "/dumps/..%2f..%2f..%2fetc%2fpasswd",
        "/../../etc/passwd",
        "/dumps/%2e%2e/pyproject.toml",
    ):
        status, body = _raw_get(server, path)
        assert status == 404 and b"root:" not in body and b"[project]" not in body
    assert snapshot(session) == before
    on_disk = ox.Store.read_only(str(store_dir))
    assert set(on_disk) == set(make_store())


# --- isolation: runaway queries are stopped, everyone else is answered ---------------------------------


def test_runaway_queries_stop_while_simple_queries_answer(server: str, session: httpx2.Client) -> None:
    """Four cross products from one client run into the timeout; meanwhile another client's simple
    queries are answered at once."""
    finished: list[tuple[int, float]] = []

    def runaway(n: int) -> None:  # four different texts: one text asked four times runs only once
        elsewhere = httpx2.HTTPTransport(local_address="127.0.0.2")  # another client, with its own limit
        with httpx2.Client(base_url=server, timeout=30, transport=elsewhere) as own:
            status = own.get("/sparql", params={"query": f"{RUNAWAY} # {n}"}).status_code
        finished.append((status, time.monotonic()))

    threads = [threading.Thread(target=runaway, args=(n,)) for n in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    latencies = []
    for i in range(10):
        asked = time.monotonic()
        response = session.get("/sparql", params={"query": f"ASK {{ ?s ?p {i} }}"})
        latencies.append(time.monotonic() - asked)
        assert response.status_code == 200 and response.json()["boolean"] is True
    simple_done = time.monotonic()
    for thread in threads:
        thread.join()
    assert [status for status, _ in finished] == [503] * 4
    assert simple_done < min(at for _, at in finished), "simple queries waited for the runaways"
    assert max(at for _, at in finished) - started < TIMEOUT_S + 3
    assert sorted(latencies)[len(latencies) // 2] < 0.25, latencies
    health = session.get("/health").json()
    assert health["status"] == "ok" and health["workers"]["restarts"] >= 4


# --- HTTP details over the wire -------------------------------------------------------------------------


def test_large_results_stream_in_chunks(session: httpx2.Client) -> None:
    query = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g <http://example.org/value> ?i }"
    with session.stream("GET", "/sparql", params={"query": query}, headers={"Accept": "text/csv"}) as reply:
        assert reply.headers.get("transfer-encoding") == "chunked"
        rows = sum(chunk.count(b"\n") for chunk in reply.iter_bytes())
    assert rows == 1 + default_size() ** 2 * 24


def test_conditional_get_and_version(session: httpx2.Client, store_dir: Path) -> None:
    first = session.get("/sparql", params={"query": COUNT_ALL})
    again = session.get("/sparql", params={"query": COUNT_ALL}, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    version = session.get("/version").json()
    assert version["data"] == read_store_info(store_dir)[0] == Dataset(quads=list(make_store())).version
    assert first.headers["etag"].startswith(f'W/"{version["data"]}-')
    assert "server" not in first.headers
