"""A family's variants side by side: their properties (preferred values, disagreements flagged) and scores."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox

from llmkg.namespaces import LLMKG, PREFIXES, order_key
from llmkg.pages.boards import title
from llmkg.pages.data import Site
from llmkg.pages.entity import display
from llmkg.pages.presentation import group_of

#: Properties a comparison leaves out: identity the column header already shows.
SKIP = {
    PREFIXES["rdf"] + "type",
    PREFIXES["rdfs"] + "label",
    PREFIXES["rdfs"] + "comment",
    PREFIXES["skos"] + "altLabel",
    LLMKG + "inFamily",
}


@dataclass
class Cell:
    values: list[tuple[str, str | None]] = field(default_factory=list)  # (text, IRI or None)
    conflict: bool = False
    result: str | None = None


@dataclass
class CompareRow:
    group: str
    label: str
    cells: dict[str, Cell]


@dataclass
class Comparison:
    iri: str
    label: str
    models: list[tuple[str, str]]  # (IRI, label)
    facts: list[CompareRow]
    scores: list[CompareRow]


def comparison(site: Site, family: str) -> Comparison:
    node = ox.NamedNode(family)
    members = site.select(
        """SELECT DISTINCT ?f ?m ?n WHERE { ?m llmkg:inFamily ?f
             OPTIONAL { GRAPH graph:preferred { ?m llmkg:totalParameters ?n } } }""",
        f=node,
    )
    order = sorted(members, key=lambda r: (float(r["n"].value) if "n" in r else 0.0, site.label(r["m"])))
    models = list(dict.fromkeys((r["m"].value, site.label(r["m"])) for r in order))
    return Comparison(family, site.label(family), models, _facts(site, node), _scores(site, node))


def _facts(site: Site, family: ox.NamedNode) -> list[CompareRow]:
    rows: dict[str, CompareRow] = {}
    facts = site.select(
        "SELECT DISTINCT ?f ?m ?p ?o WHERE { ?m llmkg:inFamily ?f . GRAPH graph:preferred { ?m ?p ?o } }",
        f=family,
    )
    for r in sorted(facts, key=lambda r: order_key(r["o"])):  # not by the engine: ?o mixes every kind of value
        prop, model = r["p"].value, r["m"].value
        if prop in SKIP:
            continue
        row = rows.setdefault(prop, CompareRow(group_of(prop, []), site.label(prop), {}))
        cell = row.cells.setdefault(model, Cell(conflict=site.conflict(model, prop) is not None))
        term = r["o"]
        if isinstance(term, ox.Literal):
            cell.values.append((display(term), None))
        else:
            cell.values.append((site.label(term), term.value))
    return sorted(rows.values(), key=lambda row: (_GROUPS.get(row.group, 99), row.label.lower()))


_GROUPS = {"About": 0, "Architecture and size": 1, "Release, licence and use": 2, "Evaluation": 3, "Links": 5}


def _scores(site: Site, family: ox.NamedNode) -> list[CompareRow]:
    found = site.select(
        """SELECT DISTINCT ?f ?m ?r ?b ?tuning ?value ?metric ?shots ?cot ?setting WHERE {
             ?m llmkg:inFamily ?f . ?ck llmkg:checkpointOf ?m .
             GRAPH graph:preferred { ?r llmkg:evaluatedModel ?ck ; llmkg:benchmark ?b ; llmkg:value ?value .
               OPTIONAL { ?r llmkg:metric ?metric } OPTIONAL { ?r llmkg:shots ?shots }
               OPTIONAL { ?r llmkg:chainOfThought ?cot } OPTIONAL { ?r llmkg:setting ?setting } }
             OPTIONAL { GRAPH graph:preferred { ?ck llmkg:tuning ?tuning } }
           } ORDER BY ?b ?r""",
        f=family,
    )
    rows: dict[tuple[str, str], CompareRow] = {}
    for r in found:
        key = {k: r[k].value if k in r else "" for k in ("metric", "shots", "cot", "setting")}
        setting = title(site, {**key, "tool": "", "variant": "", "run": "", "hazard": ""})
        tuning = site.label(r["tuning"]) if "tuning" in r else ""
        name = f"{site.label(r['b'])} ({tuning})" if tuning else site.label(r["b"])
        row = rows.setdefault((name, setting), CompareRow(r["b"].value, f"{name} · {setting}", {}))
        if r["m"].value not in row.cells:
            row.cells[r["m"].value] = Cell([(r["value"].value, None)], result=r["r"].value)
    by_bench: dict[str, list[CompareRow]] = defaultdict(list)
    for row in rows.values():
        by_bench[row.group].append(row)
    return [row for bench in sorted(by_bench) for row in sorted(by_bench[bench], key=lambda x: x.label)]
