"""The ``llmkg`` command line: build, validate, serve, and the saved-query tools."""

from __future__ import annotations

import csv
import faulthandler
import functools
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Literal, ParamSpec

import pyoxigraph as ox
import typer
from rich.console import Console
from rich.progress import track

from llmkg import __version__
from llmkg.kg import asof, catalog, names
from llmkg.kg.audit import build_report
from llmkg.kg.build import BuildError, Dataset, load_dataset, memory_store, write_dumps, write_store
from llmkg.namespaces import PREFIXES, expand, text
from llmkg.sparql.formats import RESULT_FORMATS, by_key
from llmkg.sparql.store import Backend
from llmkg.terminal import Section  # light: --help needs the section names

if TYPE_CHECKING:
    from fastapi import FastAPI


app = typer.Typer(
    help="llmkg: a source-backed knowledge graph of LLM families.", no_args_is_help=True, pretty_exceptions_enable=False
)
out = Console()
err = Console(stderr=True)

#: Exit status of a command whose engine (pyoxigraph) crashed: neither a finding (1) nor bad usage (2).
ENGINE_FAILED = 3
P = ParamSpec("P")


def isolated(command: Callable[P, None]) -> Callable[P, None]:
    """Run ``command`` in a child process, so an engine abort or crash ends the child, not the CLI.

    pyoxigraph aborts the process on some inputs (docs/engine-defects.md), and an abort cannot be
    caught. The child's output is kept aside and passed on once it has finished: whole when it
    ends normally, dropped (with a clear error instead of the engine's backtrace) when it crashed.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with tempfile.TemporaryFile() as child_out, tempfile.TemporaryFile() as child_err:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(functools.partial(command, *args, **kwargs), child_out.fileno(), child_err.fileno())
            _, status = os.waitpid(pid, 0)
            _finish(status=status, output=_read(child_out), errors=_read(child_err))

    return run


def _child(body: Callable[[], None], out_fd: int, err_fd: int) -> None:
    """The child's life: run ``body`` with its output going to the files the parent reads; never returns."""
    global out, err
    code = 1
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort must not leave a core file behind
        faulthandler.disable()  # the parent reports a crash, in one line: no Python traceback dump either
        tty = sys.stdout.isatty() if hasattr(sys.stdout, "isatty") else False
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)  # the engine writes its panic to file descriptor 2 itself
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - lives as long as the child
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        out = Console(file=sys.stdout, force_terminal=tty or None, width=shutil.get_terminal_size().columns)
        err = Console(file=sys.stderr)
        body()
        code = 0
    except typer.Exit as exit_:
        code = exit_.exit_code
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode("utf-8", "replace")


def _finish(*, status: int, output: str, errors: str) -> None:
    """Pass the child's output on and exit as it did; a crash becomes one clear error line."""
    if os.WIFSIGNALED(status):
        signame = signal.Signals(os.WTERMSIG(status)).name
        cause = _panic_message(errors)
        err.print(
            f"[red]error:[/red] the query engine (pyoxigraph {ox.__version__}) failed on this command "
            f"and stopped ({signame}{': ' + cause if cause else ''}); nothing was written. "
            "See docs/engine-defects.md for known engine defects and their workarounds.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(ENGINE_FAILED)
    sys.stdout.write(output)
    sys.stdout.flush()
    sys.stderr.write(errors)
    code = os.WEXITSTATUS(status)
    if code:
        raise typer.Exit(code)


def _panic_message(errors: str) -> str:
    """The engine's own one-line reason, from the Rust panic report (its backtrace is left out)."""
    lines = errors.splitlines()
    for i, line in enumerate(lines[:-1]):
        if " panicked at " in line:
            return lines[i + 1].strip()
    return ""


RootOption = Annotated[Path | None, typer.Option("--root", help="Data root (default: packaged data).")]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="The graph as it stood on this date, YYYY-MM-DD (ontology/README.md).")
]
UndatedOption = Annotated[
    Literal["include", "exclude"],
    typer.Option("--undated", help="With --as-of: include or exclude source versions with no known date."),
]
#: The format of a listing: a table on a terminal, TSV into a pipe, unless asked.
ListFormatOption = Annotated[
    Literal["table", "tsv", "json"] | None,
    typer.Option("--format", "-f", help="table, tsv or json (default: a table on a terminal, tsv otherwise)."),
]


def _progress(items: Iterable[Path], label: str) -> Iterable[Path]:
    return track(list(items), description=label, console=err, transient=True)


def _load(root: Path | None) -> Dataset:
    try:
        return load_dataset(root, progress=_progress)
    except BuildError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None


def _print_version(asked: bool) -> None:
    if asked:
        out.print(__version__)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """llmkg: a source-backed knowledge graph of LLM families."""


@app.command()
def version() -> None:
    """Print the package version."""
    out.print(__version__)


@app.command()
def build(
    root: RootOption = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the dumps.")] = Path("dist"),
    store: Annotated[Path | None, typer.Option("--store", help="Also write an on-disk store here.")] = None,
) -> None:
    """Load ontology, shapes, triples and saved queries; write dist/llmkg.nq and dist/llmkg.trig."""
    dataset = _load(root)
    for path in write_dumps(dataset, out_dir):
        out.print(f"wrote {path}")
    if store is not None:
        from llmkg.pages.precomputed import build_records

        write_store(dataset, store, records=lambda built: build_records(built, dataset.quads))
        out.print(f"wrote store {store}")
    out.print(f"{len(dataset.quads)} quads in {len(dataset.graph_files)} graphs, data version {dataset.version}")


@app.command()
@isolated
def validate(root: RootOption = None) -> None:
    """Check the data against the SHACL shapes and the ontology; exit 1 on any violation."""
    from llmkg.kg.validation import validate as run

    dataset = _load(root)
    problems = run(dataset)
    violations = [p for p in problems if p.severity == "Violation"]
    for p in problems:
        colour = "red" if p.severity == "Violation" else "yellow"
        out.print(f"[{colour}]{p.severity}[/{colour}] {p.shape}", highlight=False)
        out.print(f"  focus: {p.focus}" + (f"  path: {p.path}" if p.path else ""), highlight=False)
        out.print(f"  file:  {', '.join(p.files) or '(none)'}", highlight=False)
        out.print(f"  {p.message}", highlight=False, soft_wrap=True)
    out.print(
        f"{len(violations)} violation(s), {len(problems) - len(violations)} warning(s) "
        f"in {len(dataset.graph_files)} graphs"
    )
    if violations:
        raise typer.Exit(1)


@app.command()
@isolated
def audit(
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f", help="table or json.")] = "table",
    section: Annotated[
        list[Section] | None,
        typer.Option("--section", "-s", help="Show this section after the summary (repeatable); all: every one."),
    ] = None,
    max_age_days: Annotated[
        int | None, typer.Option("--max-age-days", min=0, help="Flag sources older than this.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on unprovenanced statements or conflicts.")] = False,
    root: RootOption = None,
) -> None:
    """Provenance report: a summary, then the sections asked for (sources, conflicts, coverage, ...)."""
    from llmkg.kg.audit import build_report
    from llmkg.terminal import SECTIONS, print_section, print_summary

    report = build_report(_load(root).quads, max_age_days=max_age_days)
    shown = list(SECTIONS) if Section.all in (section or []) else list(dict.fromkeys(section or []))
    if fmt == "json":  # the whole report, or only the sections asked for
        whole = report.as_dict()
        chosen = whole if not shown else {SECTIONS[name]: whole[SECTIONS[name]] for name in shown}
        sys.stdout.write(json.dumps(chosen, indent=2) + "\n")
    else:
        print_summary(report, out, stale_checked=max_age_days is not None)
        for name in shown:
            print_section(report, name, out)
    if strict and (report.unprovenanced or report.unacknowledged):
        raise typer.Exit(1)


@app.command()
@isolated
def why(
    subject: Annotated[str, typer.Argument(help="IRI or prefixed name, e.g. model:llama-4-scout.")],
    prop: Annotated[str | None, typer.Argument(help="Property, e.g. llmkg:totalParameters.")] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Each source revision that states it, oldest first, with changes.")
    ] = False,
    as_of: AsOfOption = None,
    undated: UndatedOption = "include",
    root: RootOption = None,
) -> None:
    """Every value the graph holds for a subject (and property): one line per value, with its sources."""
    from llmkg.kg.audit import why as explain
    from llmkg.terminal import print_history, print_reasons

    try:
        quads = _load(root).quads
        if as_of:
            quads = asof.why_quads(quads, as_of, undated=undated == "include")
        reasons = explain(quads, expand(subject), expand(prop) if prop else None)
    except ValueError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    if not reasons and not any(expand(subject) in (text(q.subject), text(q.object)) for q in quads):
        same_kind = {text(q.subject) for q in quads if text(q.subject).startswith(names.namespace(expand(subject)))}
        err.print(names.unknown_message(expand(subject), names.suggest(expand(subject), sorted(same_kind))))
        raise typer.Exit(1)
    if not reasons:
        stated = sorted({text(q.predicate) for q in quads if text(q.subject) == expand(subject)})
        close = names.suggest(expand(prop), stated) if prop else []
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        err.print(f"the graph holds nothing for {subject} {prop or ''}".rstrip() + hint)
        raise typer.Exit(1)
    (print_history if history else print_reasons)(reasons, out)


@app.command("diff")
@isolated
def diff_views(
    before: Annotated[str, typer.Argument(help="The earlier date, YYYY-MM-DD.")],
    after: Annotated[str, typer.Argument(help="The later date, YYYY-MM-DD.")],
    family: Annotated[
        str | None, typer.Option("--family", help="Only facts about this family, e.g. family:llama-4.")
    ] = None,
    prop: Annotated[str | None, typer.Option("--property", help="Only this property, e.g. llmkg:value.")] = None,
    undated: UndatedOption = "include",
    fmt: ListFormatOption = None,
    root: RootOption = None,
) -> None:
    """Facts added, changed and removed between the graph as of two dates, each with its source version."""
    from llmkg.terminal import Cell, print_table, words

    try:
        changes = asof.diff(
            _load(root).quads,
            before,
            after,
            undated=undated == "include",
            family=expand(family) if family else None,
            prop=expand(prop) if prop else None,
        )
    except ValueError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    fmt = fmt or ("table" if out.is_terminal else "tsv")
    columns = list(asof.Change.__dataclass_fields__)
    rows = [[getattr(c, name) for name in columns] for c in changes]
    if fmt == "json":
        sys.stdout.write(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=2) + "\n")
    elif fmt == "tsv":
        csv.writer(sys.stdout, dialect="excel-tab", lineterminator="\n").writerows([columns, *rows])
    else:
        print_table(
            out, columns, [[Cell(r[0]), Cell(r[1]), Cell(r[2]), words(r[3]), words(r[4]), Cell(r[5])] for r in rows]
        )
    (out if fmt == "table" else err).print(f"{len(changes)} changes from {before} to {after}", highlight=False)


@app.command("check-licence")
@isolated
def check_licence(
    file: Annotated[Path, typer.Argument(help="The derivative's description: .ttl or .yaml (docs/derivatives.md).")],
    fmt: Annotated[Literal["text", "json"], typer.Option("--format", "-f", help="text or json.")] = "text",
    store: Annotated[Path | None, typer.Option("--store", help="Read this store instead of building.")] = None,
    root: RootOption = None,
) -> None:
    """Check a derivative (fine-tune, quantisation, ...) against its base model's licence; exit 1 on a violation."""
    from llmkg.kg import derivative, licence_check
    from llmkg.terminal import print_licence_report

    try:
        report = licence_check.check(_store(store, root), derivative.read(file))
    except (derivative.DescriptionError, licence_check.LicenceCheckError) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if fmt == "json":
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        print_licence_report(report, out)
    if report.violated:
        raise typer.Exit(1)


def _store(store_dir: Path | None, root: Path | None) -> ox.Store:
    if store_dir is not None:
        return ox.Store.read_only(str(store_dir))
    return memory_store(_load(root))


@app.command("queries")
def list_queries(
    tag: Annotated[str | None, typer.Option("--tag", help="Only queries with this tag.")] = None,
    fmt: ListFormatOption = None,
    root: RootOption = None,
) -> None:
    """List the saved example queries."""
    try:
        found = [q for q in catalog.saved_queries(root) if tag is None or tag in q.tags]
    except catalog.CatalogError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    from llmkg.terminal import Cell, print_table, words

    fmt = fmt or ("table" if out.is_terminal else "tsv")
    columns = {"id": Cell, "summary": words, "tags": words, "params": words}
    rows = [[q.id, q.summary, ", ".join(q.tags), ", ".join(p.name for p in q.params)] for q in found]
    if fmt == "json":
        sys.stdout.write(catalog.to_json(found) + "\n")
    elif fmt == "tsv":
        csv.writer(sys.stdout, dialect="excel-tab", lineterminator="\n").writerows([list(columns), *rows])
    else:
        print_table(out, list(columns), [[make(v) for make, v in zip(columns.values(), r, strict=True)] for r in rows])
    (out if fmt == "table" else err).print(f"{len(found)} saved queries", highlight=False)  # data alone on stdout


@app.command("query")
@isolated
def run_query(
    name: Annotated[str, typer.Argument(help="Saved query id, number, or path to an .rq file.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Parameter as name=value (an IRI may be a prefixed name; * for any)."),
    ] = None,
    fmt: Annotated[
        Literal["table", "csv", "tsv", "json"] | None,
        typer.Option("--format", "-f", help="table, csv, tsv or json (default: a table on a terminal, tsv otherwise)."),
    ] = None,
    store: Annotated[Path | None, typer.Option("--store", help="Read this store instead of building.")] = None,
    as_of: AsOfOption = None,
    undated: UndatedOption = "include",
    root: RootOption = None,
) -> None:
    """Run a saved query and print its answer: a table on a terminal, TSV into a pipe or file."""
    try:
        saved = catalog.find(name, root, files=True)
        given = dict(_split_param(p) for p in param or [])
        values, defaults = catalog.arguments(saved, given)
        if defaults:
            used = catalog.shown(saved, defaults)
            err.print(f"defaults: {used} (--param NAME=VALUE to change, --param NAME='*' for any)", highlight=False)
        data = _store(store, root)
        catalog.check_names(data, catalog.bind(saved, values))
        view = asof.dataset(data, as_of, undated=undated == "include") if as_of else None
        result = catalog.run(saved, data, given, dataset=view)
    except (catalog.CatalogError, asof.DateError, SyntaxError, OSError) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    _print_result(result, fmt or ("table" if out.is_terminal else "tsv"))


def _split_param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise catalog.ParamError(f"--param {text!r}: expected name=value")
    return name, value


def _results_format(key: str) -> ox.QueryResultsFormat:
    found = by_key(key, RESULT_FORMATS)
    assert found is not None, key  # the option's choices are keys of RESULT_FORMATS
    return found.native  # type: ignore[return-value]


def _print_result(result: object, fmt: str) -> None:
    if isinstance(result, ox.QueryBoolean):
        out.print("true" if bool(result) else "false")
    elif isinstance(result, ox.QuerySolutions):
        if fmt == "table":
            _print_table(result)
        else:
            sys.stdout.write(bytes(result.serialize(format=_results_format(fmt)) or b"").decode())
    else:
        triples = list(result)  # type: ignore[call-overload]
        sys.stdout.write(bytes(ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=PREFIXES) or b"").decode())


def _print_table(solutions: ox.QuerySolutions) -> None:
    from llmkg.terminal import cell, print_table

    names = [v.value for v in solutions.variables]
    rows = [[cell(row[n]) for n in names] for row in solutions]
    print_table(out, names, rows)
    out.print(f"{len(rows)} row(s)")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    store: Annotated[
        Path | None, typer.Option("--store", help="Serve a store built by `llmkg build --store DIR` (read-only).")
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Per-query timeout in seconds.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Query worker processes.")] = None,
    memory: Annotated[
        bool, typer.Option("--memory", help="With --store: copy the store into memory first (faster queries).")
    ] = False,
    root: RootOption = None,
    backend: Annotated[
        Literal["embedded", "sparql"],
        typer.Option("--backend", help="embedded (pyoxigraph) or sparql (a remote engine)."),
    ] = "embedded",
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="--backend sparql: its query URL.")] = None,
    update: Annotated[str | None, typer.Option("--update", help="--backend sparql: its update URL.")] = None,
    gsp: Annotated[str | None, typer.Option("--gsp", help="--backend sparql: its Graph Store URL.")] = None,
) -> None:
    """Serve the graph as a read-only SPARQL 1.1 endpoint at http://HOST:PORT/sparql."""
    import logging

    from llmkg import serving

    source: Path | Backend | None = store
    if backend != "embedded":
        from llmkg.sparql.remote import RemoteStore

        if not endpoint:
            err.print("[red]error:[/red] --backend sparql needs --endpoint URL")
            raise typer.Exit(2)
        source = RemoteStore(endpoint, update=update, gsp=gsp)
    application = _served_app(source, memory=memory, root=root, timeout=timeout, workers=workers)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    err.print(f"llmkg {__version__}: SPARQL endpoint at http://{host}:{port}/sparql", highlight=False)
    serving.run(application, host=host, port=port, limits=application.state.endpoint.settings)


def _served_app(
    store: Path | Backend | None, *, memory: bool, root: Path | None, timeout: float | None, workers: int | None
) -> FastAPI:
    """The endpoint app over a store directory (on disk, or copied into memory), a remote engine, or the data."""
    import dataclasses

    from llmkg.app import create_app, recorded
    from llmkg.config import ServerSettings

    settings = ServerSettings.from_env()
    settings = dataclasses.replace(
        settings,
        query_timeout_s=timeout if timeout is not None else settings.query_timeout_s,
        workers=workers if workers is not None else settings.workers,
    )
    if store is None:
        dataset = _load(root)  # the quads are at hand: the pages' audit is made now, as a build would
        report = build_report(dataset.quads)
        return create_app(store=memory_store(dataset), settings=settings, version=dataset.version, report=report)
    if not isinstance(store, Path):
        return create_app(store=store, settings=settings)
    if not memory:
        return create_app(store=store.resolve(), settings=settings)
    copy = ox.Store()
    copy.bulk_extend(ox.Store.read_only(str(store)))
    return create_app(store=copy, settings=settings, **recorded(store))


@app.command("load")
def load_remote(
    into: Annotated[str, typer.Option("--into", help="SPARQL endpoint (query URL) of the target store.")],
    gsp: Annotated[str | None, typer.Option("--gsp", help="Graph Store Protocol URL: load by PUT per graph.")] = None,
    update: Annotated[str | None, typer.Option("--update", help="SPARQL Update URL (default: --into).")] = None,
    auth: Annotated[str | None, typer.Option("--auth", envvar="LLMKG_STORE_AUTH", help="USER:PASSWORD.")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Drop llmkg graphs the dataset no longer has.")] = False,
    root: RootOption = None,
) -> None:
    """Push every named graph into a SPARQL 1.1 store, replacing each (a re-run never duplicates)."""
    from llmkg.kg.push import run_load

    raise typer.Exit(run_load(_load(root), into=into, gsp=gsp, update=update, auth=auth, prune=prune, console=out))


if __name__ == "__main__":  # pragma: no cover
    app()
