"""The ontology's documentation page, written by pyLODE from the ontology graph the store holds.

pyLODE names each class's and property's section after its label; this module renames those anchors
to the term's own fragment (``#totalParameters`` for ``llmkg:totalParameters``), so the term's IRI,
served here, lands on its section, and to ``#dcterms-issued`` for terms of other vocabularies the
ontology declares. Built on the first request that needs it (about two seconds), then kept.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import pyoxigraph as ox
import rdflib

from llmkg.namespaces import LLMKG, PREFERRED_GRAPH, PREFIXES, shorten, text
from llmkg.pages.data import Site
from llmkg.pages.linkeddata import ONTOLOGY_GRAPH

#: The kinds of term that get a section (and an anchor).
TERM_TYPES = tuple(PREFIXES["owl"] + k for k in ("Class", "ObjectProperty", "DatatypeProperty", "AnnotationProperty"))


@dataclass(frozen=True)
class OntologyDoc:
    body: str  # the documentation's HTML, without pyLODE's <html>, <head> and styles
    anchors: dict[str, str]  # term IRI -> anchor id on the page


_DOCS: WeakKeyDictionary[Site, OntologyDoc] = WeakKeyDictionary()
_TERMS: WeakKeyDictionary[Site, frozenset[str]] = WeakKeyDictionary()
_LOCK = threading.Lock()


def anchor(iri: str) -> str:
    """Where a term's section is: its fragment for the project's terms, its prefixed name otherwise.

    >>> anchor("https://w3id.org/llmkg/ontology#totalParameters"), anchor("http://purl.org/dc/terms/issued")
    ('totalParameters', 'dcterms-issued')
    """
    if iri.startswith(LLMKG):
        return iri.removeprefix(LLMKG)
    return re.sub(r"[^A-Za-z0-9_-]", "-", shorten(ox.NamedNode(iri)))


def terms(site: Site) -> frozenset[str]:
    """IRIs of the classes and properties the ontology graph declares (each has a section), read once."""
    if site not in _TERMS:
        graph, kind = ox.NamedNode(ONTOLOGY_GRAPH), ox.NamedNode(PREFIXES["rdf"] + "type")
        found = site.store.quads_for_pattern(None, kind, None, graph)
        _TERMS[site] = frozenset(
            text(q.subject) for q in found if text(q.object) in TERM_TYPES and isinstance(q.subject, ox.NamedNode)
        )
    return _TERMS[site]


def link(site: Site, root: str, iri: str) -> str | None:
    """The address of ``iri``'s section in the documentation, or None when the ontology does not declare it."""
    return f"{root}ontology#{anchor(iri)}" if iri in terms(site) else None


SKOS_EXAMPLE = rdflib.URIRef(PREFIXES["skos"] + "example")
#: One use of each class and property in the preferred values: the first subject in IRI order, and its
#: first value. Shown as the term's example in the documentation (not written into the ontology).
_USES = f"""
SELECT ?t ?s ?o WHERE {{
  {{ SELECT ?t (MIN(?x) AS ?s) WHERE {{ GRAPH <{PREFERRED_GRAPH}> {{ ?x ?t ?y }} }} GROUP BY ?t }}
  GRAPH <{PREFERRED_GRAPH}> {{ ?s ?t ?o }}
}}"""
_INSTANCES = f"""
SELECT ?t (MIN(?x) AS ?s) WHERE {{ GRAPH <{PREFERRED_GRAPH}> {{ ?x a ?t }} }} GROUP BY ?t"""


#: Where the build record keeps the examples (see pages/precomputed.py).
RECORD = "ontology examples"


def examples(site: Site) -> dict[str, str]:
    """A statement from the graph for each term it uses, as Turtle with the graph's prefixes (read
    once: finding the first use of each term goes through all of graph/preferred)."""
    return site.once(RECORD, lambda: _examples(site), recorded=dict)


def _examples(site: Site) -> dict[str, str]:
    declared = terms(site)
    found: dict[str, list[str]] = {}
    for row in site.select(_USES):
        if row["t"].value in declared:
            found.setdefault(row["t"].value, []).append(f"{_short(row['s'])} {_short(row['t'])} {_short(row['o'])} .")
    for row in site.select(_INSTANCES):
        if row["t"].value in declared:
            found.setdefault(row["t"].value, []).append(f"{_short(row['s'])} a {_short(row['t'])} .")
    return {term: min(statements) for term, statements in found.items()}


def _short(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    """A term as Turtle writes it with the graph's prefixes."""
    if isinstance(term, ox.NamedNode):
        return shorten(term)
    if isinstance(term, ox.Literal) and term.datatype.value != PREFIXES["xsd"] + "string" and not term.language:
        return f"{ox.Literal(term.value)}^^{shorten(term.datatype)}"
    return str(term)


def documentation(site: Site) -> OntologyDoc:
    with _LOCK:
        if site not in _DOCS:
            _DOCS[site] = _generate(site)
        return _DOCS[site]


def _generate(site: Site) -> OntologyDoc:
    from pylode import OntPub  # imported here: pyLODE (with its background ontologies) takes a second to load

    quads = site.store.quads_for_pattern(None, None, None, ox.NamedNode(ONTOLOGY_GRAPH))
    turtle = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES) or b""
    graph = rdflib.Graph().parse(data=turtle, format="nt")
    for term, example in examples(site).items():
        if (rdflib.URIRef(term), SKOS_EXAMPLE, None) not in graph:
            graph.add((rdflib.URIRef(term), SKOS_EXAMPLE, rdflib.Literal(example)))
    writer = OntPub(ontology=graph)
    with warnings.catch_warnings():
        # pyLODE reads its stylesheet with open(...).read(): the file is closed when freed, with a warning.
        warnings.simplefilter("ignore", ResourceWarning)
        html = writer.make_html()
    declared = terms(site)
    renamed = {fid: anchor(iri) for iri, fid in writer.fids.items() if iri in declared and fid}
    body = html[html.index(">", html.index("<body")) + 1 : html.rindex("</body>")]  # without pyLODE's styles
    body = re.sub(r'<div id="pylode">.*?</div>', "", body, count=1, flags=re.DOTALL)  # its badge: the page credits it
    body = re.sub(r'(id="|href="#)([^"]+)"', lambda m: m.group(1) + renamed.get(m.group(2), m.group(2)) + '"', body)
    return OntologyDoc(body=body, anchors={iri: anchor(iri) for iri in declared if iri in writer.fids})
