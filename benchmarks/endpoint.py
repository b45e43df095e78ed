"""Side by side, like with like: `llmkg serve` against `oxigraph serve` on the same synthetic data.

Not a test: run it by hand (`python benchmarks/endpoint.py`), loopback only, bounded in time. For each
size (--quads, made by benchmarks/synth.py) it starts, on 127.0.0.1:

- `llmkg` (`llmkg serve --store DIR --memory`) against `oxigraph` (`oxigraph serve`, in memory, the
  N-Quads POSTed to its /store after start): both hold the data in memory;
- `llmkg-disk` (`llmkg serve --store DIR`) against `oxigraph-disk` (`oxigraph serve-read-only`): both
  read a RocksDB store;
- `rdflib-endpoint`, when it is installed and --default-graph is "union" (it always answers from the
  union of all graphs);
- with --before DIR, `llmkg-before`: `llmkg serve --memory` run from another copy of the package (a
  checkout's `server/` folder), to measure a change side by side.

Both engines see the same default graph (--default-graph): by default each engine's own holds the
triples of llmkg's `graph/default` (llmkg serves that graph as its default; oxigraph gets a copy of it
loaded into its default graph, as `llmkg load` does for a remote store), so no request names a
dataset; or "union" (the union of all graphs, for a build whose llmkg serves the union), or one graph
IRI given to each with `default-graph-uri`. Every request's text is unique (a comment with a counter), so
no cache answers it; the servers take turns on every request, in rotating order, because the machine is
shared and noisy. The first answer of each query from each server is parsed and compared with
oxigraph's: a difference stops the run. It prints medians per query, the geometric means of the
lookups (IRI lookup, path, DESCRIBE) and of the heavy queries apart, throughput with 1 and 4 clients,
memory as PSS of each server's whole process tree (idle after loading, and peak), how long each took
to be ready, and the ratios llmkg / oxigraph.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).parent))
import synth
from llmkg.kg.build import STORE_INFO
from llmkg.namespaces import DEFAULT_GRAPH as LLMKG_DEFAULT
from llmkg.namespaces import ID
from loopback import free_port

#: "own": each engine's default graph holds graph/default's triples; "union": the union of all graphs;
#: else a graph IRI given to every engine as `default-graph-uri`.
DEFAULT_GRAPH = "own"
PREFIXES = """PREFIX llmkg: <https://w3id.org/llmkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
MODEL, CHECKPOINT = f"<{ID}model/synth-7-m3>", f"<{ID}checkpoint/synth-7-m1-instruct>"
LOOKUPS = {
    "IRI lookup": f"SELECT ?p ?o WHERE {{ {MODEL} ?p ?o }}",
    "path": f"SELECT ?family ?label WHERE {{ {CHECKPOINT} llmkg:checkpointOf/llmkg:inFamily ?family . "
    "?family rdfs:label ?label }",
    "DESCRIBE": f"DESCRIBE {MODEL}",
}
HEAVY = {
    "filter+order": "SELECT ?r ?v WHERE { ?r a llmkg:EvaluationResult ; llmkg:value ?v FILTER(?v > 90) } "
    "ORDER BY DESC(?v) ?r LIMIT 100",
    "aggregate": "SELECT ?b (COUNT(?r) AS ?n) (AVG(?v) AS ?mean) WHERE { ?r llmkg:benchmark ?b ; llmkg:value ?v } "
    "GROUP BY ?b ORDER BY DESC(?n) ?b LIMIT 50",
    "optional": "SELECT * WHERE { ?m a llmkg:Model ; llmkg:inFamily ?f OPTIONAL { ?m llmkg:expertCount ?e } "
    "OPTIONAL { ?m llmkg:activeParameters ?a } OPTIONAL { ?f rdfs:label ?label } } ORDER BY ?m LIMIT 1000",
    "path aggregate": "SELECT ?m (COUNT(?r) AS ?n) WHERE { ?r llmkg:evaluatedModel/llmkg:checkpointOf* ?m . "
    "?m a llmkg:Model } GROUP BY ?m ORDER BY DESC(?n) ?m LIMIT 100",
    "regex": 'SELECT ?s ?l WHERE { ?s a llmkg:Model ; rdfs:label ?l FILTER(REGEX(?l, "synth 1[0-9]* m3", "i")) }',
    "provenance join": "SELECT ?r ?v ?doc ?title WHERE { GRAPH ?g { ?r llmkg:value ?v } "
    "?g prov:wasDerivedFrom ?doc . ?doc dcterms:title ?title } ORDER BY ?r ?doc LIMIT 500",
    "CONSTRUCT": "CONSTRUCT { ?m rdfs:label ?l ; llmkg:developer ?d } WHERE { ?m a llmkg:Model ; rdfs:label ?l "
    "OPTIONAL { ?m llmkg:developer ?d } }",
}
QUERIES = {**LOOKUPS, **HEAVY}
GRAPH_QUERIES = {"DESCRIBE", "CONSTRUCT"}
#: Each llmkg server and the oxigraph server it is compared with.
PAIRS = {"llmkg": "oxigraph", "llmkg-before": "oxigraph", "llmkg-disk": "oxigraph-disk"}
#: Where each server answers queries.
QUERY_PATHS = {
    "llmkg": "/sparql",
    "llmkg-disk": "/sparql",
    "llmkg-before": "/sparql",
    "oxigraph": "/query",
    "oxigraph-disk": "/query",
    "rdflib-endpoint": "/",
}
#: Milliseconds per (query, server).
Table = dict[tuple[str, str], float]


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]
    ready_s: float = 0.0
    idle_pss: int = 0
    peak_pss: list[int] = field(default_factory=lambda: [0])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(
    name: str, command: list[str], port: int, timeout_s: float, load: Callable[[str], None] | None, env: dict[str, str]
) -> Server:
    """Start a server and wait until it answers (and, for ``load``, until its data is in)."""
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    server = Server(name, f"http://127.0.0.1:{port}{QUERY_PATHS[name]}", process)
    while time.monotonic() < began + timeout_s and process.poll() is None:
        try:
            if httpx2.get(server.base, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                break
        except httpx2.HTTPError:
            time.sleep(0.2)
    else:
        server.stop()
        raise RuntimeError(f"{name} did not start within {timeout_s:.0f} s")
    if load is not None:
        load(f"http://127.0.0.1:{port}")
    server.ready_s = time.monotonic() - began
    time.sleep(1.0)  # let the worker pool settle before the idle reading
    server.idle_pss = pss_kib(server.process.pid)
    server.peak_pss[0] = server.idle_pss
    threading.Thread(target=_sample_memory, args=(server,), daemon=True).start()
    return server


def pss_kib(root: int) -> int:
    """Proportional set size of ``root`` and all its descendants: shared pages counted once overall."""
    total = 0
    for pid in _tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)
    return total


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
        server.peak_pss[0] = max(server.peak_pss[0], pss_kib(server.process.pid))
        time.sleep(0.25)


def prepare(nq: Path, workdir: Path) -> tuple[Path, Path, float]:
    """Two RocksDB stores of ``nq`` (one each, so no server sees the other's files) and oxigraph's load time."""
    stores = workdir / "oxigraph-store", workdir / "llmkg-store"
    began = time.monotonic()
    subprocess.run(["oxigraph", "load", "--location", str(stores[0]), "--file", str(nq)], check=True)
    load_s = time.monotonic() - began
    shutil.copytree(stores[0], stores[1])
    (stores[1] / STORE_INFO).write_text('{"version": "benchmark", "graph_files": {}}')
    if DEFAULT_GRAPH == "own":  # oxigraph's default graph gets graph/default's triples; llmkg serves that graph
        subprocess.run(
            ["oxigraph", "load", "--location", str(stores[0]), "--file", str(default_triples(nq))], check=True
        )
    return stores[0], stores[1], load_s


def default_triples(nq: Path) -> Path:
    """graph/default's quads of ``nq`` as N-Triples (for a default graph), written beside it once."""
    target = nq.with_suffix(".default.nt")
    if not target.exists():
        tail = f" <{LLMKG_DEFAULT}> .\n".encode()
        with nq.open("rb") as source, target.open("wb") as out:
            out.writelines(line[: -len(tail)] + b" .\n" for line in source if line.endswith(tail))
    return target


def servers_for(
    nq: Path, workdir: Path, names: list[str], startup_s: float, before: Path | None
) -> tuple[list[Server], float]:
    oxi_store, llmkg_store, load_s = prepare(nq, workdir)
    llmkg = [sys.executable, "-m", "llmkg.cli", "serve", "--store", str(llmkg_store), "--timeout", "120", "--port"]
    union = ["--union-default-graph"] if DEFAULT_GRAPH == "union" else []

    def post_nquads(base: str) -> None:
        with nq.open("rb") as data:
            response = httpx2.post(
                f"{base}/store", content=data, headers={"Content-Type": "application/n-quads"}, timeout=startup_s
            )
        response.raise_for_status()
        if DEFAULT_GRAPH == "own":
            with default_triples(nq).open("rb") as data:
                headers = {"Content-Type": "application/n-triples"}
                response = httpx2.post(f"{base}/store?default", content=data, headers=headers, timeout=startup_s)
            response.raise_for_status()

    launch: dict[str, tuple[Callable[[int], list[str]], Callable[[str], None] | None]] = {
        "llmkg": (lambda port: [*llmkg, str(port), "--memory"], None),
        "llmkg-disk": (lambda port: [*llmkg, str(port)], None),
        "llmkg-before": (lambda port: [*llmkg, str(port), "--memory"], None),
        "oxigraph": (lambda port: ["oxigraph", "serve", "--bind", f"127.0.0.1:{port}", *union], post_nquads),
        "oxigraph-disk": (
            lambda port: [
                "oxigraph",
                "serve-read-only",
                "--location",
                str(oxi_store),
                "--bind",
                f"127.0.0.1:{port}",
                *union,
            ],
            None,
        ),
        "rdflib-endpoint": (
            lambda port: ["rdflib-endpoint", "serve", "--host", "127.0.0.1", "--port", str(port), str(nq)],
            None,
        ),
    }
    started = []
    for name in names:
        if name == "rdflib-endpoint" and shutil.which("rdflib-endpoint") is None:
            print("  skipped rdflib-endpoint: not installed", flush=True)
            continue
        if name == "rdflib-endpoint" and DEFAULT_GRAPH != "union":
            print("  skipped rdflib-endpoint: its default graph is always the union of all graphs", flush=True)
            continue
        port = free_port()
        command, load = launch[name]
        env = dict(os.environ)
        if name == "llmkg-before" and before is not None:
            env["PYTHONPATH"] = str(before)
        try:
            started.append(start(name, command(port), port, startup_s, load, env))
        except RuntimeError as error:
            print(f"  skipped: {error}", flush=True)
    return started, load_s


def ask(client: httpx2.Client, server: Server, name: str, text: str) -> tuple[float, bytes]:
    """Milliseconds to the last byte of the answer, and the answer."""
    accept = "text/turtle" if name in GRAPH_QUERIES else "application/sparql-results+json"
    params = {"query": PREFIXES + text}
    if DEFAULT_GRAPH not in ("own", "union"):
        params["default-graph-uri"] = DEFAULT_GRAPH
    started = time.perf_counter()
    response = client.get(server.base, params=params, headers={"Accept": accept})
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{server.name} {name}: {response.status_code} {response.text[:300]}")
    return elapsed, body


def parsed(name: str, body: bytes) -> Counter[tuple[str, ...]]:
    """An answer as a multiset of rows (solutions, or triples), whatever its layout or order."""
    if name in GRAPH_QUERIES:
        return Counter(
            (str(t.subject), str(t.predicate), str(t.object)) for t in ox.parse(body, format=ox.RdfFormat.TURTLE)
        )
    solutions = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
    assert isinstance(solutions, ox.QuerySolutions)
    names = sorted(v.value for v in solutions.variables)
    return Counter(tuple(str(row[n]) if row[n] is not None else "" for n in names) for row in solutions)


def sequential(servers: list[Server], rounds: int, budget_s: float) -> Table:
    """Median ms per (query, server), the servers taking turns; round 0 warms up and checks the answers."""
    samples: dict[tuple[str, str], list[float]] = {}
    clients = {s.name: httpx2.Client(timeout=300) for s in servers}
    for round_ in range(rounds + 1):
        order = servers[round_ % len(servers) :] + servers[: round_ % len(servers)]
        for name, text in QUERIES.items():
            answers: dict[str, Counter[tuple[str, ...]]] = {}
            for server in order:
                key = (name, server.name)
                if sum(samples.get(key, [])) > budget_s * 1000:
                    continue
                elapsed, body = ask(clients[server.name], server, name, f"{text}\n# run {round_}")
                if round_:
                    samples.setdefault(key, []).append(elapsed)
                else:
                    answers[server.name] = parsed(name, body)
            _check_equal(name, answers)
    for client in clients.values():
        client.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def _check_equal(name: str, answers: dict[str, Counter[tuple[str, ...]]]) -> None:
    reference = answers.get("oxigraph", answers.get("oxigraph-disk"))
    for server, answer in answers.items():
        if reference is not None and answer != reference:
            raise SystemExit(
                f"{name}: {server} answered {sum(answer.values())} rows unlike oxigraph's {sum(reference.values())}"
            )
    if reference is not None and not reference:
        raise SystemExit(f"{name}: the answer is empty; the query does not fit the data")


def throughput(servers: list[Server], clients: int, duration_s: float, slices: int = 3) -> dict[str, float]:
    """Requests per second with ``clients`` threads on the cold mix, each server's time cut in ``slices``
    taken in turns, so a burst of load from elsewhere on the machine falls on all of them alike."""
    done = {s.name: 0 for s in servers}
    spent = {s.name: 0.0 for s in servers}
    for _ in range(slices):
        for server in servers:
            counts, began = _burst(server, clients, duration_s / slices)
            done[server.name] += counts
            spent[server.name] += time.monotonic() - began
    return {name: done[name] / spent[name] for name in done}


def _burst(server: Server, clients: int, duration_s: float) -> tuple[int, float]:
    counts, began = [0] * clients, time.monotonic()
    stop_at = began + duration_s
    names = list(QUERIES)

    def loop(index: int) -> None:
        with httpx2.Client(timeout=300) as client:
            n = 0
            while time.monotonic() < stop_at:
                name = names[(n + index) % len(names)]
                ask(client, server, name, f"{QUERIES[name]}\n# client {index} request {n} {time.monotonic()}")
                n += 1
            counts[index] = n

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), began


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def report(title: str, servers: list[Server], table: Table, rates: dict[int, dict[str, float]], load_s: float) -> None:
    names = [s.name for s in servers]
    pairs = [(a, b) for a, b in PAIRS.items() if a in names and b in names]
    head = ["query", *(f"{n} ms" for n in names), *(f"{a} / {b}" for a, b in pairs)]
    print(f"\n### {title}\n\n| " + " | ".join(head) + " |\n" + "|---" * len(head) + "|")

    def row(label: str, value: Callable[[str], float], fmt: str = "{:.2f}", ratio: bool = True) -> None:
        cells = [fmt.format(value(n)) for n in names]
        cells += [f"{value(a) / value(b):.2f}x" if ratio else "" for a, b in pairs]
        print("| " + " | ".join([label, *cells]) + " |")

    for query in QUERIES:
        row(query, lambda n, q=query: table.get((q, n), math.nan))
    for label, group in (("lookups geomean", LOOKUPS), ("heavy geomean", HEAVY), ("all geomean", QUERIES)):
        row(f"**{label}**", lambda n, g=group: geomean([table[(q, n)] for q in g if (q, n) in table]))
    for clients, rate in rates.items():
        row(f"throughput, {clients} client(s), req/s", lambda n, r=rate: r.get(n, math.nan), "{:.1f}")
    row("memory idle, MiB (PSS)", lambda n: _server(servers, n).idle_pss / 1024, "{:.0f}")
    row("memory peak, MiB (PSS)", lambda n: _server(servers, n).peak_pss[0] / 1024, "{:.0f}")
    row("ready after, s", lambda n: _server(servers, n).ready_s, "{:.1f}")
    print(f"\n`oxigraph load` of the N-Quads into a RocksDB store: {load_s:.1f} s")


def _server(servers: list[Server], name: str) -> Server:
    return next(s for s in servers if s.name == name)


def run(quads: int, args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="llmkg-bench-"))
    servers: list[Server] = []
    try:
        nq = workdir / "data.nq"
        count = synth.write(nq, quads)
        print(f"{count:,} quads; starting {', '.join(args.servers)}", flush=True)
        names = [*args.servers, *(["llmkg-before"] if args.before else [])]
        servers, load_s = servers_for(nq, workdir, names, args.startup, args.before)
        table = sequential(servers, args.rounds, args.budget)
        rates = {c: throughput(servers, c, args.duration) for c in (1, 4)}
        report(f"synthetic graph, {count:,} quads, default graph: {DEFAULT_GRAPH}", servers, table, rates, load_s)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    global DEFAULT_GRAPH
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quads", type=int, nargs="+", default=[100_000, 1_000_000], help="sizes of the graphs")
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds per query and server")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of samples per query and server, at most")
    parser.add_argument("--duration", type=float, default=9.0, help="seconds per server and throughput run")
    parser.add_argument("--startup", type=float, default=600.0, help="seconds a server may take to load")
    parser.add_argument(
        "--before", type=Path, help="also run `llmkg-before`: llmkg in memory from the package in this directory"
    )
    parser.add_argument("--default-graph", default=DEFAULT_GRAPH, help='"own", "union", or the IRI of one graph')
    parser.add_argument(
        "--servers", nargs="+", default=["llmkg", "oxigraph", "llmkg-disk", "oxigraph-disk", "rdflib-endpoint"]
    )
    args = parser.parse_args()
    DEFAULT_GRAPH = args.default_graph
    for quads in args.quads:
        run(quads, args)


if __name__ == "__main__":
    main()
