"""The model index: every model and checkpoint with the facts people compare, filterable by facets.

Values are the preferred ones (``graph/preferred``, one per fact). A checkpoint that does not state a
fact shows its model's, marked as such. Filters are query parameters, so the page works without
JavaScript and every filtered view has its own address.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pyoxigraph as ox

from llmkg.namespaces import LLMKG, PREFERRED_GRAPH, expand, text
from llmkg.pages.data import Site
from llmkg.pages.entity import compact

#: Column -> the property it shows (``checkpointOf`` and ``releaseStatus`` are read for their own columns).
PROPERTIES = {
    "family": "llmkg:inFamily",
    "developer": "llmkg:developer",
    "active": "llmkg:activeParameters",
    "total": "llmkg:totalParameters",
    "context": "llmkg:contextLength",
    "released": "dcterms:issued",
    "licence": "dcterms:license",
    "input": "llmkg:inputModality",
    "output": "llmkg:outputModality",
    "status": "llmkg:releaseStatus",
    "model": "llmkg:checkpointOf",
    "repository": "llmkg:huggingFaceRepository",
}
COLUMN_OF = {expand(short): column for column, short in PROPERTIES.items()}
#: Columns a checkpoint takes from its model when it states nothing itself.
INHERITED = ("family", "developer", "active", "total", "context", "released", "licence", "input", "output", "status")
#: Facets, in the order the page lists them.
FACETS = ("kind", "family", "developer", "licence", "modalities", "open weights", "year")
#: Types read from the default graph, where each is stated once: read from every graph that states them,
#: three times as many rows came back at 1M quads.
INDEX_QUERY = f"""SELECT ?x ?kind ?p ?o WHERE {{
  VALUES ?kind {{ llmkg:Model llmkg:Checkpoint }}
  VALUES ?p {{ {" ".join(PROPERTIES.values())} }}
  ?x a ?kind
  OPTIONAL {{ GRAPH <{PREFERRED_GRAPH}> {{ ?x ?p ?o }} }}
}}"""


@dataclass
class Row:
    iri: str
    label: str
    kind: str  # "model" or "checkpoint"
    values: dict[str, list[ox.NamedNode | ox.Literal]] = field(default_factory=dict)
    inherited: set[str] = field(default_factory=set)  # columns shown from the checkpoint's model

    def iris(self, column: str) -> list[str]:
        return [v.value for v in self.values.get(column, []) if isinstance(v, ox.NamedNode)]

    def number(self, column: str) -> int | None:
        found = [int(v.value) for v in self.values.get(column, []) if isinstance(v, ox.Literal)]
        return max(found) if found else None

    def text(self, column: str) -> str:
        return ", ".join(sorted(v.value for v in self.values.get(column, [])))


@dataclass
class Index:
    rows: list[Row]
    facets: dict[str, list[tuple[str, str, int]]]  # facet -> (value key, label, count among the shown rows)
    chosen: dict[str, list[str]]
    total: int


def rows(site: Site) -> list[Row]:
    """Every model and checkpoint with its preferred values; checkpoints fill gaps from their model."""
    found: dict[str, Row] = {}
    values: dict[str, dict[str, list[ox.NamedNode | ox.Literal]]] = defaultdict(lambda: defaultdict(list))
    for r in site.select(INDEX_QUERY):
        iri = text(r["x"])
        kind = "model" if text(r["kind"]) == LLMKG + "Model" else "checkpoint"
        found.setdefault(iri, Row(iri, site.label(iri), kind))
        term = r.get("o")
        if "p" not in r or not isinstance(term, ox.NamedNode | ox.Literal):
            continue
        listed = values[iri][COLUMN_OF[text(r["p"])]]
        if term not in listed:
            listed.append(term)
    for row in found.values():
        row.values = dict(values[row.iri])
    for row in found.values():
        model = next((found[m] for m in row.iris("model") if m in found), None)
        if model is None:
            continue
        for column in INHERITED:
            if column not in row.values and column in model.values:
                row.values[column] = model.values[column]
                row.inherited.add(column)
    return sorted(found.values(), key=lambda r: (r.kind != "model", r.label.lower()))


def facet_values(site: Site, row: Row) -> dict[str, list[tuple[str, str]]]:
    """(key, label) of each facet value of ``row``: IRIs for things, plain words for the rest."""
    open_weights = open_weights_of(row)
    released = row.text("released")
    return {
        "kind": [(row.kind, row.kind)],
        "family": [(i, site.label(i)) for i in row.iris("family")],
        "developer": [(i, site.label(i)) for i in row.iris("developer")],
        "licence": [(i, site.label(i)) for i in row.iris("licence")],
        "modalities": [(i, site.label(i)) for i in dict.fromkeys(row.iris("input") + row.iris("output"))],
        "open weights": [(open_weights, open_weights)] if open_weights else [],
        "year": [(released[:4], released[:4])] if released else [],
    }


def open_weights_of(row: Row) -> str:
    """ "yes" when the weights are released (or published on Hugging Face), "no" for another status, else ""."""
    if LLMKG + "Released" in row.iris("status") or row.values.get("repository"):
        return "yes"
    return "no" if row.iris("status") else ""


def index(site: Site, chosen: dict[str, list[str]]) -> Index:
    """The rows that have every chosen facet value, and each facet's counts among them."""
    every = rows(site)
    facets = {row.iri: facet_values(site, row) for row in every}
    wanted = {k: set(v) for k, v in chosen.items() if k in FACETS and v}
    shown = [r for r in every if all(wanted[k] & {key for key, _ in facets[r.iri][k]} for k in wanted)]
    counts: dict[str, Counter[tuple[str, str]]] = {name: Counter() for name in FACETS}
    for row in shown:
        for name in FACETS:
            counts[name].update(facets[row.iri][name])
    listed = {
        name: [(key, label, n) for (key, label), n in sorted(counts[name].items(), key=lambda c: (-c[1], c[0][1]))]
        for name in FACETS
    }
    return Index(rows=shown, facets=listed, chosen={k: sorted(v) for k, v in wanted.items()}, total=len(every))


def size(number: int | None) -> str:
    return compact(number) if number is not None else ""


def toggled(chosen: dict[str, list[str]], facet: str, key: str) -> str:
    """The query string of the index with ``key`` added to (or removed from) the ``facet`` filter."""
    now = {name: list(values) for name, values in chosen.items()}
    values = now.setdefault(facet, [])
    if key in values:
        values.remove(key)
    else:
        values.append(key)
    return urlencode([(name, v) for name, vs in now.items() for v in vs])
