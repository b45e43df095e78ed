"""The saved-query catalogue: queries/examples/NNN-slug.rq with a ``#+`` YAML header.

The header lives in comment lines so the file still runs in any SPARQL tool. The catalogue is
also loaded into the graph as ``sh:SPARQLExecutable`` resources (graph/queries).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import yaml

from llmkg.config import data_root
from llmkg.kg import names
from llmkg.namespaces import (
    DEFAULT_GRAPH,
    LLMKG,
    QUERIES_GRAPH,
    QUERY,
    RDF_TYPE,
    RDFS,
    SCHEMA,
    SH,
    XSD,
    expand,
    shorten,
)
from llmkg.sparql.answers import QueryResult
from llmkg.sparql.store import Backend
from llmkg.sparql.text import QUERY_FORMS, anchored, inspect

log = logging.getLogger("llmkg.catalog")
HEADER_KEYS = {"summary", "description", "tags", "params", "expect", "ordered", "service"}
KIND_CLASS = {
    "SELECT": "SPARQLSelectExecutable",
    "ASK": "SPARQLAskExecutable",
    "CONSTRUCT": "SPARQLConstructExecutable",
    "DESCRIBE": "SPARQLConstructExecutable",
}
KIND_PROPERTY = {"SELECT": "select", "ASK": "ask", "CONSTRUCT": "construct", "DESCRIBE": "construct"}


class CatalogError(Exception):
    """A saved query's header or body is malformed; the message names the file."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "iri", "string", "name" (a string bound in lower case), "integer", "decimal"
    example: str


@dataclass(frozen=True)
class SavedQuery:
    """One saved query, its header metadata and its text."""

    id: str
    path: Path
    text: str
    summary: str
    description: str
    tags: tuple[str, ...]
    kind: str
    params: tuple[Param, ...] = ()
    expect: str | None = None
    ordered: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def iri(self) -> str:
        return QUERY + self.id

    def expected_path(self) -> Path | None:
        return self.path.parent / self.expect if self.expect else None

    def live_path(self) -> Path | None:
        """queries/live/<id>.rq, the whole-graph form of a query that reads graph/findings; None if it has none."""
        live = self.path.parent.parent / "live" / self.path.name
        return live if live.is_file() else None


def parse_header(text: str, where: str) -> dict[str, Any]:
    """The YAML in the leading ``#+`` lines; unknown keys are an error."""
    lines = [line[3:] if line.startswith("#+ ") else line[2:] for line in text.splitlines() if line.startswith("#+")]
    try:
        header = yaml.safe_load("\n".join(lines)) or {}
    except yaml.YAMLError as error:
        raise CatalogError(f"{where}: header is not valid YAML: {error}") from None
    if not isinstance(header, dict):
        raise CatalogError(f"{where}: header must be a YAML mapping")
    unknown = set(header) - HEADER_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown header keys {sorted(unknown)}; allowed: {sorted(HEADER_KEYS)}")
    for key in ("summary", "description", "tags"):
        if key not in header:
            raise CatalogError(f"{where}: header lacks '{key}'")
    return header


def query_kind(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the query's form, as the lexer of sparql/text reads it."""
    form = inspect(text).form
    if form not in QUERY_FORMS:
        raise CatalogError("not a query: no SELECT, ASK, CONSTRUCT or DESCRIBE")
    return form


def load_query(path: Path, *, require_header: bool = True) -> SavedQuery:
    """A saved query from its file; ad-hoc files (``require_header=False``) may have no ``#+`` header."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CatalogError(f"{path.name}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    where = path.name
    if not require_header and not any(line.startswith("#+") for line in text.splitlines()):
        return SavedQuery(
            id=path.stem, path=path, text=text, summary=path.name, description="", tags=(), kind=query_kind(text)
        )
    header = parse_header(text, where)
    params = tuple(
        Param(name=name, type=str(spec.get("type", "string")), example=str(spec.get("example", "")))
        for name, spec in (header.get("params") or {}).items()
    )
    expect = header.get("expect")
    return SavedQuery(
        id=path.stem,
        path=path,
        text=text,
        summary=str(header["summary"]).strip(),
        description=str(header["description"]).strip(),
        tags=tuple(str(t) for t in header["tags"]),
        kind=query_kind(text),
        params=params,
        expect=expect.get("file") if isinstance(expect, dict) else expect,
        ordered=bool(header.get("ordered", False)),
        extra={k: header[k] for k in ("service",) if k in header},
    )


def saved_queries(root: Path | None = None, *, strict: bool = True) -> list[SavedQuery]:
    """Every saved query in queries/examples, ordered by file name, parsed once while the files stay
    the same. ``strict`` raises CatalogError for a file that cannot be read (build and validate);
    without it such a file is left out and logged (the server serves only what it can read).
    """
    folder = (root or data_root()) / "queries" / "examples"
    stamp = tuple((p.name, s.st_mtime_ns, s.st_size) for p in sorted(folder.glob("*.rq")) for s in [p.stat()])
    return list(_parsed(folder, stamp, strict))


@functools.lru_cache(maxsize=16)
def _parsed(folder: Path, stamp: tuple[tuple[str, int, int], ...], strict: bool) -> tuple[SavedQuery, ...]:
    found = []
    for name, _, _ in stamp:
        try:
            found.append(load_query(folder / name))
        except CatalogError as error:
            if strict:
                raise
            log.warning("saved query left out: %s", error)
    return tuple(found)


def find(name: str, root: Path | None = None, *, files: bool = False) -> SavedQuery:
    """A saved query by id (file stem) or by its number prefix; with ``files``, also a path to an .rq file
    (the command line's ``llmkg query FILE``; never a web route, which serves only the catalogue)."""
    path = Path(name)
    if files and path.suffix == ".rq" and path.is_file():
        return load_query(path, require_header=False)
    return lookup(name, saved_queries(root, strict=files))  # the command line reports an unreadable file


def lookup(name: str, queries: Sequence[SavedQuery]) -> SavedQuery:
    """The saved query among ``queries`` whose id (file stem) or number prefix is ``name``."""
    for query in queries:
        if query.id == name or query.id.split("-", 1)[0] == name:
            return query
    raise CatalogError(f"no saved query named {name!r}; `llmkg queries` lists them")


def catalogue_quads(root: Path | None = None) -> list[ox.Quad]:
    """The catalogue as RDF in graph/queries."""
    graph = ox.NamedNode(QUERIES_GRAPH)
    quads = [
        ox.Quad(graph, ox.NamedNode(LLMKG + "sourceFile"), ox.Literal("queries/examples"), graph),
        ox.Quad(
            graph,
            ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
            ox.NamedNode(LLMKG + "CuratedGraph"),
            graph,
        ),
    ]
    for query in saved_queries(root):
        node = ox.NamedNode(query.iri)
        triples: list[tuple[str, ox.NamedNode | ox.Literal]] = [
            (RDF_TYPE, ox.NamedNode(SH + KIND_CLASS[query.kind])),
            (RDFS + "label", ox.Literal(query.summary)),
            (RDFS + "comment", ox.Literal(query.description)),
            (SH + KIND_PROPERTY[query.kind], ox.Literal(query.text)),
            *((SCHEMA + "keywords", ox.Literal(tag)) for tag in query.tags),
        ]
        quads.extend(ox.Quad(node, ox.NamedNode(p), o, graph) for p, o in triples)
    return quads


def describe(query: SavedQuery) -> dict[str, Any]:
    """A JSON-ready summary of a saved query."""
    return {
        "id": query.id,
        "iri": query.iri,
        "summary": query.summary,
        "description": query.description,
        "tags": list(query.tags),
        "kind": query.kind,
        "params": [{"name": p.name, "type": p.type, "example": p.example} for p in query.params],
    }


def to_json(queries: list[SavedQuery]) -> str:
    return json.dumps([describe(q) for q in queries], indent=2)


class ParamError(CatalogError):
    """A parameter given to a saved query is unknown or of the wrong form."""


def _declared(query: SavedQuery, given: dict[str, str]) -> dict[str, Param]:
    declared = {p.name: p for p in query.params}
    unknown = set(given) - set(declared)
    if unknown:
        raise ParamError(f"{query.id}: unknown parameter(s) {sorted(unknown)}; declared: {sorted(declared)}")
    return declared


#: The value that lifts a parameter to "any": the query runs with the variable unbound.
ANY = "*"


def arguments(query: SavedQuery, given: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The values a run binds, and which of them are defaults: a parameter not given takes its example;
    one given as ``*`` (:data:`ANY`) is left unbound. Raises ParamError for an undeclared name."""
    declared = _declared(query, given)
    defaults = {name: p.example for name, p in declared.items() if name not in given and p.example}
    values = {name: value for name, value in {**given, **defaults}.items() if value != ANY}
    return values, defaults


def shown(query: SavedQuery, values: dict[str, str]) -> str:
    """Parameter values as people read them, IRIs as prefixed names: ``family=family:llama-4 k=5``."""
    kinds = {p.name: p.type for p in query.params}
    return " ".join(
        f"{name}={shorten(ox.NamedNode(expand(value))) if kinds.get(name) == 'iri' else value}"
        for name, value in values.items()
    )


def bind(
    query: SavedQuery, given: dict[str, str]
) -> dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple]:
    """Turn ``name=value`` parameters into pyoxigraph substitutions, checked against the header; an IRI
    may be given as a prefixed name (``model:llama-4-scout``), and ``*`` leaves its parameter unbound."""
    declared = _declared(query, given)
    return {ox.Variable(name): _term(declared[name], value) for name, value in given.items() if value != ANY}


def _term(param: Param, value: str) -> ox.NamedNode | ox.Literal:
    try:
        if param.type == "iri":
            return ox.NamedNode(expand(value))
        if param.type in ("integer", "decimal"):
            float(value)  # reject non-numbers before they reach the engine
            return ox.Literal(value, datatype=ox.NamedNode(XSD + param.type))
        if param.type == "name":  # matched ignoring case: looked up among the lower-case keys as it is
            return ox.Literal(value.lower())
    except ValueError as error:
        raise ParamError(f"parameter {param.name}: {value!r} is not a valid {param.type}: {error}") from None
    return ox.Literal(value)


def check_names(store: Backend, terms: Mapping[ox.Variable, object]) -> None:
    """Raise ParamError, suggesting close names, for an IRI parameter the graph does not know."""
    for variable, term in terms.items():
        if isinstance(term, ox.NamedNode):
            try:
                names.require_known(store, term.value)
            except names.UnknownName as error:
                raise ParamError(f"parameter {variable.value}: {error}") from None


def run(
    query: SavedQuery, store: Backend, given: dict[str, str] | None = None, *, dataset: Mapping[str, Any] | None = None
) -> QueryResult:
    """Execute a saved query over the served dataset (default graph graph/default), or over ``dataset``
    (``store.query`` keywords, e.g. an as-of view): parameters not given take their example, ``*``
    leaves one unbound."""
    values, _ = arguments(query, given or {})
    terms = bind(query, values)
    chosen = dataset if dataset is not None else {"default_graph": ox.NamedNode(DEFAULT_GRAPH)}
    text = query.text
    if dataset is not None and (live := query.live_path()):  # a view has no graph/findings: ask it whole
        text = live.read_text(encoding="utf-8")
    return store.query(anchored(text, terms), substitutions=terms, **chosen)
