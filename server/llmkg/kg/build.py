"""Build the dataset: parse every data file into its named graph, add provenance, dump, store.

A build is all-or-nothing: every file is parsed before anything is written, and outputs are
written to temporary paths and moved into place, so a bad file leaves earlier outputs intact.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from llmkg import __version__
from llmkg.config import data_root
from llmkg.kg import asof, audit, catalog, findings, provenance
from llmkg.namespaces import GENID, GRAPH, LLMKG, PREFIXES, RDF_TYPE, graph_iri

SOURCE_FILE = ox.NamedNode(LLMKG + "sourceFile")
CURATED_GRAPH = ox.NamedNode(LLMKG + "CuratedGraph")
#: Folders whose files are vocabulary (typed as curated graphs by the build itself).
VOCABULARY_FOLDERS = ("ontology", "shapes")
#: The whole dataset as files: name -> media type (``llmkg build`` writes them, the server serves them).
log = logging.getLogger("llmkg.build")
DUMPS: dict[str, str] = {"llmkg.nq": "application/n-quads", "llmkg.trig": "application/trig"}

Progress = Callable[[Iterable[Path], str], Iterable[Path]]


class BuildError(Exception):
    """A data file could not be loaded; the message says which file and where."""


@dataclass
class Dataset:
    """The built dataset: every quad, and which file each named graph came from."""

    quads: list[ox.Quad] = field(default_factory=list)
    graph_files: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """A short content hash of the data, used as data version and HTTP ETag."""
        digest = hashlib.sha256(nquads_bytes(self.quads)).hexdigest()
        return f"{__version__}+{digest[:12]}"

    def graphs_under(self, folder: str) -> list[str]:
        return [g for g, f in self.graph_files.items() if f.startswith(folder + "/")]


def data_files(root: Path) -> list[Path]:
    """Every Turtle file that makes up the dataset, in a stable order."""
    files: list[Path] = []
    for folder in ("ontology", "shapes", "triples"):
        files.extend(sorted((root / folder).rglob("*.ttl")))
    return files


def parse_file(path: Path, relative: str) -> list[ox.Quad]:
    """Parse one Turtle file into its named graph, with blank nodes made stable IRIs.

    Raises BuildError naming file:line:column on a syntax error.
    """
    graph = ox.NamedNode(graph_iri(relative))
    try:
        triples = list(ox.parse(path=path, format=ox.RdfFormat.TURTLE, base_iri=graph.value))
    except SyntaxError as error:
        raise BuildError(f"{relative}:{error.lineno}:{error.offset}: {error.msg}") from None
    except (OSError, ValueError) as error:
        raise BuildError(f"{relative}: {error}") from None
    skolem = _Skolemizer(relative)
    quads = [ox.Quad(skolem(t.subject), t.predicate, skolem(t.object), graph) for t in triples]
    quads.append(ox.Quad(graph, SOURCE_FILE, ox.Literal(relative), graph))
    if relative.startswith(VOCABULARY_FOLDERS):
        quads.append(ox.Quad(graph, ox.NamedNode(RDF_TYPE), CURATED_GRAPH, graph))
    return quads


class _Skolemizer:
    """Replace blank nodes by IRIs numbered in order of appearance, so dumps are reproducible."""

    def __init__(self, relative: str) -> None:
        self.prefix = GENID + relative.removesuffix(".ttl") + "/"
        self.seen: dict[str, ox.NamedNode] = {}

    def __call__(self, term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> ox.NamedNode:
        if not isinstance(term, ox.BlankNode):
            return term  # type: ignore[return-value]
        if term.value not in self.seen:
            self.seen[term.value] = ox.NamedNode(f"{self.prefix}b{len(self.seen)}")
        return self.seen[term.value]


def load_dataset(root: Path | None = None, *, progress: Progress | None = None) -> Dataset:
    """Parse the whole dataset in memory; raise BuildError on the first bad file."""

    root = root or data_root()
    dataset = Dataset()
    files = data_files(root)
    for path in progress(files, "parsing") if progress else files:
        relative = path.relative_to(root).as_posix()
        dataset.quads.extend(parse_file(path, relative))
        dataset.graph_files[graph_iri(relative)] = relative
    try:
        dataset.quads.extend(catalog.catalogue_quads(root))
    except catalog.CatalogError as error:
        raise BuildError(f"queries/examples/{error}") from None
    dataset.quads = canonical(dataset.quads)
    dataset.quads.extend(asof.validity_quads(dataset.quads))  # first, so graph/default has their records
    dataset.quads.extend(provenance.derived_quads(dataset.quads))
    dataset.quads.extend(findings.findings_quads(dataset.quads))  # last: it reads graph/preferred and graph/default
    return dataset


def canonical(quads: list[ox.Quad]) -> list[ox.Quad]:
    """The quads as the store keeps them: numbers in canonical lexical form ("84.0" becomes "84").

    Doing this once at build time makes the dumps, the store and every later round trip agree.
    """
    store = ox.Store()
    store.bulk_extend(quads)
    return list(store)


def nquads_bytes(quads: Iterable[ox.Quad]) -> bytes:
    """Canonical N-Quads: one quad a line, sorted, so equal data gives equal bytes."""
    lines = sorted(f"{q} .\n" for q in quads)
    return "".join(lines).encode()


def trig_bytes(quads: Iterable[ox.Quad]) -> bytes:
    """TriG with the project's prefixes, graphs and subjects in sorted order."""
    ordered = sorted(quads, key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object)))
    return ox.serialize(ordered, format=ox.RdfFormat.TRIG, prefixes=PREFIXES)  # type: ignore[return-value]


#: How each dump in DUMPS is written from the quads.
DUMP_WRITERS: dict[str, Callable[[Iterable[ox.Quad]], bytes]] = {"llmkg.nq": nquads_bytes, "llmkg.trig": trig_bytes}


def write_dumps(dataset: Dataset, out_dir: Path) -> list[Path]:
    """Write dist/llmkg.nq and dist/llmkg.trig, each replaced atomically; remove what killed writes left."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {name: write(dataset.quads) for name, write in DUMP_WRITERS.items()}
    written = []
    with _locked(out_dir / ".dumps.lock"):
        for name, payload in outputs.items():
            for leftover in out_dir.glob(f".{name}.*"):  # a temporary file of a write that was killed
                leftover.unlink(missing_ok=True)
            target = out_dir / name
            _atomic_write(target, payload)
            written.append(target)
    return written


def _atomic_write(target: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.fchmod(fd, 0o644)  # mkstemp makes the file private; a published dump is not
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def memory_store(dataset: Dataset) -> ox.Store:
    store = ox.Store()
    store.bulk_extend(dataset.quads)
    return store


def write_store(
    dataset: Dataset, store_dir: Path, *, records: Callable[[ox.Store], dict[str, Any]] | None = None
) -> None:
    """Build an on-disk store next to ``store_dir`` and swap it in, so a crash keeps the old one.

    ``records`` computes, on the finished store, what the build record keeps for the servers beside the
    version (the CLI gives the statistics, the audit report and the pages' record).

    At every instant ``store_dir`` is either the previous store or the new one, whole: the new
    store is written to a sibling directory and exchanged with the old in one ``renameat2`` call.
    A lock file beside it serialises concurrent builds; leftovers of a killed build are removed.
    """
    store_dir = store_dir.resolve()
    store_dir.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(store_dir):
        _remove_leftovers(store_dir)
        fresh = Path(tempfile.mkdtemp(dir=store_dir.parent, prefix=f".{store_dir.name}.new."))
        store = ox.Store(str(fresh))
        store.bulk_extend(dataset.quads)
        store.flush()
        store.optimize()
        computed = records(store) if records is not None else {}
        del store
        write_store_info(fresh, version=dataset.version, graph_files=dataset.graph_files, records=computed)
        _swap_directory(fresh, store_dir)


def write_store_info(
    store_dir: Path, *, version: str, graph_files: dict[str, str], records: dict[str, Any] | None = None
) -> None:
    """The build record beside a store: its data version, graph files and ``records``, what the build
    computed once so that no server opening the store reads all of it to compute them again."""
    info = {**(records or {}), "version": version, "graph_files": graph_files}
    _atomic_write(store_dir / STORE_INFO, json.dumps(info, indent=1, sort_keys=True).encode())


#: File that ``write_store`` puts beside the store's own files: data version and graph files.
STORE_INFO = "llmkg-build.json"


def store_record(store_dir: Path, name: str) -> Any:
    """Entry ``name`` of the build record beside a store, or None (not recorded, or no record)."""
    path = store_dir / STORE_INFO
    if not path.is_file():
        return None
    written = path.stat()
    return _parsed_record(path, written.st_mtime_ns, written.st_size).get(name)


def forget_store_records() -> None:
    """Let go of the parsed record once a server has taken what it needs (tens of MB at 10M quads)."""
    _parsed_record.cache_clear()


@functools.lru_cache(maxsize=1)
def _parsed_record(path: Path, modified: int, size: int) -> dict[str, Any]:
    """The record parsed once for the several entries a server reads at start (tens of MB at 10M quads);
    ``modified`` and ``size`` are in the key so that a record written since is read again."""
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


def recorded_report(store_dir: Path) -> audit.Report | None:
    """The audit report the build made of the store beside it, or None."""
    found = store_record(store_dir, "audit")
    return audit.Report.from_dict(found) if isinstance(found, dict) else None


def read_store_info(store_dir: Path) -> tuple[str, dict[str, str]]:
    """The data version and graph files recorded by ``write_store``, without re-parsing anything.

    A store written before this record existed gets its version from its quads.
    """
    version = store_record(store_dir, "version")
    if version is not None:
        return str(version), dict(store_record(store_dir, "graph_files"))
    store = ox.Store.read_only(str(store_dir))
    return Dataset(quads=list(store)).version, {}


def _swap_directory(fresh: Path, target: Path) -> None:
    """Put ``fresh`` at ``target``; the previous ``target`` is gone afterwards."""
    if target.exists() and _exchange(fresh, target):
        shutil.rmtree(fresh)  # now the old store
        return
    old = target.with_name(f".{target.name}.old")  # no atomic exchange here: a short window without target
    if target.exists():
        os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(second))


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _build_lock(store_dir: Path) -> AbstractContextManager[None]:
    return _locked(store_dir.with_name(f".{store_dir.name}.lock"))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _remove_leftovers(store_dir: Path) -> None:
    """What a killed build left beside ``store_dir``; put back an old store a non-atomic swap left alone."""
    old = store_dir.with_name(f".{store_dir.name}.old")
    if old.is_dir() and not store_dir.exists():
        os.replace(old, store_dir)
    for leftover in [old, *store_dir.parent.glob(f".{store_dir.name}.new.*"), *_stale_pins(store_dir)]:
        shutil.rmtree(leftover, ignore_errors=True)


def pin_store(store_dir: Path) -> Path | None:
    """The store as it is now, for a server to keep serving whatever later builds do: hard links to its
    files in a sibling directory (a store's files never change once written; a build writes a new
    directory). Made under the build lock, so never from a store half swapped. :func:`unpin_store`
    removes it; one whose server died is removed by the next build. None when the store's folder is
    read-only to this process (a deployment's read-only store, which no build of this user can replace).
    """
    store_dir = store_dir.resolve()
    if not os.access(store_dir.parent, os.W_OK):
        log.warning("serving %s unpinned: its folder is read-only here, so a rebuild there would be seen", store_dir)
        return None
    with _build_lock(store_dir):
        for stale in _stale_pins(store_dir):
            shutil.rmtree(stale, ignore_errors=True)
        pinned = Path(tempfile.mkdtemp(dir=store_dir.parent, prefix=f".{store_dir.name}.served.{os.getpid()}."))
        for path in store_dir.iterdir():
            try:
                os.link(path, pinned / path.name)
            except OSError:  # a file system without hard links: a copy pins it too
                shutil.copy2(path, pinned / path.name)
    return pinned


def unpin_store(pinned: Path) -> None:
    shutil.rmtree(pinned, ignore_errors=True)


def _stale_pins(store_dir: Path) -> list[Path]:
    """Pinned copies whose server process is gone."""
    stale = []
    for pinned in store_dir.parent.glob(f".{store_dir.name}.served.*"):
        pid = pinned.name.removeprefix(f".{store_dir.name}.served.").split(".")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            stale.append(pinned)
    return stale


__all__ = [
    "GRAPH",
    "BuildError",
    "Dataset",
    "load_dataset",
    "memory_store",
    "pin_store",
    "unpin_store",
    "write_dumps",
    "write_store",
]
