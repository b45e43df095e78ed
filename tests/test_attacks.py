"""Read-only, proven: `llmkg serve --store DIR` runs under strace while every kind of write, file
read and request forgery is tried on it over the wire.

Afterwards the store's quads and files are byte-identical to what they were, no response leaks a
file, and the system-call trace shows the server never touched a file outside what it serves
(the store, its own dumps, its package, the Python installation) and never opened a connection.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote

import httpx2
import pyoxigraph as ox
import pytest

from llmkg.config import data_root
from llmkg.kg.build import Dataset, nquads_bytes, write_store

from .server_support import running_server, wait_for_exit
from .sparql_support import make_store

MARKER = "llmkg-canary-4f1c9e"
STRACE = shutil.which("strace")
pytestmark = [
    pytest.mark.skipif(STRACE is None, reason="strace is not installed (.ci/run installs it)"),
    pytest.mark.xdist_group("attacks"),  # one server under strace for the whole module
]


@dataclass(frozen=True)
class Served:
    base: str
    store: Path
    canary: Path
    trace: Path
    tmp: Path
    pid: int


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The server under ``strace -f``, its working directory and TMPDIR its own; a canary beside it."""
    root = tmp_path_factory.mktemp("attacks")
    store, canary, tmp, cwd = root / "data" / "store", root / "secret", root / "servertmp", root / "cwd"
    for folder in (canary, tmp, cwd):
        folder.mkdir()
    write_store(Dataset(quads=list(make_store())), store)
    for name in ("canary.ttl", "canary.nq", "canary.rq"):
        (canary / name).write_text(f"<http://e/{MARKER}> <http://e/p> <http://e/o> .\n")
    trace = root / "trace.log"
    strace = [str(STRACE), "-f", "-y", "-ttt", "-qq", "--seccomp-bpf", "-e", "trace=%file,connect", "-o", str(trace)]
    with running_server(store, log=root / "serve.log", wrapper=strace, env={"TMPDIR": str(tmp)}, cwd=cwd) as server:
        yield Served(server.base, store, canary, trace, tmp, server.pid)


# --- the attacks -----------------------------------------------------------------------------------------

UPDATES = [
    'INSERT DATA { <http://e/a> <http://e/b> "c" }',
    'PREFIX e: <http://e/> INSERT DATA { GRAPH e:g { e:a e:b "c" } }',
    'BASE <http://e/> # a comment\n insert data { <a> <b> "c" }',
    "DELETE DATA { <http://e/a> <http://e/b> <http://e/c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "WITH <http://e/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "LOAD <file://{canary}/canary.ttl>",
    "LOAD SILENT <file://{canary}/canary.ttl> INTO GRAPH <http://e/g>",
    "LOAD <http://127.0.0.1:{port}/dumps/llmkg.nq>",
    "CLEAR ALL",
    "CLEAR SILENT DEFAULT",
    "DROP ALL",
    "DROP GRAPH <https://w3id.org/llmkg/graph/test/models>",
    "CREATE GRAPH <http://e/g>",
    "ADD DEFAULT TO <http://e/g>",
    "MOVE DEFAULT TO <http://e/g>",
    "COPY DEFAULT TO <http://e/g>",
    "CLEAR ALL ; INSERT DATA { <http://e/a> <http://e/b> 1 }",
]


def update_requests(session: httpx2.Client, update: str) -> Iterator[httpx2.Response]:
    """One SPARQL Update sent in every way a client might (SPARQL Protocol §2.2, and some it never names)."""
    sparql = "/sparql"
    yield session.post(sparql, data={"update": update})
    yield session.post(sparql, data={"query": update})
    yield session.post(sparql, data={"query": "ASK {}", "update": update})
    yield session.post(
        sparql, content=f"%75pdate={quote(update)}", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    for media_type in (
        "application/sparql-update",
        "Application/SPARQL-Update; charset=UTF-8",
        "application/sparql-query",
        "text/plain",
        "application/json",
        "application/octet-stream",
    ):
        yield session.post(sparql, content=update.encode(), headers={"Content-Type": media_type})
    yield session.post(sparql, files={"update": (None, update)})
    yield session.post(
        sparql, params={"update": update}, content=b"ASK {}", headers={"Content-Type": "application/sparql-query"}
    )
    yield session.get(sparql, params={"query": update})
    yield session.get(sparql, params={"update": update})
    yield session.request("PUT", sparql, content=update.encode(), headers={"Content-Type": "application/sparql-update"})
    yield session.request(
        "PATCH", sparql, content=update.encode(), headers={"Content-Type": "application/sparql-update"}
    )


GRAPH_STORE_TARGETS = [
    "/rdf-graphs?default",
    "/rdf-graphs?graph=https%3A%2F%2Fw3id.org%2Fllmkg%2Fgraph%2Ftest%2Fmodels",
    "/rdf-graphs?graph=http%3A%2F%2Fe%2Fnew",
    "/rdf-graphs",
    "/sparql",
    "/dumps/llmkg.nq",
    "/dumps/llmkg.trig",
    "/.well-known/void",
    "/id/model/m1",
    "/graph/test/models",
    "/",
]

SERVICES = [
    "<file://{canary}/canary.ttl>",
    "<http://127.0.0.1:{port}/sparql>",
    "<http://localhost:{port}/sparql>",
    "<http://[::1]:{port}/sparql>",
    "<http://0.0.0.0:{port}/sparql>",
    "<http://2130706433:{port}/sparql>",
    "<http://10.0.0.1/sparql>",
    "<http://192.168.0.1/sparql>",
    "<http://169.254.169.254/latest/meta-data/>",
    "SILENT <http://127.0.0.1:{port}/sparql>",
    "?endpoint",
    "e:sparql",
    "<sparql>",
]


def service_queries() -> Iterator[str]:
    prologue = "PREFIX e: <http://127.0.0.1:{port}/> BASE <http://127.0.0.1:{port}/>\n"
    for endpoint in SERVICES:
        yield prologue + f"SELECT * WHERE {{ SERVICE {endpoint} {{ ?s ?p ?o }} }}"
        yield prologue + f"select * {{ {{ select * {{ optional {{ service {endpoint} {{ ?s ?p ?o }} }} }} }} }}"
        yield prologue + f"ASK {{ FILTER EXISTS {{ SERVICE {endpoint} {{ ?s ?p ?o }} }} }}"
        yield (
            prologue
            + f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ VALUES ?endpoint {{ <x> }} SERVICE {endpoint} {{ ?s ?p ?o }} }}"
        )


def traversals(canary: Path) -> Iterator[str]:
    """Paths that try to climb out of the static, dump, asset and Linked Data routes."""
    up_to_tmp = os.path.relpath(canary / "canary.nq", tempfile.gettempdir())
    secret = "/".join([".."] * 12) + str(canary / "canary.nq")
    for route in ("/dumps/", "/static/", "/assets/", "/query/", "/id/", "/graph/", "/.well-known/genid/", "/"):
        for path in (
            "../../../../../../etc/passwd",
            "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
            "%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
            "%252e%252e%252f%252e%252e%252fpyproject.toml",
            "..%5c..%5c..%5cpyproject.toml",
            "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
            "llmkg.nq%00.html",
            "llmkg.nq/../../../../etc/passwd",
            quote(secret, safe=""),
            secret.lstrip("/"),
            quote(str(canary / "canary.nq"), safe=""),
            "/" + str(canary / "canary.nq"),
            "../" + up_to_tmp,
            quote("../" + up_to_tmp, safe=""),
        ):
            yield route + path
    yield "/static/..%2f..%2fconfig.py"
    yield "/assets/..%2f..%2f..%2fpackage.json"
    yield "/query/..%2f..%2f..%2fpyproject"
    yield "/rdf-graphs?graph=" + quote(f"file://{canary}/canary.ttl", safe="")


def _raw_get(base: str, path: str) -> tuple[int, str, bytes]:
    """GET a path exactly as written, so no client normalises ``..`` or ``%2e`` away."""
    host, port = base.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


@dataclass
class Outcome:
    """What the attacks did: quads and files before and after, every answer, and when they ran."""

    quads_before: bytes
    quads_after: bytes
    files_before: dict[str, str]
    files_after: dict[str, str]
    answers: list[tuple[str, int, str, bytes]]
    started: float
    finished: float


@pytest.fixture(scope="module")
def outcome(served: Served) -> Outcome:
    quads_before, files_before = nquads_bytes(ox.Store.read_only(str(served.store))), tree_digest(served.store)
    port = served.base.rsplit(":", 1)[1]
    answers: list[tuple[str, int, str, bytes]] = []
    started = time.time()
    with httpx2.Client(base_url=served.base, timeout=30) as session:
        session.get("/sparql", params={"query": "ASK {}"})  # every lazy import done before the clock starts
        started = time.time()
        for update in UPDATES:
            text = update.replace("{canary}", str(served.canary)).replace("{port}", port)
            for response in update_requests(session, text):
                answers.append(_answer(response, text))
        for target in GRAPH_STORE_TARGETS:
            for method in ("PUT", "POST", "DELETE", "PATCH"):
                for content_type in ("text/turtle", "application/n-quads", "multipart/form-data; boundary=x"):
                    body = f"<http://e/{MARKER}> <http://e/p> <http://e/o> .\n".encode()
                    response = session.request(method, target, content=body, headers={"Content-Type": content_type})
                    answers.append(_answer(response, f"{method} {target} {content_type}"))
        for query in service_queries():
            text = query.replace("{canary}", str(served.canary)).replace("{port}", port)
            answers.append(_answer(session.get("/sparql", params={"query": text}), text))
        for dataset_clause in ("FROM", "FROM NAMED"):
            text = f"SELECT * {dataset_clause} <file://{served.canary}/canary.ttl> WHERE {{ ?s ?p ?o }}"
            answers.append(_answer(session.get("/sparql", params={"query": text}), text))
        for path in traversals(served.canary):
            status, content_type, body = _raw_get(served.base, path)
            answers.append((f"GET {path}", status, content_type, body))
    finished = time.time()
    return Outcome(
        quads_before=quads_before,
        quads_after=nquads_bytes(ox.Store.read_only(str(served.store))),
        files_before=files_before,
        files_after=tree_digest(served.store),
        answers=answers,
        started=started,
        finished=finished,
    )


def _answer(response: httpx2.Response, what: str) -> tuple[str, int, str, bytes]:
    return (
        f"{response.request.method} {what}",
        response.status_code,
        response.headers.get("content-type", ""),
        response.content,
    )


# --- what must hold ---------------------------------------------------------------------------------------


def test_the_store_is_byte_identical_after_every_attack(outcome: Outcome) -> None:
    assert len(outcome.answers) > 500
    assert outcome.quads_after == outcome.quads_before
    assert outcome.files_after == outcome.files_before


def test_no_attack_is_answered_with_success_or_a_server_error(outcome: Outcome) -> None:
    benign = ("FROM <file://", "FROM NAMED <file://")  # a dataset clause names a graph; it loads nothing
    for what, status, content_type, body in outcome.answers:
        if any(b in what for b in benign):
            assert status == 200 and MARKER.encode() not in body, (what, status, body[:300])
            continue
        assert 400 <= status < 500, (what, status, body[:300])
        assert body.strip(), (what, status)
        if content_type.startswith("application/problem+json"):
            assert b'"detail"' in body, (what, body[:300])


def test_no_answer_leaks_a_file_or_a_path(served: Served, outcome: Outcome) -> None:
    leaks = (MARKER.encode(), b"root:x:0:0", b"[project]", b"[build-system]", str(served.store).encode(), b"Traceback")
    for what, status, _, body in outcome.answers:
        found = [leak for leak in leaks if leak in body]
        assert not found, (what, status, found)


# --- the system-call trace --------------------------------------------------------------------------------

_CALL = re.compile(r"^(?P<pid>\d+) +(?P<time>\d+\.\d+) (?P<name>\w+)\((?P<args>.*)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
#: System calls whose first string argument is a path (the *at calls take a directory descriptor first).
_PATH_CALLS = re.compile(
    r"open|openat2?|creat|(new)?f?stat(at|x|64)?|lstat|access|faccessat2?|readlink(at)?|execve(at)?|"
    r"unlink(at)?|rename(at2?)?|mkdir(at)?|rmdir|chdir|truncate|(sym)?link(at)?|utimensat|chmod|fchmodat|"
    r"chown|fchownat|statfs|getxattr|lgetxattr|listxattr|llistxattr|inotify_add_watch|mknod(at)?"
)
_DIRFD = re.compile(r"\d+<([^>]*)>, ")
_WRITES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
_WRITE_CALLS = re.compile(r"unlink|rename|mkdir|rmdir|truncate|link|symlink|chmod|chown|utimensat|mknod")


@dataclass(frozen=True)
class Call:
    time: float
    name: str
    path: str
    args: str


def trace_calls(trace: Path, cwd: Path) -> list[Call]:
    """The calls that name a path, each path made absolute (``-y`` shows where a directory descriptor points)."""
    calls = []
    for line in trace.read_text(errors="replace").splitlines():
        match = _CALL.match(line)
        if not match or not _PATH_CALLS.fullmatch(match["name"]):
            continue
        strings = _STRING.findall(match["args"])
        if not strings or not strings[0]:  # no path, or a call on a descriptor (AT_EMPTY_PATH)
            continue
        relative_to = _DIRFD.match(match["args"])
        path = os.path.join(relative_to[1] if relative_to else cwd, strings[0])
        calls.append(Call(float(match["time"]), match["name"], os.path.normpath(path), match["args"]))
    return calls


@pytest.fixture(scope="module")
def calls(served: Served, outcome: Outcome) -> list[Call]:
    """Every path-taking system call of the server and its workers, read once the server has stopped."""
    del outcome  # the attacks run first
    wait_for_exit(served.pid)
    return trace_calls(served.trace, served.trace.parent / "cwd")


def _allowed_reads(served: Served) -> tuple[str, ...]:
    """Where the server may read while it answers: what it serves, its own code, the system's libraries."""
    import site
    import sysconfig

    llmkg_package = Path(__import__("llmkg").__file__ or "").parent
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *sysconfig.get_paths().values()}
    return (
        str(served.store),
        str(served.tmp),  # its dumps, written on first use
        str(served.trace.parent / "cwd"),
        str(llmkg_package),
        str(data_root()),  # saved queries, templates, node_modules of the pages
        *python,
        "/proc/",
        "/sys/",
        "/dev/",
        "/usr/lib/",
        "/lib/",
        "/usr/share/",
        "/etc/ssl/",
        "/etc/ld.so.cache",
        "/etc/localtime",
        "/etc/mime.types",
    )


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def test_the_trace_saw_the_attacks(calls: list[Call], served: Served) -> None:
    assert any(str(served.store) in c.path for c in calls), "strace saw none of the store's files"


def test_no_file_outside_the_served_data_was_touched_during_the_attacks(
    calls: list[Call], served: Served, outcome: Outcome
) -> None:
    allowed = (*_allowed_reads(served), *_pins(calls, served))
    during = [c for c in calls if outcome.started <= c.time <= outcome.finished + 1]
    outside = sorted({f"{c.name} {c.path}" for c in during if not _under(c.path, allowed)})
    assert not outside, outside


def test_the_canary_and_system_secrets_were_never_touched(calls: list[Call], served: Served) -> None:
    forbidden = (str(served.canary), "/etc/passwd", "/etc/shadow", str(Path.home() / ".ssh"))
    touched = sorted({f"{c.name} {c.path}" for c in calls if _under(c.path, forbidden)})
    assert not touched, touched


def test_nothing_in_the_store_was_opened_for_writing(calls: list[Call], served: Served, outcome: Outcome) -> None:
    """Nothing writes the store (but for the hard links of its pinned view, made before the first
    request, see kg/build.pin_store), and nothing writes the pinned view while the attacks arrive."""
    pins = _pins(calls, served)

    def writes(c: Call) -> bool:
        return bool((c.name.startswith("open") and _WRITES.search(c.args)) or _WRITE_CALLS.search(c.name))

    in_store = [c for c in calls if _under(c.path, (str(served.store),)) and writes(c)]
    unexpected = [c for c in in_store if not (c.name.startswith("link") and c.time < outcome.started)]
    attacked = [c for c in calls if _under(c.path, pins) and outcome.started <= c.time <= outcome.finished]
    assert not [f"{c.name} {c.path}" for c in unexpected + [c for c in attacked if writes(c)]]
    assert pins, "the server did not serve a pinned view of its store"


def _pins(calls: list[Call], served: Served) -> tuple[str, ...]:
    """The pinned views of the store the trace shows (a sibling folder named after the store and the pid)."""
    prefix = str(served.store.parent / f".{served.store.name}.served.")
    return tuple(sorted({prefix + c.path[len(prefix) :].split("/", 1)[0] for c in calls if c.path.startswith(prefix)}))


def test_no_connection_was_opened(served: Served, calls: list[Call]) -> None:
    del calls  # the server has stopped: the trace is whole
    lines = served.trace.read_text(errors="replace").splitlines()
    connects = [line for line in lines if " connect(" in line and "AF_UNIX" not in line]
    assert not connects, connects[:5]
