"""What an as-of query costs against the same query on the current view (kg/asof.py).

For each graph (the shipped one, and the synthetic graph of ``synth.py`` at ``--synth`` quads), each
query runs ``--runs`` times on the served dataset (graph/default, every named graph) and on the view
on ``--date`` (the ``graph/valid/…`` graphs holding that date as default graph, the fact graphs in
effect as named graphs: what ``asof=`` gives the endpoint). Medians and their ratio are printed.
Each as-of answer is checked against the same query over a store holding only that day's graphs and
the default graph the build would make of them (the materialised copy the design avoids).

    python benchmarks/asof.py --runs 9 --synth 1000000 --out benchmarks/results/asof.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyoxigraph as ox

import synth
from llmkg.kg import asof, provenance
from llmkg.kg.build import load_dataset
from llmkg.namespaces import DEFAULT_GRAPH, PREFIXES

PROLOGUE = "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())
#: One value per fact (default graph), every source's value (GRAPH ?g with its record), and an aggregate.
QUERIES = {
    "preferred-values": "SELECT ?model ?p ?o WHERE { ?model a llmkg:Model ; ?p ?o }",
    "who-states-scores": "SELECT ?r ?v ?doc WHERE { GRAPH ?g { ?r llmkg:value ?v } ?g prov:wasDerivedFrom ?doc }",
    "results-per-benchmark": "SELECT ?b (COUNT(?r) AS ?n) WHERE { ?r llmkg:benchmark ?b } GROUP BY ?b",
}


def median_s(store: ox.Store, query: str, runs: int, **dataset: Any) -> tuple[float, Counter[tuple[str, ...]]]:
    times, answer = [], Counter[tuple[str, ...]]()
    for _ in range(runs):
        start = time.perf_counter()
        answer = Counter(tuple(str(t) for t in row) for row in store.query(PROLOGUE + query, **dataset))  # type: ignore[union-attr]
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def materialised(quads: list[ox.Quad], date: str) -> ox.Store:
    """The view on ``date`` copied into its own store: the reference the as-of answers are checked against."""
    view = asof.view_quads(quads, date)
    default = provenance.default_quads([*view, *provenance.preferred_quads(view)])
    store = ox.Store()
    store.bulk_extend([*view, *default])
    return store


def measure(name: str, quads: list[ox.Quad], date: str, runs: int) -> dict[str, Any]:
    store = ox.Store()
    store.bulk_extend(quads)
    view = asof.dataset(store, date)
    reference = materialised(quads, date)
    report: dict[str, Any] = {"graph": name, "quads": len(quads), "date": date, "queries": {}}
    for label, query in QUERIES.items():
        now, _ = median_s(store, query, runs, default_graph=ox.NamedNode(DEFAULT_GRAPH))
        then, answer = median_s(store, query, runs, **view)
        _, expected = median_s(reference, query, 1, default_graph=ox.NamedNode(DEFAULT_GRAPH))
        assert answer == expected, f"{name} {label}: the as-of answer differs from the materialised view's"
        report["queries"][label] = {
            "current_ms": now * 1e3,
            "asof_ms": then * 1e3,
            "ratio": then / now,
            "rows": sum(answer.values()),
        }
        sys.stderr.write(
            f"{name:8} {label:22} current {now * 1e3:8.1f} ms  as-of {then * 1e3:8.1f} ms  x{then / now:.2f}\n"
        )
    return report


def synthetic(triples: int) -> list[ox.Quad]:
    """The synthetic graph with the validity the build would add."""
    families = max(1, triples // synth.QUADS_PER_FAMILY)
    quads = synth.dataset(families).quads
    return [*quads, *asof.validity_quads(quads)]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="the as-of date (YYYY-MM-DD)")
    parser.add_argument("--synth", type=int, default=0, help="also the synthetic graph of about this many quads")
    parser.add_argument("--out", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    reports = [measure("shipped", load_dataset().quads, args.date, args.runs)]
    if args.synth:
        reports.append(measure("synth", synthetic(args.synth), args.date, args.runs))
    if args.out:
        args.out.write_text(json.dumps(reports, indent=2) + "\n")
    return reports


if __name__ == "__main__":
    main()
