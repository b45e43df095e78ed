"""How search engines and dataset catalogues find the site: schema.org JSON-LD, the sitemap, robots.txt,
and the VoID description as a page.

The dataset's title, description and licence are read from kg/dataset.ttl (the VoID and DCAT
descriptions start from the same file), so they are stated once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyoxigraph as ox

from llmkg import __version__
from llmkg.kg import describe
from llmkg.kg.build import DUMPS
from llmkg.namespaces import DCAT, DCTERMS, SCHEMA, VOID, text
from llmkg.pages.data import Site

#: Kinds of things that get a line in the sitemap (the rest is reached from their pages).
LISTED_TYPES = ("ModelFamily", "Model", "Checkpoint", "Benchmark", "SourceDocument", "Licence", "Organization")
#: Pages with no IRI of the graph behind them, listed in the sitemap after the home page.
SITE_PAGES = ("models", "leaderboards", "editor", "queries", "sources", "conflicts", "audit", "ontology")
#: What crawlers leave alone: query answers (endless and costly), dumps, the graph store, and the filtered
#: index and chosen comparisons (every combination of facets or models is a URL; the sitemap lists /models).
#: The derived graphs are the whole graph over again, 500 statements a page: a crawler reads the first page of
#: each (the dumps hold them whole), and none of the default graph's slices by validity.
DERIVED_PAGES = ("/graph/default?", "/graph/preferred?", "/graph/findings?", "/graph/validity?", "/graph/valid/")
ROBOTS_DISALLOW = (
    "/sparql?",
    "/editor?",
    "/queries/",
    "/rdf-graphs",
    "/dumps/",
    "/search?",
    "/models?",
    "/compare?",
    *DERIVED_PAGES,
)


def dataset_iri(site: Site) -> str:
    return site.settings.iris.iri("dataset")


@dataclass(frozen=True)
class About:
    """What dataset.ttl says of the dataset, as plain strings."""

    title: str
    description: str
    licences: tuple[str, ...]
    keywords: tuple[str, ...]
    creators: tuple[str, ...]


@cache
def about(dataset: str) -> About:
    """What dataset.ttl says of ``dataset`` (read once)."""
    triples = describe.self_description(dataset)

    def values(*predicates: str) -> list[str]:
        return [text(t.object) for t in triples if t.predicate.value in predicates]

    return About(
        title=(values(DCTERMS + "title") or ["llmkg"])[0],
        description=(values(DCTERMS + "description") or [""])[0],
        licences=tuple(dict.fromkeys(values(DCTERMS + "license", SCHEMA + "license"))),
        keywords=tuple(values(DCAT + "keyword")),
        creators=tuple(values(DCTERMS + "creator")),
    )


def licence_name(url: str) -> str:
    """A short name for a licence's address: Creative Commons ones by their code.

    >>> licence_name("https://creativecommons.org/licenses/by/4.0/")
    'CC BY 4.0'
    """
    found = re.fullmatch(r"https?://creativecommons\.org/licenses/([a-z-]+)/([0-9.]+)/?", url)
    return f"CC {found.group(1).upper()} {found.group(2)}" if found else url


def dataset_jsonld(site: Site, root: str) -> dict[str, Any]:
    """The schema.org ``Dataset`` the home page embeds, for dataset search engines."""
    facts = about(dataset_iri(site))
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": dataset_iri(site),
        "name": facts.title,
        "description": facts.description,
        "url": root,
        "version": __version__,
        "license": list(facts.licences),
        "keywords": list(facts.keywords),
        "creator": [{"@type": "Organization", "name": name} for name in facts.creators],
        "isAccessibleForFree": True,
        "distribution": [
            {"@type": "DataDownload", "encodingFormat": media, "contentUrl": root + "dumps/" + name}
            for name, media in DUMPS.items()
        ],
        "subjectOf": {"@type": "WebAPI", "name": "SPARQL endpoint", "url": root + "sparql"},
    }


def sitemap_paths(site: Site) -> list[str]:
    """Paths (relative to the site) of the pages worth indexing: site pages, then things by kind."""
    kinds = " ".join(f"llmkg:{t}" for t in LISTED_TYPES)
    found = site.select(f"SELECT DISTINCT ?x WHERE {{ VALUES ?t {{ {kinds} }} GRAPH ?g {{ ?x a ?t }} }}")
    paths = sorted(p for r in found if (p := site.settings.iris.path(text(r["x"]))) is not None)
    return ["", *SITE_PAGES, *paths]


def robots(root: str) -> str:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW), f"Sitemap: {root}sitemap.xml"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class VoidView:
    """The VoID description as a page: the dataset's own statements, then its named graphs by size."""

    statements: list[tuple[str, str, bool]]  # (property IRI, value, whether the value is an IRI)
    graphs: list[tuple[str, int]]


def void_view(site: Site, root: str) -> VoidView:
    stats = site.statistics
    triples = describe.void_description(stats, dataset=dataset_iri(site), base_url=root, version=site.version)
    own = [t for t in triples if text(t.subject) == dataset_iri(site) and t.predicate.value != VOID + "subset"]
    statements = sorted((t.predicate.value, text(t.object), isinstance(t.object, ox.NamedNode)) for t in own)
    site.prefetch_labels(iri for p, o, linked in statements for iri in ([p, o] if linked else [p]))
    graphs = sorted(stats.graph_triples.items(), key=lambda g: (-g[1], g[0]))
    return VoidView(statements=statements, graphs=graphs)
