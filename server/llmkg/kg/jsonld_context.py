"""The JSON-LD context that lets the graph's JSON-LD read as plain JSON, computed from the ontology's
own properties so it never drifts from them."""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from llmkg.namespaces import LLMKG, OWL, PREFIXES, RDF_TYPE, RDFS, XSD, text


def jsonld_context(quads: list[ox.Quad]) -> dict[str, Any]:
    """``@context`` with the prefixes, one short term per llmkg property, and value coercions."""
    kinds: dict[str, str] = {}
    ranges: dict[str, str] = {}
    for q in quads:
        subject = text(q.subject)
        if not subject.startswith(LLMKG):
            continue
        if text(q.predicate) == RDF_TYPE and text(q.object) in (OWL + "ObjectProperty", OWL + "DatatypeProperty"):
            kinds[subject] = text(q.object)
        elif text(q.predicate) == RDFS + "range":
            ranges[subject] = text(q.object)
    context: dict[str, Any] = {name: iri for name, iri in PREFIXES.items() if name not in ("graph", "query")}
    context.update({"id": "@id", "type": "@type", "label": RDFS + "label", "comment": RDFS + "comment"})
    for prop, kind in sorted(kinds.items()):
        term: dict[str, str] = {"@id": prop}
        if kind == OWL + "ObjectProperty":
            term["@type"] = "@id"
        elif ranges.get(prop, "").startswith(XSD) and ranges[prop] != XSD + "string":
            term["@type"] = ranges[prop]
        context[prop[len(LLMKG) :]] = term
    return {"@context": context}
