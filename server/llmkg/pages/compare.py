"""Models side by side: a family's variants, or any models chosen across families (``/compare?m=…&m=…``),
with their properties (preferred values, disagreements flagged) and benchmark scores."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pyoxigraph as ox

from llmkg.namespaces import LLMKG, PREFIXES, expand, order_key, shorten
from llmkg.pages import models as model_index
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


#: The most models one comparison holds (each adds a column and a query term).
MAX_MODELS = 12


@dataclass
class Comparison:
    iri: str
    label: str
    models: list[tuple[str, str]]  # (IRI, label)
    facts: list[CompareRow]
    scores: list[CompareRow]


class ChoiceError(ValueError):
    """A chosen model that is not an IRI or prefixed name of a model or checkpoint in the graph."""


def comparison(site: Site, family: str) -> Comparison:
    node = ox.NamedNode(family)
    members = site.select(
        """SELECT DISTINCT ?f ?m ?n WHERE { ?m llmkg:inFamily ?f
             OPTIONAL { GRAPH graph:preferred { ?m llmkg:totalParameters ?n } } }""",
        f=node,
    )
    site.prefetch_labels_of(members)
    order = sorted(members, key=lambda r: (float(r["n"].value) if "n" in r else 0.0, site.label(r["m"])))
    models = list(dict.fromkeys((r["m"].value, site.label(r["m"])) for r in order))
    nodes = [ox.NamedNode(iri) for iri, _ in models]
    facts, scores = (_facts(site, nodes), _scores(site, nodes)) if nodes else ([], [])
    return Comparison(family, site.label(family), models, facts, scores)


def chosen(site: Site, given: list[str]) -> Comparison:
    """The models ``given`` (IRIs or prefixed names such as ``model:llama-4-scout``), in that order."""
    if len(given) > MAX_MODELS:
        raise ChoiceError(f"at most {MAX_MODELS} models can be compared at once ({len(given)} given)")
    iris = list(dict.fromkeys(_model_iri(site, name) for name in given))
    nodes = [ox.NamedNode(iri) for iri in iris]
    models = [(iri, site.label(iri)) for iri in iris]
    facts, scores = (_facts(site, nodes), _scores(site, nodes)) if nodes else ([], [])
    return Comparison("", "Chosen models", models, facts, scores)


def link(models: list[str], *, transposed: bool = False) -> str:
    """The query string of the comparison of ``models`` (prefixed names), to share or bookmark."""
    return urlencode([("m", name) for name in models] + ([("t", "1")] if transposed else []))


def _model_iri(site: Site, name: str) -> str:
    try:
        iri = expand(name)
        ox.NamedNode(iri)
    except ValueError:
        raise ChoiceError(f"m={name!r} is neither an IRI nor a prefixed name such as model:llama-4-scout") from None
    if not {LLMKG + "Model", LLMKG + "Checkpoint"} & set(site.types(iri)):
        raise ChoiceError(f"m={name!r}: the graph has no model or checkpoint <{iri}>")
    return iri


def candidates(site: Site) -> list[tuple[str, str, str]]:
    """(prefixed name, label, kind) of every model and checkpoint, for the form that adds one: the
    model index's rows, which are models first, then by label."""
    return [(shorten(ox.NamedNode(row.iri)), row.label, row.kind) for row in model_index.index(site, {}).rows]


def _values(models: list[ox.NamedNode]) -> str:
    """A VALUES block over ``models`` (IRIs checked by pyoxigraph, so nothing else can be written in)."""
    return "VALUES ?m { " + " ".join(str(m) for m in models) + " }"


def _facts(site: Site, models: list[ox.NamedNode]) -> list[CompareRow]:
    rows: dict[str, CompareRow] = {}
    query = f"SELECT DISTINCT ?m ?p ?o WHERE {{ {_values(models)} GRAPH graph:preferred {{ ?m ?p ?o }} }}"
    facts = site.prefetch_labels_of(site.select(query))
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


def _scores(site: Site, models: list[ox.NamedNode]) -> list[CompareRow]:
    found = site.select(
        f"""SELECT DISTINCT ?m ?r ?b ?tuning ?value ?metric ?shots ?cot ?setting WHERE {{
             {_values(models)} {{ GRAPH ?gc {{ ?ck llmkg:checkpointOf ?m }} }}
             UNION {{ GRAPH ?gk {{ ?m a llmkg:Checkpoint }} BIND(?m AS ?ck) }}
             GRAPH graph:preferred {{ ?r llmkg:evaluatedModel ?ck ; llmkg:benchmark ?b ; llmkg:value ?value .
               OPTIONAL {{ ?r llmkg:metric ?metric }} OPTIONAL {{ ?r llmkg:shots ?shots }}
               OPTIONAL {{ ?r llmkg:chainOfThought ?cot }} OPTIONAL {{ ?r llmkg:setting ?setting }} }}
             OPTIONAL {{ GRAPH graph:preferred {{ ?ck llmkg:tuning ?tuning }} }}
           }} ORDER BY ?b ?r"""
    )
    site.prefetch_labels_of(found)
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
