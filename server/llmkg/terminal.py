"""Terminal rendering of audit reports and "why" answers (rich tables)."""

from __future__ import annotations

import pyoxigraph as ox
from rich.console import Console
from rich.table import Table

from llmkg.kg.audit import Reason, Report
from llmkg.kg.licence_check import Report as LicenceReport
from llmkg.namespaces import shorten


def print_report(report: Report, out: Console) -> None:
    table = Table("source", "date", "version", "evidence", "party", "graphs", "statements", title="Sources")
    for r in report.sources:
        table.add_row(r.source, r.date, r.version[:12], r.evidence, r.party, str(r.graphs), str(r.statements))
    out.print(table)
    out.print(f"Statements without provenance: {len(report.unprovenanced)}")
    for line in report.unprovenanced[:20]:
        out.print(f"  {line}", highlight=False, soft_wrap=True)
    acknowledged = len(report.conflicts) - len(report.unacknowledged)
    out.print(f"Conflicts: {len(report.conflicts)} ({acknowledged} acknowledged)")
    for c in report.conflicts:
        flag = "ack" if c.acknowledged else "NEW"
        out.print(f"  [{flag}] {c.subject} {c.property}", highlight=False, soft_wrap=True)
        for graph, values in c.values.items():
            out.print(f"      {', '.join(values)}  <- {c.sources[graph]} ({graph})", highlight=False, soft_wrap=True)
    out.print(f"Statements backed only by secondary sources: {len(report.secondary_only)}")
    for line in report.secondary_only[:50]:
        out.print(f"  {line}", highlight=False, soft_wrap=True)
    if report.stale_sources:
        out.print(f"Sources older than the given age: {', '.join(report.stale_sources)}")
    out.print(f"Entities missing expected properties: {len(report.missing)}")
    for entity, props in report.missing.items():
        out.print(f"  {entity}: {', '.join(props)}", highlight=False, soft_wrap=True)


def print_reasons(reasons: list[Reason], out: Console) -> None:
    """One block per value: the value, then which document, version and place state it."""
    for r in reasons:
        mark = "  [green]preferred[/green]" if r.preferred else ""
        out.print(f"[bold]{r.property}[/bold] = {r.value}{mark}", highlight=False, soft_wrap=True)
        if r.source == "(curated)":
            out.print(f"  curated in {r.graph}", highlight=False, soft_wrap=True)
            continue
        out.print(f"  source:    {r.source} — {r.title}", highlight=False, soft_wrap=True)
        out.print(
            f"  version:   {r.version or '-'}   date: {r.date or '-'}   evidence: {r.evidence}",
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"  where:     {r.locator}", highlight=False, soft_wrap=True)
        out.print(f"  graph:     {r.graph}   retrieved: {r.retrieved}", highlight=False, soft_wrap=True)


STATUS_COLOURS = {"met": "green", "violated": "red", "cannot tell": "yellow"}


def print_licence_report(report: LicenceReport, out: Console) -> None:
    """The licence check as people read it: the disclaimer first, then one block per obligation."""
    d = report.derivative
    out.print(f"[bold]{report.disclaimer}[/bold]", highlight=False, soft_wrap=True)
    out.print(f"Licence versions the checks cover: {'; '.join(report.covered)}", highlight=False, soft_wrap=True)
    out.print(
        f"Derivative: {d.name or '(no name given)'}, from {shorten(ox.NamedNode(d.base))}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"Licences that apply: {'; '.join(report.licences)}", highlight=False, soft_wrap=True)
    for f in report.findings:
        o = f.obligation
        colour = STATUS_COLOURS[f.status]
        out.print(
            f"[{colour}]{f.status.upper()}[/{colour}] {o.licence_label}, {o.clause}", highlight=False, soft_wrap=True
        )
        if o.stated_in != o.licence_label:
            out.print(f"  stated in:  {o.stated_in}, which the licence incorporates", highlight=False, soft_wrap=True)
        out.print(
            f"  obligation: {shorten(ox.NamedNode(o.iri))} ({', '.join(o.kinds)})", highlight=False, soft_wrap=True
        )
        out.print(
            f"  source:     {o.source} {o.source_title}" + (f" @ {o.source_version[:12]}" if o.source_version else ""),
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"  {f.detail}", highlight=False, soft_wrap=True)
        if f.missing:
            out.print(f"  missing:    {f.missing}", highlight=False, soft_wrap=True)
    counts = report.counts()
    out.print(f"{counts['met']} met, {counts['violated']} violated, {counts['cannot tell']} cannot tell")
