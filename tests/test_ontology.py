"""The ontology as a product: a complete header, and every term labelled, defined and attributed."""

from __future__ import annotations

import pytest
import rdflib

from llmkg import __version__

from .conftest import REPO

LLMKG = rdflib.Namespace("https://w3id.org/llmkg/ontology#")
ONTOLOGY = rdflib.URIRef("https://w3id.org/llmkg/ontology")
SKOS = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
VANN = rdflib.Namespace("http://purl.org/vocab/vann/")
GRAPH = rdflib.Graph().parse(REPO / "ontology" / "llmkg.ttl")
KINDS = (rdflib.OWL.Class, rdflib.OWL.ObjectProperty, rdflib.OWL.DatatypeProperty)
TERMS = sorted(
    {
        s
        for kind in KINDS
        for s in GRAPH.subjects(rdflib.RDF.type, kind)
        if isinstance(s, rdflib.URIRef) and str(s).startswith(str(LLMKG))
    }
)


def test_header_is_complete() -> None:
    for prop in (
        rdflib.OWL.versionIRI,
        rdflib.OWL.versionInfo,
        rdflib.DCTERMS.title,
        rdflib.DCTERMS.description,
        rdflib.DCTERMS.license,
        rdflib.DCTERMS.creator,
        VANN.preferredNamespacePrefix,
    ):
        assert GRAPH.value(ONTOLOGY, prop) is not None, f"ontology header lacks {prop}"
    assert str(GRAPH.value(ONTOLOGY, rdflib.OWL.versionIRI)).endswith(__version__)


@pytest.mark.parametrize("term", TERMS, ids=lambda t: str(t).rsplit("#", 1)[1])
def test_term_has_label_definition_and_is_defined_by(term: rdflib.URIRef) -> None:
    assert GRAPH.value(term, rdflib.RDFS.label) is not None
    definition = GRAPH.value(term, SKOS.definition)
    assert definition is not None and str(definition).rstrip().endswith(".")
    assert GRAPH.value(term, rdflib.RDFS.isDefinedBy) == ONTOLOGY


@pytest.mark.parametrize(
    "term",
    [t for t in TERMS if (t, rdflib.RDF.type, rdflib.OWL.DatatypeProperty) in GRAPH],
    ids=lambda t: str(t).rsplit("#", 1)[1],
)
def test_datatype_property_has_a_range(term: rdflib.URIRef) -> None:
    assert GRAPH.value(term, rdflib.RDFS.range) is not None, "datatype properties need an xsd range"
