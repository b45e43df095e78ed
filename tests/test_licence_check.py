"""The licence check of derivatives (issue 23), driven by the fixtures in tests/fixtures/derivatives/.

Each fixture (a .yaml or .ttl description) has an ``.expected.tsv`` written by hand: one row per
obligation with its status, clause and missing information. Nothing here names a licence term: the
checks come from the graph, which the last tests show by adding a licence of their own.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from llmkg.kg import derivative, licence_check
from llmkg.kg.build import Dataset, memory_store, write_store
from llmkg.kg.provenance import derived_quads
from llmkg.namespaces import DERIVED_GRAPHS, LLMKG, PREFIXES, shorten
from tests.conftest import FIXTURES, REPO
from tests.engines import Engine
from tests.web_support import served_app

HERE = FIXTURES / "derivatives"
DESCRIPTIONS = sorted(p for p in HERE.iterdir() if p.suffix in (".yaml", ".ttl"))


def expected_of(path: Path) -> Path:
    return HERE / (path.stem + ".expected.tsv")


@pytest.fixture(scope="module")
def store(dataset: Dataset) -> ox.Store:
    return memory_store(dataset)


def rows(report: licence_check.Report) -> list[list[str]]:
    return [
        [shorten(ox.NamedNode(f.obligation.iri)), f.check or "-", f.status, f.obligation.clause, f.missing or "-"]
        for f in report.findings
    ]


@pytest.mark.parametrize("path", DESCRIPTIONS, ids=lambda p: p.name)
def test_report_is_the_one_checked_in(store: ox.Store, path: Path) -> None:
    report = licence_check.check(store, derivative.read(path))
    lines = expected_of(path).read_text(encoding="utf-8").splitlines()
    assert rows(report) == [line.split("\t") for line in lines[1:]]


@pytest.mark.parametrize("path", DESCRIPTIONS, ids=lambda p: p.name)
def test_every_finding_names_its_licence_version_clause_and_source(store: ox.Store, path: Path) -> None:
    for f in licence_check.check(store, derivative.read(path)).findings:
        o = f.obligation
        assert o.licence_label and o.effective and o.stated_in and o.clause and o.source.startswith("source:")
        assert f.detail, f


def test_the_fixtures_meet_and_violate_every_obligation_kind_the_checks_judge(store: ox.Store) -> None:
    seen: dict[str, set[str]] = {}
    for path in DESCRIPTIONS:
        for f in licence_check.check(store, derivative.read(path)).findings:
            if f.check:
                for kind in f.obligation.kinds:
                    seen.setdefault(kind, set()).add(f.status)
    kinds = store.query(
        "SELECT DISTINCT ?kind WHERE { ?o a llmkg:Obligation ; llmkg:obligationKind ?kind }",
        prefixes=PREFIXES,
        use_default_graph_as_union=True,
    )
    assert isinstance(kinds, ox.QuerySolutions)
    for row in kinds:
        kind = shorten(row["kind"])
        assert {"met", "violated"} <= seen.get(kind, set()), kind


def test_superchat_breaks_the_naming_rule_and_llama_superchat_meets_it(store: ox.Store) -> None:
    for stem, status in (("superchat-llama-3.1-violating", "violated"), ("superchat-llama-3.1-compliant", "met")):
        report = licence_check.check(store, derivative.read(HERE / f"{stem}.yaml"))
        (naming,) = [f for f in report.findings if f.check == "check:naming"]
        assert naming.status == status
        assert naming.obligation.clause == "last sentence of section 1.b.i"
        assert naming.obligation.source == "source:llama3.1-license-47401a8"
        assert naming.obligation.licence_label == "Llama 3.1 Community License Agreement"


@pytest.mark.parametrize("path", [p for p in DESCRIPTIONS if p.suffix == ".yaml"], ids=lambda p: p.name)
def test_a_yaml_description_as_turtle_reads_back_the_same(path: Path) -> None:
    as_turtle = derivative.to_turtle(derivative.yaml_triples(path.read_text(encoding="utf-8"), path.name))
    assert derivative.parse(as_turtle, "ttl") == derivative.read(path)


def test_yaml_and_turtle_twins_describe_the_same_derivative() -> None:
    twins = [p for p in DESCRIPTIONS if p.suffix == ".ttl" and p.with_suffix(".yaml").exists()]
    assert twins
    for ttl in twins:
        a, b = derivative.read(ttl), derivative.read(ttl.with_suffix(".yaml"))
        assert (a.base, a.derivation, a.name, a.values, a.output_uses, a.offered_in) == (
            b.base,
            b.derivation,
            b.name,
            b.values,
            b.output_uses,
            b.offered_in,
        )


BAD = [
    ("yaml", "name: X\nbase: model:llama-3-8b\ncolour: red\n", r"^d\.yaml:3: unknown field 'colour'"),
    ("yaml", "base: model:llama-3-8b\ndistributed: maybe\n", r"^d\.yaml:2: distributed is true or false"),
    ("yaml", "base: model:llama-3-8b\nmonthly_active_users: many\n", r"^d\.yaml:2: monthly_active_users is a whole"),
    ("yaml", "base: nowhere:x\n", r"^d\.yaml:1: 'nowhere:x' is neither an IRI"),
    ("yaml", "name: X\n", r"^d\.yaml: the field 'base'"),
    ("yaml", "base: http://a b\n", r"^d\.yaml:1: "),
    ("yaml", "base: model:llama-3-8b\nderived_by: merge\n", r"^d\.yaml:2: derived_by 'merge'"),
    ("yaml", "base: model:llama-3-8b\noutput_use: [sell]\n", r"^d\.yaml:2: output_use 'sell'"),
    ("yaml", "base: [model:llama-3-8b\n", r"^d\.yaml:2: not YAML"),
    ("ttl", '<> a llmkg:Derivative ;\n  rdfs:label "X" \n  llmkg:basedOn model:llama-3-8b .\n', r"^d\.ttl:3:"),
    ("ttl", '<> rdfs:label "X" .\n', r"^d\.ttl: a description has exactly one llmkg:Derivative"),
]


@pytest.mark.parametrize(("form", "content", "message"), BAD, ids=[m for _, _, m in BAD])
def test_a_bad_description_is_refused_with_where(form: str, content: str, message: str) -> None:
    with pytest.raises(derivative.DescriptionError, match=message):
        derivative.parse(content, form, f"d.{form}")


def test_a_base_without_a_licence_is_refused(store: ox.Store) -> None:
    for base, message in (("model:no-such-model", "nothing about"), ("organization:meta", "no licence")):
        with pytest.raises(licence_check.LicenceCheckError, match=message):
            licence_check.check(store, derivative.parse(f"base: {base}\n", "yaml"))


NEW_LICENCE = """
@prefix llmkg: <https://w3id.org/llmkg/ontology#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix dcterms: <http://purl.org/dc/terms/> .
@prefix ex: <https://example.org/> .
ex:g { ex:g a llmkg:FactGraph ; prov:wasDerivedFrom ex:doc .
  ex:model dcterms:license ex:licence .
  ex:licence a llmkg:Licence ; rdfs:label "Example Licence" ;
    llmkg:effectiveDate "2030-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ;
    llmkg:derivativeNamePrefix "Ex" ; llmkg:monthlyActiveUserThreshold 10 ; llmkg:obligation ex:naming , ex:users .
  ex:naming a llmkg:Obligation ; llmkg:obligationKind llmkg:NamingObligation ;
    rdfs:comment "Names begin with Ex (clause 9)." .
  ex:users a llmkg:Obligation ; llmkg:obligationKind llmkg:UserThresholdObligation ;
    rdfs:comment "At most 10 users (clause 10)." .
}
ex:sources { ex:sources a llmkg:CuratedGraph . ex:doc llmkg:version "v1" . }
"""


def test_a_new_licence_in_the_data_is_checked_without_code(dataset: Dataset) -> None:
    """What the Llama 2 and 3.2 licences will do: their obligations arrive as data, and the same checks judge them."""
    extra = list(ox.parse(NEW_LICENCE.encode(), format=ox.RdfFormat.TRIG))
    described = derivative.parse(
        "name: Other\nbase: https://example.org/model\ndistributed: true\nmonthly_active_users: 11\n", "yaml"
    )
    sources = [q for q in dataset.quads if getattr(q.graph_name, "value", "") not in DERIVED_GRAPHS] + extra
    report = licence_check.check(memory_store(Dataset(quads=[*sources, *derived_quads(sources)])), described)
    assert [(f.check, f.status, f.obligation.clause, f.obligation.source_version) for f in report.findings] == [
        ("check:naming", "violated", "clause 9", "v1"),
        ("check:user-threshold", "violated", "clause 10", "v1"),
    ]
    assert "Example Licence (2030-01-01)" in report.covered


@pytest.fixture(scope="module")
def store_dir(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("store") / "store"
    write_store(dataset, target)
    return target


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env_path = str(REPO / "server")
    command = [sys.executable, "-m", "llmkg.cli", "check-licence", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, check=False
    )


@pytest.mark.parametrize("path", DESCRIPTIONS, ids=lambda p: p.name)
def test_cli_json_report_and_exit_status(store_dir: Path, path: Path) -> None:
    done = cli(str(path), "--format", "json", "--store", str(store_dir))
    report = json.loads(done.stdout)
    statuses = [f["status"] for f in report["findings"]]
    assert done.returncode == (1 if "violated" in statuses else 0), done.stderr
    assert report["disclaimer"].startswith("This is an aid, not legal advice")
    assert "Llama 3.1 Community License Agreement (2024-07-23)" in report["covers"]
    expected = expected_of(path).read_text(encoding="utf-8").splitlines()[1:]
    found = [
        [f["obligation"], f["check"] or "-", f["status"], f["clause"], f["missing"] or "-"] for f in report["findings"]
    ]
    assert found == [line.split("\t") for line in expected]


def test_cli_text_report_names_the_clause_and_says_it_is_no_legal_advice(store_dir: Path) -> None:
    done = cli(str(HERE / "superchat-llama-3.1-violating.yaml"), "--store", str(store_dir))
    assert done.returncode == 1
    assert "not legal advice" in done.stdout and "Licence versions the checks cover" in done.stdout
    assert re.search(r"VIOLATED Llama 3\.1 Community License Agreement, last sentence of section 1\.b\.i", done.stdout)


def test_cli_bad_input_exits_2_with_file_and_line(store_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: model:llama-3-8b\ndistributed: maybe\n", encoding="utf-8")
    done = cli(str(bad), "--store", str(store_dir))
    assert done.returncode == 2
    assert f"{bad}:2: distributed is true or false" in " ".join(done.stderr.split())


@pytest.fixture(scope="module")
def client(dataset: Dataset) -> Iterator[TestClient]:
    """The served app: the page reads the graph through the endpoint's query workers."""
    with TestClient(served_app(memory_store(dataset), version=dataset.version)) as client:
        yield client


def test_page_without_an_answer_shows_the_form_the_disclaimer_and_the_versions(client: TestClient) -> None:
    page = client.get("/licence-check")
    assert page.status_code == 200
    assert "not legal advice" in page.text and "Llama 4 Community License Agreement (2025-04-05)" in page.text
    assert '<form method="get"' in page.text and "<script" not in page.text.split("<footer>")[0].split("<main>")[1]


@pytest.mark.parametrize(("name", "status"), [("SuperChat", "violated"), ("Llama-SuperChat", "met")])
def test_page_reports_the_naming_rule_with_its_clause(client: TestClient, name: str, status: str) -> None:
    answer = {"name": name, "base": "model:llama-3.1-8b", "derived_by": "fine-tune", "distributed": "true"}
    page = client.get("/licence-check", params=answer)
    assert page.status_code == 200
    row = re.search(r'<tr class="status-([a-z-]+)">(?:(?!</tr>).)*last sentence of section 1\.b\.i', page.text, re.S)
    assert row is not None and row.group(1) == status
    assert "not legal advice" in page.text
    shown = html.unescape(page.text)
    assert f"name: {name}" in shown and f'rdfs:label "{name}"' in shown  # the description, to keep


def test_page_fills_the_form_back_and_reports_a_bad_answer(client: TestClient) -> None:
    page = client.get("/licence-check", params={"base": "model:llama-3-8b", "monthly_active_users": "lots"})
    assert page.status_code == 400
    assert "monthly_active_users is a whole number, not &#39;lots&#39;" in page.text
    assert 'value="model:llama-3-8b"' in page.text


def test_output_use_words_are_the_ontology_concepts() -> None:
    assert all(iri.startswith(LLMKG) for iri in derivative.OUTPUT_USES.values())


@pytest.mark.xdist_group("oxigraph")
def test_the_checks_give_the_same_reports_over_oxigraph_serve(oxigraph_engine: Engine) -> None:
    """The checks are plain SPARQL 1.1: a remote engine (``llmkg serve --backend sparql``) answers them alike."""
    with oxigraph_engine.store() as remote:
        for path in DESCRIPTIONS:
            expected = expected_of(path).read_text(encoding="utf-8").splitlines()[1:]
            assert rows(licence_check.check(remote, derivative.read(path))) == [x.split("\t") for x in expected], path


@pytest.mark.xdist_group("virtuoso")
def test_the_checks_give_the_same_reports_over_virtuoso(virtuoso_engine: Engine) -> None:
    with virtuoso_engine.store() as remote:
        for path in DESCRIPTIONS:
            expected = expected_of(path).read_text(encoding="utf-8").splitlines()[1:]
            assert rows(licence_check.check(remote, derivative.read(path))) == [x.split("\t") for x in expected], path
