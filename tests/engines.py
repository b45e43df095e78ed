"""Real SPARQL engines for the cross-backend tests, each started in a temporary directory on 127.0.0.1.

``oxigraph serve`` comes from the PyPI package ``oxigraph``; Virtuoso is ``virtuoso-t`` from
Debian's ``virtuoso-opensource-7-bin``, run in the foreground with a ``virtuoso.ini`` written
here (database, SQL port and HTTP port all in the temporary directory and on loopback), never
the packaged service. An engine that is not installed skips its tests, except under CI
(``CI=true``), where ``.ci/run`` installs both and a missing engine is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from llmkg.kg.build import Dataset
from llmkg.kg.push import LoadReport, load_into
from llmkg.sparql.remote import RemoteStore

VIRTUOSO_BIN = "/usr/bin/virtuoso-t"
VIRTUOSO_INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
ServerThreads = 10
CheckpointInterval = 0
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
DirsAllowed = {dir}
CaseMode = 2

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {dir}
ServerThreads = 10
MaxClientConnections = 10
EnabledDavVSP = 0

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 60
"""


@dataclass
class Engine:
    """A running engine: its protocol URLs, the credentials that may write, and its process."""

    name: str
    query: str
    update: str
    gsp: str
    process: subprocess.Popen[bytes]
    auth: tuple[str, str] | None = None
    writer_query: str = ""  # where a writer (with ``auth``) sends its queries, if not ``query``

    def store(self, *, writer: bool = False, gsp: bool = True) -> RemoteStore:
        """A client; ``writer`` gives the URLs and credentials that may load data (``gsp``: by GSP)."""
        if writer:
            url = self.writer_query or self.query
            return RemoteStore(url, update=self.update, gsp=self.gsp if gsp else None, auth=self.auth, timeout_s=180)
        return RemoteStore(self.query, timeout_s=180)  # the slowest saved queries take seconds on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require(binary: str | None, what: str) -> str:
    """The binary's path, or skip (fail under CI) saying how to install it."""
    if binary and Path(binary).exists():
        return binary
    message = f"{what} is not installed (.ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


@contextmanager
def running(command: list[str], cwd: Path, probe: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in ``cwd`` until the context ends; its output goes to ``cwd/engine.log``."""
    log = cwd / "engine.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(probe, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def oxigraph(workdir: Path) -> Iterator[Engine]:
    binary = require(shutil.which("oxigraph"), "oxigraph (PyPI package oxigraph)")
    base = f"http://127.0.0.1:{free_port()}"
    command = [binary, "serve", "--location", str(workdir / "db"), "--bind", base.removeprefix("http://")]
    with running(command, workdir, base + "/query") as process:
        yield Engine("oxigraph", base + "/query", base + "/update", base + "/store", process)


@contextmanager
def virtuoso(workdir: Path) -> Iterator[Engine]:
    binary = require(VIRTUOSO_BIN, "virtuoso-t (Debian package virtuoso-opensource)")
    http_port = free_port()
    ini = VIRTUOSO_INI.format(dir=workdir, sql_port=free_port(), http_port=http_port)
    (workdir / "virtuoso.ini").write_text(ini, encoding="utf-8")
    base = f"http://127.0.0.1:{http_port}"
    with running([binary, "-f", "-c", str(workdir / "virtuoso.ini")], workdir, base + "/sparql") as process:
        # A new database's administrator is dba/dba; only the digest-authenticated endpoints may write.
        gsp, auth = base + "/sparql-graph-crud-auth", base + "/sparql-auth"
        yield Engine("virtuoso", base + "/sparql", auth, gsp, process, ("dba", "dba"), auth)


def load(engine: Engine, dataset: Dataset) -> LoadReport:
    """Load the dataset as ``llmkg load`` does, by Graph Store Protocol; fail on any problem."""
    with engine.store(writer=True) as store:
        report = load_into(store, dataset.quads)
    assert report.ok, "\n".join(report.lines())
    return report


@pytest.fixture(scope="session")
def oxigraph_engine(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Iterator[Engine]:
    """``oxigraph serve`` holding the shipped graph (started once per test process)."""
    with oxigraph(tmp_path_factory.mktemp("oxigraph")) as engine:
        load(engine, dataset)
        yield engine


@pytest.fixture(scope="session")
def virtuoso_engine(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Iterator[Engine]:
    """Virtuoso holding the shipped graph (started once per test process)."""
    with virtuoso(tmp_path_factory.mktemp("virtuoso")) as engine:
        load(engine, dataset)
        yield engine
