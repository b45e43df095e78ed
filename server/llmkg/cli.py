"""The ``llmkg`` command line: build, validate, serve, and the saved-query tools."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import track

from llmkg import __version__
from llmkg.build import BuildError, Dataset, load_dataset, write_dumps, write_store

app = typer.Typer(
    help="llmkg: a source-backed knowledge graph of LLM families.", no_args_is_help=True, pretty_exceptions_enable=False
)
out = Console()
err = Console(stderr=True)

RootOption = Annotated[Path | None, typer.Option("--root", help="Data root (default: packaged data).")]


def _progress(items: Iterable[Path], label: str) -> Iterable[Path]:
    return track(list(items), description=label, console=err, transient=True)


def _load(root: Path | None) -> Dataset:
    try:
        return load_dataset(root, progress=_progress)
    except BuildError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None


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
        write_store(dataset, store)
        out.print(f"wrote store {store}")
    out.print(f"{len(dataset.quads)} quads in {len(dataset.graph_files)} graphs, data version {dataset.version}")


@app.command()
def validate(root: RootOption = None) -> None:
    """Check the data against the SHACL shapes and the ontology; exit 1 on any violation."""
    from llmkg.validation import validate as run

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


if __name__ == "__main__":  # pragma: no cover
    app()
