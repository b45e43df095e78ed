"""Load and isolation figures for `llmkg serve`, on loopback only, bounded in time and in requests.

Not a test: run it by hand. Without ``--url`` it builds the shipped dataset into a temporary store and
starts ``llmkg serve --store DIR`` on 127.0.0.1; with ``--url`` it drives a server already running on
this machine (a loopback address is required).

``mix``: ``--clients`` concurrent clients for ``--duration`` seconds over the saved-query mix (every
saved query that needs no SERVICE call, in turn). ``cold`` makes every request text unique (a
trailing comment), so no cache answers; ``warm`` repeats the texts as they are. Reports throughput,
p50/p90/p99/max latency, errors by kind and worker restarts.

``isolation``: simple queries (``--clients`` clients, every text unique) for ``--duration`` seconds
alone, then again while ``--runaways`` cross products over the whole store run into the query
timeout and are sent again as soon as they are stopped (half of them count, half sort, so both CPU
and memory run away). Reports p50/p99 of the simple queries in both phases and their ratio, how the
runaways ended, worker restarts and the peak memory of the server's process tree.

``slow-sockets``: simple queries alone, then while ``--sockets`` connections each send half a request
head and hold it. Reports p50/p99 of the simple queries in both phases and their ratio, and how the held
sockets ended (refused at once beyond the connection cap, closed with 408 at the head timeout, or
still open).

    python benchmarks/load.py mix --clients 50 --duration 60 --cache cold
    python benchmarks/load.py isolation --runaways 4 --duration 30 --timeout 10
    python benchmarks/load.py slow-sockets --sockets 1800 --clients 4 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from llmkg.kg import catalog
from llmkg.kg.build import load_dataset, write_store
from llmkg.pages import editor

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: Hard bounds whatever the arguments say.
MAX_DURATION_S, MAX_CLIENTS, MAX_REQUESTS = 600.0, 200, 2_000_000
LOOKUP = "SELECT ?p ?o WHERE { <https://w3id.org/llmkg/id/model/llama-4-scout> ?p ?o }"
#: A cross product over the whole store that only counts (CPU), and one that sorts (memory). The count is a
#: six-way product so that it outlasts any timeout even on a store of a few hundred quads.
RUNAWAYS = (
    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n0 ?o . ?p ?q ?r }",
    "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i LIMIT 1",
)


@dataclass
class Tally:
    """Latencies of answered requests and what went wrong with the others."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    def record(self, started: float, status: int | None, error: str | None = None) -> None:
        if status is not None:
            self.statuses[status] += 1
        if status == 200:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            self.errors[error or f"HTTP {status}"] += 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        total = len(ordered) + sum(self.errors.values())
        return {
            "requests": total,
            "ok": len(ordered),
            "errors": dict(self.errors),
            "throughput_per_s": round(total / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "p50_ms": percentile(ordered, 50),
            "p90_ms": percentile(ordered, 90),
            "p99_ms": percentile(ordered, 99),
            "max_ms": round(ordered[-1], 1) if ordered else None,
        }


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)


# --- the server ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(args: argparse.Namespace) -> Iterator[tuple[str, int | None]]:
    """The base URL to drive and the server's pid (None for a server given by ``--url``)."""
    if args.url:
        host = urlsplit(args.url).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit(f"refusing to load {host!r}: this benchmark drives loopback addresses only")
        yield args.url.rstrip("/"), None
        return
    folder = Path(tempfile.mkdtemp(prefix="llmkg-load-"))
    try:
        print("building the shipped dataset into a store …", file=sys.stderr)
        write_store(load_dataset(), folder / "store")
        port = free_port()
        command = [sys.executable, "-m", "llmkg.cli", "serve", "--store", str(folder / "store")]
        command += ["--host", "127.0.0.1", "--port", str(port), "--timeout", str(args.timeout)]
        command += ["--workers", str(args.workers)] + (["--memory"] if args.memory else [])
        env = {**os.environ, "LLMKG_WORKER_MEMORY_MB": str(args.worker_memory_mb), "NO_COLOR": "1"}
        with (folder / "serve.log").open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base, process)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("llmkg serve exited before it answered")
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise SystemExit("llmkg serve did not come up")


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration):
            continue
    return total


class MemoryWatch:
    """Samples the process tree's RSS every 0.2 s in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int | None) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        if self.pid is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss_bytes(self.pid or 0))


def workers_of(base: str) -> dict[str, Any]:
    health = httpx2.get(base + "/health", timeout=10).json()
    return {"status": health["status"], **health["workers"]}


# --- the clients --------------------------------------------------------------------------------------------


def saved_mix(skip: Sequence[str] = ()) -> list[str]:
    """Every saved query that runs without a SERVICE call, its parameters bound to their examples as
    the query editor sends it; ``skip`` names queries to leave out (by id or number prefix).
    """
    kept = [q for q in catalog.saved_queries() if not q.extra.get("service")]
    kept = [q for q in kept if not any(q.id == s or q.id.startswith(s + "-") for s in skip)]
    return [editor.with_examples(q) for q in kept]


async def send(client: httpx2.AsyncClient, text: str) -> httpx2.Response:
    """GET while the URL stays short, POST (``application/sparql-query``) beyond, as clients do."""
    if len(text) < 1500:
        return await client.get("/sparql", params={"query": text})
    return await client.post("/sparql", content=text.encode(), headers={"Content-Type": "application/sparql-query"})


async def drive(base: str, texts: Iterator[str], *, clients: int, duration_s: float, max_requests: int) -> Tally:
    """``clients`` concurrent loops, each sending the next text until time or count runs out."""
    tally, budget = Tally(), itertools.count()
    deadline = time.monotonic() + duration_s

    async def one_client(n: int) -> None:
        async with client_at(base, n, timeout=120) as client:
            while time.monotonic() < deadline and next(budget) < max_requests:
                started = time.perf_counter()
                try:
                    response = await send(client, next(texts))
                    tally.record(started, response.status_code)
                except httpx2.HTTPError as error:
                    tally.record(started, None, type(error).__name__)

    started = time.monotonic()
    await asyncio.gather(*(one_client(n) for n in range(clients)))
    tally.elapsed_s = time.monotonic() - started
    return tally


def client_at(base: str, n: int, *, timeout: float, connections: int = 1) -> httpx2.AsyncClient:
    """Client ``n`` from its own loopback address (127.0.1.n), as distinct users are to the per-client limit."""
    transport = httpx2.AsyncHTTPTransport(
        local_address=f"127.0.1.{n % 250 + 1}", limits=httpx2.Limits(max_connections=connections)
    )
    return httpx2.AsyncClient(base_url=base, timeout=timeout, transport=transport)


def unique(templates: Sequence[str], *, cold: bool) -> Iterator[str]:
    """The texts in turn, each made unique by a trailing comment when ``cold``."""
    for n, text in enumerate(itertools.cycle(templates)):
        yield f"{text}\n# load {n}" if cold else text


# --- the scenarios ------------------------------------------------------------------------------------------


def run_mix(args: argparse.Namespace) -> dict[str, Any]:
    texts = saved_mix(args.skip)
    report: dict[str, Any] = {"scenario": "mix", "clients": args.clients, "duration_s": args.duration}
    report["queries_in_mix"], report["skipped"] = len(texts), args.skip
    report["timeout_s"] = None if args.url else args.timeout
    with served(args) as (base, pid):
        before = workers_of(base)
        for mode in ("cold", "warm") if args.cache == "both" else (args.cache,):
            with MemoryWatch(pid) as memory:
                tally = asyncio.run(
                    drive(
                        base,
                        unique(texts, cold=mode == "cold"),
                        clients=args.clients,
                        duration_s=args.duration,
                        max_requests=args.max_requests,
                    )
                )
            report[mode] = {**tally.summary(), "peak_rss_mb": memory.peak >> 20 if pid else None}
        after = workers_of(base)
    report["worker_restarts"] = after["restarts"] - before["restarts"]
    report["health_after"] = after["status"]
    return report


def run_isolation(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"scenario": "isolation", "runaways": args.runaways, "clients": args.clients}
    report["duration_s"], report["timeout_s"] = args.duration, None if args.url else args.timeout
    with served(args) as (base, pid):
        before = workers_of(base)
        simple = unique([LOOKUP], cold=True)
        alone = asyncio.run(drive(base, simple, clients=args.clients, duration_s=args.duration, max_requests=10**6))
        report["alone"] = alone.summary()
        with MemoryWatch(pid) as memory:
            runaway = asyncio.run(_with_runaways(base, args))
        report["with_runaways"], report["runaways_ended"] = runaway[0].summary(), runaway[1]
        report["peak_rss_mb"] = memory.peak >> 20 if pid else None
        after = workers_of(base)
    for key in ("p50_ms", "p99_ms"):
        a, b = report["alone"][key], report["with_runaways"][key]
        report[f"{key.removesuffix('_ms')}_ratio"] = round(b / a, 2) if a and b else None
    report["worker_restarts"] = after["restarts"] - before["restarts"]
    report["health_after"] = after["status"]
    return report


def run_slow_sockets(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"scenario": "slow-sockets", "sockets": args.sockets, "clients": args.clients}
    with served(args) as (base, _):
        host, port = base.removeprefix("http://").rsplit(":", 1)
        simple = unique([LOOKUP], cold=True)
        alone = asyncio.run(drive(base, simple, clients=args.clients, duration_s=args.duration, max_requests=10**6))
        held = [socket.create_connection((host, int(port)), timeout=5) for _ in range(args.sockets)]
        for sock in held:
            with contextlib.suppress(OSError):
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: slow\r\n")  # never finished
        during = asyncio.run(drive(base, simple, clients=args.clients, duration_s=args.duration, max_requests=10**6))
        report["alone"], report["while_held"] = alone.summary(), during.summary()
        report["sockets_ended"] = dict(Counter(_how_it_ended(sock) for sock in held))
        report["health_after"] = workers_of(base)["status"]
    for key in ("p50_ms", "p99_ms"):
        a, b = report["alone"][key], report["while_held"][key]
        report[f"{key.removesuffix('_ms')}_ratio"] = round(b / a, 2) if a and b else None
    return report


def _how_it_ended(sock: socket.socket) -> str:
    sock.setblocking(False)
    try:
        data = sock.recv(64)
    except BlockingIOError:
        return "still open"
    except OSError as error:
        return type(error).__name__
    finally:
        sock.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"


async def _with_runaways(base: str, args: argparse.Namespace) -> tuple[Tally, dict[str, Any]]:
    """The simple-query load while ``args.runaways`` runaway queries are kept running."""
    ended: Counter[str] = Counter()
    stopped_after_s: list[float] = []
    deadline = time.monotonic() + args.duration
    counter = itertools.count()

    async def keep_running(client: httpx2.AsyncClient, template: str) -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = await client.get("/sparql", params={"query": f"{template}\n# runaway {next(counter)}"})
                title = response.json().get("title", "") if response.status_code >= 400 else ""
                ended[f"{response.status_code} {title}".strip()] += 1
                stopped_after_s.append(time.monotonic() - started)
            except httpx2.HTTPError as error:
                ended[type(error).__name__] += 1

    # all the runaways come from one client (127.0.2.1): beyond its share they are refused with 429
    transport = httpx2.AsyncHTTPTransport(
        local_address="127.0.2.1", limits=httpx2.Limits(max_connections=args.runaways)
    )
    async with httpx2.AsyncClient(base_url=base, timeout=args.timeout * 4, transport=transport) as client:
        # one text per runaway: the server runs a text asked by several clients at once only once
        texts = [f"{RUNAWAYS[i % 2]} # runaway {i}" for i in range(args.runaways)]
        runaways = [asyncio.create_task(keep_running(client, text)) for text in texts]
        await asyncio.sleep(0.5)  # let them start before the measured load
        simple = unique([LOOKUP], cold=True)
        tally = await drive(base, simple, clients=args.clients, duration_s=args.duration, max_requests=10**6)
        await asyncio.gather(*runaways)
    ordered = sorted(stopped_after_s)
    return tally, {
        "outcomes": dict(ended),
        "stopped_after_s_median": percentile(ordered, 50),
        "stopped_after_s_max": round(ordered[-1], 2) if ordered else None,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("scenario", choices=["mix", "isolation", "slow-sockets"])
    parser.add_argument("--url", help="drive this running server (loopback only) instead of starting one")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per measured phase")
    parser.add_argument("--max-requests", type=int, default=500_000, help="stop a phase after this many requests")
    parser.add_argument("--cache", choices=["cold", "warm", "both"], default="both")
    parser.add_argument("--runaways", type=int, default=4)
    parser.add_argument("--sockets", type=int, default=1800, help="slow-sockets: connections held half-open")
    parser.add_argument("--timeout", type=float, help="query timeout of the started server (mix 30, isolation 10)")
    parser.add_argument("--skip", type=lambda text: text.split(","), default=[], help="saved queries to leave out")
    parser.add_argument("--workers", type=int, default=4, help="query workers of the started server")
    parser.add_argument("--worker-memory-mb", type=int, default=1024, help="memory cap of each query worker")
    parser.add_argument("--memory", action="store_true", help="serve the store copied into memory")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    args.duration = min(args.duration, MAX_DURATION_S)
    args.clients = max(1, min(args.clients, MAX_CLIENTS))
    args.max_requests = min(args.max_requests, MAX_REQUESTS)
    args.timeout = args.timeout or (30.0 if args.scenario == "mix" else 10.0)
    scenarios = {"mix": run_mix, "isolation": run_isolation, "slow-sockets": run_slow_sockets}
    report = scenarios[args.scenario](args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
