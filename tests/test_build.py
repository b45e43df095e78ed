"""The build: every file parses into its own graph, outputs are deterministic and all-or-nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from llmkg import __version__
from llmkg.app import create_app
from llmkg.cli import app
from llmkg.config import ServerSettings, data_root
from llmkg.kg import audit, describe
from llmkg.kg.build import (
    STORE_INFO,
    Dataset,
    data_files,
    load_dataset,
    memory_store,
    nquads_bytes,
    recorded_report,
    store_record,
)
from llmkg.namespaces import GRAPH, LLMKG, graph_iri
from llmkg.pages import models

from .conftest import REPO, make_root, value

runner = CliRunner()
TTL_FILES = data_files(data_root())


@pytest.mark.parametrize("path", TTL_FILES, ids=lambda p: p.relative_to(data_root()).as_posix())
def test_every_turtle_file_parses(path: Path) -> None:
    assert list(ox.parse(path=path, format=ox.RdfFormat.TURTLE, base_iri="https://example.org/"))


def test_graph_iri_mapping_drops_only_the_triples_folder() -> None:
    assert graph_iri("triples/a/b.ttl") == GRAPH + "a/b"
    assert graph_iri("shapes/core.ttl") == GRAPH + "shapes/core"


def test_each_file_is_its_own_graph_with_its_source_file(dataset: Dataset) -> None:
    files = {p.relative_to(data_root()).as_posix() for p in TTL_FILES}
    assert set(dataset.graph_files.values()) == files
    stated = {
        (value(q.graph_name), value(q.object))
        for q in dataset.quads
        if q.predicate.value == LLMKG + "sourceFile" and q.subject == q.graph_name
    }
    assert {(g, f) for g, f in dataset.graph_files.items()} <= stated


def test_build_writes_identical_dumps_twice(tmp_path: Path) -> None:
    for run in ("a", "b"):
        result = runner.invoke(app, ["build", "--out", str(tmp_path / run)])
        assert result.exit_code == 0, result.output
    for name in ("llmkg.nq", "llmkg.trig"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_dumps_hold_every_graph_with_provenance(tmp_path: Path, dataset: Dataset) -> None:
    runner.invoke(app, ["build", "--out", str(tmp_path)])
    quads = list(ox.parse(path=tmp_path / "llmkg.nq", format=ox.RdfFormat.N_QUADS))
    trig = list(ox.parse(path=tmp_path / "llmkg.trig", format=ox.RdfFormat.TRIG))
    assert set(quads) == set(trig) == set(dataset.quads)
    facts = {q.subject.value for q in quads if q.object.value == LLMKG + "FactGraph" and q.subject == q.graph_name}
    derived = {q.subject.value for q in quads if q.predicate.value.endswith("prov#wasDerivedFrom")}
    assert facts and facts <= derived


def test_syntax_error_names_file_line_column_and_writes_nothing(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", {"broken.ttl": '@prefix ex: <http://e/> .\nex:a ex:b "open .\n'})
    out = tmp_path / "out"
    out.mkdir()
    (out / "llmkg.nq").write_text("previous\n")
    result = runner.invoke(app, ["build", "--root", str(root), "--out", str(out)])
    assert result.exit_code == 2
    assert re.search(r"triples/broken\.ttl:2:\d+", result.output)
    assert (out / "llmkg.nq").read_text() == "previous\n"
    assert sorted(p.name for p in out.iterdir()) == ["llmkg.nq"]


def test_blank_nodes_become_stable_iris(tmp_path: Path) -> None:
    text = "<> a <https://w3id.org/llmkg/ontology#CuratedGraph> .\n<http://e/a> <http://e/b> [ <http://e/c> 1 ] .\n"
    root = make_root(tmp_path, {"bnode.ttl": text})
    first, second = (nquads_bytes(load_dataset(root).quads) for _ in range(2))
    assert first == second
    assert b"_:" not in first


def test_store_on_disk_opens_with_the_same_quads(tmp_path: Path, dataset: Dataset) -> None:
    result = runner.invoke(app, ["build", "--out", str(tmp_path / "dist"), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    store = ox.Store.read_only(str(tmp_path / "store"))
    assert set(store) == set(dataset.quads)


def test_the_build_records_what_a_server_would_read_the_whole_store_for(tmp_path: Path, dataset: Dataset) -> None:
    """VoID and the service description count triples per graph, the audit pages and the conflict flags
    need the audit of every statement: `llmkg build --store` computes both once, and a server opening the
    store takes the record instead of reading the whole store again."""
    result = runner.invoke(app, ["build", "--out", str(tmp_path / "dist"), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert describe.recorded_statistics(tmp_path / "store") == describe.statistics(memory_store(dataset))
    assert recorded_report(tmp_path / "store") == audit.build_report(dataset.quads)
    record = json.loads((tmp_path / "store" / STORE_INFO).read_text())
    record["statistics"]["examples"] = ["https://example.org/as-recorded"]  # what only the record says
    record["audit"]["secondary_only"] = ["as recorded"]
    (tmp_path / "store" / STORE_INFO).write_text(json.dumps(record))
    served = create_app(store=tmp_path / "store", settings=ServerSettings(workers=1))
    assert served.state.endpoint.statistics().examples == ("https://example.org/as-recorded",)
    assert served.state.site.statistics == served.state.endpoint.statistics()
    assert served.state.site.report.secondary_only == ["as recorded"]
    (tmp_path / "store" / STORE_INFO).write_text('{"version": "v", "graph_files": {}}')
    assert describe.recorded_statistics(tmp_path / "store") is None  # an older record: counted when first asked
    assert recorded_report(tmp_path / "store") is None


def test_version_is_one_number_everywhere(dataset: Dataset) -> None:
    info = {
        q.predicate.value: value(q.object)
        for q in dataset.quads
        if value(q.subject) == "https://w3id.org/llmkg/ontology"
    }
    assert info["http://www.w3.org/2002/07/owl#versionInfo"] == __version__
    assert info["http://www.w3.org/2002/07/owl#versionIRI"].endswith("/" + __version__)
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()


def test_what_the_build_records_for_the_pages_is_what_they_would_compute(tmp_path: Path, dataset: Dataset) -> None:
    """The model index, the families, the leaderboards, the ontology's examples and the search index: a page given the
    record shows what it would have read from the store, and reads nothing (here: an empty store)."""
    from llmkg.pages import boards, models, ontology_doc, precomputed, search
    from llmkg.pages.data import PageSettings, Site

    result = runner.invoke(app, ["build", "--out", str(tmp_path / "dist"), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    recorded = store_record(tmp_path / "store", "pages")
    assert set(recorded) == set(precomputed.RECORDED)
    reading = Site(memory_store(dataset), settings=PageSettings())
    given = Site(ox.Store(), settings=PageSettings(), recorded=json.loads(json.dumps(recorded)))
    for chosen in ({}, {"kind": ["checkpoint"]}, {"open weights": ["yes"], "year": ["2025"]}):
        assert models.index(given, chosen) == models.index(reading, chosen)
    assert models.index(reading, {}).rows, "the shipped data has models"
    assert models.families(given) == models.families(reading) != []
    assert boards.index(given) == boards.index(reading) != []
    assert ontology_doc.examples(given) == ontology_doc.examples(reading) != {}
    assert search.index(given) == search.index(reading) != []
    assert [h.iri for h in search.search(given, "llama 4")] == [h.iri for h in search.search(reading, "llama 4")] != []


def test_a_server_reads_the_record_pinned_with_its_store(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that swaps in a new store right after the server pinned the old one must not give the
    server the new build's record: the audit and the pages' record come from the pinned directory."""
    import llmkg.app
    from llmkg.kg.build import pin_store

    result = runner.invoke(app, ["build", "--out", str(tmp_path / "dist"), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output

    def pin_then_rebuild(store_dir: Path) -> Path | None:
        pinned = pin_store(store_dir)
        later = json.loads((store_dir / STORE_INFO).read_text())
        later["audit"]["secondary_only"], later["pages"]["families"] = ["a later build"], [["x", "a later build"]]
        (store_dir / STORE_INFO).unlink()  # the pin holds a hard link: write a new file, as a build does
        (store_dir / STORE_INFO).write_text(json.dumps(later))
        return pinned

    monkeypatch.setattr(llmkg.app, "pin_store", pin_then_rebuild)
    served = create_app(store=tmp_path / "store", settings=ServerSettings(workers=1))
    site = served.state.site
    assert site.report.secondary_only != ["a later build"]
    assert models.families(site) != [("x", "a later build")]
