"""Side-by-side latency of `llmkg serve`, `oxigraph serve-read-only` and `rdflib-endpoint` on the same data.

Not a test: run it by hand (`python benchmarks/endpoint.py`), on loopback only, bounded in time.
Needs the PyPI packages `oxigraph` (the server CLI) and `rdflib-endpoint`. For the shipped graph and
a synthetic scale-up (the shipped graph copied with renamed instance IRIs to about --scale quads),
it starts the servers over the same quads with the union default graph (`llmkg` is
`llmkg serve --store DIR --memory`, the store copied into memory as `llmkg serve` holds the packaged
data; `llmkg-disk` is `llmkg serve --store DIR`, every worker reading the on-disk store), runs the query mix
interleaved (cold: every request text unique, so no cache can answer; repeated: the same text),
then 1 and 4 concurrent clients for --duration seconds, and prints medians, throughput, peak
memory (PSS of each server's process tree) and ratios against `oxigraph serve`.
"""

from __future__ import annotations

import argparse
import math
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pyoxigraph as ox

from llmkg.kg.build import Dataset, load_dataset, nquads_bytes, write_store
from llmkg.namespaces import GENID, GRAPH, ID

PREFIXES = """PREFIX llmkg: <https://w3id.org/llmkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
MODEL = "<https://w3id.org/llmkg/id/model/llama-4-scout>"
QUERIES = {
    "lookup": f"SELECT ?p ?o WHERE {{ {MODEL} ?p ?o }}",
    "filter+order": "SELECT ?r ?v WHERE { ?r a llmkg:EvaluationResult ; llmkg:value ?v FILTER(?v > 50) } "
    "ORDER BY DESC(?v) ?r LIMIT 100",
    "aggregate": "SELECT ?b (COUNT(?r) AS ?n) (AVG(?v) AS ?mean) WHERE { ?r llmkg:benchmark ?b ; llmkg:value ?v } "
    "GROUP BY ?b ORDER BY DESC(?n) LIMIT 50",
    "optional-heavy": "SELECT * WHERE { ?r a llmkg:EvaluationResult ; llmkg:evaluatedModel ?m ; llmkg:benchmark ?b "
    "OPTIONAL { ?r llmkg:shots ?shots } OPTIONAL { ?r llmkg:setting ?setting } OPTIONAL { ?b llmkg:category ?c } "
    "OPTIONAL { ?m rdfs:label ?label } } LIMIT 1000",
    "property-path": "SELECT ?m (COUNT(?r) AS ?n) WHERE { ?r llmkg:evaluatedModel/llmkg:checkpointOf* ?m . "
    "?m a llmkg:Model } GROUP BY ?m",
    "regex": 'SELECT ?s ?l WHERE { ?s rdfs:label ?l FILTER(REGEX(?l, "llama.*(instruct|guard)", "i")) }',
    "provenance-join": "SELECT ?r ?v ?doc ?title WHERE { GRAPH ?g { ?r llmkg:value ?v } "
    "?g prov:wasDerivedFrom ?doc . ?doc dcterms:title ?title } LIMIT 500",
    "construct": "CONSTRUCT { ?m rdfs:label ?l ; llmkg:developer ?d } WHERE { ?m a llmkg:Model ; rdfs:label ?l "
    "OPTIONAL { ?m llmkg:developer ?d } }",
    "describe": f"DESCRIBE {MODEL}",
}
GRAPH_QUERIES = {"construct", "describe"}
#: Median milliseconds per (query, server).
Table = dict[tuple[str, str], float]


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]
    peak_pss: list[int] = field(default_factory=lambda: [0])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scaled(quads: list[ox.Quad], target: int) -> list[ox.Quad]:
    """The quads copied until about ``target``, instance and graph IRIs renamed in each copy."""
    copies = max(1, math.ceil(target / len(quads)))

    def rename(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.DefaultGraph, k: int) -> object:
        if k and isinstance(term, ox.NamedNode) and term.value.startswith((ID, GRAPH, GENID)):
            return ox.NamedNode(f"{term.value}-x{k}")
        return term

    out = []
    for k in range(copies):
        out += [
            ox.Quad(rename(q.subject, k), q.predicate, rename(q.object, k), rename(q.graph_name, k))  # type: ignore[arg-type]
            for q in quads
        ]
    return out


#: Where each server answers queries.
QUERY_PATHS = {"llmkg": "/sparql", "llmkg-disk": "/sparql", "oxigraph": "/query", "rdflib-endpoint": "/"}


def start(name: str, command: list[str], port: int, timeout_s: float) -> Server:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(name, f"http://127.0.0.1:{port}{QUERY_PATHS[name]}", process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx2.get(server.base, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                threading.Thread(target=_sample_memory, args=(server,), daemon=True).start()
                return server
        except httpx2.HTTPError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"{name} did not start within {timeout_s:.0f} s")


def _pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [p for child in (task / "children").read_text().split() for p in _tree(int(child))]
        except OSError:
            continue
    return pids


def _sample_memory(server: Server) -> None:
    while server.process.poll() is None:
        server.peak_pss[0] = max(server.peak_pss[0], sum(_pss_kib(p) for p in _tree(server.process.pid)))
        time.sleep(0.25)


def servers_for(quads: list[ox.Quad], workdir: Path, names: list[str], startup_s: float) -> list[Server]:
    nq = workdir / "data.nq"
    nq.write_bytes(nquads_bytes(quads))
    store = workdir / "llmkg-store"
    write_store(Dataset(quads=quads), store)
    llmkg = [sys.executable, "-m", "llmkg.cli", "serve", "--store", str(store), "--timeout", "120", "--port"]
    launch: dict[str, Callable[[int], list[str]]] = {
        "llmkg": lambda port: [*llmkg, str(port), "--memory"],
        "llmkg-disk": lambda port: [*llmkg, str(port)],
        "oxigraph": lambda port: _oxigraph(nq, workdir, port),
        "rdflib-endpoint": lambda port: f"rdflib-endpoint serve --host 127.0.0.1 --port {port} {nq}".split(),
    }
    started = []
    for name in names:
        port = free_port()
        try:
            started.append(start(name, launch[name](port), port, startup_s))
        except RuntimeError as error:
            print(f"  skipped: {error}", flush=True)
    return started


def _oxigraph(nq: Path, workdir: Path, port: int) -> list[str]:
    location = workdir / "oxigraph-store"
    subprocess.run(f"oxigraph load --location {location} --file {nq}".split(), check=True, capture_output=True)
    return f"oxigraph serve-read-only --location {location} --bind 127.0.0.1:{port} --union-default-graph".split()


def timed(client: httpx2.Client, url: str, name: str, text: str) -> float:
    accept = "text/turtle" if name in GRAPH_QUERIES else "application/sparql-results+json"
    started = time.perf_counter()
    response = client.get(url, params={"query": PREFIXES + text}, headers={"Accept": accept})
    response.read()
    if response.status_code != 200:
        raise RuntimeError(f"{url} {name}: {response.status_code} {response.text[:200]}")
    return (time.perf_counter() - started) * 1000


def sequential(servers: list[Server], rounds: int, budget_s: float, repeated: bool) -> Table:
    """Median ms per (query, server); the servers take turns on every request, in rotating order."""
    samples: dict[tuple[str, str], list[float]] = {}
    clients = {s.name: httpx2.Client(timeout=120) for s in servers}
    for round_ in range(rounds + 1):  # round 0 warms up, and is dropped
        for name, text in QUERIES.items():
            order = servers[round_ % len(servers) :] + servers[: round_ % len(servers)]
            for server in order:
                key = (name, server.name)
                if sum(samples.get(key, [])) > budget_s * 1000:
                    continue
                marked = text if repeated else f"{text}\n# run {round_}"
                elapsed = timed(clients[server.name], server.base, name, marked)
                if round_:
                    samples.setdefault(key, []).append(elapsed)
    for client in clients.values():
        client.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def throughput(server: Server, clients: int, duration_s: float) -> float:
    """Requests per second from ``clients`` threads running the cold mix for ``duration_s``."""
    done, stop_at = [0] * clients, time.monotonic() + duration_s

    def client_loop(index: int) -> None:
        with httpx2.Client(timeout=120) as client:
            n = 0
            while time.monotonic() < stop_at:
                name = list(QUERIES)[n % len(QUERIES)]
                timed(client, server.base, name, f"{QUERIES[name]}\n# client {index} run {n}")
                n += 1
            done[index] = n

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def report(title: str, servers: list[Server], cold: Table, warm: Table, rates: dict[tuple[str, int], float]) -> None:
    names = [s.name for s in servers]
    ratios = [("llmkg", "oxigraph"), ("llmkg-disk", "oxigraph"), ("rdflib-endpoint", "llmkg")]
    head = [f"{n} ms" for n in names] + [f"{a}/{b}" for a, b in ratios] + ["llmkg repeated ms", "oxigraph repeated ms"]
    rows = [
        [
            q,
            *(f"{_cell(cold, q, n):.2f}" for n in names),
            *(_ratio(cold, q, a, b) for a, b in ratios),
            f"{_cell(warm, q, 'llmkg'):.2f}",
            f"{_cell(warm, q, 'oxigraph'):.2f}",
        ]
        for q in [*QUERIES, "geomean"]
    ]
    blank = [""] * (len(ratios) + 2)
    rows += [
        [f"throughput, {c} client(s), req/s", *(f"{rates.get((n, c), math.nan):.1f}" for n in names), *blank]
        for c in (1, 4)
    ]
    rows.append(["peak memory, MiB (PSS)", *(f"{s.peak_pss[0] / 1024:.0f}" for s in servers), *blank])
    print(f"\n### {title}\n\n| query | " + " | ".join(head) + " |\n" + "|---" * (len(head) + 1) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _cell(table: Table, query: str, server: str) -> float:
    if query == "geomean":
        return geomean([v for (q, s), v in table.items() if s == server])
    return table.get((query, server), float("nan"))


def _ratio(table: Table, query: str, top: str, bottom: str) -> str:
    value = _cell(table, query, top) / _cell(table, query, bottom)
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def run(title: str, quads: list[ox.Quad], args: argparse.Namespace) -> None:
    print(f"{title}: {len(quads)} quads; starting {', '.join(args.servers)}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="llmkg-bench-"))
    servers = servers_for(quads, workdir, args.servers, args.startup)
    try:
        cold = sequential(servers, args.rounds, args.budget, repeated=False)
        warm = sequential(servers, args.rounds, args.budget, repeated=True)
        rates = {(s.name, c): throughput(s, c, args.duration) for s in servers for c in (1, 4)}
        report(f"{title} ({len(quads):,} quads)", servers, cold, warm, rates)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="quads of the synthetic scale-up (0: skip)")
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds per query and server")
    parser.add_argument("--budget", type=float, default=15.0, help="seconds of samples per query and server, at most")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per throughput run")
    parser.add_argument("--startup", type=float, default=600.0, help="seconds a server may take to load")
    parser.add_argument("--servers", nargs="+", default=["llmkg", "llmkg-disk", "oxigraph", "rdflib-endpoint"])
    args = parser.parse_args()
    shipped = load_dataset().quads
    run("shipped graph", shipped, args)
    if args.scale:
        run("synthetic scale-up", scaled(shipped, args.scale), args)


if __name__ == "__main__":
    main()
