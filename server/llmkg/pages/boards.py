"""Leaderboards: for each benchmark (and each task of a suite) and each setting, every model's score.

A board holds the results that share benchmark, metric and setting (shots, chain of thought, tool
use, free-text setting, scoring variant, evaluation run, hazard scope), because only those compare.
Each entry carries the preferred value (graph/preferred), every other value a source states for the
same result (a disagreement), and the source documents that state it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from llmkg.namespaces import shorten
from llmkg.pages.data import Row, Site

#: The properties that make results comparable, in the order a board's title names them.
SETTING = ("metric", "shots", "cot", "tool", "setting", "variant", "run", "hazard")
_RESULTS = """
SELECT ?b ?r ?model ?value ?metric ?shots ?cot ?tool ?setting ?variant ?run ?hazard ?by ?hib WHERE {
  GRAPH graph:preferred {
    ?r llmkg:benchmark ?b ; llmkg:value ?value .
    OPTIONAL { ?r llmkg:evaluatedModel ?model } OPTIONAL { ?r llmkg:metric ?metric }
    OPTIONAL { ?r llmkg:shots ?shots } OPTIONAL { ?r llmkg:chainOfThought ?cot }
    OPTIONAL { ?r llmkg:toolUse ?tool } OPTIONAL { ?r llmkg:setting ?setting }
    OPTIONAL { ?r llmkg:scoringVariant ?variant } OPTIONAL { ?r llmkg:inEvaluationRun ?run }
    OPTIONAL { ?r llmkg:hazardScope ?hazard } OPTIONAL { ?r llmkg:evaluatedBy ?by }
  }
  OPTIONAL { GRAPH graph:preferred { ?metric llmkg:higherIsBetter ?hib } }
}"""
_SOURCES = """
SELECT ?b ?r ?value ?g ?doc WHERE {
  GRAPH graph:preferred { ?r llmkg:benchmark ?b }
  GRAPH ?g { ?r llmkg:value ?value }
  FILTER NOT EXISTS { ?g a llmkg:DerivedGraph }
  OPTIONAL { GRAPH ?g { ?g prov:wasDerivedFrom ?doc } }
} ORDER BY ?g"""


@dataclass
class Source:
    iri: str  # the source document, or the graph when it is a curated one
    label: str
    value: str


@dataclass
class Entry:
    result: str
    model: str
    model_label: str
    value: float
    text: str
    by: str = ""
    sources: list[Source] = field(default_factory=list)

    @property
    def disagreement(self) -> list[str]:
        """Other values sources give for this very result (empty when they all agree)."""
        return sorted({s.value for s in self.sources} - {self.text})

    @property
    def link(self) -> str:
        """The source a bar links to: the first that states the preferred value."""
        return next((s.iri for s in self.sources if s.value == self.text), self.result)


@dataclass
class Board:
    title: str
    metric: str
    higher_is_better: bool | None
    entries: list[Entry]

    def chart(self, link: Callable[[str], str] = str) -> dict[str, Any]:
        """What the chart script draws: one bar per entry, each linked (through ``link``) to its source."""
        return {
            "title": self.title,
            "labels": [e.model_label for e in self.entries],
            "values": [e.value for e in self.entries],
            "links": [link(e.link) for e in self.entries],
        }


@dataclass
class Leaderboard:
    iri: str
    label: str
    boards: list[Board]
    tasks: list[tuple[str, str, list[Board]]]


def leaderboard(site: Site, benchmark: str) -> Leaderboard:
    """The boards of a benchmark, and of each task if it is a suite (MLGym: per task, AUP per variant)."""
    tasks = site.prefetch_labels_of(
        site.select("SELECT ?b ?t WHERE { ?t llmkg:taskOf ?b } ORDER BY ?t", b=ox.NamedNode(benchmark))
    )
    per_task = [(t["t"].value, site.label(t["t"]), boards(site, t["t"].value)) for t in tasks]
    return Leaderboard(benchmark, site.label(benchmark), boards(site, benchmark), [t for t in per_task if t[2]])


def boards(site: Site, benchmark: str) -> list[Board]:
    node = ox.NamedNode(benchmark)
    sources: dict[str, list[Source]] = defaultdict(list)
    for row in site.prefetch_labels_of(site.select(_SOURCES, b=node)):
        where = row.get("doc", row["g"])
        sources[row["r"].value].append(Source(where.value, site.label(where), row["value"].value))
    grouped: dict[tuple[str, ...], list[Row]] = defaultdict(list)
    for row in site.prefetch_labels_of(site.select(_RESULTS, b=node)):
        grouped[tuple(row[k].value if k in row else "" for k in SETTING)].append(row)
    out = [_board(site, key, rows, sources) for key, rows in grouped.items()]
    return sorted((b for b in out if b.entries), key=lambda b: b.title)


def _board(site: Site, key: tuple[str, ...], rows: list[Row], sources: dict[str, list[Source]]) -> Board:
    hib = next((r["hib"].value for r in rows if "hib" in r), None)
    higher = None if hib is None else hib in ("true", "1")
    entries: dict[str, Entry] = {}
    for row in rows:
        result = row["r"].value
        if result in entries or _number(row["value"]) is None:
            continue
        model = row["model"].value if "model" in row else result
        entries[result] = Entry(
            result=result,
            model=model,
            model_label=site.label(model),
            value=_number(row["value"]) or 0.0,
            text=row["value"].value,
            by=site.label(row["by"]) if "by" in row else "",
            sources=sources.get(result, []),
        )
    ordered = sorted(entries.values(), key=lambda e: (-e.value if higher is not False else e.value, e.model_label))
    return Board(title(site, dict(zip(SETTING, key, strict=True))), key[0], higher, ordered)


def _number(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> float | None:
    try:
        return float(term.value) if isinstance(term, ox.Literal) else None
    except ValueError:
        return None


def title(site: Site, key: dict[str, str]) -> str:
    """A board's name: metric, then the setting in words (``macro avg acc · 5-shot · CoT``)."""
    parts = [site.label(key["metric"]) if key["metric"] else "score"]
    if key["shots"]:
        parts.append(f"{key['shots']}-shot")
    if key["cot"] in ("true", "1"):
        parts.append("chain of thought")
    if key["tool"] in ("true", "1"):
        parts.append("tool use")
    parts += [site.label(key[k]) for k in ("variant", "run", "hazard") if key[k]]
    parts += [key["setting"]] if key["setting"] else []
    return " · ".join(parts)


@dataclass
class BoardLink:
    iri: str
    label: str
    results: int
    models: int
    tasks: int = 0


#: Where the build record keeps the index of leaderboards (see pages/precomputed.py).
RECORD = "leaderboards"


def index(site: Site) -> list[BoardLink]:
    """Every benchmark with results; the tasks of a suite count towards the suite (read once: the
    counts go through every result)."""
    return site.once(RECORD, lambda: _index(site), recorded=lambda data: [BoardLink(**link) for link in data])


def record(site: Site) -> list[dict[str, Any]]:
    return [dataclasses.asdict(link) for link in index(site)]


def _index(site: Site) -> list[BoardLink]:
    suite = {r["t"].value: r["b"].value for r in site.select("SELECT DISTINCT ?t ?b WHERE { ?t llmkg:taskOf ?b }")}
    counts = site.select(
        """SELECT ?b (COUNT(DISTINCT ?r) AS ?n) (COUNT(DISTINCT ?m) AS ?models) WHERE {
             GRAPH graph:preferred { ?r llmkg:benchmark ?b OPTIONAL { ?r llmkg:evaluatedModel ?m } } } GROUP BY ?b"""
    )
    found: dict[str, BoardLink] = {}
    site.prefetch_labels(suite.get(row["b"].value, row["b"].value) for row in counts)
    for row in counts:
        bench = suite.get(row["b"].value, row["b"].value)
        link = found.setdefault(bench, BoardLink(bench, site.label(bench), 0, 0))
        link.results += int(row["n"].value)
        link.models = max(link.models, int(row["models"].value))
        link.tasks += bench != row["b"].value
    return sorted(found.values(), key=lambda b: b.label.lower())


def results_of(site: Site, iri: str) -> list[dict[str, str]]:
    """The results of a checkpoint, or of every checkpoint of a model, for its page."""
    # The checkpoints first, then their results through VALUES: as one pattern (?ck llmkg:checkpointOf?
    # ?x) the engine went through every node of the graph for the zero-length path, 6 s at 10M quads.
    node = ox.NamedNode(iri)
    checkpoints = site.select("SELECT ?x ?ck WHERE { ?ck llmkg:checkpointOf ?x }", x=node)
    found = [r["ck"] for r in checkpoints if isinstance(r["ck"], ox.NamedNode)]
    listed = " ".join(str(term) for term in [node, *found])  # IRIs, checked by pyoxigraph
    rows = site.select(
        f"""SELECT DISTINCT ?r ?ck ?b ?value ?metric ?shots WHERE {{
             VALUES ?ck {{ {listed} }}
             GRAPH graph:preferred {{ ?r llmkg:evaluatedModel ?ck ; llmkg:benchmark ?b ; llmkg:value ?value .
               OPTIONAL {{ ?r llmkg:metric ?metric }} OPTIONAL {{ ?r llmkg:shots ?shots }} }}
           }} ORDER BY ?b ?ck ?r"""
    )
    site.prefetch_labels_of(rows)
    return [
        {
            "result": r["r"].value,
            "checkpoint": r["ck"].value,
            "benchmark": r["b"].value,
            "value": r["value"].value,
            "metric": site.label(r["metric"]) if "metric" in r else "",
            "shots": r["shots"].value if "shots" in r else "",
            "name": shorten(r["r"]),
        }
        for r in rows
    ]
