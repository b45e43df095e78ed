"""The web face in a real browser: Debian's Chromium driven by Playwright, over the shipped graph.

Skipped, with the reason, only where /usr/bin/chromium or Playwright is missing (.ci/run installs
both). Screenshots of the main pages go to test-artifacts/.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rdflib
import uvicorn

from llmkg.kg.build import Dataset, memory_store
from llmkg.namespaces import BASE, ID
from llmkg.pages import boards
from llmkg.pages.data import Site
from tests.web_support import REPO, served_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
if not CHROMIUM.exists():
    pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run does)", allow_module_level=True)
if importlib.util.find_spec("playwright") is None:
    pytest.skip("Playwright for Python is not installed (pip install -e '.[test]')", allow_module_level=True)
if not (REPO / "node_modules" / "@zazuko" / "yasgui").is_dir():
    pytest.skip("node_modules is absent: run `npm ci` at the repository root (.ci/run does)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(dataset: Dataset) -> Iterator[tuple[str, Site]]:
    """The whole app (endpoint and pages) on 127.0.0.1, in a thread of this process."""
    app = served_app(memory_store(dataset), version=dataset.version)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{server.config.port}/", app.state.site
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_home_page_leads_to_a_model_and_its_sources(served: tuple[str, Site], page: Page) -> None:
    base, _ = served
    page.goto(base)
    expect(page.locator("#families a").first).to_be_visible()
    shot(page, "home")
    page.locator("#families li a").first.click()
    expect(page.locator(".types .type").first).to_have_text("model family")
    page.locator("dl.inbound a").first.click()
    expect(page.locator("h1")).not_to_be_empty()
    badge = page.locator("a.badge.source").first
    expect(badge).to_be_visible()
    badge.click()
    expect(page.get_by_text("Fact graphs taken from this document")).to_be_visible()


def test_the_editor_charts_the_measured_value_not_a_condition(served: tuple[str, Site], page: Page) -> None:
    """Saved query 006 lists shots before the score: the chart plots the score."""
    base, _ = served
    page.goto(base + "editor")
    expect(page.locator("body.yasgui-ready")).to_have_count(1)
    page.locator('[data-example^="006"]').first.click()
    page.locator(".tabPanel.active .yasqe_queryButton").click()
    expect(page.locator(".tabPanel.active .yasr table.dataTable tbody tr").first).to_be_visible(timeout=20_000)
    page.locator(".tabPanel.active .yasr .select_chart").first.click()
    canvas = page.locator(".tabPanel.active .yasr-chart canvas").first
    expect(canvas).to_be_visible()
    assert canvas.evaluate("(c) => Chart.getChart(c).data.datasets[0].label") == "value"


def test_editor_runs_a_saved_example_and_shows_rows(served: tuple[str, Site], page: Page) -> None:
    base, _ = served
    page.goto(base + "editor")
    expect(page.locator("body.yasgui-ready")).to_have_count(1)
    expect(page.locator("#plain-form")).to_be_hidden()
    example = page.locator("[data-example]").first
    name = example.inner_text()
    example.click()
    expect(page.locator(".tabPanel.active .yasqe")).to_be_visible()
    expect(page.locator(".tab.active")).to_contain_text(name[:20])
    page.locator(".tabPanel.active .yasqe_queryButton").click()
    rows = page.locator(".tabPanel.active .yasr table.dataTable tbody tr")
    expect(rows.first).to_be_visible(timeout=20_000)
    assert rows.count() > 0
    shot(page, "editor")
    link = page.locator(f'.tabPanel.active .yasr tbody a[href^="{BASE}"]').first
    if link.count() and link.get_attribute("target") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        resource = opened.value
    elif link.count():
        link.click()
        resource = page
    else:
        return
    resource.wait_for_load_state()
    assert resource.url.startswith(base), "a result IRI should open on this server"


def conflicted(site: Site) -> str:
    """A model, checkpoint or other thing on which sources disagree (taken from the audit, not hard-coded)."""
    subjects = [c.subject for c in site.report.conflicts if c.subject.startswith("model:")]
    subjects = subjects or [c.subject for c in site.report.conflicts]
    if not subjects:
        pytest.skip("the shipped graph has no disagreement between sources yet")
    kind, slug = subjects[0].split(":", 1)
    return f"id/{kind}/{slug}"


def test_entity_page_shows_badges_and_a_flagged_conflict(served: tuple[str, Site], page: Page) -> None:
    base, site = served
    page.goto(base + conflicted(site))
    expect(page.locator("tr.conflict .flag").first).to_be_visible()
    expect(page.locator("tr.conflict .side-by-side .value")).not_to_have_count(0)
    assert page.locator("a.badge.source").count() > 0
    assert page.locator("tr.conflict .side-by-side .value").count() >= 2
    shot(page, "entity")


def test_leaderboard_draws_a_chart_whose_bars_link_to_sources(served: tuple[str, Site], page: Page) -> None:
    base, site = served
    listed = [b for b in boards.index(site) if b.models >= 2]
    if not listed:
        pytest.skip("no benchmark with results for two models yet")
    page.goto(base + "leaderboards/" + max(listed, key=lambda b: b.models).iri.rsplit("/", 1)[-1])
    canvas = page.locator("canvas.board-chart").first
    expect(canvas).to_have_attribute("data-drawn", str(page.locator(".board-table").first.locator("tr").count() - 1))
    shot(page, "leaderboard")
    bar: dict[str, Any] = page.evaluate(
        """(c) => { const m = Chart.getChart(c).getDatasetMeta(0).data[0]; return {x: m.x, y: m.y, base: m.base}; }""",
        canvas.element_handle(),
    )
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + (bar["x"] + bar["base"]) / 2, box["y"] + bar["y"])
    page.wait_for_url(lambda url: "/leaderboards/" not in url)
    expect(page.locator("h1")).not_to_be_empty()


def test_family_comparison(served: tuple[str, Site], page: Page) -> None:
    base, _ = served
    page.goto(base)
    page.locator("#families li a.small").first.click()
    expect(page.locator("table.compare").first).to_be_visible()
    shot(page, "compare")


@pytest.mark.parametrize(("accept", "fmt"), [("text/turtle", "turtle"), ("application/ld+json", "json-ld")])
def test_entity_as_rdf(served: tuple[str, Site], page: Page, accept: str, fmt: str) -> None:
    base, site = served
    path = conflicted(site)
    response = page.request.get(base + path, headers={"Accept": accept})
    assert response.ok and "Accept" in [v.strip() for v in response.headers["vary"].split(",")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        data = rdflib.Dataset()
        data.parse(data=response.body(), format=fmt)
    subject = rdflib.URIRef(ID + path.removeprefix("id/"))
    assert len(list(data.quads((subject, None, None, None)))) > 0


def test_search_suggests_as_you_type_and_leads_to_the_page(served: tuple[str, Site], page: Page) -> None:
    base, site = served
    models = site.select("SELECT DISTINCT ?m WHERE { GRAPH ?g { ?m a llmkg:Model } }")
    label = site.label(max((r["m"] for r in models), key=lambda m: len(site.label(m))))  # the longest name
    page.goto(base)
    page.locator("#site-q").press_sequentially(label.lower()[:-1], delay=20)
    first = page.locator("#site-suggestions a").first
    expect(first).to_contain_text(label)
    shot(page, "search-suggestions")
    first.click()
    expect(page.locator("h1")).to_have_text(label)


def shown_table(page: Page, selector: str) -> list[list[str]]:
    """The header and visible rows of a table as a person sees them (whitespace collapsed)."""
    rows: list[list[str]] = page.evaluate(
        """(s) => { const t = document.querySelector(s);
             const clean = (c) => c.textContent.replace(/\\s+/g, ' ').trim();
             const head = Array.from(t.tHead.rows[t.tHead.rows.length - 1].cells).map(clean);
             return [head].concat(Array.from(t.tBodies[0].rows).map((r) => Array.from(r.cells).map(clean))); }""",
        selector,
    )
    return rows


def test_model_index_sorts_filters_and_downloads_what_it_shows(served: tuple[str, Site], page: Page) -> None:
    base, _ = served
    page.goto(base + "models")
    shot(page, "models")
    header = page.locator("#models thead th").filter(has_text="total params")
    header.locator("button.sort").click()
    header.locator("button.sort").click()  # twice: largest first
    expect(header).to_have_attribute("aria-sort", "descending")
    sizes = page.eval_on_selector_all(
        "#models tbody tr td:nth-child(6)", "(cells) => cells.map((c) => c.dataset.sort || '')"
    )
    numbers = [int(s) for s in sizes if s]
    assert numbers and numbers == sorted(numbers, reverse=True)
    assert sizes[: len(numbers)] == [str(n) for n in numbers], "empty cells come last"
    shown = shown_table(page, "#models")
    with page.expect_download() as fetched:
        page.locator("button.download-csv").first.click()
    path = fetched.value.path()
    assert path is not None
    with open(path, newline="", encoding="utf-8") as downloaded:
        assert list(csv.reader(downloaded)) == shown
    with page.expect_download() as fetched:
        page.locator("button.download-json").first.click()
    objects = json.loads(Path(str(fetched.value.path())).read_text(encoding="utf-8"))
    assert [list(o.values()) for o in objects] == shown[1:] and list(objects[0]) == shown[0]
    page.locator("details[data-facet=kind] a.facet", has_text="checkpoint").click()
    expect(page.locator("details[data-facet=kind] a.facet.on")).to_have_text("checkpoint")
    kinds = {row[1] for row in shown_table(page, "#models")[1:]}
    assert kinds == {"checkpoint"}


def test_long_tables_are_paged_and_every_table_downloads_as_csv(served: tuple[str, Site], page: Page) -> None:
    base, _ = served
    page.goto(base + "sources")
    rows = page.locator("table.data-table tbody tr")
    total = rows.count()
    if total <= 50:
        pytest.skip("fewer than 51 sources: nothing to page")
    expect(page.locator("tbody tr:visible")).to_have_count(50)
    pager = page.locator(".pager")
    expect(pager.locator(".where")).to_have_text(f"rows 1 to 50 of {total}")
    pager.locator("button.next").click()
    expect(pager.locator(".where")).to_have_text(f"rows 51 to {min(100, total)} of {total}")
    with page.expect_download() as fetched:
        page.locator("button.download-csv").click()
    with open(str(fetched.value.path()), newline="", encoding="utf-8") as downloaded:
        assert list(csv.reader(downloaded)) == shown_table(page, "table.data-table"), "all rows, in the order shown"


def test_cross_family_comparison_adds_removes_and_transposes(served: tuple[str, Site], page: Page) -> None:
    base, site = served
    families = site.select(
        "SELECT ?f (SAMPLE(?m) AS ?one) WHERE { GRAPH ?g { ?m a llmkg:Model ; llmkg:inFamily ?f } } GROUP BY ?f"
    )
    if len(families) < 2:
        pytest.skip("one family only")
    first, second = (site.label(r["one"]) for r in families[:2])
    page.goto(base + "compare")
    for name in (first, second):
        page.locator("#compare-add").select_option(label=f"{name} (model)")
        page.locator("form.compare-add button").click()
    heads = page.locator("table.compare").first.locator("thead th")
    expect(heads).to_have_count(3)
    expect(heads.nth(1)).to_contain_text(first)
    expect(heads.nth(2)).to_contain_text(second)
    shared = page.locator("input.share").input_value()
    assert shared == page.url, "the address to share is the page's own"
    page.locator("#transpose").click()
    expect(page.locator("table.compare").first.locator("tbody th").nth(0)).to_contain_text(first)
    shot(page, "compare-chosen")
    page.get_by_label(f"remove {first}").first.click()
    expect(page.locator("table.compare").first.locator("tbody tr")).to_have_count(1)


def test_from_search_to_a_models_size_and_its_source(served: tuple[str, Site], page: Page) -> None:
    """The path a person takes: type a model's name, open it, read its size on the card, open the source."""
    base, site = served
    sized = site.select(
        "SELECT ?m WHERE { GRAPH <https://w3id.org/llmkg/graph/preferred> { ?m a llmkg:Model ;"
        " llmkg:activeParameters ?a ; llmkg:totalParameters ?t } } ORDER BY ?m LIMIT 1"
    )
    if not sized:
        pytest.skip("no model with active and total parameters")
    label = site.label(sized[0]["m"])
    page.goto(base)
    page.locator("#site-q").fill(label)
    page.locator("#site-suggestions a").first.click()
    card = page.locator(".summary-card")
    expect(card.locator("dt").first).to_have_text("Parameters")
    expect(card.locator("dd").first).to_contain_text("total")
    shot(page, "entity-card")
    card.locator("dt a").first.click()
    expect(page.locator("#prop-llmkg-activeParameters")).to_be_in_viewport()
    card.locator("dd").first.locator("a.badge").first.click()
    expect(page.locator(".types")).to_contain_text("source")


def test_cite_gives_bibtex_and_csl_json_for_the_served_version(served: tuple[str, Site], page: Page) -> None:
    base, site = served
    page.goto(base + "models")
    page.locator("footer details.cite-control summary").click()
    shown = page.locator("footer pre.bibtex")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(f"version = {{{site.version}}}")
    with page.expect_download() as fetched:
        page.locator("footer .citation a[href$='format=bibtex']").click()
    assert Path(str(fetched.value.path())).read_text(encoding="utf-8").strip() == shown.inner_text().strip()
    csl = json.loads(page.locator("footer pre.csl-json").inner_text())
    assert csl[0]["version"] == site.version and csl[0]["title"]


def test_a_property_name_on_an_entity_page_leads_to_its_ontology_section(served: tuple[str, Site], page: Page) -> None:
    base, _ = served
    page.goto(base + "models")
    page.locator("#models tbody a").first.click()
    name = page.locator("table.facts th[scope=row] a[href*='/ontology#']").first
    fragment = (name.get_attribute("href") or "").split("#", 1)[1]
    name.click()
    section = page.locator(f"[id='{fragment}']")
    expect(section).to_be_in_viewport()
    local = fragment.split("-", 1)[-1]  # llmkg terms by their fragment, others by prefixed name (skos-altLabel)
    expect(section.locator("code").first).to_have_text(re.compile(rf"[#/]{local}$"))
    shot(page, "ontology")


MAIN_PAGES = [
    *("", "models", "search?q=llama", "compare?m=model:llama-4-maverick&m=model:llama-3.1-405b", "leaderboards"),
    *("sources", "conflicts", "audit", "editor", "queries", "ontology", "cite", ".well-known/void", "no-such-page"),
]


def main_pages(site: Site) -> list[str]:
    """The main pages, with a model, a family comparison and a leaderboard taken from the graph."""
    model = site.select("SELECT ?m WHERE { GRAPH ?g { ?m a llmkg:Model ; llmkg:inFamily ?f } } ORDER BY ?m LIMIT 1")
    family = site.select("SELECT ?f WHERE { GRAPH ?g { ?m llmkg:inFamily ?f } } ORDER BY ?f LIMIT 1")
    board = max(boards.index(site), key=lambda b: b.models, default=None)
    found = [site.settings.iris.path(r[k].value) for rows, k in ((model, "m"), (family, "f")) for r in rows]
    extra = [p for p in found if p] + ([f"compare/{family[0]['f'].value.rsplit('/', 1)[-1]}"] if family else [])
    return MAIN_PAGES + extra + ([f"leaderboards/{board.iri.rsplit('/', 1)[-1]}"] if board else [])


@pytest.mark.parametrize("width", [390, 1280])
def test_no_page_is_wider_than_the_screen(served: tuple[str, Site], browser: Browser, width: int) -> None:
    """At a phone's width (390 px) and a laptop's, nothing runs off the side: wide tables scroll in their box."""
    base, site = served
    context = browser.new_context(viewport={"width": width, "height": 844 if width == 390 else 900})
    page = context.new_page()
    too_wide = {}
    for path in main_pages(site):
        page.goto(base + path)
        page.wait_for_load_state("load")
        scroll = int(page.evaluate("document.documentElement.scrollWidth"))
        if scroll > width:
            culprits = page.evaluate(
                """(w) => Array.from(document.querySelectorAll('body *'))
                     .filter((e) => e.getBoundingClientRect().right > w + 1)
                     .filter((e) => !e.closest('.table-box, pre, .editor-main'))
                     .slice(0, 3).map((e) => e.tagName + '.' + e.className)""",
                width,
            )
            too_wide[path] = (scroll, culprits)
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
        shot(page, f"{name}-{width}")
    context.close()
    assert not too_wide, f"pages wider than {width} px: {too_wide}"


AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.parametrize("width", [1280, 390])
def test_main_pages_have_no_serious_accessibility_violations(
    served: tuple[str, Site], browser: Browser, width: int
) -> None:
    """axe-core (from npm, pinned in package-lock.json) on every main page: no serious or critical violation."""
    assert AXE.is_file(), "node_modules lacks axe-core: run `npm ci` at the repository root (.ci/run does)"
    base, site = served
    # axe is injected as an inline script, which the pages' Content-Security-Policy rightly refuses.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for path in main_pages(site):
        page.goto(base + path)
        page.wait_for_load_state("load")
        page.add_script_tag(path=str(AXE))
        violations: list[dict[str, Any]] = page.evaluate(
            "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        if bad:
            found[path] = [f"{v['id']}: {v['nodes'][0]['target']} ({len(v['nodes'])} nodes)" for v in bad]
    context.close()
    assert not found, f"serious or critical accessibility violations: {found}"


def test_an_entity_page_as_of_a_date_through_its_date_picker(served: tuple[str, Site], page: Page) -> None:
    base, _ = served
    page.goto(base + "id/result/llama-3.1-70b-instruct--gpqa--0-shot")
    expect(page.locator(".as-of-banner")).to_have_count(0)
    expect(page.locator("table[data-name='timeline']")).to_contain_text("41.7")  # the history of the value
    page.locator("input[name='asof']").fill("2024-09-23")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".as-of-banner")).to_contain_text("2024-09-23")
    assert "asof=2024-09-23" in page.url
    expect(page.locator("table[data-name='timeline']")).to_have_count(0)  # its later history is not shown
    expect(page.locator("main")).to_contain_text("41.7")
    expect(page.locator("main")).not_to_contain_text("46.7")
    shot(page, "entity-as-of")
    page.get_by_role("link", name="today").click()
    expect(page.locator(".as-of-banner")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("46.7")
