"""`llmkg serve --store DIR` as a real process on a loopback port, for tests that need real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    base: str
    port: int
    pid: int  # the server itself, even when it runs under a wrapper such as strace
    log: Path


@contextmanager
def running_server(
    store: Path,
    *,
    log: Path,
    workers: int = 2,
    timeout_s: float = 2.0,
    wrapper: Sequence[str] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[RunningServer]:
    """Serve ``store`` on 127.0.0.1 until the block ends; fail with the server's log if it never answers."""
    port = free_port()
    serve = ["serve", "--store", str(store), "--host", "127.0.0.1", "--port", str(port)]
    options = ["--timeout", str(timeout_s), "--workers", str(workers)]
    command = [*wrapper, sys.executable, "-m", "llmkg.cli", *serve, *options]
    environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output, env=environment, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log)
        pid = _server_pid(process) if wrapper else process.pid
        yield RunningServer(base, port, pid, log)
    finally:
        stop(process, wrapped=bool(wrapper))


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"llmkg serve exited:\n{log.read_text()}")
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"llmkg serve did not come up:\n{log.read_text()}")


def _server_pid(wrapper: subprocess.Popen[bytes]) -> int:
    children = Path(f"/proc/{wrapper.pid}/task/{wrapper.pid}/children").read_text().split()
    return int(children[0])


def stop(process: subprocess.Popen[bytes], *, wrapped: bool) -> None:
    """SIGTERM the server (and so its workers); under a wrapper, the wrapper's child first."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    for pid in children.read_text().split() if wrapped and children.exists() else []:
        with suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_exit(pid: int, timeout_s: float = 30) -> None:
    """SIGTERM ``pid`` and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
