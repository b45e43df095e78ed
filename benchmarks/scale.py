"""How the embedded store scales: bulk load, size on disk, peak memory, saved-query latency, SHACL.

For each size the synthetic graph (benchmarks/synth.py) is written as N-Quads and bulk-loaded
into an on-disk pyoxigraph store and into an in-memory one (with a progress bar), each size in a
fresh child process so that its peak memory is its own. Every saved query then runs against the
on-disk store, read-only, as ``llmkg serve --store`` would: the median of ``--runs`` runs, each
query in its own process so that a runaway one is stopped at ``--timeout`` seconds. Parameters are
bound to synthetic entities of the same type as the query's example. With ``--shacl`` the graph is
validated with the project's shapes, a few families at a time (families are self-contained).

    python benchmarks/scale.py --sizes 100k,1M --runs 5 --out benchmarks/results/scale.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

import synth
from llmkg.kg import catalog
from llmkg.namespaces import ID

err = Console(stderr=True)
#: Bulk loads take the file in pieces this large (cut at line ends), for the progress bar; measured on
#: 1M quads, 256 MiB pieces load 1.5x faster than 64 MiB ones and as fast as one call on the whole file.
CHUNK_BYTES = 256 << 20
#: In-memory loads are repeated and the median kept (the machines are noisy); on-disk loads run once.
MEMORY_LOAD_RUNS = 3
#: What each example parameter of a saved query becomes on the synthetic graph, by instance type.
SYNTH_EXAMPLES = {
    "family": "family/synth-0",
    "model": "model/synth-0-m3",
    "checkpoint": "checkpoint/synth-0-m0-instruct",
    "benchmark": "benchmark/synth-bench-1",
    "metric": "metric/synth-accuracy",
    "licence": "licence/synth-0-community",
    "organization": "organization/synth-lab-0",
    "stage": "stage/synth-0-m0--pre-training",
}


def parse_size(text: str) -> int:
    units = {"k": 1_000, "m": 1_000_000}
    text = text.strip().lower()
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def chunks(path: Path) -> Iterator[bytes]:
    """The file in pieces of about CHUNK_BYTES, cut at line ends (N-Quads is one quad a line)."""
    with path.open("rb") as handle:
        rest = b""
        while block := handle.read(CHUNK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            yield block[:cut]
            rest = block[cut:]
        if rest:
            yield rest


def bulk_load(store: ox.Store, path: Path, label: str) -> float:
    """Bulk-load ``path`` into ``store`` with a progress bar; return the seconds it took.

    Lenient: the file is synth.py's own output, whose IRIs are known to be valid, so pyoxigraph may
    skip validating them (1.3x faster); `llmkg build` parses the real data strictly.
    """
    columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    started = time.perf_counter()
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=path.stat().st_size)
        for piece in chunks(path):
            store.bulk_load(piece, format=ox.RdfFormat.N_QUADS, lenient=True)
            progress.advance(task, len(piece))
    return time.perf_counter() - started


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def synth_params(query: catalog.SavedQuery) -> dict[str, str]:
    params = {}
    for param in query.params:
        value = param.example
        if param.type == "iri" and value.startswith(ID):
            kind = value[len(ID) :].split("/", 1)[0]
            value = ID + SYNTH_EXAMPLES[kind] if kind in SYNTH_EXAMPLES else value
        params[param.name] = value
    return params


def _time_query(store_dir: str, query_id: str, runs: int, conn: Any) -> None:
    store = ox.Store.read_only(store_dir)
    query = catalog.find(query_id)
    timings, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        result = catalog.run(query, store, synth_params(query))
        rows = sum(1 for _ in result) if not isinstance(result, ox.QueryBoolean) else 1
        timings.append(time.perf_counter() - started)
        if timings[-1] > 10:  # slow enough: one run says it
            break
    conn.send((timings, rows))


def query_latencies(store_dir: Path, runs: int, timeout: float) -> dict[str, dict[str, Any]]:
    """Median latency (ms) and row count of every saved query, or the timeout it exceeded."""
    found: dict[str, dict[str, Any]] = {}
    context = mp.get_context("fork")
    for query in (q for q in catalog.saved_queries() if not q.extra.get("service")):
        parent, child = context.Pipe(duplex=False)
        process = context.Process(target=_time_query, args=(str(store_dir), query.id, runs, child))
        process.start()
        if parent.poll(timeout):
            timings, rows = parent.recv()
            found[query.id] = {"ms": round(statistics.median(timings) * 1000, 2), "rows": rows}
        else:
            process.kill()
            found[query.id] = {"ms": None, "timeout_s": timeout}
        process.join()
        err.print(f"  {query.id}: {found[query.id]}", highlight=False)
    return found


def shacl_seconds(families: int, per_chunk: int = 50) -> tuple[float, int]:
    """Validate every family, ``per_chunk`` at a time, on both cores; return seconds and violations."""
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    starts = list(range(0, families, per_chunk))
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork")) as pool:
        counts = list(pool.map(_violations, starts, [min(per_chunk, families - s) for s in starts]))
    return time.perf_counter() - started, sum(counts)


def _violations(start: int, count: int) -> int:
    from llmkg.kg.validation import validate

    return sum(1 for p in validate(synth.dataset(count, start=start)) if p.severity == "Violation")


def measure_one(size: int, work: Path, runs: int, timeout: float, shacl: bool) -> dict[str, Any]:
    """Everything measured at one size (run in a child process of its own)."""
    source = work / f"synth-{size}.nq"
    result: dict[str, Any] = {"size": size}
    quads = synth.write_data(source, size)
    added, result["findings_s"] = synth.add_findings(source)  # what the build's derived findings cost
    result.update(quads=quads + added, findings_quads=added, nq_bytes=source.stat().st_size)
    result["load_average"] = os.getloadavg()[0]  # other work on the machine slows every number below
    loads = []
    for run in range(MEMORY_LOAD_RUNS):
        memory = ox.Store()
        loads.append(bulk_load(memory, source, f"in memory ({run + 1}/{MEMORY_LOAD_RUNS})"))
        del memory
    result["memory_load_s"], result["memory_load_runs_s"] = statistics.median(loads), loads
    store_dir = work / f"store-{size}"
    disk = ox.Store(str(store_dir))
    result["disk_load_s"] = bulk_load(disk, source, "on disk")
    disk.flush()
    result["store_bytes"] = directory_bytes(store_dir)
    del disk
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    result["queries"] = query_latencies(store_dir, runs, timeout)
    if shacl:
        families = max(1, (size - len(synth.vocabulary())) // synth.QUADS_PER_FAMILY)
        result["shacl_s"], result["shacl_violations"] = shacl_seconds(families)
    shutil.rmtree(store_dir)
    source.unlink()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,1M,10M", help="comma-separated quad counts (k, M suffixes)")
    parser.add_argument("--runs", type=int, default=5, help="runs per saved query (the median is reported)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a saved query is stopped")
    parser.add_argument("--shacl", default="1M", help="sizes (comma-separated) at which to validate; '' for none")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        shacl = args.one in {parse_size(s) for s in args.shacl.split(",") if s}
        json.dump(measure_one(args.one, args.work, args.runs, args.timeout, shacl), sys.stdout)
        return
    results: list[dict[str, Any]] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for size in args.sizes.split(","):  # saved after each size, so a run stopped early keeps what finished
        results.append(_child(parse_size(size), args))
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    from scaletable import markdown

    print(markdown(results))


def _child(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Measure one size in a fresh interpreter; its JSON comes back on stdout."""
    err.print(f"[bold]{size:,} quads[/bold]")
    with tempfile.TemporaryDirectory(prefix="llmkg-scale-") as work:
        command = [sys.executable, __file__, "--one", str(size), "--work", work, "--runs", str(args.runs)]
        command += ["--timeout", str(args.timeout), "--shacl", args.shacl]
        done = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


if __name__ == "__main__":
    main()
