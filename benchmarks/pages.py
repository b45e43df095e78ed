"""How long each kind of page takes on a large graph: `llmkg serve --store` on a synthetic store, crawled.

Not a test: run it by hand, loopback only, bounded in time. For each size (--quads, made by
benchmarks/synth.py and loaded with `oxigraph load`, then given the build record `llmkg build --store`
writes: the statistics, the audit report and the pages' record, whose time is printed as build cost),
it starts `llmkg serve --store DIR` (on disk, as a deployment would) and crawls the site from its home
page, its site pages and a few pages only some page links to, as a browser would, following the links
the pages offer. Pages are grouped by the route that answers them (the first path segment, and for
`/id/` and `/graph/` the kind of thing); the first --per-route pages of each group are fetched twice,
cold then warm (the warm one may come from the server's page cache), and the slowest cold time of each
group is reported against the 2 s asked for by issue 24. Every saved query's results page
(`/queries/ID/results`, its example parameters bound to synthetic entities as in scale.py) is timed
too, as the API answers it. A page that does not answer within --timeout counts as failed.

    python benchmarks/pages.py --quads 1000000 [--per-route 3] [--timeout 60] [--store DIR]

With --store DIR the store is made there and kept; a later run with the same DIR crawls it again without
making it (its build record is rewritten, so a change to what the build records is measured too).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx2
import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).parent))
import synth
from llmkg.kg import catalog
from llmkg.kg.build import write_store_info
from llmkg.namespaces import ID
from llmkg.pages.discovery import SITE_PAGES
from llmkg.pages.precomputed import build_records
from loopback import serve_llmkg
from scale import SYNTH_EXAMPLES

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
LINK = re.compile(r'<a\b[^>]*?\shref="([^"]*)"')
#: Not pages: downloads of the whole dataset, assets, machine formats of a page.
SKIPPED = ("/dumps/", "/static/", "/assets/")
#: Where the crawl starts besides the home page and the sitemap's site pages: pages only some other
#: page links to, which a breadth-first crawl limited per route may not reach.
MORE_PAGES = (
    "shapes",
    "graph/queries",
    "graph/shapes/core",
    ".well-known/void",
    "sparql",
    "licence-check",
    "cite",
    "search?q=synth-0",
)
#: Seconds asked for by issue 24 for every page at 10M quads.
TARGET_S = 2.0


def route_of(path: str) -> str:
    """The group a page belongs to: its first path segment, and the kind of thing under /id/ and /graph/."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "/"
    if parts[0] in ("id", "graph", "queries", "leaderboards", "compare", "ontology") and len(parts) > 1:
        return f"/{parts[0]}/{parts[1] if parts[0] in ('id', 'graph') else '…'}"
    return f"/{parts[0]}"


def crawl(base: str, per_route: int, timeout: float) -> dict[str, list[tuple[str, float, float, int]]]:
    """Per route: (url, cold s, warm s, status) of its first ``per_route`` pages, breadth first."""
    found: dict[str, list[tuple[str, float, float, int]]] = defaultdict(list)
    queue = [f"{base}/{path}" for path in ("", *SITE_PAGES, *MORE_PAGES)]
    seen = set(queue)
    with httpx2.Client(timeout=timeout, headers={"Accept": BROWSER}) as client:
        while queue:
            url = queue.pop(0)
            route = route_of(urlsplit(url).path)
            if len(found[route]) >= per_route:
                continue
            cold, response = _timed(client, url)
            warm, _ = _timed(client, url)
            status = response.status_code if response is not None else 0
            found[route].append((url[len(base) :], cold, warm, status))
            print(f"  {route:24} {cold:7.3f} s  {url[len(base) :][:90]}", file=sys.stderr, flush=True)
            if response is None or "html" not in response.headers.get("content-type", ""):
                continue
            for link in LINK.findall(response.text):
                target = urldefrag(urljoin(url, link.replace("&amp;", "&"))).url
                parts = urlsplit(target)
                if f"{parts.scheme}://{parts.netloc}" != base or parts.path.startswith(SKIPPED):
                    continue
                if "format=" in parts.query or target in seen:
                    continue
                seen.add(target)
                queue.append(target)
    return found


def _timed(client: httpx2.Client, url: str) -> tuple[float, httpx2.Response | None]:
    began = time.perf_counter()
    try:
        response = client.get(url)
    except httpx2.TimeoutException:
        return float("inf"), None
    return time.perf_counter() - began, response


def saved_query_times(base: str, timeout: float) -> dict[str, tuple[float, int]]:
    """Seconds and status of every saved query's results through the API, examples bound to synth data."""
    times = {}
    with httpx2.Client(timeout=timeout, headers={"Accept": "application/sparql-results+json"}) as client:
        for query in catalog.saved_queries():
            if query.extra.get("service"):
                continue
            params = {p.name: _synthetic(p.example, p.type) for p in query.params}
            began = time.perf_counter()
            try:
                status = client.get(f"{base}/queries/{query.id}/results", params=params).status_code
            except httpx2.TimeoutException:
                times[query.id] = (float("inf"), 0)
                continue
            times[query.id] = (time.perf_counter() - began, status)
            print(f"  query {query.id:45} {times[query.id][0]:7.3f} s", file=sys.stderr, flush=True)
    return times


def _synthetic(value: str, kind: str) -> str:
    if kind == "iri" and value.startswith(ID):
        entity = value[len(ID) :].split("/", 1)[0]
        return ID + SYNTH_EXAMPLES.get(entity, value[len(ID) :])
    return value


def report(
    quads: int, pages: dict[str, list[tuple[str, float, float, int]]], queries: dict[str, tuple[float, int]]
) -> None:
    print(f"\n### {quads:,} quads: pages, slowest of the first pages of each route (cold, then warm)\n")
    print("| route | pages | slowest cold s | its warm s | statuses | under 2 s |\n|---|---|---|---|---|---|")
    for route, rows in sorted(pages.items()):
        slowest = max(rows, key=lambda r: r[1])
        statuses = ",".join(sorted({str(r[3]) for r in rows}))
        ok = "yes" if slowest[1] < TARGET_S and all(200 <= r[3] < 300 for r in rows) else "**no**"
        print(f"| `{route}` | {len(rows)} | {slowest[1]:.3f} | {slowest[2]:.3f} | {statuses} | {ok} |")
    slow = {k: v for k, v in queries.items() if v[0] >= TARGET_S or not 200 <= v[1] < 300}
    print(f"\nSaved queries through `/queries/ID/results`: {len(queries)}, {len(slow)} at 2 s or more (or failed)")
    for query_id, (seconds, status) in sorted(slow.items()):
        print(f"- {query_id}: {seconds:.3f} s, status {status}")
    fastest = sorted(queries.values())
    if fastest:
        print(f"- median {fastest[len(fastest) // 2][0]:.3f} s, slowest {fastest[-1][0]:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quads", type=int, default=1_000_000)
    parser.add_argument("--per-route", type=int, default=3, help="pages timed per route")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a page may take")
    parser.add_argument("--store", type=Path, help="where to make the store and keep it (reused if present)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="llmkg-pages-"))
    try:
        store = args.store or work / "store"
        if store.exists():
            quads = len(ox.Store.read_only(str(store)))
        else:
            nq = work / "data.nq"
            quads = synth.write(nq, args.quads)
            subprocess.run(["oxigraph", "load", "--location", str(store), "--file", str(nq)], check=True)
            nq.unlink()
        began = time.perf_counter()  # what `llmkg build --store` adds after loading: the build record
        built = ox.Store(str(store))
        records = build_records(built, list(built))
        del built
        write_store_info(store, version="pages-benchmark", graph_files={}, records=records)
        print(
            f"  build record (statistics, audit, pages) {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        process, base = serve_llmkg("--store", str(store), "--timeout", str(args.timeout))
        try:
            pages = crawl(base, args.per_route, args.timeout)
            queries = saved_query_times(base, args.timeout)
        finally:
            process.terminate()
            process.wait()
        report(quads, pages, queries)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
