"""Terminal rendering of audit reports and "why" answers (rich tables)."""

from __future__ import annotations

import pyoxigraph as ox
from rich.console import Console
from rich.table import Table

from llmkg.kg.audit import Reason, Report
from llmkg.kg.licence_check import Report as LicenceReport
from llmkg.namespaces import shorten


def _say(out: Console, text: str) -> None:
    """One line as written: no automatic highlighting of numbers and IRIs, long values wrapped, never cut."""
    out.print(text, highlight=False, soft_wrap=True)


def print_report(report: Report, out: Console) -> None:
    table = Table("source", "date", "version", "evidence", "party", "graphs", "statements", title="Sources")
    for r in report.sources:
        table.add_row(r.source, r.date, r.version[:12], r.evidence, r.party, str(r.graphs), str(r.statements))
    out.print(table)
    out.print(f"Statements without provenance: {len(report.unprovenanced)}")
    for line in report.unprovenanced[:20]:
        _say(out, f"  {line}")
    acknowledged = len(report.conflicts) - len(report.unacknowledged)
    out.print(f"Conflicts: {len(report.conflicts)} ({acknowledged} acknowledged)")
    for c in report.conflicts:
        flag = "ack" if c.acknowledged else "NEW"
        _say(out, f"  [{flag}] {c.subject} {c.property}")
        for graph, values in c.values.items():
            _say(out, f"      {', '.join(values)}  <- {c.sources[graph]} ({graph})")
    out.print(f"Statements backed only by secondary sources: {len(report.secondary_only)}")
    for line in report.secondary_only[:50]:
        _say(out, f"  {line}")
    if report.stale_sources:
        out.print(f"Sources older than the given age: {', '.join(report.stale_sources)}")
    out.print(f"Entities missing expected properties: {len(report.missing)}")
    for entity, props in report.missing.items():
        _say(out, f"  {entity}: {', '.join(props)}")


def print_reasons(reasons: list[Reason], out: Console) -> None:
    """One block per value: the value, then which document, version and place state it."""
    for r in reasons:
        mark = "  [green]preferred[/green]" if r.preferred else ""
        _say(out, f"[bold]{r.property}[/bold] = {r.value}{mark}")
        if r.source == "(curated)":
            _say(out, f"  curated in {r.graph}")
            continue
        _say(out, f"  source:    {r.source} — {r.title}")
        _say(out, f"  version:   {r.version or '-'}   date: {r.date or '-'}   evidence: {r.evidence}")
        _say(out, f"  where:     {r.locator}")
        _say(out, f"  graph:     {r.graph}   retrieved: {r.retrieved}")


STATUS_COLOURS = {"met": "green", "violated": "red", "cannot tell": "yellow"}


def print_licence_report(report: LicenceReport, out: Console) -> None:
    """The licence check as people read it: the disclaimer first, then one block per obligation."""
    d = report.derivative
    _say(out, f"[bold]{report.disclaimer}[/bold]")
    _say(out, f"Licence versions the checks cover: {'; '.join(report.covered)}")
    _say(out, f"Derivative: {d.name or '(no name given)'}, from {shorten(ox.NamedNode(d.base))}")
    _say(out, f"Licences that apply: {'; '.join(report.licences)}")
    for f in report.findings:
        o = f.obligation
        colour = STATUS_COLOURS[f.status]
        _say(out, f"[{colour}]{f.status.upper()}[/{colour}] {o.licence_label}, {o.clause}")
        if o.stated_in != o.licence_label:
            _say(out, f"  stated in:  {o.stated_in}, which the licence incorporates")
        _say(out, f"  obligation: {shorten(ox.NamedNode(o.iri))} ({', '.join(o.kinds)})")
        _say(
            out,
            f"  source:     {o.source} {o.source_title}" + (f" @ {o.source_version[:12]}" if o.source_version else ""),
        )
        _say(out, f"  {f.detail}")
        if f.missing:
            _say(out, f"  missing:    {f.missing}")
    counts = report.counts()
    out.print(f"{counts['met']} met, {counts['violated']} violated, {counts['cannot tell']} cannot tell")
