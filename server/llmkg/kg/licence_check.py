"""Check a derivative against the licences of its base model, with checks read from the graph.

Nothing here knows a licence: the licences come from the base model's lineage in the graph, their
obligations and clauses from the licence data, and the checks themselves are SPARQL kept as data
(``llmkg:LicenceCheck`` in ``triples/entities/licence-checks.ttl``, keyed by obligation kind). So a
new licence version with its obligations in ``triples/`` is checked without a change here. Every read
goes through ``store.query`` of a :class:`~llmkg.sparql.store.Backend`, so the server runs the checks
in its query workers, like every other page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import pyoxigraph as ox

from llmkg.kg.derivative import DERIVATIONS, Derivative
from llmkg.namespaces import DEFAULT_GRAPH, LLMKG, PREFIXES, shorten, text
from llmkg.sparql.store import Backend
from llmkg.sparql.text import with_bindings

DISCLAIMER = (
    "This is an aid, not legal advice: it compares what you describe with the licence terms as the graph "
    "paraphrases them, and is only as correct as the graph. Read the licence itself and ask a lawyer."
)
MET, VIOLATED, CANNOT_TELL = "met", "violated", "cannot tell"
#: What is missing for an obligation no check in the graph judges.
UNJUDGED = "no check in the graph for this obligation: read the clause"
#: Property of the description -> the variable the checks read it from (the contract in licence-checks.ttl).
VARIABLES: dict[str, str] = {
    LLMKG + "distributed": "distributed",
    LLMKG + "offeredAsService": "service",
    LLMKG + "monthlyActiveUsers": "users",
    LLMKG + "attributionShown": "attribution",
    LLMKG + "noticeFileText": "notice",
    LLMKG + "includesLicenceCopy": "licenceCopy",
    LLMKG + "licenseeRegion": "licenseeRegion",
}
LINEAGE = "|".join(f"<{p}>" for p in (LLMKG + "checkpointOf", *DERIVATIONS.values()))

OBLIGATIONS = """
SELECT DISTINCT ?licence ?licenceLabel ?effective ?holderLabel ?obligation ?kind ?comment ?locator
  ?source ?title ?version
WHERE {
  VALUES ?ancestor { __ANCESTORS__ } ?ancestor dcterms:license ?licence .
  ?licence llmkg:acceptableUsePolicy? ?holder . ?holder llmkg:obligation ?obligation .
  OPTIONAL { ?holder rdfs:label ?holderLabel }
  OPTIONAL { ?licence rdfs:label ?licenceLabel }
  OPTIONAL { ?licence llmkg:effectiveDate ?effective }
  OPTIONAL { ?obligation llmkg:obligationKind ?kind }
  OPTIONAL { ?obligation rdfs:comment ?comment }
  OPTIONAL {
    GRAPH ?g { ?obligation a llmkg:Obligation }
    ?g prov:wasDerivedFrom ?source .
    OPTIONAL { ?g llmkg:locator ?locator }
    OPTIONAL { ?source dcterms:title ?title }
    OPTIONAL { ?source llmkg:version ?version }
  }
}"""
CHECKS = """
SELECT DISTINCT ?check ?query WHERE { ?check a llmkg:LicenceCheck ; llmkg:checksKind ?kind ; llmkg:checkQuery ?query }
ORDER BY ?check"""
COVERED = """
SELECT DISTINCT ?licence ?label ?effective WHERE {
  ?licence a llmkg:Licence ; llmkg:acceptableUsePolicy?/llmkg:obligation ?obligation .
  ?obligation llmkg:obligationKind ?kind . ?check llmkg:checksKind ?kind .
  OPTIONAL { ?licence rdfs:label ?label } OPTIONAL { ?licence llmkg:effectiveDate ?effective }
}"""
KNOWN = "ASK { { ?base ?p ?o } UNION { ?s ?p ?base } }"
#: One step along the lineage, and which of some nodes carry a licence (the walk is done here, a step at a
#: time, because engines disagree on negated property paths: Virtuoso ignored FILTER NOT EXISTS over them).
LINEAGE_STEP = f"SELECT DISTINCT ?next WHERE {{ VALUES ?node {{ __NODES__ }} ?node {LINEAGE} ?next }}"
LICENSED = "SELECT DISTINCT ?node WHERE { VALUES ?node { __NODES__ } ?node dcterms:license ?licence }"
MAX_LINEAGE_STEPS = 16

Row = dict[str, ox.NamedNode | ox.BlankNode | ox.Literal]


class LicenceCheckError(ValueError):
    """The check cannot start: the base is unknown to the graph, or the graph holds no licence for it."""


@dataclass(frozen=True)
class Obligation:
    """One obligation of a licence (or of the policy it incorporates), with where it is stated."""

    iri: str
    licence: str
    licence_label: str
    effective: str
    stated_in: str  # the licence, or the acceptable-use policy it incorporates
    kinds: tuple[str, ...]
    comment: str
    clause: str
    source: str
    source_title: str
    source_version: str


@dataclass(frozen=True)
class Finding:
    """What one check says about one obligation."""

    obligation: Obligation
    status: str
    detail: str
    missing: str
    check: str

    def as_dict(self) -> dict[str, object]:
        about = asdict(self.obligation)
        about["obligation"] = shorten(ox.NamedNode(about.pop("iri")))
        about["licence"] = shorten(ox.NamedNode(about["licence"]))
        return {**about, "status": self.status, "detail": self.detail, "missing": self.missing, "check": self.check}


@dataclass(frozen=True)
class Report:
    """Every finding for one derivative, and which licence versions the checks cover."""

    derivative: Derivative
    findings: list[Finding]
    covered: list[str]
    disclaimer: str = DISCLAIMER
    licences: list[str] = field(default_factory=list)

    @property
    def violated(self) -> bool:
        return any(f.status == VIOLATED for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {s: sum(f.status == s for f in self.findings) for s in (MET, VIOLATED, CANNOT_TELL)}

    def as_dict(self) -> dict[str, object]:
        d = self.derivative
        return {
            "disclaimer": self.disclaimer,
            "covers": self.covered,
            "derivative": {"name": d.name, "base": shorten(ox.NamedNode(d.base)), "derived": _derived(d)},
            "licences": self.licences,
            "summary": self.counts(),
            "findings": [f.as_dict() for f in self.findings],
        }


def _derived(derivative: Derivative) -> str:
    return shorten(ox.NamedNode(derivative.derivation))


def check(store: Backend, derivative: Derivative) -> Report:
    """Judge ``derivative`` against every obligation of the licences its base model has in the graph."""
    obligations = _obligations(store, derivative.base)
    checks = [(shorten(r["check"]), text(r["query"])) for r in _select(store, CHECKS)]
    findings: list[Finding] = []
    for licence in dict.fromkeys(o.licence for o in obligations.values()):
        findings += _run_checks(store, derivative, licence, obligations, checks)
    judged = {f.obligation.iri for f in findings}
    findings += [_unjudged(o) for o in obligations.values() if o.iri not in judged]
    findings.sort(key=lambda f: (f.obligation.licence, f.obligation.iri, f.check))
    licences = list(dict.fromkeys(f"{o.licence_label} ({o.effective})" for o in obligations.values()))
    return Report(derivative, findings, covered(store), licences=licences)


def covered(store: Backend) -> list[str]:
    """The licence versions at least one check judges, as "label (effective date)"."""
    rows = _select(store, COVERED)
    return sorted(f"{text(r.get('label')) or shorten(r['licence'])} ({text(r.get('effective'))})" for r in rows)


def _nearest_licensed(store: Backend, base: str) -> list[str]:
    """The licensed nodes nearest to ``base`` along its lineage: Llama 3.2 3B is under 3.2's licence, not
    also under that of the 3.1 model it was distilled from."""
    frontier, seen = {base}, {base}
    for _ in range(MAX_LINEAGE_STEPS):
        nodes = " ".join(str(ox.NamedNode(n)) for n in sorted(frontier))
        licensed = sorted(text(r["node"]) for r in _select(store, LICENSED.replace("__NODES__", nodes)))
        if licensed:
            return licensed
        frontier = {text(r["next"]) for r in _select(store, LINEAGE_STEP.replace("__NODES__", nodes))} - seen
        if not frontier:
            return []
        seen |= frontier
    return []


def _obligations(store: Backend, base: str) -> dict[str, Obligation]:
    bound = {"base": ox.NamedNode(base)}
    ancestors = " ".join(str(ox.NamedNode(n)) for n in _nearest_licensed(store, base))
    rows = _select(store, OBLIGATIONS.replace("__ANCESTORS__", ancestors), bound) if ancestors else []
    if not rows:
        known = store.query(with_bindings(KNOWN, _vars(bound)), default_graph=ox.NamedNode(DEFAULT_GRAPH))
        what = "no licence with obligations for" if bool(known) else "nothing about"
        raise LicenceCheckError(f"the graph holds {what} {shorten(ox.NamedNode(base))}")
    kinds: dict[str, set[str]] = {}
    first: dict[str, Row] = {}
    for r in rows:
        iri = text(r["obligation"])
        kinds.setdefault(iri, set()).update([text(r["kind"])] if "kind" in r else [])
        first.setdefault(iri, r)
    return {iri: _obligation(r, tuple(sorted(kinds[iri]))) for iri, r in first.items()}


def _obligation(r: Row, kinds: tuple[str, ...]) -> Obligation:
    comment = text(r.get("comment"))
    return Obligation(
        iri=text(r["obligation"]),
        licence=text(r["licence"]),
        licence_label=text(r.get("licenceLabel")) or shorten(r["licence"]),
        effective=text(r.get("effective")),
        stated_in=text(r.get("holderLabel")) or shorten(r["licence"]),
        kinds=tuple(shorten(ox.NamedNode(k)) for k in kinds),
        comment=comment,
        clause=clause(comment) or text(r.get("locator")),
        source=shorten(r["source"]) if "source" in r else "",
        source_title=text(r.get("title")),
        source_version=text(r.get("version")),
    )


def clause(comment: str) -> str:
    """The clause an obligation's paraphrase cites, as the licence data writes it: the first parenthesis naming
    a section or an item (a paraphrase may name an exception's clause after the rule's), else the closing one.

    >>> clause('Must show "Built with Llama" (section 1.b.i.B).')
    'section 1.b.i.B'
    >>> clause("Over 700 million users need a licence (section 2); some are exempt (section 1.b.ii).")
    'section 2'
    """
    found = re.search(r"\(((?:sections?|items?) [^()]*)\)", comment) or re.search(r"\(([^()]*)\)\.?\s*$", comment)
    return found.group(1) if found else ""


def _run_checks(
    store: Backend,
    derivative: Derivative,
    licence: str,
    obligations: dict[str, Obligation],
    checks: list[tuple[str, str]],
) -> list[Finding]:
    """Every check's answer for the obligations of one licence (a check answers only for obligations it can judge)."""
    bound = {**bindings(derivative), "licence": ox.NamedNode(licence)}
    findings = []
    for name, query in checks:
        for row in _select(store, query, bound):
            found = obligations.get(text(row.get("obligation")))
            if found is not None and found.licence == licence:
                findings.append(_finding(found, row, name))
    return findings


def _finding(obligation: Obligation, row: Row, check_name: str) -> Finding:
    status = text(row.get("status"))
    if status not in (MET, VIOLATED, CANNOT_TELL):  # a check in the data that answers outside the contract
        raise LicenceCheckError(f"{check_name} answered {status!r} for {shorten(ox.NamedNode(obligation.iri))}")
    return Finding(obligation, status, text(row.get("detail")), text(row.get("missing")), check_name)


def _unjudged(obligation: Obligation) -> Finding:
    return Finding(obligation, CANNOT_TELL, obligation.comment, UNJUDGED, "")


def bindings(derivative: Derivative) -> dict[str, ox.NamedNode | ox.Literal]:
    """The variables the checks read the description from; a field the description leaves out stays unbound."""
    bound: dict[str, ox.NamedNode | ox.Literal] = {"base": ox.NamedNode(derivative.base)}
    if derivative.name is not None:
        bound["name"] = ox.Literal(derivative.name)
    for prop, literal in derivative.values.items():
        if prop in VARIABLES:
            bound[VARIABLES[prop]] = literal
    if derivative.output_uses:  # several IRIs in one literal: a check asks CONTAINS(?outputUses, STR(concept))
        bound["outputUses"] = ox.Literal(" ".join(derivative.output_uses))
    return bound


def _vars(bound: Mapping[str, ox.NamedNode | ox.Literal]) -> dict[ox.Variable, ox.NamedNode | ox.Literal]:
    return {ox.Variable(k): v for k, v in bound.items()}


def _select(store: Backend, query: str, bound: Mapping[str, ox.NamedNode | ox.Literal] | None = None) -> list[Row]:
    # Bound values are written into the query as BINDs (sparql.text.with_bindings), which every engine
    # understands; pyoxigraph's substitutions would need each variable in the SELECT projection.
    prologue = "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in PREFIXES.items())
    result = store.query(prologue + with_bindings(query, _vars(bound or {})), default_graph=ox.NamedNode(DEFAULT_GRAPH))
    assert isinstance(result, ox.QuerySolutions), "licence checks are SELECT queries"
    names = [v.value for v in result.variables]
    return [
        {n: t for n in names if isinstance(t := row[n], ox.NamedNode | ox.BlankNode | ox.Literal)} for row in result
    ]
