"""The HTML pages over a small dataset: provenance badges, flagged disagreements, boards, editor, fallbacks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from llmkg.kg.provenance import derived_quads
from llmkg.namespaces import sparql_prefixes
from llmkg.pages import routes
from tests.web_support import mini_store, page_app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(page_app(mini_store())) as client:
        yield client


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The same pages where `npm ci` has not run: no node_modules at all."""
    with TestClient(page_app(mini_store(), node_modules=tmp_path_factory.mktemp("empty"))) as client:
        yield client


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_entity_page_shows_each_value_with_its_sources(client: TestClient) -> None:
    html = client.get("/id/model/small").text
    assert 'class="badge source primary first-party" href="http://testserver/id/source/card-v1"' in html
    assert "@aaaaaaa" in html and "Model table" in html  # version and place in the document
    assert 'class="badge curated"' in html  # identity comes from a curated graph


def test_entity_page_flags_a_disagreement_side_by_side(client: TestClient) -> None:
    html = client.get("/id/model/small").text
    row = re.search(r'<tr class="conflict".*?</tr>', html, re.DOTALL)
    assert row, "the disagreeing property is not flagged"
    cells = text(row.group(0))
    assert "sources disagree" in cells
    assert cells.index("7,000,000,000") < cells.index("8,000,000,000"), "the preferred value should come first"
    assert "★" in cells and "card-v1" in cells and "blog" in cells


def test_agreeing_values_are_not_flagged(client: TestClient) -> None:
    assert 'class="conflict"' not in client.get("/id/model/big").text


def test_checkpoint_links_to_its_external_identifier_and_results(client: TestClient) -> None:
    html = client.get("/id/checkpoint/small-instruct").text
    assert 'href="https://huggingface.co/test-org/Test-Small-Instruct"' in html
    assert "Benchmark results (1)" in html and "/leaderboards/suite" in html


def test_source_page_lists_its_fact_graphs(client: TestClient) -> None:
    page = text(client.get("/id/source/card-v1").text)
    assert "Test model card" in page and "test/card" in page and "Model table" in page


def test_family_comparison_puts_variants_side_by_side(client: TestClient) -> None:
    html = client.get("/compare/fam").text
    header = re.search(r"<tr><th>property</th>(.*?)</tr>", html, re.DOTALL)
    assert header and text(header.group(1)) == "Test Small Test Big"
    assert 'class="flag"' in html  # Test Small's size is disputed
    assert "80.25" in html and "61.5" in html  # their scores, side by side


def test_leaderboard_table_is_ranked_and_each_bar_links_to_a_source(client: TestClient) -> None:
    html = client.get("/leaderboards/suite").text
    charts = [json.loads(unescape(m)) for m in re.findall(r'data-chart="([^"]*)"', html)]
    board = next(c for c in charts if "0-shot" in c["title"])
    assert board["labels"] == ["Test Big Instruct", "Test Small Instruct"]
    assert board["values"] == [80.25, 61.5]
    assert board["links"] == ["http://testserver/id/source/card-v1"] * 2
    assert "sources disagree: also 79" in text(html)


def test_suite_leaderboard_has_a_board_per_task(client: TestClient) -> None:
    html = client.get("/leaderboards/suite").text
    assert "Per task" in html and "Task one" in html and ">12<" in html


def test_leaderboard_index_counts_task_results_with_their_suite(client: TestClient) -> None:
    row = re.search(r"Test Suite</a></td>(.*?)</tr>", client.get("/leaderboards").text, re.DOTALL)
    assert row and text(row.group(1)).split() == ["3", "2", "1"]


def test_home_page_leads_to_families_boards_and_examples(client: TestClient) -> None:
    html = client.get("/").text
    for link in ("/id/family/fam", "/compare/fam", "/leaderboards/suite", "/editor?example=001-models-by-size"):
        assert link in html


def test_editor_lists_every_saved_query_and_loads_yasgui_from_this_server(client: TestClient) -> None:
    html = client.get("/editor").text
    assert 'data-example="001-models-by-size"' in html
    found = re.search(r'<script type="application/json" id="editor-config">(.*?)</script>', html, re.S)
    assert found, "the editor page carries no editor-config script"
    config = json.loads(found[1])
    assert [e["id"] for e in config["examples"]] == ["001-models-by-size"]
    assert config["prefixes"]["model"] == "https://w3id.org/llmkg/id/model/"
    assert config["defaultQuery"].startswith("PREFIX llmkg: <https://w3id.org/llmkg/ontology#>")
    assert "/assets/yasgui.min.js" in html


def test_pages_load_nothing_from_elsewhere(client: TestClient) -> None:
    for path in ("/", "/editor", "/leaderboards/suite", "/id/model/small"):
        response = client.get(path)
        sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', response.text)
        assert sources and all(s.startswith("http://testserver/") for s in sources), sources
        assert "script-src 'self'" in response.headers["content-security-policy"]


def test_assets_come_from_node_modules(client: TestClient, bare: TestClient) -> None:
    if not (Path(__file__).resolve().parents[1] / "node_modules" / "@zazuko" / "yasgui").is_dir():
        pytest.skip("node_modules is absent: run `npm ci` (.ci/run does)")
    assert client.get("/assets/yasgui.min.js").status_code == 200
    assert bare.get("/assets/yasgui.min.js").status_code == 404
    assert client.get("/assets/package.json").status_code == 404  # only the listed files, never the folder


def test_without_npm_assets_the_editor_is_a_plain_form_that_runs_queries(bare: TestClient) -> None:
    html = bare.get("/editor").text
    assert "yasgui.min.js" not in html and '<form id="plain-form"' in html
    labels = "SELECT DISTINCT ?label WHERE { ?m a llmkg:Model ; rdfs:label ?label } ORDER BY ?label"
    ran = bare.get("/editor", params={"query": sparql_prefixes() + labels})
    assert ran.status_code == 200
    assert "2 rows" in text(ran.text) and "Test Big" in ran.text and "Test Small" in ran.text


def test_without_npm_assets_leaderboards_keep_their_tables(bare: TestClient) -> None:
    html = bare.get("/leaderboards/suite").text
    assert "<canvas" not in html and "80.25" in html and "npm ci" in html


@pytest.mark.parametrize(("query", "status"), [("SELECT WHERE {", 400), ("CLEAR ALL", 403)])
def test_plain_form_reports_bad_queries(bare: TestClient, query: str, status: int) -> None:
    response = bare.get("/editor", params={"query": query})
    assert response.status_code == status and 'class="error"' in response.text


def test_conflicts_and_sources_pages(client: TestClient) -> None:
    conflicts = text(client.get("/conflicts").text)
    assert "Test Small" in conflicts and "total parameters" in conflicts
    assert "Test blog post" in text(client.get("/sources").text)


@pytest.mark.parametrize(
    "path", ["/static/../pages.py", "/static/.hidden", "/static/nothing.css", "/leaderboards/none"]
)
def test_what_is_not_there_is_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_home_page_answers_programs_with_json(client: TestClient) -> None:
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json" and response.headers["vary"] == "Accept"
    assert response.json()["sparql"] == "http://testserver/sparql"
    assert client.get("/", headers={"Accept": "*/*"}).headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("query", "first", "field", "match"),
    [
        ("Test Small", "Test Small", "name", "exact"),
        ("test small", "Test Small", "name", "exact"),
        ("test-org/Test-Small-Instruct", "Test Small Instruct", "Hugging Face repository", "exact"),
        ("test-org/small-chat", "Test Small Instruct", "former Hugging Face repository", "exact"),
        ("smallie", "Test Small Instruct", "alternative name", "exact"),
        ("Test S", "Test Small", "name", "starts with"),
        ("suite", "Test Suite", "name", "word starts with"),
        ("mall", "Test Small", "name", "contains"),
    ],
)
def test_search_finds_names_repositories_and_benchmarks_best_first(
    client: TestClient, query: str, first: str, field: str, match: str
) -> None:
    found = client.get("/search", params={"q": query}, headers={"Accept": "application/json"}).json()["results"]
    assert found, query
    assert (found[0]["label"], found[0]["field"], found[0]["match"]) == (first, field, match)
    ranks = [["exact", "starts with", "word starts with", "contains"].index(h["match"]) for h in found]
    assert ranks == sorted(ranks), "better matches come first"
    assert found[0]["url"].startswith("http://testserver/id/")


def test_search_page_works_as_a_plain_form(client: TestClient) -> None:
    home = client.get("/").text
    form = re.search(r'<form class="site-search"[^>]*action="([^"]+)"[^>]*method="get"', home)
    assert form and form.group(1) == "http://testserver/search"
    page = client.get("/search", params={"q": "test small"})
    assert page.headers["content-type"].startswith("text/html")
    cells = text(page.text)
    assert cells.index("Test Small model") < cells.index("Test Small Instruct checkpoint")
    assert 'href="http://testserver/id/model/small"' in page.text
    assert "0 matches" in text(client.get("/search", params={"q": "no such thing"}).text)
    assert client.get("/search", params={"q": "small", "format": "json", "limit": 1}).json()["results"][0]["label"]
    assert client.get("/search", params={"q": "x" * 201}).status_code in (400, 422)


def index_rows(html: str) -> dict[str, list[str]]:
    """The model index's rows: name -> the text of each cell."""
    body = html.split('id="models"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL) for row in body.split("</tr>")[:-1]]
    return {text(cells[0]): [text(c) for c in cells] for cells in rows}


def test_model_index_lists_every_model_and_checkpoint_with_preferred_values(client: TestClient) -> None:
    html = client.get("/models").text
    rows = index_rows(html)
    assert set(rows) == {"Test Small", "Test Big", "Test Small Instruct", "Test Big Instruct"}
    assert rows["Test Small"][1:4] == ["model", "Test family", ""]
    assert rows["Test Small"][5] == "7 B", "the preferred value (primary source), not the blog's"
    assert rows["Test Small Instruct"][5] == "7 B" and rows["Test Small Instruct"][2] == "Test family"
    assert re.search(r'<td class="num inherited" data-sort="7000000000">7 B</td>', html), "shown as the model's"
    assert 'href="http://testserver/id/checkpoint/small-instruct"' in html


def test_model_index_facets_count_and_filter(client: TestClient) -> None:
    html = client.get("/models").text
    kinds = dict(re.findall(r'class="facet">(model|checkpoint)</a> <span class="count">(\d+)', html))
    assert kinds == {"model": "2", "checkpoint": "2"}
    link = re.search(r'href="http://testserver/models\?([^"]*)" class="facet">model<', html)
    assert link
    filtered = client.get("/models?" + unescape(link.group(1))).text
    assert set(index_rows(filtered)) == {"Test Small", "Test Big"}
    assert 'class="facet on" aria-current="true">model<' in filtered and "2 of 4 shown" in text(filtered)
    family = client.get("/models", params={"family": "https://w3id.org/llmkg/id/family/fam", "kind": "checkpoint"})
    assert set(index_rows(family.text)) == {"Test Small Instruct", "Test Big Instruct"}, "checkpoints take the family"
    assert index_rows(client.get("/models", params={"family": "https://example.org/none"}).text) == {}


@pytest.mark.parametrize(
    "path",
    ["/sources", "/conflicts", "/audit", "/leaderboards", "/leaderboards/suite", "/compare/fam", "/models",
     "/queries", "/id/checkpoint/small-instruct", "/graph/test/card", "/search?q=test",
     "/compare?m=model:small&m=model:big"],
)  # fmt: skip
def test_every_table_is_a_data_table_with_a_header(client: TestClient, path: str) -> None:
    """static/tables.js makes these sortable and downloadable: it needs the marker class and a <thead>."""
    html = client.get(path, headers={"Accept": "text/html"}).text
    tables = re.findall(r"<table[^>]*>.*?</table>", html, re.DOTALL)
    listed = [t for t in tables if 'class="facts' not in t[:60]]
    assert listed, path
    for table in listed:
        assert "data-table" in table[:120] and "<thead>" in table and "data-name=" in table[:160], table[:200]
    assert 'src="http://testserver/static/tables.js"' in html


def test_any_models_side_by_side_with_a_shareable_address(client: TestClient) -> None:
    html = client.get("/compare", params=[("m", "model:small"), ("m", "checkpoint:big-instruct")]).text
    header = re.search(r"<thead>(.*?)</thead>", html, re.DOTALL)
    assert header and text(header.group(1)).startswith("property Test Small ✕ Test Big Instruct ✕")
    scores = text(html.split("Benchmark scores", 1)[1])
    assert "61.5 80.25" in scores, "each column has its own scores: a model's checkpoints', a checkpoint's own"
    assert 'value="http://testserver/compare?m=model%3Asmall&amp;m=checkpoint%3Abig-instruct"' in html
    remove = re.search(r'href="http://testserver/compare\?([^"]*)"[^>]*aria-label="remove Test Small"', html)
    assert remove and unescape(remove.group(1)) == "m=checkpoint%3Abig-instruct"
    assert '<option value="model:big">' in html and '<option value="model:small">' not in html


def test_a_comparison_transposes(client: TestClient) -> None:
    html = client.get("/compare", params={"m": ["model:small", "model:big"], "t": "1"}).text
    header = re.search(r"<thead>(.*?)</thead>", html, re.DOTALL)
    assert header and text(header.group(1)) == "model total parameters"
    body = text(html.split("<tbody>", 1)[1].split("</tbody>", 1)[0])
    order = [body.index(t) for t in ("Test Small", "7,000,000,000", "Test Big", "70,000,000,000")]
    assert order == sorted(order), "one row per model"


@pytest.mark.parametrize(
    ("given", "says"),
    [("model:nope", "no model or checkpoint"), ("nope:x", "neither an IRI nor a prefixed name"),
     ("https://w3id.org/llmkg/id/family/fam", "no model or checkpoint")],
)  # fmt: skip
def test_comparing_what_is_not_a_model_is_a_clear_400(client: TestClient, given: str, says: str) -> None:
    answer = client.get("/compare", params={"m": given})
    assert answer.status_code == 400 and says in unescape(answer.text)
    assert client.get("/compare", params={"m": ["model:small"] * 13}).status_code == 400


def summary_card(html: str) -> str:
    found = re.search(r'<section class="summary-card".*?</section>', html, re.DOTALL)
    assert found, "no summary card"
    return found.group(0)


def test_entity_page_answers_first_with_a_summary_card(client: TestClient) -> None:
    html = client.get("/id/model/small").text
    card = summary_card(html)
    assert html.index(card) < html.index('<section class="group">'), "the card comes before the details"
    facts = dict(re.findall(r'<dt><a href="#([^"]+)">([^<]+)</a></dt>', card))
    assert facts == {"prop-llmkg-totalParameters": "Parameters", "prop-llmkg-inFamily": "Family"}
    for anchor in facts:
        assert f'id="{anchor}"' in html, "each card line leads to its detailed row"
    words = text(card)
    assert "total 7,000,000,000 (7 B) card-v1" in words, "the preferred value with its source"
    assert "8,000,000,000" not in words, "the card shows the preferred value only"


def test_badges_put_primary_first_party_sources_first_and_a_legend_explains_them(client: TestClient) -> None:
    html = client.get("/id/model/big").text
    row = re.search(r'id="prop-llmkg-totalParameters".*?</tr>', html, re.DOTALL)
    assert row
    badges = re.findall(r'class="badge source ([^"]+)" href="http://testserver/id/source/([^"]+)"', row.group(0))
    assert badges == [("primary first-party", "card-v1"), ("secondary", "blog")]
    legend = re.search(r'<details class="legend">.*?</details>', html, re.DOTALL)
    assert legend
    for style in ("source primary first-party", "source primary", "curated", "source secondary"):
        assert f'class="badge {style}"' in legend.group(0)


def test_ontology_documentation_has_one_anchor_per_term_and_entity_pages_link_to_them(client: TestClient) -> None:
    doc = client.get("/ontology", headers={"Accept": "text/html"}).text
    ids = re.findall(r'\sid="([^"]+)"', doc)
    assert len(ids) == len(set(ids)), "anchors are unique"
    sections = re.findall(r'class="[a-z ]*entity" id="([^"]+)"', doc)
    assert sorted(sections) == ["inFamily", "totalParameters"], "one section per term the ontology graph declares"
    for term in sections:
        section = doc.split(f'id="{term}"', 1)[1].split('<div class="', 1)[0]
        assert f"https://w3id.org/llmkg/ontology#{term}" in section, "each section is its term's"
    pres = {term: doc.split(f'id="{term}"', 1)[1].split("</pre>", 1)[0].rsplit("<pre", 1)[1] for term in sections}
    examples = {term: text(pre.split(">", 1)[1]) for term, pre in pres.items()}
    assert examples == {  # the first use in the preferred values, in IRI order
        "inFamily": "model:big llmkg:inFamily family:fam .",
        "totalParameters": 'model:big llmkg:totalParameters "70000000000"^^xsd:integer .',
    }
    model = client.get("/id/model/small").text
    links = re.findall(r'<th scope="row" id="[^"]+"><a href="http://testserver/ontology#([^"]+)"', model)
    assert set(links) == {"inFamily", "totalParameters"}, "every property name links to its section"
    turtle = client.get("/ontology", headers={"Accept": "text/turtle"})
    assert turtle.headers["content-type"].startswith("text/turtle") and "totalParameters" in turtle.text


LINEAGE = """
@prefix llmkg: <https://w3id.org/llmkg/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix model: <https://w3id.org/llmkg/id/model/> .
<https://w3id.org/llmkg/graph/test/card> {
  model:base a llmkg:Model ; rdfs:label "Base" .
  model:guard a llmkg:Model ; rdfs:label "Guard" ; llmkg:prunedFrom model:base .
  model:guard-int4 a llmkg:Model ; rdfs:label "Guard INT4" ; llmkg:quantizedFrom model:guard .
}
<https://w3id.org/llmkg/graph/ontology/llmkg> {
  llmkg:prunedFrom rdfs:label "pruned from"@en .
  llmkg:quantizedFrom rdfs:label "quantized from"@en .
}
"""


@pytest.mark.parametrize(
    ("model", "shown"),
    [
        (
            "guard",
            "Lineage Comes from (each link as a source states it, nearest first): pruned from Base What comes "
            "from it: Guard INT4 quantized from it",
        ),
        ("base", "Lineage What comes from it: Guard pruned from it Guard INT4 quantized from it"),
    ],
)
def test_entity_pages_draw_the_lineage_both_ways(model: str, shown: str) -> None:
    quads = list(ox.parse(LINEAGE, format=ox.RdfFormat.TRIG))
    store = ox.Store()
    store.bulk_extend([*quads, *derived_quads(quads)])  # as the build makes a store: labels in graph/default
    with TestClient(page_app(store)) as client:
        html = client.get(f"/id/model/{model}", headers={"Accept": "text/html"}).text
    start = html.index('<section class="lineage"')
    assert text(html[start : html.index("</section>", start)]) == shown


def test_the_audit_page_is_a_summary_and_one_section_at_a_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "LIST_PAGE", 1)
    first = client.get("/audit", headers={"Accept": "text/html"})
    assert first.status_code == 200 and 'data-name="audit-sources"' in first.text
    sources = int(re.search(r'id="sources">(\d+)<', first.text)[1])  # type: ignore[index]
    assert sources > 1 and f"Page 1 of {sources}" in text(first.text) and 'rel="next"' in first.text
    last = client.get(f"/audit?section=sources&page={sources}", headers={"Accept": "text/html"})
    assert 'rel="prev"' in last.text and 'rel="next"' not in last.text
    missing = client.get("/audit?section=missing", headers={"Accept": "text/html"})
    assert 'data-name="audit-missing"' in missing.text and 'data-name="audit-sources"' not in missing.text
    for bad in ("section=nope", f"section=sources&page={sources + 1}", "page=x"):
        assert client.get(f"/audit?{bad}", headers={"Accept": "text/html"}).status_code == 404


def test_a_large_graph_is_shown_a_page_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmkg.pages import resolve

    monkeypatch.setattr(resolve, "GRAPH_PAGE", 2)
    card = "https://w3id.org/llmkg/graph/test/card"
    with TestClient(page_app(mini_store())) as client:
        whole = len(list(mini_store().quads_for_pattern(None, None, None, ox.NamedNode(card))))
        assert whole > 2, "the fixture graph must need more than one page"
        shown = []
        for number in range(1, -(-whole // 2) + 1):
            html = client.get(f"/graph/test/card?page={number}").text
            shown += re.findall(r"<tr>\s*<td>", html)
            assert ('rel="next"' in html) == (number * 2 < whole)
            assert ('rel="prev"' in html) == (number > 1)
        assert len(shown) == whole, "every statement appears on exactly one page"
        for bad in ("0", "x", str(whole)):
            assert client.get(f"/graph/test/card?page={bad}").status_code == 404


def test_what_points_at_a_thing_is_counted_and_the_first_few_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmkg.namespaces import DEFAULT_GRAPH
    from llmkg.pages import entity

    monkeypatch.setattr(entity, "INBOUND_LIMIT", 1)
    store = mini_store()
    metric = ox.NamedNode("https://w3id.org/llmkg/id/metric/acc")
    pointing = {q.subject for q in store.quads_for_pattern(None, None, metric, ox.NamedNode(DEFAULT_GRAPH))}
    assert len(pointing) > 1, "the fixture must have more than one result measured with this metric"
    with TestClient(page_app(store)) as client:
        section = re.search(r'<dl class="inbound">.*?</dl>', client.get("/id/metric/acc").text, re.DOTALL)
    assert section, "the page does not list what refers to the metric"
    assert len(re.findall(r"<a href=", section.group(0))) == 1
    assert f"and {len(pointing) - 1} more" in text(section.group(0))


LONG_LISTS = {
    "/conflicts": lambda site: site.report.conflicts,
    "/sources": lambda site: site.report.sources,
    "/.well-known/void": lambda site: site.statistics.graph_triples,
}


@pytest.mark.parametrize("path", LONG_LISTS)
def test_long_lists_are_paged(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    monkeypatch.setattr(routes, "LIST_PAGE", 1)
    with TestClient(page_app(mini_store())) as client:
        total = len(LONG_LISTS[path](client.app.state.site))  # type: ignore[attr-defined]
        assert total > 1, "the fixture must need more than one page"
        for number in range(1, total + 1):
            html = client.get(f"{path}?page={number}", headers={"Accept": "text/html"}).text
            body = re.search(r"<tbody>(.*?)</tbody>", html, re.DOTALL)
            assert body and body.group(1).count("<tr") == 1 and f"({total})" in html
            assert ('rel="next"' in html) == (number < total)
        assert client.get(f"{path}?page={total + 1}", headers={"Accept": "text/html"}).status_code == 404


def test_the_model_index_is_paged_and_keeps_its_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "LIST_PAGE", 1)
    with TestClient(page_app(mini_store())) as client:
        first = client.get("/models?kind=model")
        total = int(re.search(r"(\d+) of \d+ shown", text(first.text))[1])  # type: ignore[index]
        assert total > 1, "the fixture must have more than one model"
        names, url = [], "/models?kind=model"
        for number in range(1, total + 1):
            html = client.get(url).text
            body = re.search(r"<tbody>(.*?)</tbody>", html, re.DOTALL)
            assert body and body.group(1).count("<tr") == 1 and f"Page {number} of {total}" in text(html)
            names += re.findall(r'<td><a href="([^"]+)"', body.group(1))
            following = re.search(r'rel="next" href="[^"]*/(models\?[^"]+)"', html)
            assert (following is not None) == (number < total)
            url = "/" + following.group(1).replace("&amp;", "&") if following else url
        assert "kind=model" in url and len(set(names)) == total, "each model appears on exactly one page"
        assert client.get(f"/models?kind=model&page={total + 1}").status_code == 404
