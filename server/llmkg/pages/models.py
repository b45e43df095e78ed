"""The model index: every model and checkpoint with the facts people compare, filterable by facets.

Values are the preferred ones (``graph/preferred``, one per fact). A checkpoint that does not state a
fact shows its model's, marked as such. Filters are query parameters, so the page works without
JavaScript and every filtered view has its own address.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
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
#: Where the build record keeps the index (see pages/precomputed.py).
RECORD, FAMILIES = "model index", "families"
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


#: One value in a column: its lexical form or IRI, and whether it is an IRI.
Cell = tuple[str, bool]


@dataclass
class Row:
    iri: str
    label: str
    kind: str  # "model" or "checkpoint"
    values: dict[str, list[Cell]] = field(default_factory=dict)
    inherited: set[str] = field(default_factory=set)  # columns shown from the checkpoint's model

    def iris(self, column: str) -> list[str]:
        return [value for value, is_iri in self.values.get(column, []) if is_iri]

    def number(self, column: str) -> int | None:
        found = [int(value) for value, is_iri in self.values.get(column, []) if not is_iri]
        return max(found) if found else None

    def text(self, column: str) -> str:
        return ", ".join(sorted(value for value, _ in self.values.get(column, [])))

    def as_list(self) -> list[Any]:
        """The row as the build records it (its own values: a checkpoint inherits again when read)."""
        cells = {column: [[value, int(is_iri)] for value, is_iri in listed] for column, listed in self.values.items()}
        return [self.iri, self.label, self.kind, cells]

    @classmethod
    def from_list(cls, data: list[Any]) -> Row:
        iri, label, kind, cells = data
        return cls(iri, label, kind, {column: [(v, bool(i)) for v, i in listed] for column, listed in cells.items()})


@dataclass
class Index:
    rows: list[Row]
    facets: dict[str, list[tuple[str, str, int]]]  # facet -> (value key, label, count among the shown rows)
    chosen: dict[str, list[str]]
    total: int


def rows(site: Site) -> list[Row]:
    """Every model and checkpoint with its preferred values; checkpoints fill gaps from their model."""
    return _inherit(_own_rows(site))


def _own_rows(site: Site) -> list[Row]:
    found: dict[str, Row] = {}
    values: dict[str, dict[str, list[Cell]]] = defaultdict(lambda: defaultdict(list))
    every = site.select(INDEX_QUERY)
    site.prefetch_labels(text(r["x"]) for r in every)
    for r in every:
        iri = text(r["x"])
        kind = "model" if text(r["kind"]) == LLMKG + "Model" else "checkpoint"
        found.setdefault(iri, Row(iri, site.label(iri), kind))
        term = r.get("o")
        if "p" not in r or not isinstance(term, ox.NamedNode | ox.Literal):
            continue
        listed = values[iri][COLUMN_OF[text(r["p"])]]
        cell = (term.value, isinstance(term, ox.NamedNode))
        if cell not in listed:
            listed.append(cell)
    for row in found.values():
        row.values = {column: sorted(cells) for column, cells in values[row.iri].items()}  # whatever the store's order
    return sorted(found.values(), key=lambda r: (r.kind != "model", r.label.lower()))


def _inherit(every: list[Row]) -> list[Row]:
    """``every`` row, each checkpoint given its model's values in the columns where it states none."""
    found = {row.iri: row for row in every}
    for row in every:
        model = next((found[m] for m in row.iris("model") if m in found), None)
        if model is None:
            continue
        for column in INHERITED:
            if column not in row.values and column in model.values:
                row.values[column] = model.values[column]
                row.inherited.add(column)
    return every


def record(site: Site) -> dict[str, Any]:
    """The index as the build records it: every row, and the labels of the things its cells name."""
    every = _own_rows(site)
    named = {value for row in every for cells in row.values.values() for value, is_iri in cells if is_iri}
    site.prefetch_labels(named)
    return {"rows": [row.as_list() for row in every], "labels": {iri: site.label(iri) for iri in sorted(named)}}


def _from_record(site: Site, data: dict[str, Any]) -> list[Row]:
    site.remember_labels(data["labels"])
    return _inherit([Row.from_list(row) for row in data["rows"]])


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
    """The rows that have every chosen facet value, and each facet's counts among them (the rows and
    their facet values are read once per server: the data does not change while it is served)."""
    every, facets = site.once(
        RECORD,
        lambda: _with_facets(site, rows(site)),
        recorded=lambda data: _with_facets(site, _from_record(site, data)),
    )
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


def _with_facets(site: Site, every: list[Row]) -> tuple[list[Row], dict[str, dict[str, list[tuple[str, str]]]]]:
    return every, {row.iri: facet_values(site, row) for row in every}


def link(chosen: dict[str, list[str]]) -> str:
    """The index's address with the ``chosen`` filters, ready for a ``page=`` to follow."""
    query = urlencode([(name, v) for name, values in chosen.items() for v in values])
    return f"models?{query}&" if query else "models?"


def families(site: Site) -> list[tuple[str, str]]:
    """(IRI, label) of the families that have a model, by label: what the home page lists."""
    return site.once(FAMILIES, lambda: _families(site), recorded=lambda data: [(iri, label) for iri, label in data])


def _families(site: Site) -> list[tuple[str, str]]:
    found = site.select("SELECT DISTINCT ?f WHERE { ?f a llmkg:ModelFamily . FILTER EXISTS { ?m llmkg:inFamily ?f } }")
    site.prefetch_labels(text(r["f"]) for r in found)
    return sorted(((text(r["f"]), site.label(r["f"])) for r in found), key=lambda family: family[1])


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
