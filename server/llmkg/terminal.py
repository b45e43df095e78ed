"""Terminal rendering: tables that fit the terminal, audit reports, "why" answers and licence checks (rich).

Nothing here ever cuts a value. A table whose identifiers and numbers fit the width is printed as a
table, its free text wrapped at spaces; one that cannot fit becomes one block per record, as
``psql``'s ``\\x auto`` does.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyoxigraph as ox
from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from llmkg.kg.asof import Run, value_runs
from llmkg.kg.audit import Conflict, Reason, Report, SourceRow, in_revision_order
from llmkg.kg.licence_check import Report as LicenceReport
from llmkg.namespaces import GRAPH, ID, NUMERIC_TYPES, shorten

#: Spaces between two table columns.
GAP = 2


@dataclass(frozen=True)
class Cell:
    """One value as printed: ``wraps`` for free text (broken at spaces), else kept whole on one line."""

    text: str
    wraps: bool = False
    number: bool = False


def cell(term: object) -> Cell:
    """A query result term as a cell: IRIs as prefixed names, numbers whole, text that may wrap."""
    if term is None:
        return Cell("")
    if isinstance(term, ox.Literal):
        if term.datatype.value in NUMERIC_TYPES:
            return Cell(term.value, number=True)
        return Cell(term.value, wraps=" " in term.value.strip())
    return Cell(shorten(term))


def words(text: str) -> Cell:
    """Prose that may wrap."""
    return Cell(text, wraps=True)


def _say(out: Console, text: str) -> None:
    """One line as written: no automatic highlighting of numbers and IRIs, long values wrapped, never cut."""
    out.print(text, highlight=False, soft_wrap=True)


def _wrapped(out: Console, text: str) -> None:
    """One line, broken at spaces to fit the terminal (a word longer than a line folds onto the next)."""
    out.print(text, highlight=False, overflow="fold")


def _column_widths(headers: Sequence[str], rows: Sequence[Sequence[Cell]], width: int) -> list[int] | None:
    """Each column's width so that the table fits ``width``, or None when it cannot without cutting a value.

    A column of identifiers and numbers is as wide as its widest value; a column with free text may
    shrink to its longest word, and takes a share of the spare width in proportion to its length.
    """
    natural = [cell_len(h) for h in headers]
    least = list(natural)
    for row in rows:
        for i, c in enumerate(row):
            natural[i] = max(natural[i], cell_len(c.text))
            longest = max((cell_len(w) for w in c.text.split()), default=0) if c.wraps else cell_len(c.text)
            least[i] = max(least[i], longest)
    room = width - GAP * (len(headers) - 1)
    if sum(natural) <= room:
        return natural
    if sum(least) > room:
        return None
    spare, wanted = room - sum(least), [n - m for n, m in zip(natural, least, strict=True)]
    shares = [spare * w // sum(wanted) for w in wanted]
    return [m + s for m, s in zip(least, shares, strict=True)]


def print_table(
    out: Console, headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, header: bool = True, indent: int = 0
) -> None:
    """A table that fits the terminal, or one block per record when it cannot (``psql``'s ``\\x auto``)."""
    widths = _column_widths(headers, rows, out.width - indent)
    if widths is None:
        print_records(out, headers, rows)
        return
    table = Table(
        box=None, pad_edge=False, padding=(0, GAP // 2), show_edge=False, show_header=header, header_style="bold"
    )
    for i, (name, width) in enumerate(zip(headers, widths, strict=True)):
        numbers = any(r[i].number for r in rows) and all(r[i].number or not r[i].text for r in rows)
        table.add_column(
            name, width=width, no_wrap=not any(r[i].wraps for r in rows), justify="right" if numbers else "left"
        )
    for row in rows:
        table.add_row(*(Text(c.text) for c in row))  # Text: a value is never read as rich markup
    out.print(Padding(table, (0, 0, 0, indent), expand=False), highlight=False)


def print_records(out: Console, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    """One block per record: a numbered rule, then one ``name  value`` line per column."""
    label = max((cell_len(h) for h in headers), default=0)
    for number, row in enumerate(rows, 1):
        out.rule(f"record {number}", align="left", characters="-", style="dim")
        block = Table.grid(padding=(0, GAP))
        block.add_column(width=label, no_wrap=True, style="bold")
        block.add_column(overflow="fold")  # a value longer than the line goes on the next, never cut
        for header, c in zip(headers, row, strict=True):
            block.add_row(header, Text(c.text))
        out.print(Padding(block, 0, expand=False), highlight=False)


# --- where values come from: "llmkg why" and the audit's conflicts --------------------------------------

_REVISION = re.compile(r"(?P<stem>.+)-(?P<revision>[0-9a-f]{7,40})")


def compact_sources(names: Iterable[str]) -> str:
    """Source names, revisions of one document together: ``card (5fdf831, 4daa965); blog-2025-04-05``.

    A name ending in a commit hash (``llama4-model-card-038acb9``) is a revision of the document
    named before it; the order given (oldest first, say) is kept.
    """
    revisions: dict[str, list[str]] = {}
    for name in names:
        name = name.removeprefix("source:")
        match = _REVISION.fullmatch(name)
        stem, revision = (match["stem"], match["revision"]) if match else (name, "")
        found = revisions.setdefault(stem, [])
        if revision and revision not in found:
            found.append(revision)
    return "; ".join(f"{stem} ({', '.join(r)})" if r else stem for stem, r in revisions.items())


def _sources(reasons: Sequence[Reason]) -> str:
    curated = sorted({r.graph for r in reasons if r.source == "(curated)"})
    stated = compact_sources(r.source for r in in_revision_order(r for r in reasons if r.source != "(curated)"))
    return "; ".join(
        [
            *([f"curated in {', '.join(g.removeprefix(GRAPH) for g in curated)}"] if curated else []),
            *([stated] if stated else []),
        ]
    )


def print_reasons(reasons: list[Reason], out: Console) -> None:
    """Per property, one line per distinct value: the value, the preferred mark, its sources (wrapped)."""
    for prop, group in _by_property(reasons).items():
        by_value: dict[str, list[Reason]] = defaultdict(list)
        for r in group:
            by_value[r.value].append(r)
        _wrapped(out, f"[bold]{prop}[/bold]")
        rows = [
            [cell_of_value(value), Cell("preferred" if any(r.preferred for r in rs) else ""), words(_sources(rs))]
            for value, rs in by_value.items()
        ]
        print_table(out, ["value", "", "sources, revisions oldest first"], rows, header=False, indent=2)


def _by_property(reasons: list[Reason]) -> dict[str, list[Reason]]:
    found: dict[str, list[Reason]] = defaultdict(list)
    for r in reasons:
        found[r.property].append(r)
    return found


def cell_of_value(value: str) -> Cell:
    """A value already shortened for people: text with spaces may wrap, anything else stays whole."""
    return Cell(value, wraps=" " in value.strip())


def print_history(reasons: list[Reason], out: Console) -> None:
    """Each source revision that states a property, oldest first, with what it changed from the one it revises."""
    for prop, group in _by_property(reasons).items():
        _wrapped(out, f"[bold]{prop}[/bold], by source revision (oldest first):")
        stated: dict[str, list[Reason]] = defaultdict(list)
        for r in in_revision_order(group):
            stated[r.source].append(r)
        values = {source: ", ".join(sorted({r.value for r in rs})) for source, rs in stated.items()}
        rows = []
        for source, rs in stated.items():
            first = rs[0]
            earlier = values.get(first.revises)
            change = (
                f"was {earlier} in {first.revises.removeprefix('source:')}"
                if earlier not in (None, values[source])
                else ""
            )
            rows.append(
                [
                    Cell(first.date or "undated"),
                    Cell(
                        source.removeprefix("source:")
                        if first.source != "(curated)"
                        else f"curated: {first.graph.removeprefix(GRAPH)}"
                    ),
                    cell_of_value(values[source]),
                    Cell("preferred" if any(r.preferred for r in rs) else ""),
                    words(change),
                ]
            )
        print_table(out, ["date", "source", "value", "", "change"], rows)
        for line in _timelines(value_runs(group)):
            _wrapped(out, line)


def _timelines(runs: Sequence[Run]) -> list[str]:
    """One line per document with several revisions stating the value: each value from when to when."""
    lines: list[str] = []
    for run in runs:
        since = f"{run.value} from {run.since.removeprefix('source:')} ({run.since_date or 'undated'})"
        if lines and lines[-1].endswith(f" until {run.since.removeprefix('source:')} ({run.since_date or 'undated'})"):
            lines[-1] += f", then {since}"
        else:
            lines.append(since)
        if run.until:
            lines[-1] += f" until {run.until.removeprefix('source:')} ({run.until_date or 'undated'})"
    revised = [line for line in lines if " until " in line]
    return [f"in effect: {line}" for line in revised] if revised else []


# --- the provenance audit: a summary, then the sections asked for ---------------------------------------


class Section(enum.StrEnum):
    """What ``llmkg audit --section`` takes: one section of the report, or all of them."""

    sources = "sources"
    unprovenanced = "unprovenanced"
    conflicts = "conflicts"
    secondary = "secondary"
    stale = "stale"
    missing = "missing"
    all = "all"


#: The audit's sections, in the order they print, each with the report field it shows.
SECTIONS = {
    Section.sources: "sources",
    Section.unprovenanced: "unprovenanced",
    Section.conflicts: "conflicts",
    Section.secondary: "secondary_only",
    Section.stale: "stale_sources",
    Section.missing: "missing",
}


def print_summary(report: Report, out: Console, *, stale_checked: bool) -> None:
    """One line per section: its name (what ``--section`` takes), its count and what it counts."""
    primary = sum(1 for s in report.sources if s.evidence == "Primary")
    acknowledged = len(report.conflicts) - len(report.unacknowledged)
    lines = {
        "sources": (
            len(report.sources),
            f"source documents ({primary} primary), {sum(s.statements for s in report.sources):,} statements",
        ),
        "unprovenanced": (len(report.unprovenanced), "statements without provenance"),
        "conflicts": (
            len(report.conflicts),
            f"facts on which sources disagree ({acknowledged} acknowledged, {len(report.unacknowledged)} new)",
        ),
        "secondary": (len(report.secondary_only), "statements backed only by secondary sources"),
        "stale": (len(report.stale_sources), "sources older than --max-age-days" if stale_checked else "not checked"),
        "missing": (len(report.missing), "entities missing expected properties"),
    }
    rows = [[Cell(name), Cell(f"{count:,}", number=True), words(what)] for name, (count, what) in lines.items()]
    print_table(out, ["section", "count", "what"], rows)
    _wrapped(out, "Show a section with --section NAME (a section above, or all).")


def print_section(report: Report, name: Section, out: Console) -> None:
    _wrapped(out, f"\n[bold]{name}[/bold]")
    if name == "sources":
        # one line per document within 100 columns: the longest names take 57; graphs per source are in --format json
        rows = [[Cell(s.source.removeprefix("source:")), Cell(s.date), *_kind(s)] for s in report.sources]
        print_table(out, ["source", "date", "evidence", "party", "statements"], rows)
    elif name == "conflicts":
        for c in report.conflicts:
            print_conflict(c, out)
    elif name == "missing":
        for entity, props in report.missing.items():  # prose: the longest entity names leave no room for a column
            _wrapped(out, f"  {entity}: {', '.join(props)}")
    else:
        for line in getattr(report, SECTIONS[name]):
            _wrapped(out, f"  {line}")


def _kind(source: SourceRow) -> list[Cell]:
    """Evidence, party (FirstParty: first) and statement count, short enough for the sources table."""
    party = source.party.removesuffix("Party").lower()
    return [Cell(source.evidence.lower()), Cell(party), Cell(f"{source.statements:,}", number=True)]


def _short(value: str) -> str:
    """A conflict's value (the report keeps IRIs whole) as a prefixed name when it is one of the graph's IRIs."""
    return shorten(ox.NamedNode(value)) if value.startswith(ID) and " " not in value else value


def print_conflict(conflict: Conflict, out: Console) -> None:
    """The fact, then one line per value with the sources that state it."""
    flag = "acknowledged" if conflict.acknowledged else "[red]new[/red]"
    _wrapped(out, f"{conflict.subject} {conflict.property} ({flag})")
    by_value: dict[str, list[str]] = defaultdict(list)
    for graph, values in conflict.values.items():
        for value in values:
            by_value[value].append(conflict.sources[graph])
    rows = [[cell_of_value(_short(v)), words(compact_sources(sorted(s)))] for v, s in by_value.items()]
    print_table(out, ["value", "sources"], rows, header=False, indent=2)


# --- the licence check ---------------------------------------------------------------------------------

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
