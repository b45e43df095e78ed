"""Push the dataset into a remote SPARQL store, one named graph at a time, idempotently.

Each named graph (with the provenance graphs, which are named graphs like any other) is replaced
whole: a Graph Store Protocol ``PUT``, or, where the store has no Graph Store Protocol or refuses
it, ``DROP SILENT GRAPH`` followed by ``INSERT DATA`` in batches. A re-run therefore replaces
graphs and never duplicates them. The first failure stops the load, and the :class:`LoadReport`
says which graphs were loaded, which one failed and why, and which were not attempted; a
closing count per graph checks what the store holds against what was sent.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from llmkg.kg.build import Dataset
from llmkg.namespaces import DEFAULT_GRAPH, GRAPH
from llmkg.sparql.remote import RemoteError, RemoteStore, parse_auth

#: GSP answers meaning "this store does not do the Graph Store Protocol here": fall back to Update.
GSP_UNSUPPORTED = frozenset({404, 405, 406, 415, 501})
#: Answers to an INSERT DATA that may only mean "too large": the batch is halved, down to MIN_BATCH.
TOO_LARGE = frozenset({400, 413, 500})
MIN_BATCH = 50
Advance = Callable[[int], object]


@dataclass
class LoadReport:
    """What a load did: graphs loaded (IRI → triples), the failure if any, what was not attempted."""

    loaded: dict[str, int] = field(default_factory=dict)
    failed: tuple[str, str] | None = None
    not_attempted: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.mismatched

    @property
    def triples(self) -> int:
        return sum(self.loaded.values())

    def lines(self) -> list[str]:
        """The report for people: a summary first, then every problem with the graph it concerns."""
        rate = self.triples / self.seconds if self.seconds else 0.0
        lines = [f"loaded {len(self.loaded)} graphs, {self.triples} triples in {self.seconds:.1f} s ({rate:,.0f}/s)"]
        lines += self.notes
        if self.failed:
            lines.append(f"FAILED at {self.failed[0]}: {self.failed[1]}")
            lines.append(f"not attempted: {len(self.not_attempted)} graphs (re-run the load: it replaces, never adds)")
            lines += _some(self.not_attempted)
        for graph, (sent, held) in sorted(self.mismatched.items()):
            lines.append(f"MISMATCH {graph}: sent {sent} triples, the store holds {held}")
        if self.stale:
            lines.append(f"{len(self.stale)} graphs in the store are not in the dataset (--prune drops them):")
            lines += _some(self.stale)
        return lines


def _some(graphs: list[str], most: int = 10) -> list[str]:
    shown = [f"  {g}" for g in graphs[:most]]
    return shown + ([f"  … and {len(graphs) - most} more"] if len(graphs) > most else [])


def by_graph(quads: Iterable[ox.Quad]) -> dict[str, list[ox.Triple]]:
    """The triples of each named graph; default-graph quads have no graph to replace and are left out."""
    graphs: dict[str, list[ox.Triple]] = defaultdict(list)
    for quad in quads:
        if isinstance(quad.graph_name, ox.NamedNode):
            graphs[quad.graph_name.value].append(ox.Triple(quad.subject, quad.predicate, quad.object))
    return dict(graphs)


def load_into(
    store: RemoteStore,
    quads: Iterable[ox.Quad],
    *,
    batch: int | None = None,
    prune: bool = False,
    advance: Advance | None = None,
) -> LoadReport:
    """Replace every named graph of ``quads`` in ``store``; ``advance(n)`` is told of each n triples sent.

    ``batch``: triples per INSERT DATA when loading by SPARQL Update (default: the dialect's).
    """
    started, report = time.perf_counter(), LoadReport()
    batch = batch or store.dialect.insert_batch
    graphs = by_graph(quads)
    use_gsp = store.gsp_url is not None
    pending = list(graphs)
    while pending:
        graph = pending.pop(0)
        try:
            use_gsp = _replace(store, graph, graphs[graph], batch, use_gsp, report)
        except RemoteError as error:
            report.failed, report.not_attempted = (graph, str(error)), pending
            break
        report.loaded[graph] = len(graphs[graph])
        if advance:
            advance(len(graphs[graph]))
    if report.failed is None and store.dialect.default_copy and DEFAULT_GRAPH in graphs:
        try:
            _replace(store, None, graphs[DEFAULT_GRAPH], batch, use_gsp, report)
            report.notes.append("graph/default also loaded as the store's default graph")
        except RemoteError as error:
            report.failed = ("the default graph", str(error))
    if report.failed is None:
        _verify(store, graphs, report, prune=prune)
    report.seconds = time.perf_counter() - started
    return report


def _replace(
    store: RemoteStore, graph: str | None, triples: list[ox.Triple], batch: int, use_gsp: bool, report: LoadReport
) -> bool:
    """Replace one graph (None: the default graph); return whether the Graph Store Protocol is still worth trying."""
    if use_gsp:
        try:
            store.put_graph(graph, ntriples(triples))
            return True
        except RemoteError as error:
            if error.status not in GSP_UNSUPPORTED:
                raise
            report.notes.append(f"Graph Store Protocol refused (HTTP {error.status}): loading by SPARQL Update")
    _insert(store, graph, triples, batch)
    return False


def _insert(store: RemoteStore, graph: str | None, triples: list[ox.Triple], batch: int) -> None:
    """DROP the graph (None: the default graph) and INSERT DATA its triples in batches, halving a batch
    the engine cannot take."""
    start = 0
    while True:
        chunk = triples[start : start + batch]
        data = " ".join(f"{t.subject} {t.predicate} {t.object} ." for t in chunk)
        target = "DEFAULT" if graph is None else f"GRAPH <{graph}>"
        drop = f"DROP SILENT {target} ;\n" if start == 0 else ""
        inserted = f"{{ {data} }}" if graph is None else f"{{ GRAPH <{graph}> {{ {data} }} }}"
        try:
            store.update(f"{drop}INSERT DATA {inserted}")
        except RemoteError as error:  # Virtuoso's parser runs out of memory on large INSERT DATA texts
            if error.status not in TOO_LARGE or batch <= MIN_BATCH:
                raise
            batch //= 2
            continue
        start += len(chunk)
        if start >= len(triples):
            return


def ntriples(triples: list[ox.Triple]) -> bytes:
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


def _verify(store: RemoteStore, graphs: dict[str, list[ox.Triple]], report: LoadReport, *, prune: bool) -> None:
    """Compare triples per graph in the store with what was sent; find (and maybe drop) stale graphs."""
    held = store.graph_sizes(GRAPH)
    for graph, triples in graphs.items():
        sent = len(set(triples))
        if held.get(graph, 0) != sent:
            report.mismatched[graph] = (sent, held.get(graph, 0))
    report.stale = sorted(set(held) - set(graphs))
    if prune and report.stale:
        store.update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in report.stale))
        report.notes.append(f"dropped {len(report.stale)} stale graphs")
        report.stale = []


def run_load(
    dataset: Dataset, *, into: str, gsp: str | None, update: str | None, auth: str | None, prune: bool, console: Console
) -> int:
    """Load ``dataset`` into the store at ``into``; print the report; return the exit code (0, 1 or 2)."""
    try:
        store = RemoteStore(into, update=update, gsp=gsp, auth=parse_auth(auth))
    except RemoteError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        return 2
    columns = (TextColumn("loading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with store, Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("load", total=len(dataset.quads))
        report = load_into(store, dataset.quads, prune=prune, advance=lambda n: progress.advance(task, n))
    way = "Graph Store Protocol" if gsp else "SPARQL Update"
    console.print(f"{store.dialect.name} store at {into}, by {way}; data version {dataset.version}", highlight=False)
    for line in report.lines():
        colour = "red" if line.startswith(("FAILED", "MISMATCH")) else None
        console.print(f"[{colour}]{line}[/{colour}]" if colour else line, highlight=False, soft_wrap=True)
    return 0 if report.ok else 1
