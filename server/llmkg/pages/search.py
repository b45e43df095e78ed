"""Search by name: labels, alternative names, Hugging Face repository ids (current and former), titles.

The index is read once from the store (or the build record), each name from its own graph
(``GRAPH ?g``), so it does not depend on what the default graph holds. Exact matches come first, then
names that start with the query, then names whose words start with the query's words, then names that
merely contain it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmkg.namespaces import LLMKG, expand, text
from llmkg.pages.data import Site

#: Kinds of things search finds (local names of their classes) and what results call them, in the
#: order they are listed when they match equally well.
KINDS = {
    "Model": "model",
    "ModelFamily": "family",
    "Checkpoint": "checkpoint",
    "Benchmark": "benchmark",
    "BenchmarkTask": "benchmark task",
    "Organization": "organisation",
    "Licence": "licence",
    "SourceDocument": "source document",
}
#: Properties that name a thing and what results call each, the more telling first.
NAMES = {
    "rdfs:label": "name",
    "skos:altLabel": "alternative name",
    "llmkg:huggingFaceRepository": "Hugging Face repository",
    "llmkg:formerHuggingFaceRepository": "former Hugging Face repository",
    "dcterms:title": "title",
}
FIELDS = {expand(short): field for short, field in NAMES.items()}
INDEX_QUERY = f"""SELECT DISTINCT ?x ?kind ?p ?name WHERE {{
  VALUES ?kind {{ {" ".join("llmkg:" + k for k in KINDS)} }}
  VALUES ?p {{ {" ".join(NAMES)} }}
  GRAPH ?g {{ ?x a ?kind }}
  GRAPH ?h {{ ?x ?p ?name }}
}}"""
MATCHES = ("exact", "starts with", "word starts with", "contains")
MAX_QUERY = 200


@dataclass(frozen=True)
class Entry:
    iri: str
    kind: str  # a key of KINDS
    name: str
    field: str  # a value of NAMES
    words: str  # the name, normalised


@dataclass(frozen=True)
class Hit:
    iri: str
    label: str
    kind: str
    name: str  # the name that matched
    field: str
    match: str  # one of MATCHES

    def as_dict(self, url: str) -> dict[str, str]:
        return {
            "iri": self.iri,
            "url": url,
            "label": self.label,
            "kind": self.kind,
            "matched": self.name,
            "field": self.field,
            "match": self.match,
        }


#: Where the build record keeps the index (see pages/precomputed.py).
RECORD = "search index"


def normalise(name: str) -> str:
    """Lower case, every run of other characters one space.

    >>> normalise("meta-llama/Llama-4-Scout-17B-16E")
    'meta llama llama 4 scout 17b 16e'
    """
    return " ".join(re.findall(r"[^\W_]+", name.casefold()))


def index(site: Site) -> list[Entry]:
    """Every (thing, kind, name), read once per site (or from the build record); a name stated by several
    properties keeps the first."""
    return site.once(RECORD, lambda: _read(site), recorded=lambda rows: [_entry(*row) for row in rows])


def record(site: Site) -> list[list[str]]:
    return [[e.iri, e.kind, e.name, e.field] for e in index(site)]


def _entry(iri: str, kind: str, name: str, field: str) -> Entry:
    return Entry(iri, kind, name, field, normalise(name))


def _read(site: Site) -> list[Entry]:
    order = list(FIELDS.values())
    entries: dict[tuple[str, str, str], Entry] = {}
    for row in site.select(INDEX_QUERY):
        iri, kind, name = text(row["x"]), text(row["kind"]).removeprefix(LLMKG), text(row["name"])
        field = FIELDS[text(row["p"])]
        kept = entries.get((iri, kind, name))
        if kept is None or order.index(field) < order.index(kept.field):
            entries[(iri, kind, name)] = _entry(iri, kind, name, field)
    return sorted(entries.values(), key=lambda e: (e.iri, e.kind, e.name))  # whatever the store's order


def _rank(entry: Entry, query: str, words: str) -> int | None:
    """The index in MATCHES of how ``entry`` matches (``words``: the query normalised), or None."""
    name = entry.name.casefold()
    if name == query or entry.words == words:
        return 0
    if name.startswith(query) or (words and entry.words.startswith(words)):
        return 1
    own = entry.words.split()
    if words and all(any(w.startswith(q) for w in own) for q in words.split()):
        return 2
    return 3 if query in name else None


def search(site: Site, query: str, limit: int | None = None) -> list[Hit]:
    """The things whose names match ``query``, best first, each once (by its best-matching name)."""
    wanted = query.strip().casefold()
    if not wanted:
        return []
    words, kinds = normalise(wanted), list(KINDS)
    best: dict[str, tuple[tuple[int, int, int, str], Entry, int]] = {}
    for entry in index(site):
        rank = _rank(entry, wanted, words)
        if rank is None:
            continue
        key = (rank, kinds.index(entry.kind), len(entry.name), entry.name)
        if entry.iri not in best or key < best[entry.iri][0]:
            best[entry.iri] = (key, entry, rank)
    ordered = sorted(best.values(), key=lambda found: found[0])[:limit]
    site.prefetch_labels(e.iri for _, e, _ in ordered)
    return [
        Hit(iri=e.iri, label=site.label(e.iri), kind=KINDS[e.kind], name=e.name, field=e.field, match=MATCHES[rank])
        for _, e, rank in ordered
    ]
