"""Terminal rendering of audit reports and "why" answers (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from llmkg.kg.audit import Reason, Report


def print_report(report: Report, out: Console) -> None:
    table = Table("source", "date", "version", "evidence", "party", "graphs", "statements", title="Sources")
    for r in report.sources:
        table.add_row(r.source, r.date, r.version[:12], r.evidence, r.party, str(r.graphs), str(r.statements))
    out.print(table)
    out.print(f"Statements without provenance: {len(report.unprovenanced)}")
    for line in report.unprovenanced[:20]:
        out.print(f"  {line}", highlight=False)
    acknowledged = len(report.conflicts) - len(report.unacknowledged)
    out.print(f"Conflicts: {len(report.conflicts)} ({acknowledged} acknowledged)")
    for c in report.conflicts:
        flag = "ack" if c.acknowledged else "NEW"
        out.print(f"  [{flag}] {c.subject} {c.property}", highlight=False)
        for graph, values in c.values.items():
            out.print(f"      {', '.join(values)}  <- {c.sources[graph]} ({graph})", highlight=False)
    out.print(f"Statements backed only by secondary sources: {len(report.secondary_only)}")
    for line in report.secondary_only[:50]:
        out.print(f"  {line}", highlight=False)
    if report.stale_sources:
        out.print(f"Sources older than the given age: {', '.join(report.stale_sources)}")
    out.print(f"Entities missing expected properties: {len(report.missing)}")
    for entity, props in report.missing.items():
        out.print(f"  {entity}: {', '.join(props)}", highlight=False)


def print_reasons(reasons: list[Reason], out: Console) -> None:
    """One block per value: the value, then which document, version and place state it."""
    for r in reasons:
        mark = "  [green]preferred[/green]" if r.preferred else ""
        out.print(f"[bold]{r.property}[/bold] = {r.value}{mark}", highlight=False)
        if r.source == "(curated)":
            out.print(f"  curated in {r.graph}", highlight=False)
            continue
        out.print(f"  source:    {r.source} — {r.title}", highlight=False)
        out.print(f"  version:   {r.version or '-'}   date: {r.date or '-'}   evidence: {r.evidence}", highlight=False)
        out.print(f"  where:     {r.locator}", highlight=False)
        out.print(f"  graph:     {r.graph}   retrieved: {r.retrieved}", highlight=False)
