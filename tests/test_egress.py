"""SERVICE reaches no host outside the allowlist, however the query is written.

The query check's lexer is a courtesy; the rule is kept by the kernel where the connection is made
(egress.py). These tests send SERVICE in every form the grammar allows, with a canary HTTP server
on loopback that must never be contacted: straight to a worker pool (no check in front), as root
and as an ordinary user, and through every route of a real server run as an ordinary user.
"""

from __future__ import annotations

import gc
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest

from llmkg.kg.build import Dataset, write_store
from llmkg.sparql.text import inspect

from .server_support import running_server
from .sparql_support import make_store

ROOT = Path(__file__).resolve().parents[1]
SETPRIV = shutil.which("setpriv")
CAP_SYS_ADMIN, CAP_NET_ADMIN = 1 << 21, 1 << 12
#: An ordinary user; it may read the checkout (the interpreter often lives under a private /root)
#: but holds no capability over the network or namespaces.
AS_NOBODY = [
    str(SETPRIV),
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--inh-caps=-all,+dac_read_search",
    "--ambient-caps=-all,+dac_read_search",
]
pytestmark = pytest.mark.xdist_group("egress")


@dataclass
class Canary:
    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    found = Canary(0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found.hits.append(f"{self.command} {self.path}")
            body = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"canary"}}]}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield found
    server.shutdown()
    server.server_close()


def endpoints(port: int) -> list[str]:
    """The canary written every way an IRI can be: escapes, other spellings of loopback, prefixed names."""
    return [
        f"<http://127.0.0.1:{port}/sparql>",
        f"<http://localhost:{port}/sparql>",
        f"<http://[::1]:{port}/sparql>",
        f"<http://[::ffff:127.0.0.1]:{port}/sparql>",
        f"<http://0.0.0.0:{port}/sparql>",
        f"<http://2130706433:{port}/sparql>",
        f"<http://127.1:{port}/sparql>",
        f"<http://\\u0031\\u0032\\u0037.0.0.1:{port}/sparql>",
        f"<http://127.0.0.1:{port}/\\U00000078>",
        "e:sparql",
        "<sparql>",
    ]


def prologues(port: int) -> list[str]:
    """What may stand before the SERVICE keyword, including what once fooled the query check."""
    base = f"PREFIX e: <http://127.0.0.1:{port}/> BASE <http://127.0.0.1:{port}/>\n"
    return [
        base,
        base + "# a comment with a quote ' and a brace {\n",
        base.replace("PREFIX", "prefix"),
    ]


def shapes(endpoint: str) -> list[str]:
    bypass = "BIND(<http://a/\\u0041'> AS ?q) "
    strings = "BIND('''x\\''' AS ?l) BIND(\"\\u0022\" AS ?m) "
    return [
        f"SELECT * WHERE {{ {bypass}SERVICE {endpoint} {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ {strings}SERVICE {endpoint} {{ ?x ?y ?z }} }}",
        f"select * {{ {{ select * {{ optional {{ service {endpoint} {{ ?s ?p ?o }} }} }} }} }}",
        f"SELECT * {{ {{ ?a ?b ?c }} UNION {{ {bypass}SERVICE {endpoint} {{ ?s ?p ?o }} }} }}",
        f"SELECT * {{ BIND(1 AS ?one) MINUS {{ SERVICE {endpoint} {{ ?one ?p ?o }} }} }}",
        f"ASK {{ FILTER EXISTS {{ SERVICE {endpoint} {{ ?s ?p ?o }} }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {bypass}SERVICE\t{endpoint} {{ ?s ?p ?o }} }}",
        f"DESCRIBE ?s WHERE {{ SERVICE #x\n {endpoint} {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE {endpoint} {{ SERVICE {endpoint} {{ ?s ?p ?o }} }} }}",
    ]


def attacks(port: int) -> list[str]:
    return [prologue + shape for prologue in prologues(port) for e in endpoints(port) for shape in shapes(e)]


def probe(allowlist: list[str], queries: list[str], *, as_nobody: bool) -> dict[str, object]:
    command = [*(AS_NOBODY if as_nobody else []), sys.executable, "-m", "tests.egress_probe"]
    done = subprocess.run(
        command,
        input=json.dumps({"allowlist": allowlist, "queries": queries}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


USERS = [
    pytest.param(False, id="root" if os.getuid() == 0 else "this-user"),
    pytest.param(
        True,
        id="ordinary-user",
        marks=pytest.mark.skipif(os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to drop to"),
    ),
]


@pytest.mark.parametrize("as_nobody", USERS)
def test_no_service_form_reaches_the_canary_without_the_query_check(canary: Canary, as_nobody: bool) -> None:
    queries, before = attacks(canary.port), len(canary.hits)
    outcome = probe([], queries, as_nobody=as_nobody)
    if as_nobody:
        assert outcome["uid"] == 65534
        assert not int(str(outcome["cap_eff"])) & (CAP_SYS_ADMIN | CAP_NET_ADMIN)
    results = outcome["results"]
    assert isinstance(results, list)
    assert canary.hits[before:] == []
    refused = [q for q, (status, _) in zip(queries, results, strict=True) if status == 403]
    assert len(refused) > len(queries) // 2  # every query that tried to connect is told why
    assert all(status != 200 or "canary" not in str(body) for status, body in results)


@pytest.mark.parametrize("as_nobody", USERS)
def test_an_allowed_endpoint_is_reached_and_nothing_else(canary: Canary, as_nobody: bool) -> None:
    allowed = f"http://127.0.0.1:{canary.port}/sparql"
    other = f"http://127.0.0.1:{canary.port + 1 if canary.port < 65535 else 1}/sparql"
    queries = [
        f"SELECT ?x WHERE {{ SERVICE <{allowed}> {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ BIND(<http://a/\\u0041'> AS ?q) SERVICE <{other}> {{ ?x ?y ?z }} }}",
        "SELECT * WHERE { SERVICE <http://169.254.169.254/latest/meta-data/> { ?x ?y ?z } }",
        "SELECT * WHERE { SERVICE <http://10.0.0.1/sparql> { ?x ?y ?z } }",
    ]
    before = len(canary.hits)
    results = probe([allowed], queries, as_nobody=as_nobody)["results"]
    assert isinstance(results, list)
    assert results[0][0] == 200 and "canary" in results[0][1]
    assert [r[0] for r in results[1:]] == [403, 403, 403]
    assert len(canary.hits) == before + 1


# --- a real server, run as an ordinary user ---------------------------------------------------------


@pytest.fixture(scope="module")
def nobody_server() -> Iterator[str]:
    if os.getuid() != 0 or SETPRIV is None:
        pytest.skip("needs root and setpriv to run the server as an ordinary user")
    root = Path(tempfile.mkdtemp(prefix="llmkg-egress-"))  # pytest's own temporary folders are private to root
    try:
        write_store(Dataset(quads=list(make_store())), root / "store")
        for folder in (root, root / "store", *[p for p in (root / "store").rglob("*") if p.is_dir()]):
            folder.chmod(0o755)
        for file in (p for p in (root / "store").rglob("*") if p.is_file()):
            file.chmod(0o644)
        (root / "serve.log").touch(mode=0o666)
        with running_server(root / "store", log=root / "serve.log", wrapper=AS_NOBODY, cwd=root) as server:
            assert "\t65534\t" in Path(f"/proc/{server.pid}/status").read_text()
            yield server.base
    finally:
        shutil.rmtree(root, ignore_errors=True)


def routes(base: str, query: str) -> Iterator[httpx2.Response]:
    with httpx2.Client(base_url=base, timeout=30) as http:
        yield http.get("/sparql", params={"query": query})
        yield http.post("/sparql", data={"query": query})
        yield http.post("/sparql", content=query.encode(), headers={"Content-Type": "application/sparql-query"})
        yield http.get("/editor?query=" + quote(query, safe=""))


def test_no_route_of_a_server_run_as_an_ordinary_user_reaches_the_canary(nobody_server: str, canary: Canary) -> None:
    before = len(canary.hits)
    for query in [q for q in attacks(canary.port) if "127.0.0.1:" in q][:60]:
        for response in routes(nobody_server, query):
            assert response.status_code < 500, response.text
            assert "canary" not in response.text or "Found no" in response.text
    with httpx2.Client(base_url=nobody_server, timeout=30) as http:
        assert http.get("/queries/031-wikidata-federated/results").status_code == 403
        assert http.get("/health").json()["status"] == "ok"
    assert canary.hits[before:] == []


# --- the lexer: linear, and off the event loop -------------------------------------------------------

ADVERSARIAL = ["'_-", "'''", "<a\\u00", "\"'\\", "a.b:", "${{("]


@pytest.mark.parametrize("unit", ADVERSARIAL, ids=repr)
def test_the_lexer_takes_time_linear_in_the_length(unit: str) -> None:
    """From 125 KB to 500 KB, an adversarial text keeps pace with a plain one (the same holds up to the
    1 MB body limit, at four times the cost of this test).

    Times are the best of five interleaved runs, taken as a ratio to a plain text of the same
    length, so the machine's load and its caches cancel out: a linear reader keeps the ratio about
    level (under 2.5x here), while one quadratic in the length would multiply it by about 4.
    """
    ratios = []
    for size in (125_000, 500_000):
        text = "SELECT * { " + unit * (size // len(unit))
        plain = "SELECT * { " + " a" * (size // 2)
        runs = [(_timed(text), _timed(plain)) for _ in range(5)]
        ratios.append(min(t for t, _ in runs) / max(min(p for _, p in runs), 1e-9))
    assert ratios[1] / ratios[0] < 2.5, f"relative time went from {ratios[0]:.3f} to {ratios[1]:.3f}"


def _timed(text: str) -> float:
    gc.disable()  # a collection landing in one run is noise, not the lexer's time
    try:
        start = time.perf_counter()
        inspect(text)
        return time.perf_counter() - start
    finally:
        gc.enable()


def test_health_answers_while_a_maximal_query_is_read(nobody_server: str) -> None:
    big = "SELECT * { " + "'_-" * 330_000 + " }"  # just under the 1 MB body limit
    assert len(big.encode()) < 1_000_000
    done = threading.Event()

    def send() -> None:
        with httpx2.Client(base_url=nobody_server, timeout=60) as http:
            for _ in range(3):
                http.post("/sparql", content=big.encode(), headers={"Content-Type": "application/sparql-query"})
        done.set()

    threading.Thread(target=send, daemon=True).start()
    waits: list[float] = []
    with httpx2.Client(base_url=nobody_server, timeout=10) as http:
        while not done.is_set() and len(waits) < 200:
            start = time.perf_counter()
            assert http.get("/health").status_code == 200
            waits.append(time.perf_counter() - start)
    assert done.wait(60)
    waits.sort()
    assert waits and waits[len(waits) // 2] < 0.1, waits


def test_the_supervisor_closes_cleanly_after_its_thread_has_stopped() -> None:
    """close() sets the stop flag, then wakes the thread: a thread whose select timed out in between had
    already closed the wake-up pipe, and the write failed (a pool's close raised EBADF, now and then)."""
    from llmkg.engine import egress

    supervisor = egress.Supervisor(egress.Policy(()))
    supervisor._stop = True  # what close() does first; the thread sees it when its select times out
    supervisor._thread.join(timeout=5)
    assert not supervisor._thread.is_alive()
    supervisor.close()
    supervisor.close()  # and a second close is harmless
