"""Validate the dataset: SHACL shapes (pyshacl, RDFS inference over the ontology) and term checks.

Each problem is reported with its focus node, path, message and the data file(s) it came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox
import rdflib
from pyshacl import validate as shacl_validate

from llmkg.kg.build import Dataset
from llmkg.namespaces import LLMKG, RDF, RDF_TYPE, SH, XSD, shorten, text

SHACL = rdflib.Namespace(SH)
#: Namespaces whose terms are structural, not vocabulary the data chooses.
STRUCTURAL = (RDF, XSD)


@dataclass(frozen=True, order=True)
class Problem:
    """One validation finding."""

    severity: str
    shape: str
    focus: str
    path: str
    message: str
    files: tuple[str, ...] = ()


def to_rdflib(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    """Copy quads (dropping the graph name) into an rdflib graph."""
    payload = ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES)
    graph = rdflib.Graph()
    graph.parse(data=payload, format="nt")
    return graph


def _in(dataset: Dataset, folder: str) -> list[ox.Quad]:
    graphs = set(dataset.graphs_under(folder))
    return [q for q in dataset.quads if text(q.graph_name) in graphs]


def shacl_problems(dataset: Dataset) -> list[Problem]:
    """Run the shapes of shapes/ over the statements of triples/, with the ontology beside them.

    SHACL itself follows rdfs:subClassOf for targets and sh:class, and the ontology types the controlled
    values, so no inference pass is needed (an RDFS closure would also make sh:class checks vacuous).
    """
    data_quads = _in(dataset, "triples")
    data = to_rdflib(data_quads + _in(dataset, "ontology"))
    shapes = to_rdflib(_in(dataset, "shapes"))
    _, report, _ = shacl_validate(
        data,
        shacl_graph=shapes,
        inference="none",
        advanced=True,
        allow_warnings=True,
        meta_shacl=False,
    )
    where = _files_by_subject(data_quads, dataset.graph_files)
    problems = []
    for result in report.subjects(rdflib.RDF.type, SHACL.ValidationResult):
        focus = report.value(result, SHACL.focusNode)
        path = report.value(result, SHACL.resultPath)
        problems.append(
            Problem(
                severity=_local(report.value(result, SHACL.resultSeverity)),
                shape=_short(
                    _named(report.value(result, SHACL.sourceConstraint)) or report.value(result, SHACL.sourceShape)
                ),
                focus=_short(focus),
                path=_short(path),
                message=str(report.value(result, SHACL.resultMessage) or ""),
                files=tuple(sorted(where.get((str(focus), str(path)), where.get((str(focus), ""), ())))),
            )
        )
    return sorted(problems)


def term_problems(dataset: Dataset) -> list[Problem]:
    """Every predicate, class and llmkg: term used in triples/ must be declared in ontology/."""
    declared = {text(q.subject) for q in _in(dataset, "ontology") if text(q.predicate) == RDF_TYPE}
    where: dict[str, set[str]] = defaultdict(set)
    for q in _in(dataset, "triples"):
        used = [text(q.predicate)]
        if text(q.predicate) == RDF_TYPE or text(q.object).startswith(LLMKG):
            used.append(text(q.object))
        for term in used:
            if term not in declared and not term.startswith(STRUCTURAL):
                where[term].add(dataset.graph_files.get(text(q.graph_name), "?"))
    return [
        Problem(
            "Violation",
            "undefined-term",
            _short(term),
            "",
            f"term {_short(term)} is not defined by the ontology",
            tuple(sorted(files)),
        )
        for term, files in sorted(where.items())
    ]


def validate(dataset: Dataset) -> list[Problem]:
    """All problems, SHACL and terms; warnings included (severity says which)."""
    return term_problems(dataset) + shacl_problems(dataset)


def _files_by_subject(quads: list[ox.Quad], graph_files: dict[str, str]) -> dict[tuple[str, str], set[str]]:
    """Files stating each (subject, property), and each subject under (subject, "")."""
    where: dict[tuple[str, str], set[str]] = defaultdict(set)
    for q in quads:
        file = graph_files.get(text(q.graph_name), "?")
        where[(text(q.subject), text(q.predicate))].add(file)
        where[(text(q.subject), "")].add(file)
    return where


def _named(term: object) -> object:
    return term if isinstance(term, rdflib.URIRef) else None


def _local(term: object) -> str:
    text = str(term or "")
    return text.rsplit("#", 1)[-1]


def _short(term: object) -> str:
    """A term in prefixed form where a prefix fits (namespaces.shorten, for rdflib's terms)."""
    if term is None:
        return ""
    return shorten(ox.NamedNode(str(term))) if isinstance(term, rdflib.URIRef) else str(term)
