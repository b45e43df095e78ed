"""The scale benchmark's results (benchmarks/results/scale.json) as the Markdown tables of the README.

python benchmarks/scaletable.py benchmarks/results/scale.json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def _size(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def load_table(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        "| quads | build's findings | load, in memory | load, on disk | store on disk | peak memory | SHACL |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        shacl = f"{r['shacl_s']:.0f} s, {r['shacl_violations']} violations" if "shacl_s" in r else "-"
        found = f"{r['findings_s']:.1f} s ({r['findings_quads']:,} quads)" if "findings_s" in r else "-"
        rows.append(
            f"| {r['quads']:,} | {found} | {r['quads'] / r['memory_load_s']:,.0f} /s ({r['memory_load_s']:.1f} s) "
            f"| {r['quads'] / r['disk_load_s']:,.0f} /s ({r['disk_load_s']:.1f} s) | {_mb(r['store_bytes'])} "
            f"| {r['peak_rss_mb']:,} MB | {shacl} |"
        )
    return rows


def query_table(results: list[dict[str, Any]], lookups: set[str]) -> list[str]:
    """Median latency of each saved query per size, and the ratio largest / smallest size."""
    sizes = [_size(r["size"]) for r in results]
    rows = ["| saved query | " + " | ".join(sizes) + " | ratio |", "|---|" + "---|" * (len(sizes) + 1)]
    for query in results[0]["queries"]:
        cells = [r["queries"].get(query, {}) for r in results]
        text = [f"{c['ms']:,.1f} ms" if c.get("ms") is not None else f"> {c.get('timeout_s', 0):g} s" for c in cells]
        first, last = cells[0].get("ms"), cells[-1].get("ms")
        ratio = f"{last / first:,.1f}x" if first and last else "-"
        mark = " (lookup)" if query in lookups else ""
        rows.append(f"| {query}{mark} | " + " | ".join(text) + f" | {ratio} |")
    return rows


def summary(results: list[dict[str, Any]], lookups: set[str]) -> list[str]:
    """Median growth of lookups and of the other queries, against the growth of the graph."""
    if len(results) < 2:
        return []
    first, last = results[0], results[-1]
    growth = last["quads"] / first["quads"]

    def ratios(names: set[str]) -> list[float]:
        """Growth of each query's latency; one that timed out at the largest size counts as infinite."""
        pairs = [(first["queries"][q].get("ms"), last["queries"][q].get("ms")) for q in names if q in last["queries"]]
        return [b / a if b else float("inf") for a, b in pairs if a]

    lookup = ratios(lookups & set(first["queries"]))
    other = ratios(set(first["queries"]) - lookups)
    line = f"Graph {growth:,.0f}x larger: median lookup latency {statistics.median(lookup):,.1f}x" if lookup else ""
    if other:
        line += f", median latency of the other queries {statistics.median(other):,.1f}x"
    line += " (a query stopped at the timeout counts as infinitely slower)"
    return [line + "."] if line else []


def markdown(results: list[dict[str, Any]]) -> str:
    from llmkg.kg import catalog

    lookups = {q.id for q in catalog.saved_queries() if q.params}
    parts = [load_table(results), query_table(results, lookups), summary(results, lookups)]
    return "\n\n".join("\n".join(p) for p in parts if p) + "\n"


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
