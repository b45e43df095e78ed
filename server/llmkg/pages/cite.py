"""How to cite the dataset (this version) and a source document, as BibTeX and CSL-JSON.

The dataset's title, creators and licence come from kg/dataset.ttl (as in VoID and DCAT); its version
is the data version (content hash) and its date the newest retrieval of any source, so a citation
names exactly the data that was read. CITATION.cff at the repository root says the same (a test
checks they agree).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyoxigraph as ox

from llmkg.namespaces import LLMKG, PREFIXES, text
from llmkg.pages import discovery
from llmkg.pages.data import Site

BIBTEX = "application/x-bibtex"
CSL_JSON = "application/vnd.citationstyles.csl+json"
DCTERMS, SCHEMA = PREFIXES["dcterms"], PREFIXES["schema"]


@dataclass(frozen=True)
class Citation:
    key: str
    kind: str  # "dataset" or "document"
    title: str
    authors: tuple[str, ...]
    date: str  # ISO date, or "" when unknown
    version: str
    url: str
    note: str = ""
    doi: str = ""


def dataset(site: Site, root: str) -> Citation:
    """The dataset as served: its data version, and the date of the newest retrieval of a source."""
    about = discovery.about(discovery.dataset_iri(site))
    retrieved = [
        text(q.object) for q in site.store.quads_for_pattern(None, ox.NamedNode(LLMKG + "retrievedOn"), None, None)
    ]
    licences = ", ".join(discovery.licence_name(url) for url in about.licences)
    return Citation(
        key="llmkg-" + re.sub(r"[^A-Za-z0-9]+", "-", site.version).strip("-"),
        kind="dataset",
        title=about.title,
        authors=about.creators,
        date=max(retrieved, default=""),
        version=site.version,
        url=root,
        note=f"Data licence: {licences}" if licences else "",
    )


def document(site: Site, iri: str) -> Citation | None:
    """A source document, from what the graph says of it (title, authors, date, version, address, DOI)."""
    facts: dict[str, str] = {}
    for q in site.store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
        facts.setdefault(q.predicate.value, text(q.object))
    title = facts.get(DCTERMS + "title")
    if not title:
        return None
    authors = facts.get(LLMKG + "authorList", "")
    return Citation(
        key=re.sub(r"[^A-Za-z0-9]+", "-", iri.rsplit("/", 1)[-1]).strip("-"),
        kind="document",
        title=title,
        authors=tuple(a.strip() for a in authors.split(";") if a.strip()),
        date=facts.get(DCTERMS + "issued", facts.get(DCTERMS + "modified", "")),
        version=facts.get(LLMKG + "version", ""),
        url=facts.get(SCHEMA + "url", iri),
        doi=facts.get(LLMKG + "doi", ""),
    )


def _braced(value: str) -> str:
    """A BibTeX field value: braces kept balanced, TeX's special characters escaped."""
    escaped = re.sub(r"([&%$#_])", r"\\\1", value.replace("\\", "").replace("{", "").replace("}", ""))
    return "{" + escaped + "}"


def bibtex(c: Citation) -> str:
    fields = [
        ("title", "{" + _braced(c.title) + "}"),  # double braces keep the title's capitals
        ("author", " and ".join("{" + _braced(a) + "}" for a in c.authors) if c.authors else ""),
        ("year", _braced(c.date[:4]) if c.date else ""),
        ("month", _braced(c.date[5:7]) if len(c.date) >= 7 else ""),
        ("version", _braced(c.version) if c.version else ""),
        ("howpublished", "{\\url{" + c.url + "}}"),
        ("doi", _braced(c.doi) if c.doi else ""),
        ("note", _braced(c.note) if c.note else ""),
    ]
    body = ",\n".join(f"  {name} = {value}" for name, value in fields if value)
    return f"@misc{{{c.key},\n{body}\n}}\n"  # @misc: every BibTeX style knows it


def csl_json(c: Citation) -> str:
    item: dict[str, object] = {
        "id": c.key,
        "type": "dataset" if c.kind == "dataset" else "document",
        "title": c.title,
        "author": [{"literal": a} for a in c.authors],
        "URL": c.url,
    }
    if c.date:
        item["issued"] = {"date-parts": [[int(p) for p in c.date[:10].split("-") if p.isdigit()]]}
    if c.version:
        item["version"] = c.version
    if c.doi:
        item["DOI"] = c.doi
    if c.note:
        item["note"] = c.note
    return json.dumps([item], indent=2, ensure_ascii=False) + "\n"
