"""Linked Data routes: every IRI under the public base, served at the same path on this server.

``/id/…`` (things), ``/graph/…`` (named graphs), ``/ontology``, ``/shapes``, ``/query/…`` (saved
queries) and ``/.well-known/genid/…`` (skolem nodes) answer a browser with an HTML page and any other
client with the resource's description in the RDF format it asks for (``Accept``, or ``?format=``),
with ``Vary: Accept``, ``Content-Location`` and ``Link: rel="alternate"`` for the other formats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from llmkg.kg import asof, catalog
from llmkg.namespaces import GRAPH, PREFIXES
from llmkg.pages import boards, cite, entity, linkeddata, ontology_doc
from llmkg.pages.data import Site
from llmkg.pages.kit import base, not_found, page, site_of
from llmkg.pages.linkeddata import HTML, ONTOLOGY_GRAPH, SHAPES_GRAPHS

router = APIRouter(include_in_schema=False)
FormatParam = Annotated[str | None, Query(description="html, turtle, ntriples, jsonld, rdfxml, nquads or trig")]
GET = ["GET", "HEAD"]
HtmlView = Callable[[Request, Site, str], Response]


@router.api_route("/id/{path:path}", methods=GET)
async def thing(request: Request, path: str, format: FormatParam = None) -> Response:
    """A thing of the graph (model, checkpoint, benchmark, source document, …)."""
    return await _serve(request, "id/" + path, format, _entity_page)


@router.api_route("/.well-known/genid/{path:path}", methods=GET)
async def skolem(request: Request, path: str, format: FormatParam = None) -> Response:
    return await _serve(request, ".well-known/genid/" + path, format, _entity_page)


@router.api_route("/graph/{path:path}", methods=GET)
async def graph(request: Request, path: str, format: FormatParam = None) -> Response:
    """A named graph: its statements and the source document it comes from."""
    return await _serve(request, "graph/" + path, format, _graph_page)


@router.api_route("/ontology", methods=GET)
async def ontology(request: Request, format: FormatParam = None) -> Response:
    """The ontology: its documentation (pyLODE) for a browser, its statements in RDF for a program."""
    return await _serve(request, "ontology", format, _ontology_page)


@router.api_route("/ontology/{name}", methods=GET)
async def ontology_module(request: Request, name: str, format: FormatParam = None) -> Response:
    """A module of the ontology (``ontology/alignments``), or a version IRI of the ontology (its current text)."""
    return await _serve(request, "ontology/" + name, format, _graph_page)


@router.api_route("/shapes", methods=GET)
async def shapes(request: Request, format: FormatParam = None) -> Response:
    return await _serve(request, "shapes", format, _graph_page)


@router.api_route("/query/{stem}", methods=GET)
async def saved_query(request: Request, stem: str, format: FormatParam = None) -> Response:
    """A saved query: its description and text, and a link that opens it in the editor."""
    return await _serve(request, "query/" + stem, format, _query_page)


@router.api_route("/dataset", methods=GET)
async def dataset() -> Response:
    """The dataset IRI: described by the VoID document."""
    return RedirectResponse("/.well-known/void", status_code=303, headers={"Vary": "Accept"})


def graphs_of(site: Site, iri: str) -> list[str] | None:
    """The named graphs a document IRI stands for (the ontology, the shapes, one graph), None for a thing."""
    iris = site.settings.iris
    if iri == iris.iri("ontology"):
        return [ONTOLOGY_GRAPH]
    if iri == iris.iri("shapes"):
        return list(SHAPES_GRAPHS)
    if iri.startswith(iris.iri("ontology/")):
        return [_ontology_version_of(site, iri) or GRAPH + iri.removeprefix(iris.public)]
    return [iri] if iri.startswith(iris.iri("graph/")) else None


def _ontology_version_of(site: Site, iri: str) -> str | None:
    """The ontology's graph when ``iri`` is the ontology's owl:versionIRI, else None."""
    version = ox.NamedNode(PREFIXES["owl"] + "versionIRI")
    found = site.store.quads_for_pattern(None, version, ox.NamedNode(iri), ox.NamedNode(ONTOLOGY_GRAPH))
    return ONTOLOGY_GRAPH if any(True for _ in found) else None


def _has_graphs(site: Site, graphs: list[str]) -> bool:
    return all(site.store.contains_named_graph(ox.NamedNode(g)) for g in graphs)


async def _serve(request: Request, path: str, format: str | None, html: HtmlView) -> Response:
    site = site_of(request)
    iri = site.settings.iris.iri(path)
    try:
        ox.NamedNode(iri)
    except ValueError:
        return Response("Not Found: not an IRI\n", 404, media_type="text/plain")
    key = linkeddata.choose(request.headers.get("accept"), format)
    if key is None:
        offered = ", ".join(t for _, t, _ in linkeddata.alternates(""))
        return Response(f"Not Acceptable: this resource is served as {offered}\n", 406, headers=_vary())
    as_of, number = request.query_params.get("asof", ""), request.query_params.get("page", "")
    cache_key = f"{base(request)} {iri} {key} {as_of} {number}"  # an entity as of a date, a graph's page
    response: Response | None = site.rendered.get(cache_key)
    if response is None:
        if key == HTML:
            response = await run_in_threadpool(html, request, site, iri)
        else:
            response = await run_in_threadpool(_rdf, site, iri, key)
        if response.status_code == 200:
            site.rendered.put(cache_key, response)
    url = base(request) + quote(path, safe="/:@!$&'()*+,;=-._~%")
    response.headers.update(_vary())
    response.headers["Content-Location"] = f"{url}?format={key}"
    response.headers["Link"] = ", ".join(
        f'<{u}>; rel="alternate"; type="{t}"' for _, t, u in linkeddata.alternates(url)
    )
    return response


def _vary() -> dict[str, str]:
    return {"Vary": "Accept", "Cache-Control": "no-cache"}


def _rdf(site: Site, iri: str, key: str) -> Response:
    graphs = graphs_of(site, iri)
    if graphs is not None and not _has_graphs(site, graphs):
        return Response(f"No such graph: <{iri}>\n", 404, media_type="text/plain")
    quads = linkeddata.describe(site.store, iri) if graphs is None else linkeddata.graph_quads(site.store, graphs)
    if not quads:
        return Response(f"Nothing is known about <{iri}>\n", 404, media_type="text/plain")
    fmt, body = linkeddata.serialise(quads, key)
    return Response(body, media_type=fmt.content_type)


def _entity_page(request: Request, site: Site, iri: str) -> HTMLResponse:
    if not site.exists(iri):
        return not_found(request, f"Nothing is known about <{iri}>.")
    as_of = request.query_params.get("asof") or None
    try:
        view = entity.entity(site, iri, as_of)
    except asof.DateError as error:
        return page(request, "error.html", {"title": "Invalid date", "detail": str(error)}, status=400)
    benchmark = view.has_type("Benchmark") or view.has_type("BenchmarkTask")
    board = boards.leaderboard(site, iri) if benchmark else None
    extra = {
        "has_board": board is not None and bool(board.boards or board.tasks),  # else its link would be a 404
        "results": boards.results_of(site, iri) if view.has_type("Checkpoint") or view.has_type("Model") else [],
        "graphs": entity.source_graphs(site, iri) if view.has_type("SourceDocument") else [],
        "revisions": entity.revisions(site, iri) if view.has_type("SourceDocument") else [],
        "cited": cite.document(site, iri) if view.has_type("SourceDocument") else None,
    }
    return page(request, "entity.html", {"view": view, "as_of": as_of, **extra})


def _graph_page(request: Request, site: Site, iri: str) -> HTMLResponse:
    graphs = graphs_of(site, iri) or [iri]
    if not _has_graphs(site, graphs):
        return not_found(request, f"The store has no graph <{iri}>.")
    number = request.query_params.get("page", "1")
    if not number.isdigit() or int(number) < 1:
        return not_found(request, f"A graph's pages are numbered from 1; there is no page {number!r}.")
    start = (int(number) - 1) * GRAPH_PAGE
    quads = _statements(site, graphs, start, GRAPH_PAGE + 1)  # one more says whether a next page exists
    if not quads and start:
        return not_found(request, f"The graph <{iri}> has no statements on page {number}.")
    meta = entity.entity(site, graphs[0]) if len(graphs) == 1 else None
    context = {"iri": iri, "graphs": graphs, "quads": quads[:GRAPH_PAGE], "meta": meta}
    return page(request, "graph.html", {**context, "page_number": int(number), "more": len(quads) > GRAPH_PAGE})


#: Statements a graph's page shows at a time (its RDF alternates hold them all): graph/default alone holds
#: a third of the store, several million statements in a large graph.
GRAPH_PAGE = 500


def _statements(site: Site, graphs: list[str], start: int, count: int) -> list[ox.Quad]:
    """``count`` statements of ``graphs`` from the ``start``-th on, in the store's own order (stable for a
    given store; an ORDER BY would sort the whole graph for every page)."""
    values = " ".join(f"<{g}>" for g in graphs)
    where = f"VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }}"
    found = site.store.query(f"SELECT ?s ?p ?o ?g WHERE {{ {where} }} LIMIT {count} OFFSET {start}")
    assert isinstance(found, ox.QuerySolutions)
    return [ox.Quad(row["s"], row["p"], row["o"], row["g"]) for row in found]


def _ontology_page(request: Request, site: Site, iri: str) -> HTMLResponse:
    if not _has_graphs(site, [ONTOLOGY_GRAPH]):
        return not_found(request, f"The store has no graph <{ONTOLOGY_GRAPH}>.")
    return page(request, "ontology.html", {"iri": iri, "doc": ontology_doc.documentation(site)})


def _query_page(request: Request, site: Site, iri: str) -> HTMLResponse:
    stem = iri.rsplit("/", 1)[-1]
    query = next((q for q in catalog.saved_queries(site.settings.data, strict=False) if q.id == stem), None)
    if query is None:
        return not_found(request, f"No saved query <{iri}>.")
    return page(request, "query.html", {"query": query})
