"""Where the time of one lookup goes, layer by layer, from the engine out to the HTTP client.

Not a test: run it by hand (`python benchmarks/overhead.py`), loopback only, a minute or two. On a
synthetic graph (benchmarks/synth.py) it times the same IRI lookup, each request's text unique,
through ever more of the server, taking the layers in turns so noise from elsewhere falls on all:

1. `engine`: pyoxigraph in this process, query and JSON serialisation;
2. `checks`: the query check and negotiation (`Endpoint.job`), the cache key, the ETag;
3. `pool`: one job through the worker pool (admission, the frames to a worker and back);
4. `endpoint`: `Endpoint.query` (cache look-up, shared runs, the answer assembled);
5. `asgi`: the whole application called as ASGI, in this process (middleware, routing, the route);
6. `http`: the same over loopback HTTP to `llmkg serve` (uvicorn's HTTP parsing, the client's share);

and, for scale, two yardsticks that take their turns with the layers:

- `hand-over`: 64 bytes to another process and back over a Unix socket, no work at all: what each
  process boundary a request crosses costs on this machine (llmkg's lookup crosses two more than
  oxigraph's: the job to a worker and the answer back);
- `oxigraph`: the same lookup over loopback HTTP to `oxigraph serve`, in memory, with the same client.

Each layer's own cost is its time less the layers it wraps (the pool step makes its job with the
checks and runs it on the engine in a worker; the endpoint wraps the pool; ASGI the endpoint; HTTP the
ASGI app): at the 10th percentile (the work itself: on a shared machine the median adds the wait for a
CPU at every hand-over between processes) and at the median. With --profile it also
prints cProfile's top functions of the in-process ASGI path (cumulative time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import multiprocessing
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx2
import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).parent))
import synth
from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.engine.endpoint import Endpoint, job_key
from llmkg.namespaces import DEFAULT_GRAPH, ID
from loopback import free_port, serve_llmkg

DEFAULT = ox.NamedNode(DEFAULT_GRAPH)  # what llmkg serves as the default graph
PING = b"x" * 64
QUERY = f"SELECT ?p ?o WHERE {{ <{ID}model/synth-7-m3> ?p ?o }}"
ACCEPT = "application/sparql-results+json"
Step = Callable[[str], Awaitable[object]]
#: The layers each one wraps, whose time is taken off its own.
INSIDE = {
    "engine": [],
    "checks": [],
    "pool": ["engine", "checks"],
    "endpoint": ["pool"],
    "asgi": ["endpoint"],
    "http": ["asgi"],
    "hand-over": [],
    "oxigraph": [],
}


async def layers(store: ox.Store, port: int, oxigraph_port: int, peer: socket.socket) -> dict[str, Step]:
    app = create_app(store=store, settings=ServerSettings.from_env(), version="overhead")
    endpoint: Endpoint = app.state.endpoint
    transport = httpx2.ASGITransport(app=app)
    local = httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1")
    remote = httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}")

    async def engine(text: str) -> object:
        out = io.BytesIO()
        solutions = store.query(text, default_graph=DEFAULT)
        assert isinstance(solutions, ox.QuerySolutions)
        solutions.serialize(out, ox.QueryResultsFormat.JSON)
        return out.getvalue()

    async def checks(text: str) -> object:
        job = endpoint.job(text, accept=ACCEPT)
        return endpoint.etag(job_key(job))

    async def pool(text: str) -> object:
        reply = await endpoint.pool.submit(endpoint.job(text, accept=ACCEPT))
        return [chunk async for chunk in reply.chunks()]

    async def whole(text: str) -> object:
        return await endpoint.query(endpoint.job(text, accept=ACCEPT))

    async def asgi(text: str) -> object:
        return (await local.get("/sparql", params={"query": text}, headers={"Accept": ACCEPT})).content

    async def http(text: str) -> object:
        return (await remote.get("/sparql", params={"query": text}, headers={"Accept": ACCEPT})).content

    oxigraph = httpx2.AsyncClient(base_url=f"http://127.0.0.1:{oxigraph_port}")
    loop = asyncio.get_running_loop()
    peer.setblocking(False)

    async def hand_over(text: str) -> object:
        await loop.sock_sendall(peer, PING)
        return await loop.sock_recv(peer, len(PING))

    async def yardstick(text: str) -> object:
        params = {"query": text, "default-graph-uri": DEFAULT_GRAPH}
        return (await oxigraph.get("/query", params=params, headers={"Accept": ACCEPT})).content

    endpoint.start()
    steps = {"engine": engine, "checks": checks, "pool": pool, "endpoint": whole, "asgi": asgi, "http": http}
    return {**steps, "hand-over": hand_over, "oxigraph": yardstick}


async def measure(steps: dict[str, Step], rounds: int) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for n in range(rounds + 20):  # the first 20 warm up
        for name, step in steps.items():
            text = f"{QUERY}\n# {name} {n}"
            began = time.perf_counter()
            await step(text)
            if n >= 20:
                samples[name].append((time.perf_counter() - began) * 1000)
    return {
        name: (statistics.quantiles(values, n=10)[0], statistics.median(values)) for name, values in samples.items()
    }


async def profile(step: Step, rounds: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(rounds):
        await step(f"{QUERY}\n# profiled {n}")
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quads", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's view of the ASGI path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmkg-overhead-") as work:
        nq = Path(work) / "data.nq"
        synth.write(nq, args.quads)
        store = ox.Store()
        store.bulk_load(path=str(nq), format=ox.RdfFormat.N_QUADS)
        server, oxigraph = _serve(nq, Path(work)), _oxigraph(nq)
        ours, theirs = socket.socketpair()
        echo = multiprocessing.get_context("fork").Process(target=_echo, args=(theirs,), daemon=True)
        echo.start()
        try:
            steps = asyncio.run(_run(store, server[1], oxigraph[1], ours, args))
        finally:
            for process in (server[0], oxigraph[0]):
                process.terminate()
                process.wait()
            echo.kill()
    print("| layer | p10 ms | its own, p10 | median ms | its own, median |\n|---|---|---|---|---|")
    for name, (low, mid) in steps.items():
        inner = [steps[layer] for layer in INSIDE[name]]
        own_low, own_mid = low - sum(i[0] for i in inner), mid - sum(i[1] for i in inner)
        print(f"| {name} | {low:.3f} | {own_low:+.3f} | {mid:.3f} | {own_mid:+.3f} |")


async def _run(
    store: ox.Store, port: int, oxigraph_port: int, peer: socket.socket, args: argparse.Namespace
) -> dict[str, tuple[float, float]]:
    steps = await layers(store, port, oxigraph_port, peer)
    result = await measure(steps, args.rounds)
    if args.profile:
        print(await profile(steps["asgi"], args.rounds))
    return result


def _echo(sock: socket.socket) -> None:
    while data := sock.recv(len(PING)):
        sock.sendall(data)


def _oxigraph(nq: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`oxigraph serve` in memory, the same N-Quads POSTed to it."""
    port = free_port()
    command = ["oxigraph", "serve", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            with nq.open("rb") as data:
                headers = {"Content-Type": "application/n-quads"}
                httpx2.post(f"http://127.0.0.1:{port}/store", content=data, headers=headers).raise_for_status()
            return process, port
        except httpx2.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("oxigraph serve did not start")


def _serve(nq: Path, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`llmkg serve` over a store of the same data, for the loopback HTTP layer."""
    store_dir = work / "store"
    subprocess.run(
        ["oxigraph", "load", "--location", str(store_dir), "--file", str(nq)], check=True, capture_output=True
    )
    (store_dir / "llmkg-build.json").write_text('{"version": "overhead", "graph_files": {}}')
    process, base = serve_llmkg("--store", str(store_dir), "--memory")
    return process, int(base.rsplit(":", 1)[1])


if __name__ == "__main__":
    main()
