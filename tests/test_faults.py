"""Under load and faults: admission control, per-client limits, a self-healing worker factory, connection
limits and a rate-limited accept loop, against `llmkg serve --store DIR` on loopback.

Clients are told apart by their source address (127.0.0.2, 127.0.0.3, … all reach the loopback server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.engine.admission import Admission, AdmissionLimits
from llmkg.kg.build import Dataset, write_dumps, write_store
from llmkg.namespaces import DEFAULT_GRAPH
from llmkg.serving import OncePerInterval
from llmkg.sparql.formats import RESULT_FORMATS
from llmkg.sparql.query import QueryError
from llmkg.sparql.rows import row_counter

from .server_support import RunningServer, running_server
from .sparql_support import RUNAWAY, make_store

pytestmark = pytest.mark.xdist_group("admission")
#: The graph a query without a dataset of its own reads (graph/default, as the build makes it).
SERVED = ox.NamedNode(DEFAULT_GRAPH)
TIMEOUT_S = 4.0


def client(base: str, address: str, timeout: float = 30) -> httpx2.Client:
    return httpx2.Client(base_url=base, timeout=timeout, transport=httpx2.HTTPTransport(local_address=address))


def run_in_threads(calls: list[tuple[str, str]], base: str) -> list[httpx2.Response]:
    """GET each (client address, query) at once, each on its own connection; the answers in call order."""
    answers: list[httpx2.Response | None] = [None] * len(calls)

    def one(i: int, address: str, query: str) -> None:
        with client(base, address) as own:
            answers[i] = own.get("/sparql", params={"query": query})

    threads = [threading.Thread(target=one, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [a for a in answers if a is not None]


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("admission") / "store"
    write_store(Dataset(quads=list(make_store())), target)
    return target


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Two workers (four places), two queries per client, one waiting place, a 1.5 s wait."""
    env = {"LLMKG_PER_CLIENT_QUERIES": "2", "LLMKG_QUEUE_LENGTH": "1", "LLMKG_QUEUE_TIMEOUT": "1.5"}
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with running_server(store_dir, log=log, workers=2, timeout_s=TIMEOUT_S, env=env) as running:
        yield running


# --- admission control, in one process ----------------------------------------------------------------


def test_a_freed_place_goes_to_the_longest_waiting_request_not_a_newcomer() -> None:
    async def scenario() -> list[str]:
        admission = Admission(1, AdmissionLimits(per_client=5, queue=5, wait_s=5))
        first = await admission.enter("a")
        order: list[str] = []

        async def wait(name: str) -> None:
            ticket = await admission.enter(name)
            order.append(name)
            await asyncio.sleep(0.01)
            ticket.release()

        waiting = [asyncio.create_task(wait(name)) for name in ("b", "c")]
        await asyncio.sleep(0.05)  # b and c are in line
        first.release()
        late = asyncio.create_task(wait("d"))  # arrives as the place is freed: it must not jump the line
        await asyncio.gather(*waiting, late)
        return order

    assert asyncio.run(scenario()) == ["b", "c", "d"]


@pytest.mark.parametrize(
    ("limits", "held", "status"),
    [
        (AdmissionLimits(per_client=2, queue=5, wait_s=5), ["x", "x"], 429),  # the client's share is taken
        (AdmissionLimits(per_client=9, queue=0, wait_s=5), ["y"], 503),  # no place and no room to wait
        (AdmissionLimits(per_client=9, queue=5, wait_s=0.1), ["y"], 503),  # the wait runs out
    ],
)
def test_admission_refuses_early_with_retry_after(limits: AdmissionLimits, held: list[str], status: int) -> None:
    async def scenario() -> QueryError:
        admission = Admission(1 if held[0] == "y" else 4, limits)
        tickets = [await admission.enter(name) for name in held]
        with pytest.raises(QueryError) as refused:
            await admission.enter("x")
        for ticket in tickets:
            ticket.release()
        assert admission.stats() == {"places": admission.places, "free": admission.places, "waiting": 0, "clients": 0}
        return refused.value

    error = asyncio.run(scenario())
    assert error.status == status and error.extra["retry_after"] >= 1, error.to_dict()


def test_the_servers_own_reads_have_no_per_client_limit() -> None:
    async def scenario() -> int:
        admission = Admission(6, AdmissionLimits(per_client=1, queue=0, wait_s=1))
        return len([await admission.enter("") for _ in range(6)])

    assert asyncio.run(scenario()) == 6


# --- over HTTP ----------------------------------------------------------------------------------------------


def test_one_clients_runaways_get_429_beyond_its_share_and_others_are_served(server: RunningServer) -> None:
    answers: list[httpx2.Response] = []
    greedy = threading.Thread(
        target=lambda: answers.extend(
            run_in_threads([("127.0.0.2", f"{RUNAWAY} # {n}") for n in range(3)], server.base)
        )
    )
    greedy.start()
    time.sleep(0.5)
    with client(server.base, "127.0.0.3") as other:
        lookups = [other.get("/sparql", params={"query": f"ASK {{ ?s ?p {i} }}"}) for i in range(5)]
    greedy.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [429, 503, 503], [a.text for a in answers]  # two ran into the timeout, one was refused
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["retry-after"] == "1" and "127.0.0.2" in refused.json()["detail"]
    assert [r.status_code for r in lookups] == [200] * 5


def test_a_full_line_and_a_long_wait_are_503_with_retry_after_not_a_timeout(server: RunningServer) -> None:
    calls = [(f"127.0.0.{10 + n}", f"{RUNAWAY} # wait {n}") for n in range(6)]
    answers: list[httpx2.Response] = []
    started = time.monotonic()
    crowd = threading.Thread(target=lambda: answers.extend(run_in_threads(calls, server.base)))
    crowd.start()
    time.sleep(0.5)
    health = httpx2.get(server.base + "/health").json()
    crowd.join()
    assert health["status"] == "busy" and health["queue"]["free"] == 0, health
    refused = [a for a in answers if a.status_code == 503 and a.json()["title"] == "Server busy"]
    assert len(refused) == 2, [a.text for a in answers]  # four ran; one waited 1.5 s, one found the line full
    assert all(a.headers["retry-after"] == "2" for a in refused)
    assert {"no query worker became free within 1.5 s; try again later"} <= {a.json()["detail"] for a in refused}
    assert time.monotonic() - started < TIMEOUT_S + 3


def test_the_worker_factory_is_restarted_when_it_dies(server: RunningServer) -> None:
    factory = int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
    os.kill(factory, signal.SIGKILL)
    with client(server.base, "127.0.0.4") as own:
        answers = [own.get("/sparql", params={"query": f"ASK {{ ?s ?p {100 + i} }}"}) for i in range(3)]
        deadline = time.monotonic() + 10
        while own.get("/health").json()["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.2)
        health = own.get("/health").json()
    assert [a.status_code for a in answers] == [200] * 3, [a.text for a in answers]
    assert health["status"] == "ok" and health["workers"]["factory_restarts"] >= 1, health
    assert factory not in map(int, Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split())


# --- connections ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "LLMKG_HEAD_TIMEOUT": "1",
        "LLMKG_BODY_TIMEOUT": "1",
        "LLMKG_MAX_CONNECTIONS": "40",
        "LLMKG_MAX_CONNECTIONS_PER_CLIENT": "10",
    }
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with running_server(store_dir, log=log, workers=1, env=env) as running:
        yield running


def _read_all(sock: socket.socket, timeout: float = 5) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


@pytest.mark.parametrize(
    ("sent", "answer"),
    [
        (b"", b"HTTP/1.1 408 Request Timeout"),  # an idle socket
        (b"GET /health HTTP/1.1\r\nHost: x\r\n", b"HTTP/1.1 408 Request Timeout"),  # a head that never ends
        (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nASK", b""),  # a body that stalls
    ],
)
def test_slow_and_idle_sockets_are_closed(guarded: RunningServer, sent: bytes, answer: bytes) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port)) as sock:
        sock.sendall(sent)
        received = _read_all(sock)  # ends when the server closes the connection
    assert received.startswith(answer), received[:200]
    assert httpx2.get(guarded.base + "/health").status_code == 200


def _connect_from(address: str, port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), source_address=(address, 0))


@pytest.mark.parametrize(
    ("holders", "newcomer", "message"),
    [
        (["127.0.0.20"] * 10, "127.0.0.20", b"from this address"),  # one address's share is taken
        ([f"127.0.0.{21 + n // 10}" for n in range(40)], "127.0.0.30", b"too many open connections"),  # the cap
    ],
)
def test_connections_beyond_the_caps_are_refused_at_once_and_service_resumes(
    guarded: RunningServer, holders: list[str], newcomer: str, message: bytes
) -> None:
    held = [_connect_from(address, guarded.port) for address in holders]
    try:
        with _connect_from(newcomer, guarded.port) as extra:
            refused = _read_all(extra, timeout=2)
        if message == b"from this address":  # another address is still served meanwhile
            with client(guarded.base, "127.0.0.31") as other:
                assert other.get("/health").status_code == 200
    finally:
        for sock in held:
            sock.close()
    assert refused.startswith(b"HTTP/1.1 503 Service Unavailable") and message in refused, refused
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if httpx2.get(guarded.base + "/health", timeout=2).status_code == 200:
                break
        except httpx2.HTTPError:
            time.sleep(0.1)
    assert httpx2.get(guarded.base + "/health").status_code == 200


def test_a_repeated_loop_error_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    handler = OncePerInterval(interval=0.2)
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(5000):
                handler(loop, {"message": "socket.accept() out of system resource"})
            time.sleep(0.25)
            handler(loop, {"message": "socket.accept() out of system resource"})
            handler(loop, {"message": "another error"})
    finally:
        loop.close()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "socket.accept() out of system resource",
        "socket.accept() out of system resource (and 4999 more in the last 0.2 s)",
        "another error",
    ]


# --- no silent truncation ----------------------------------------------------------------------------------

EVERYTHING = "CONSTRUCT WHERE { ?s ?p ?o }"  # 3,000 triples of 1 KB: about 3 MB, over the 2.5 MB limit


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    ex = "http://example.org/"
    quads = [
        ox.Quad(ox.NamedNode(f"{ex}s{i}"), ox.NamedNode(f"{ex}p"), ox.Literal(f"{i:04d} " + "x" * 1000), SERVED)
        for i in range(3000)
    ]
    store = tmp_path_factory.mktemp("limited") / "store"
    write_store(Dataset(quads=quads), store)
    env = {"LLMKG_MAX_RESULT_ROWS": "50", "LLMKG_MAX_RESULT_BYTES": "2500000"}
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with running_server(store, log=log, workers=1, timeout_s=20, env=env) as running:
        yield running


@pytest.mark.parametrize(
    "media_type",
    ["application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values"],
)
def test_the_row_limit_holds_in_every_results_format(limited: RunningServer, media_type: str) -> None:
    def ask(n: int) -> httpx2.Response:
        query = "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?s ?o LIMIT " + str(n)
        return httpx2.get(limited.base + "/sparql", params={"query": query}, headers={"Accept": media_type})

    within, over = ask(50), ask(51)
    assert within.status_code == 200 and within.headers["content-type"].startswith(media_type)
    assert over.status_code == 422 and over.json()["title"] == "Too many rows" and over.json()["limit"] == 50


def test_the_row_limit_is_for_answers_to_clients_not_for_the_servers_own_reads() -> None:
    """The pages read the labels of a list in one query; for a long list that is more rows than a client
    may ask for."""
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    quads = [
        ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), label, ox.Literal(f"thing {i}"), SERVED) for i in range(12)
    ]
    store = ox.Store()
    store.bulk_extend(quads)
    app = create_app(store=store, settings=ServerSettings(workers=1, max_result_rows=5), version="rows")
    with TestClient(app) as client:
        asked = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
        assert asked.status_code == 422 and asked.json()["limit"] == 5
        site = app.state.site
        things = [f"http://example.org/s{i}" for i in range(len(quads))]
        site.prefetch_labels(things)  # the same rows, read by the server for its pages
        assert [site.own_label(iri) for iri in things] == [f"thing {i}" for i in range(len(quads))]


def test_an_answer_cut_by_the_size_limit_is_a_broken_response_never_a_clean_end(limited: RunningServer) -> None:
    received = 0
    with (
        pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"),
        httpx2.stream(
            "GET", limited.base + "/sparql", params={"query": EVERYTHING}, headers={"Accept": "application/n-triples"}
        ) as reply,
    ):
        assert reply.status_code == 200
        for chunk in reply.iter_bytes():
            received += len(chunk)
    assert 1 << 20 < received <= 2_500_000


def test_an_http_1_0_client_gets_an_error_status_instead_of_a_cut_body(limited: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        target = "/sparql?" + httpx2.QueryParams({"query": EVERYTHING}).__str__()
        sock.sendall(f"GET {target} HTTP/1.0\r\nAccept: application/n-triples\r\n\r\n".encode())
        answer = _read_all(sock, timeout=30)
    assert answer.startswith(b"HTTP/1.1 422") and b"Result too large" in answer, answer[:300]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize(("query", "rows"), [("SELECT * { ?s ?p ?o }", 80), ("SELECT * { ?s ?p ?o FILTER(false) }", 0)])
def test_rows_are_counted_in_every_results_format_across_any_chunking(chunk: int, query: str, rows: int) -> None:
    awkward = ['x},{"y\n"\\', "a,b\r\nc", '"', "[{", "<result>", "\\", '},{"', "tab\there", "\r\n\r\n"]
    store = ox.Store()
    for i in range(80):
        literal = ox.Literal(awkward[i % len(awkward)] + str(i))
        store.add(ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), ox.NamedNode("http://example.org/p"), literal))
    for fmt in RESULT_FORMATS:
        solutions = store.query(query)
        assert isinstance(solutions, ox.QuerySolutions) and isinstance(fmt.native, ox.QueryResultsFormat)
        data = solutions.serialize(format=fmt.native) or b""
        counter = row_counter(fmt.media_type)
        assert counter is not None, fmt
        for start in range(0, len(data), chunk):
            counter.feed(data[start : start + chunk])
        assert counter.rows == rows, fmt.media_type


# --- rebuilds under a live server ------------------------------------------------------------------------------


def _store_of(n: int) -> Dataset:
    p = ox.NamedNode("http://example.org/p")
    subjects = [ox.NamedNode(f"http://example.org/s{i}") for i in range(n)]
    return Dataset(quads=[ox.Quad(s, p, ox.Literal(str(n)), SERVED) for s in subjects])


def test_a_rebuild_never_mixes_into_a_running_server(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_store(_store_of(5), store)
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    with running_server(store, log=tmp_path / "serve.log", workers=1) as running:
        before = httpx2.get(running.base + "/version").json()["data"]
        write_store(_store_of(7), store)  # while it serves
        factory = Path(f"/proc/{running.pid}/task/{running.pid}/children").read_text().split()[0]
        for worker in Path(f"/proc/{factory}/task/{factory}/children").read_text().split():
            os.kill(int(worker), signal.SIGKILL)  # the next queries run in workers that open the store anew
        with client(running.base, "127.0.0.5") as own:
            answers = [own.get("/sparql", params={"query": f"{count} # {i}"}).json() for i in range(12)]
            after = own.get("/version").json()["data"]
        with running_server(store, log=tmp_path / "fresh.log", workers=1) as fresh:
            renewed = httpx2.get(fresh.base + "/sparql", params={"query": count}).json()
    assert {a["results"]["bindings"][0]["n"]["value"] for a in answers} == {"5"} and after == before
    assert renewed["results"]["bindings"][0]["n"]["value"] == "7"
    assert sorted(p.name for p in tmp_path.glob(".store*")) == [".store.lock"]  # pins removed with their servers


def test_a_killed_dump_write_is_cleaned_by_the_next_build(tmp_path: Path) -> None:
    (tmp_path / ".llmkg.nq.abc123").write_bytes(b"half a dump")
    written = write_dumps(_store_of(3), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".dumps.lock", *(p.name for p in written)])
