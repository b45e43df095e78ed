"""A SPARQL 1.1 store reached over HTTP: query, update, Graph Store Protocol, and each engine's quirks.

:class:`RemoteStore` answers ``query`` with the same signature and the same result types as
``pyoxigraph.Store.query`` (solutions, boolean, triples), so code written for the embedded store
(``catalog.run``, the CLI) runs unchanged on Virtuoso, ``oxigraph serve`` or any SPARQL 1.1
engine. Whatever an engine does differently is described by its :class:`Dialect` and handled
here, never by callers:

* Virtuoso never answers a query POSTed directly as ``application/sparql-query`` (the request
  hangs), so queries and updates go to it as URL-encoded forms;
* Virtuoso answers ASK as a one-row table in formats without a boolean, and writes booleans as
  ``"1"``/``"0"``: results.py reads both as the booleans they stand for;
* a query given a default graph and no named graphs (``default_graph=graph/default``, the served
  dataset) keeps every llmkg graph available to ``GRAPH``, as pyoxigraph does: the engine is sent
  ``default-graph-uri`` and one ``named-graph-uri`` per graph (read once from the engine), since
  over the protocol a dataset with no named graph has none (``oxigraph serve``), or none for
  ``GRAPH <g>`` (Virtuoso); this also keeps Virtuoso's own graphs out. On ``oxigraph serve``,
  where ``llmkg load`` copies graph/default into the engine's default graph, nothing is sent;
* Virtuoso keeps graphs of its own (``virtrdf:``, ``ldp:`` and others, by version and installed
  packages) in every store: each ``GRAPH ?g { … }`` is sent as ``{ GRAPH ?g { … } FILTER(?g under
  graphs_prefix) }``, so graph listings and counts per graph see llmkg's graphs only, whatever
  dataset a caller gives (docs/deploy.md);
* the graph's prefixes (``prefixes=``) are declared before the query for the names it does not
  declare itself.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox

from llmkg.namespaces import DEFAULT_GRAPH, GRAPH
from llmkg.sparql.answers import QueryResult, UnreadableAnswer, read_result, without_frames
from llmkg.sparql.formats import N_TRIPLES, RESULTS_JSON
from llmkg.sparql.store import Term
from llmkg.sparql.text import (
    Substitutions,
    declared_prefixes,
    inspect,
    names_a_graph,
    scope_graph_variables,
    with_bindings,
)

GraphName = ox.NamedNode | ox.BlankNode | ox.DefaultGraph
#: More protocol parameters than this (a dataset of every named graph) go in a form body, not the URL.
MAX_URL_PARAMS = 20


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """How one engine speaks the SPARQL 1.1 Protocol.

    ``direct_post``: answers queries and updates POSTed as ``application/sparql-query`` /
    ``application/sparql-update`` (otherwise they are sent as forms). ``union_param``: the URL
    parameter that makes the default graph the union of all graphs, when the engine has one;
    ``union_by_default``: the default graph already is that union. ``insert_batch``: triples per
    INSERT DATA that the engine's parser takes (Virtuoso's runs out of memory on a few thousand).
    ``own_graphs``: the engine keeps graphs of its own beside the data, which ``GRAPH ?g`` must skip.
    ``lax_named_graphs``: with only a default graph given, ``GRAPH ?g`` still ranges over every graph
    and only ``GRAPH <g>`` needs ``g`` listed as a named graph (Virtuoso), so the list, which slows
    ``GRAPH ?g`` patterns there, is sent only for a query that names a graph.
    ``default_copy``: ``llmkg load`` also puts graph/default in the engine's own default graph, which
    then answers a query without a dataset with no protocol parameter (on ``oxigraph serve`` a long
    ``named-graph-uri`` list makes ``GRAPH ?g`` patterns up to ten times slower).
    """

    name: str
    direct_post: bool = True
    union_param: str | None = None
    union_by_default: bool = False
    insert_batch: int = 5000
    own_graphs: bool = False
    lax_named_graphs: bool = False
    default_copy: bool = False


DIALECTS = {
    "sparql11": Dialect(name="sparql11"),
    "oxigraph": Dialect(name="oxigraph", union_param="union-default-graph", default_copy=True),
    "virtuoso": Dialect(
        name="virtuoso",
        direct_post=False,
        union_by_default=True,
        insert_batch=1000,
        own_graphs=True,
        lax_named_graphs=True,
    ),
}


class RemoteError(Exception):
    """The engine refused or failed a request; ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, status: int, detail: str, url: str) -> None:
        super().__init__(f"{url}: {'HTTP ' + str(status) if status else 'no answer'}: {detail}")
        self.status, self.detail, self.url = status, detail, url


class AnyAuth(httpx.Auth):
    """HTTP Basic or Digest authentication, whichever the server's challenge asks for."""

    requires_request_body = True

    def __init__(self, user: str, password: str) -> None:
        self.digest = httpx.DigestAuth(user, password)
        self.basic = httpx.BasicAuth(user, password)
        self.chosen: httpx.Auth | None = None  # once challenged, every later request authenticates at once

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.chosen is not None:
            yield from self.chosen.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("www-authenticate", "").lower()
        self.chosen = self.digest if challenge.startswith("digest") else self.basic
        flow = self.chosen.auth_flow(request)
        retried = next(flow)
        if self.chosen is self.digest:
            retried = flow.send(response)
        yield retried


class RemoteStore:
    """A SPARQL 1.1 store: ``endpoint`` answers queries, ``update`` updates, ``gsp`` the Graph Store Protocol.

    >>> store = RemoteStore("http://127.0.0.1:7878/query", dialect="oxigraph")  # doctest: +SKIP
    >>> bool(store.query("ASK { ?s ?p ?o }", use_default_graph_as_union=True))  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        endpoint: str,
        *,
        update: str | None = None,
        gsp: str | None = None,
        dialect: str | Dialect | None = None,
        auth: tuple[str, str] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.endpoint, self.update_url, self.gsp_url = endpoint, update, gsp
        self.graphs_prefix = GRAPH
        self._graphs: list[str] | None = None
        self.client = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=5.0), auth=AnyAuth(*auth) if auth else None)
        if dialect is None:
            dialect = detect(self.client, endpoint)
        self.dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def timeout_s(self) -> float:
        return float(self.client.timeout.read or 0)

    @timeout_s.setter
    def timeout_s(self, seconds: float) -> None:
        self.client.timeout = httpx.Timeout(seconds, connect=5.0)

    def query(
        self,
        query: str,
        *,
        prefixes: dict[str, str] | None = None,
        use_default_graph_as_union: bool = False,
        default_graph: GraphName | Sequence[GraphName] | None = None,
        named_graphs: Sequence[ox.NamedNode | ox.BlankNode] | None = None,
        substitutions: Substitutions | None = None,
    ) -> QueryResult:
        """Run a query; the arguments mean what they mean for ``pyoxigraph.Store.query``.

        ``prefixes`` are declared before the query's own (which win); a default graph given as
        ``DefaultGraph`` cannot be named over the protocol and is left out.
        """
        form = inspect(query).form
        defaults = default_graph if isinstance(default_graph, Sequence) else [default_graph] if default_graph else []
        params = [("default-graph-uri", g.value) for g in defaults if isinstance(g, ox.NamedNode)]
        if params == [("default-graph-uri", DEFAULT_GRAPH)] and named_graphs is None and self.dialect.default_copy:
            params = []  # the engine's own default graph holds graph/default (push.load_into)
        elif params and named_graphs is None and (not self.dialect.lax_named_graphs or names_a_graph(query)):
            # as in pyoxigraph, every named graph stays available to GRAPH
            named_graphs = [ox.NamedNode(g) for g in self.graph_names()]
        params += [("named-graph-uri", g.value) for g in named_graphs or () if isinstance(g, ox.NamedNode)]
        if use_default_graph_as_union and not params and self.dialect.union_param:
            params.append((self.dialect.union_param, "true"))
        declared = declared_prefixes(query)
        text = "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in (prefixes or {}).items() if name not in declared)
        text += with_bindings(query, substitutions or {})
        if self.dialect.own_graphs:
            text = scope_graph_variables(text, self.graphs_prefix)
        accept = N_TRIPLES if form in ("CONSTRUCT", "DESCRIBE") else RESULTS_JSON
        response = self._send(self.endpoint, "query", text, params, accept)
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            return read_result(response.content, media_type, ask=form == "ASK", distinct=inspect(query).distinct)
        except (UnreadableAnswer, SyntaxError) as error:
            raise RemoteError(response.status_code, str(error), str(response.url)) from None

    def graph_names(self) -> list[str]:
        """The llmkg graphs the engine holds (under ``graphs_prefix``), read once and kept until a write."""
        if self._graphs is None:
            self._graphs = sorted(self.graph_sizes(self.graphs_prefix))
        return self._graphs

    def quads_for_pattern(
        self,
        subject: ox.NamedNode | ox.BlankNode | ox.Triple | None,
        predicate: ox.NamedNode | None,
        object: Term | None,
        graph_name: GraphName | None = None,
    ) -> Iterator[ox.Quad]:
        """The quads matching a pattern (None matches anything) in the llmkg graphs (``graphs_prefix``)."""
        terms = {"s": subject, "p": predicate, "o": object, "g": graph_name}
        if isinstance(graph_name, ox.DefaultGraph):
            return iter(())
        s, p, o, g = (str(t) if t is not None else f"?{k}" for k, t in terms.items())
        scope = f"FILTER(STRSTARTS(STR(?g), {ox.Literal(self.graphs_prefix)}))" if graph_name is None else ""
        found = self.select(f"SELECT * WHERE {{ GRAPH {g} {{ {s} {p} {o} }} {scope} }}")
        return iter([ox.Quad(*(row[k] if t is None else t for k, t in terms.items())) for row in found])  # type: ignore[arg-type]

    def contains_named_graph(self, graph_name: GraphName) -> bool:
        return isinstance(graph_name, ox.NamedNode) and bool(self.query(f"ASK {{ GRAPH {graph_name} {{ ?s ?p ?o }} }}"))

    def __iter__(self) -> Iterator[ox.Quad]:
        """Every quad of the llmkg graphs (the engine's own graphs, such as Virtuoso's, are not the dataset)."""
        return self.quads_for_pattern(None, None, None)

    def update(self, update: str) -> None:
        """Run a SPARQL Update at the update URL (by default the query endpoint)."""
        self._graphs = None
        self._send(self.update_url or self.endpoint, "update", update, [], "*/*")

    def put_graph(self, graph: str | None, ntriples: bytes) -> None:
        """Replace one named graph (None: the default graph) with the given N-Triples (Graph Store Protocol PUT)."""
        self._graphs = None
        if not self.gsp_url:
            raise RemoteError(0, "no Graph Store Protocol URL configured", self.endpoint)
        target = {"graph": graph} if graph is not None else {"default": ""}
        self._check(self._call("PUT", self.gsp_url, params=target, content=ntriples, headers=_type(N_TRIPLES)))

    def graph_sizes(self, prefix: str = "") -> dict[str, int]:
        """Triples in each named graph whose IRI starts with ``prefix``."""
        found = self.select(
            "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
            f"FILTER(STRSTARTS(STR(?g), {ox.Literal(prefix)})) }} GROUP BY ?g"
        )
        pairs = ((row["g"], row["n"]) for row in found)
        return {g.value: int(n.value) for g, n in pairs if isinstance(g, ox.NamedNode) and isinstance(n, ox.Literal)}

    def select(self, query: str) -> list[dict[str, Term]]:
        """The rows of a SELECT, read whole, as dicts of the bound variables' terms.

        The terms may go to any thread; the ``QuerySolutions`` they are read from may not (see
        results.without_frames), so it is made, read and freed here, even when reading fails.
        """
        try:
            return _rows(self.query(query))  # no local of this frame holds the solutions
        except SyntaxError as error:  # the engine's answer, read row by row, has a row that does not parse
            raise RemoteError(200, f"unreadable answer: {error}", self.endpoint) from without_frames(error)
        except BaseException as error:
            without_frames(error)
            raise

    def _send(self, url: str, field: str, text: str, params: list[tuple[str, str]], accept: str) -> httpx.Response:
        headers = {"Accept": accept}
        if self.dialect.direct_post and len(params) <= MAX_URL_PARAMS:
            headers.update(_type(f"application/sparql-{field}; charset=utf-8"))
            return self._check(self._call("POST", url, params=params, content=text.encode(), headers=headers))
        headers.update(_type("application/x-www-form-urlencoded"))
        form = urlencode([(field, text), *params]).encode()
        return self._check(self._call("POST", url, content=form, headers=headers))

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise RemoteError(0, f"{type(error).__name__}: {error}", url) from None

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            detail = " ".join(response.text.split())[:500]
            raise RemoteError(response.status_code, detail, str(response.request.url))
        return response


def _rows(found: QueryResult) -> list[dict[str, Term]]:
    assert isinstance(found, ox.QuerySolutions)
    names = [v.value for v in found.variables]
    return [{n: row[n] for n in names if row[n] is not None} for row in found]


def _type(media_type: str) -> dict[str, str]:
    return {"Content-Type": media_type}


def detect(client: httpx.Client, endpoint: str) -> str:
    """The dialect of the engine at ``endpoint``, from the ``Server`` header it answers with."""
    try:
        server = client.get(endpoint).headers.get("server", "").lower()
    except httpx.HTTPError as error:
        raise RemoteError(0, f"{type(error).__name__}: {error}", endpoint) from None
    return next((name for name in DIALECTS if name in server), "sparql11")


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """``user:password`` as a pair (None stays None)."""
    if not text:
        return None
    user, _, password = text.partition(":")
    return user, password


__all__ = ["DIALECTS", "Dialect", "RemoteError", "RemoteStore", "parse_auth"]
