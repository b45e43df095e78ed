"""The formats the server answers in, and the one content negotiation every route uses.

SELECT and ASK results (:data:`RESULT_FORMATS`), graphs (:data:`GRAPH_FORMATS`), each with its
short name for ``?format=``, its media type, its aliases and the pyoxigraph format that writes it;
:func:`negotiate` picks a format, :func:`best` a media type among any offers, by one policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mimeparse
import pyoxigraph as ox


@dataclass(frozen=True)
class Format:
    """One serialisation: short name (for ``?format=``), media type, W3C format IRI (its local name in
    http://www.w3.org/ns/formats/, for the Service Description), pyoxigraph format, aliases."""

    key: str
    media_type: str
    w3c_name: str
    native: ox.QueryResultsFormat | ox.RdfFormat
    aliases: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        text = self.media_type.startswith("text/")
        return f"{self.media_type}; charset=utf-8" if text else self.media_type


#: The media types the server's own code asks for: the results and graphs it reads back.
RESULTS_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"

#: SELECT and ASK results, in order of preference (the first is the default).
RESULT_FORMATS = (
    Format(
        "json",
        "application/sparql-results+json",
        "SPARQL_Results_JSON",
        ox.QueryResultsFormat.JSON,
        ("application/json",),
    ),
    Format(
        "xml",
        "application/sparql-results+xml",
        "SPARQL_Results_XML",
        ox.QueryResultsFormat.XML,
        ("application/xml", "text/xml"),
    ),
    Format("csv", "text/csv", "SPARQL_Results_CSV", ox.QueryResultsFormat.CSV),
    Format("tsv", "text/tab-separated-values", "SPARQL_Results_TSV", ox.QueryResultsFormat.TSV),
)
#: CONSTRUCT and DESCRIBE results, and every RDF document the server gives, in order of preference.
GRAPH_FORMATS = (
    Format("turtle", "text/turtle", "Turtle", ox.RdfFormat.TURTLE, ("application/x-turtle", "application/turtle")),
    Format("ntriples", "application/n-triples", "N-Triples", ox.RdfFormat.N_TRIPLES),
    Format("jsonld", "application/ld+json", "JSON-LD", ox.RdfFormat.JSON_LD, ("application/json",)),
    Format("rdfxml", "application/rdf+xml", "RDF_XML", ox.RdfFormat.RDF_XML, ("application/xml", "text/xml")),
    Format("nquads", "application/n-quads", "N-Quads", ox.RdfFormat.N_QUADS),
    Format("trig", "application/trig", "TriG", ox.RdfFormat.TRIG),
)
#: Graph formats that abbreviate IRIs with the project's prefixes.
PREFIXED_FORMATS = (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG)
#: ``?format=`` names that mean one thing for results and another for graphs.
#: Other names clients use (SPARQLWrapper sends ``n3``, ``rdf+xml``, ``json-ld``; N3 readers read Turtle).
_SHARED_KEYS = {
    "json": ("json", "jsonld"),
    "xml": ("xml", "rdfxml"),
    "ttl": (None, "turtle"),
    "n3": (None, "turtle"),
    "nt": (None, "ntriples"),
    "n-triples": (None, "ntriples"),
    "json-ld": (None, "jsonld"),
    "rdf": (None, "rdfxml"),
    "rdf+xml": (None, "rdfxml"),
    "nq": (None, "nquads"),
    "n-quads": (None, "nquads"),
}
_MAX_ACCEPT_RANGES = 64


def negotiate(accept: str | None, format_param: str | None, formats: Sequence[Format]) -> Format | None:
    """The format to answer in: ``format_param`` if given, else the best match for ``accept``.

    Returns None when nothing acceptable can be served (the web layer answers 406).

    >>> negotiate("text/csv;q=0.5, application/sparql-results+xml", None, RESULT_FORMATS).key
    'xml'
    >>> negotiate("text/*", "json", GRAPH_FORMATS).key
    'jsonld'
    >>> negotiate("image/png", None, RESULT_FORMATS) is None
    True
    """
    if format_param:
        return _by_format_param(format_param.strip().lower(), formats)
    ranges = _parse_accept(accept or "")
    if not ranges:
        return formats[0]
    best, best_score = None, (0.0, -1.0, False)
    for fmt in formats:
        score = _score(fmt, ranges)
        if score[0] > 0 and score > best_score:
            best, best_score = fmt, score
    return best


def best(accept: str | None, offers: Sequence[str]) -> str | None:
    """The media type of ``offers`` that ``accept`` prefers: by q-value, then by how specific the matching
    range is, then by the order of ``offers``; the first offer when there is no Accept; None if none fits.

    >>> best("application/json;q=0.9, text/html", ["text/html", "application/json"])
    'text/html'
    >>> best(None, ["text/html", "application/json"]), best("image/png", ["text/html"])
    ('text/html', None)
    """
    ranges = _parse_accept(accept or "")
    if not ranges:
        return offers[0] if offers else None
    found, found_score = None, (0.0, -1.0)
    for offer in offers:
        quality, fitness = mimeparse.quality_and_fitness_parsed(offer, ranges)
        if quality > 0 and (float(quality), float(fitness)) > found_score:
            found, found_score = offer, (float(quality), float(fitness))
    return found


def _score(fmt: Format, ranges: list[Any]) -> tuple[float, float, bool]:
    """(quality, fitness, by its own name) of a format, from whichever of its names the most
    specific range matches: ``application/sparql-results+json;q=0`` rules JSON out even where
    ``*/*`` would let its alias ``application/json`` in; a range naming a type beats a wildcard at
    equal q, and a format's own media type beats an alias of another.
    """
    names = [(fmt.media_type, True)] + [(alias, False) for alias in fmt.aliases]
    scored = [(*mimeparse.quality_and_fitness_parsed(name, ranges), own) for name, own in names]
    quality, fitness, own = max(scored, key=lambda s: (s[1], s[0], s[2]))
    return float(quality), float(fitness), own


def _by_format_param(value: str, formats: Sequence[Format]) -> Format | None:
    if "/" in value:  # one or more media types, as some clients send: read it like an Accept header
        return negotiate(value, None, formats) if _parse_accept(value) else None
    results_key, graph_key = _SHARED_KEYS.get(value, (value, value))
    wanted = results_key if isinstance(formats[0].native, ox.QueryResultsFormat) else graph_key
    for fmt in formats:
        if value in (fmt.media_type, *fmt.aliases) or fmt.key == wanted:
            return fmt
    return None


def _parse_accept(accept: str) -> list[Any]:
    """The media ranges of an Accept header that parse; malformed ones are ignored (RFC 9110)."""
    ranges = []
    for item in accept.split(",")[:_MAX_ACCEPT_RANGES]:
        if not item.strip():
            continue
        try:
            ranges.append(mimeparse.parse_media_range(item))
        except (mimeparse.MimeTypeParseException, ValueError, IndexError):
            continue
    return ranges


def by_key(key: str, formats: Sequence[Format]) -> Format | None:
    """The format of ``formats`` whose short name is ``key``.

    >>> by_key("tsv", RESULT_FORMATS).media_type
    'text/tab-separated-values'
    """
    return next((f for f in formats if f.key == key), None)


def readable_results(media_type: str) -> ox.QueryResultsFormat | None:
    """The pyoxigraph reader of a SELECT/ASK answer in ``media_type`` (or an alias); None for CSV, which
    loses the terms' kinds, and for anything that is not a results format."""
    name = media_type.split(";", 1)[0].strip().lower()
    found = next((f for f in RESULT_FORMATS if name in (f.media_type, *f.aliases) and f.key != "csv"), None)
    return found.native if found else None  # type: ignore[return-value]
