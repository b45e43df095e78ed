"""Nothing lost: a build is atomic, a killed build leaves a store that opens, and every data file
survives the trip file → store → served dump → parse, graph by graph.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from fastapi.testclient import TestClient
from rdflib.compare import isomorphic
from typer.testing import CliRunner

from llmkg.app import create_app
from llmkg.cli import app
from llmkg.config import ServerSettings, data_root
from llmkg.kg import build
from llmkg.kg.build import Dataset, canonical, data_files, load_dataset, read_store_info, write_store
from llmkg.namespaces import DERIVED_GRAPHS, GENID, LLMKG, QUERIES_GRAPH, graph_iri, is_derived

from .conftest import make_root

#: One worker runs this module, so the store is built and the dumps are parsed once.
pytestmark = pytest.mark.xdist_group("durability")
runner = CliRunner()
DATA_FILES = [p.relative_to(data_root()).as_posix() for p in data_files(data_root())]
SOURCE_FILE = rdflib.URIRef(LLMKG + "sourceFile")
CURATED = (rdflib.RDF.type, rdflib.URIRef(LLMKG + "CuratedGraph"))


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with the hash of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def facts(n: int, value: str) -> str:
    return "@prefix e: <http://example.org/> .\n" + "".join(f'e:s{i} e:p {i} ; e:q "{value}{i}" .\n' for i in range(n))


# --- a bad file changes nothing ------------------------------------------------------------------------


def test_a_bad_turtle_file_leaves_store_and_dumps_intact(tmp_path: Path) -> None:
    good = make_root(tmp_path / "roots" / "good", {"a.ttl": facts(3, "old")})
    out, store = tmp_path / "built" / "dist", tmp_path / "built" / "store"
    result = runner.invoke(app, ["build", "--root", str(good), "--out", str(out), "--store", str(store)])
    assert result.exit_code == 0, result.output
    before = {"dist": tree_digest(out), "store": tree_digest(store), "siblings": sorted(os.listdir(store.parent))}

    bad = make_root(
        tmp_path / "roots" / "bad", {"a.ttl": facts(3, "new"), "z.ttl": "@prefix e: <http://e/> .\ne:a e:b e:c ;"}
    )
    result = runner.invoke(app, ["build", "--root", str(bad), "--out", str(out), "--store", str(store)])
    assert result.exit_code == 2 and "triples/z.ttl" in result.output
    after = {"dist": tree_digest(out), "store": tree_digest(store), "siblings": sorted(os.listdir(store.parent))}
    assert after == before


def test_dumps_are_readable_by_everyone_like_any_built_file(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", {"a.ttl": facts(1, "x")})
    assert runner.invoke(app, ["build", "--root", str(root), "--out", str(tmp_path / "out")]).exit_code == 0
    for name in ("llmkg.nq", "llmkg.trig"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o044 == 0o044, name


# --- a killed build ----------------------------------------------------------------------------------------


def _quads(store_dir: Path) -> frozenset[ox.Quad]:
    return frozenset(ox.Store.read_only(str(store_dir)))


#: ``llmkg build`` that SIGKILLs itself just before or just after the store directories are swapped.
DIE_AT_SWAP = """
import os, signal, sys
from llmkg import cli
from llmkg.kg import build
real, when = build._exchange, sys.argv.pop(1)
def exchange(first, second):
    if when == "before-swap":
        os.kill(os.getpid(), signal.SIGKILL)
    done = real(first, second)
    os.kill(os.getpid(), signal.SIGKILL)
    return done
build._exchange = exchange
cli.app()
"""


def _kill_build(root: Path, store_dir: Path, how: str) -> None:
    """Run ``llmkg build --store`` and SIGKILL it: ``after:S`` seconds after it starts, ``when:GLOB``
    as soon as a path matching GLOB appears beside the store, or ``before-swap``/``after-swap``.
    """
    arguments = ["build", "--root", str(root), "--out", str(store_dir.parent / "out"), "--store", str(store_dir)]
    kind, _, value = how.partition(":")
    command = [sys.executable, "-c", DIE_AT_SWAP, how] if kind.endswith("swap") else [sys.executable, "-m", "llmkg.cli"]
    log = store_dir.parent / "build.log"
    with log.open("wb") as output:
        process = subprocess.Popen([*command, *arguments], stdout=output, stderr=output)
    deadline = time.monotonic() + 60
    if kind == "after":
        time.sleep(float(value))
    while kind == "when" and not list(store_dir.parent.glob(value)) and process.poll() is None:
        assert time.monotonic() < deadline, "the build never reached the point to kill it at"
        time.sleep(0.001)
    if kind in ("after", "when") and process.poll() is None:
        process.send_signal(signal.SIGKILL)
    code = process.wait(timeout=60)
    assert code in (0, -signal.SIGKILL), log.read_text()


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset, Dataset]:
    """A data root that builds a new version (large enough to take a moment), and the old version."""
    base = tmp_path_factory.mktemp("kill")
    old = load_dataset(make_root(base / "old", {"a.ttl": facts(10, "old")}))
    new_root = make_root(base / "new", {"a.ttl": facts(4_000, "new")})
    return new_root, old, load_dataset(new_root)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("after:0.3", "old"),  # while parsing
        ("when:.store.new.*", "old"),  # the new store just created
        ("when:.store.new.*/*.sst", "either"),  # while loading it
        ("before-swap", "old"),
        ("after-swap", "new"),  # before the old store is deleted
    ],
    ids=["parsing", "store-created", "store-loading", "before-swap", "after-swap"],
)
def test_a_killed_build_leaves_the_old_or_the_new_store(
    tmp_path: Path, versions: tuple[Path, Dataset, Dataset], how: str, expected: str
) -> None:
    new_root, old, new = versions
    store_dir = tmp_path / "store"
    write_store(old, store_dir)
    _kill_build(new_root, store_dir, how)

    found = _quads(store_dir)
    assert found in (frozenset(old.quads), frozenset(new.quads)), "the store is neither the old nor the new version"
    outcome = "old" if found == frozenset(old.quads) else "new"
    assert expected in (outcome, "either")
    assert read_store_info(store_dir)[0] == (old.version if outcome == "old" else new.version)

    write_store(old, store_dir)  # the next build finishes and clears what the killed one left
    assert _quads(store_dir) == frozenset(old.quads)
    assert sorted(p.name for p in tmp_path.glob(".store*")) == [".store.lock"]


def test_a_swap_without_atomic_exchange_is_recovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where renameat2 is missing, a crash between the two renames is repaired by the next build."""
    old = load_dataset(make_root(tmp_path / "old", {"a.ttl": facts(2, "old")}))
    new = load_dataset(make_root(tmp_path / "new", {"a.ttl": facts(2, "new")}))
    store_dir = tmp_path / "out" / "store"
    write_store(old, store_dir)
    monkeypatch.setattr(build, "_exchange", lambda first, second: False)
    real_replace = os.replace

    def crash_before_the_new_store_moves_in(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == store_dir:
            raise KeyboardInterrupt("killed between the renames")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_before_the_new_store_moves_in)  # the os module build calls
    with pytest.raises(KeyboardInterrupt):
        write_store(new, store_dir)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not store_dir.exists()  # the window this fallback has
    write_store(new, store_dir)
    assert _quads(store_dir) == frozenset(new.quads)
    assert sorted(p.name for p in store_dir.parent.iterdir()) == [".store.lock", "store"]


# --- the round trip ------------------------------------------------------------------------------------------


Triple = tuple[rdflib.term.Node, rdflib.term.Node, rdflib.term.Node]
#: For each dump format, the triples of each graph as rdflib read them.
DumpGraphs = dict[str, dict[str, set[Triple]]]


@pytest.fixture(scope="module")
def served_dumps(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> DumpGraphs:
    """The data built into an on-disk store, served, its dumps downloaded and read back by rdflib."""
    return _serve_and_read(dataset, tmp_path_factory.mktemp("roundtrip"))


def _serve_and_read(dataset: Dataset, folder: Path) -> DumpGraphs:
    write_store(dataset, folder / "store")
    parsed: DumpGraphs = {}
    with TestClient(create_app(store=folder / "store", settings=ServerSettings(workers=1))) as client:
        for name, rdflib_format in (("llmkg.nq", "nquads"), ("llmkg.trig", "trig")):
            response = client.get(f"/dumps/{name}")
            assert response.status_code == 200
            with warnings.catch_warnings():  # rdflib's parsers use its deprecated ConjunctiveGraph
                warnings.simplefilter("ignore")
                found = rdflib.Dataset()
                found.parse(data=response.content, format=rdflib_format)
            graphs = parsed.setdefault(rdflib_format, {})
            for s, p, o, g in found.quads((None, None, None, None)):
                graphs.setdefault(str(g), set()).add((s, p, o))
    return parsed


@functools.cache
def _input_graph(relative: str) -> rdflib.Graph:
    """The file as rdflib (not the build's parser) reads it, numbers in the store's canonical form."""
    graph = rdflib.Graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph.parse(data_root() / relative, format="turtle", publicID=graph_iri(relative))
    typed = {o for o in graph.objects() if isinstance(o, rdflib.Literal) and o.datatype is not None}
    forms = _canonical_forms(typed)
    canonical_graph = rdflib.Graph()
    for s, p, o in graph:
        canonical_graph.add((s, p, forms.get(o, o) if isinstance(o, rdflib.Literal) else o))
    return canonical_graph


def _canonical_forms(literals: set[rdflib.Literal]) -> dict[rdflib.Literal, rdflib.Literal]:
    """Each typed literal as ``llmkg.build.canonical`` writes it ("84.0"^^xsd:decimal becomes "84")."""
    subject, predicate = ox.NamedNode("http://example.org/s"), ox.NamedNode("http://example.org/p")
    ordered = sorted(literals, key=lambda lit: (str(lit), str(lit.datatype)))
    out = {}
    for literal in ordered:
        quad = ox.Quad(subject, predicate, ox.Literal(str(literal), datatype=ox.NamedNode(str(literal.datatype))))
        (stored,) = canonical([quad])
        assert isinstance(stored.object, ox.Literal)
        out[literal] = rdflib.Literal(stored.object.value, datatype=literal.datatype)
    return out


def _dumped_graph(dumps: dict[str, set[Triple]], relative: str) -> rdflib.Graph:
    """One graph of a dump, skolem IRIs turned back into blank nodes, the build's own statements dropped."""
    name = graph_iri(relative)
    skolem = GENID + relative.removesuffix(".ttl") + "/"
    graph = rdflib.Graph()
    for s, p, o in dumps.get(name, ()):
        graph.add((_blank(s, skolem), p, _blank(o, skolem)))
    graph.remove((rdflib.URIRef(name), SOURCE_FILE, rdflib.Literal(relative)))
    if not relative.startswith("triples/"):
        graph.remove((rdflib.URIRef(name), *CURATED))
    return graph


def _blank(term: rdflib.term.Node, skolem: str) -> rdflib.term.Node:
    if isinstance(term, rdflib.URIRef) and term.startswith(skolem):
        return rdflib.BNode(term.removeprefix(skolem))
    return term


@pytest.mark.parametrize("relative", DATA_FILES)
def test_every_file_comes_back_from_the_served_dumps(served_dumps: DumpGraphs, relative: str) -> None:
    expected = _input_graph(relative)
    blank = any(isinstance(t, rdflib.BNode) for triple in expected for t in triple)
    for rdflib_format, dumps in served_dumps.items():
        found = _dumped_graph(dumps, relative)
        same = isomorphic(found, expected) if blank else set(found) == set(expected)  # same answer, faster
        assert len(found) == len(expected) and same, (
            f"{relative} in the {rdflib_format} dump: "
            f"lost {sorted(map(str, expected - found))[:5]}, gained {sorted(map(str, found - expected))[:5]}"
        )


def test_the_dumps_hold_no_graph_the_build_did_not_make(served_dumps: DumpGraphs) -> None:
    made = {graph_iri(r) for r in DATA_FILES} | {*DERIVED_GRAPHS, QUERIES_GRAPH}
    for graphs in served_dumps.values():
        unknown = {g for g in graphs if g not in made and not is_derived(g)}  # as-of graphs: named by span
        assert not unknown, sorted(unknown)
