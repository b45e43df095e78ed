"""Linked Data without HTTP: which format a client wants, and what a resource's description holds.

Every IRI under the public base (``https://w3id.org/llmkg/`` by default) is served at the same path
under the server's own address. A browser gets HTML; a client asking for an RDF format gets the
resource's description: every statement about it (and pointing at it), each in the named graph that
states it, plus the provenance of those graphs (the graph's source document, version and locator).

Formats that hold named graphs (TriG, N-Quads, JSON-LD) keep each statement in its graph. Formats that
cannot (Turtle, N-Triples, RDF/XML) carry the statements once, plus one ``rdf:Statement`` per statement
and graph, linked to that graph with ``dcterms:isPartOf``:

>>> choose("text/turtle;q=0.9, application/ld+json", None)
'jsonld'
>>> choose("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None)
'html'
>>> choose("image/png", None) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from llmkg.namespaces import BASE, GENID, GRAPH, PREFIXES
from llmkg.sparql.formats import GRAPH_FORMATS, Format, best

HTML = "html"
HTML_TYPES = ("text/html", "application/xhtml+xml")
RDF = PREFIXES["rdf"]
IS_PART_OF = ox.NamedNode(PREFIXES["dcterms"] + "isPartOf")
DERIVED_FROM = ox.NamedNode(PREFIXES["prov"] + "wasDerivedFrom")
ONTOLOGY_GRAPH = GRAPH + "ontology/llmkg"
SHAPES_GRAPHS = (GRAPH + "shapes/core", GRAPH + "shapes/recommended")
_OFFERED = [(t, HTML) for t in HTML_TYPES] + [(t, f.key) for f in GRAPH_FORMATS for t in (f.media_type, *f.aliases)]


def choose(accept: str | None, format_param: str | None) -> str | None:
    """``"html"`` or the key of an RDF format (see :data:`llmkg.sparql.GRAPH_FORMATS`); None if nothing fits.

    ``format_param`` (``?format=turtle``, ``?format=text/turtle``) wins over Accept; no Accept means HTML.
    """
    if format_param:
        wanted = format_param.strip().lower()
        if wanted in (HTML, *HTML_TYPES):
            return HTML
        return next((f.key for f in GRAPH_FORMATS if wanted in (f.key, f.media_type, *f.aliases)), None)
    chosen = best(accept, [t for t, _ in _OFFERED])
    return next((key for t, key in _OFFERED if t == chosen), None)


def graph_format(key: str) -> Format:
    return next(f for f in GRAPH_FORMATS if f.key == key)


@dataclass(frozen=True, kw_only=True)
class IriMap:
    """The public IRI space of the data and where the server serves it.

    >>> m = IriMap(site="http://localhost:8000/")
    >>> m.path("https://w3id.org/llmkg/id/model/llama-4-scout")
    'id/model/llama-4-scout'
    >>> m.url("https://w3id.org/llmkg/id/model/llama-4-scout", "http://127.0.0.1/")
    'http://localhost:8000/id/model/llama-4-scout'
    >>> m.url("https://huggingface.co/meta-llama", "/")
    'https://huggingface.co/meta-llama'
    """

    public: str = BASE
    site: str | None = None  # the server's own base URL; None means "the address the request came to"

    def path(self, iri: str) -> str | None:
        """The path (without leading slash) at which ``iri`` is served, or None if it is not ours."""
        return iri[len(self.public) :] if iri.startswith(self.public) else None

    def iri(self, path: str) -> str:
        return self.public + path.lstrip("/")

    def url(self, iri: str, request_base: str) -> str:
        """Where a browser should go for ``iri``: on this server if it is ours, else the IRI itself."""
        path = self.path(iri)
        return iri if path is None else (self.site or request_base) + path


def describe(store: ox.Store, iri: str) -> list[ox.Quad]:
    """Every quad about ``iri`` (outgoing, through its skolem nodes, and incoming) and its graphs' provenance."""
    node = ox.NamedNode(iri)
    quads = list(store.quads_for_pattern(node, None, None, None))
    for quad in list(quads):
        if isinstance(quad.object, ox.NamedNode) and quad.object.value.startswith(GENID):
            quads.extend(store.quads_for_pattern(quad.object, None, None, None))
    quads.extend(q for q in store.quads_for_pattern(None, None, node, None) if q.subject != node)
    return _with_provenance(store, quads)


def graph_quads(store: ox.Store, graphs: Iterable[str]) -> list[ox.Quad]:
    """The named graphs ``graphs`` whole, with the description of the documents they derive from."""
    quads: list[ox.Quad] = []
    for graph in graphs:
        quads.extend(store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))
    return _with_provenance(store, quads)


def _with_provenance(store: ox.Store, quads: list[ox.Quad]) -> list[ox.Quad]:
    out = dict.fromkeys(quads)
    graphs = {q.graph_name for q in quads if isinstance(q.graph_name, ox.NamedNode)}
    for graph in sorted(graphs, key=str):
        meta = list(store.quads_for_pattern(graph, None, None, graph))
        out.update(dict.fromkeys(meta))
        for doc in {q.object for q in meta if q.predicate == DERIVED_FROM and isinstance(q.object, ox.NamedNode)}:
            out.update(dict.fromkeys(store.quads_for_pattern(doc, None, None, None)))
    return list(out)


def serialise(quads: list[ox.Quad], key: str) -> tuple[Format, bytes]:
    """The quads in format ``key``; triple-only formats get the graphs as reified statements."""
    fmt = graph_format(key)
    native = fmt.native
    assert isinstance(native, ox.RdfFormat)
    ordered = sorted(quads, key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object)))
    if native.supports_datasets:
        data = ox.serialize(ordered, format=native, prefixes=PREFIXES)
    else:
        data = ox.serialize(_flatten(ordered), format=native, prefixes=PREFIXES)
    return fmt, data or b""


def _flatten(quads: list[ox.Quad]) -> list[ox.Triple]:
    """Each statement once, and for each graph that holds it an ``rdf:Statement`` that is part of that graph."""
    triples = list(dict.fromkeys(q.triple for q in quads))
    for number, quad in enumerate(quads):
        if not isinstance(quad.graph_name, ox.NamedNode):
            continue
        statement = ox.BlankNode(f"s{number}")
        triples += [
            ox.Triple(statement, ox.NamedNode(RDF + "type"), ox.NamedNode(RDF + "Statement")),
            ox.Triple(statement, ox.NamedNode(RDF + "subject"), quad.subject),
            ox.Triple(statement, ox.NamedNode(RDF + "predicate"), quad.predicate),
            ox.Triple(statement, ox.NamedNode(RDF + "object"), quad.object),
            ox.Triple(statement, IS_PART_OF, quad.graph_name),
        ]
    return triples


def alternates(url: str) -> list[tuple[str, str, str]]:
    """(key, media type, URL) of every format a resource is served in, for links and ``Link`` headers."""
    out = [(HTML, "text/html", f"{url}?format=html")]
    return out + [(f.key, f.media_type, f"{url}?format={f.key}") for f in GRAPH_FORMATS]
