"""Federation both ways, on loopback only: llmkg calling a Wikidata-shaped endpoint, and an engine calling llmkg.

Forward: the saved query 031 (llmkg entities with their Wikidata label and licence) runs on the
llmkg endpoint with its SERVICE pointed at a stand-in for Wikidata: ``oxigraph serve`` holding a
few items shaped like Wikidata's (``wd:Q…`` with an English ``rdfs:label`` and ``wdt:P275``). The
stand-in's URL is the endpoint's only allowed SERVICE; any other is refused. The item ids are
made up for the test (Q9900001…) and the llmkg side gets its ``skos:exactMatch`` links from a
test graph, since the shipped data records no Wikidata ids yet.

Reverse: ``oxigraph serve`` federates into a real ``llmkg serve`` process through SERVICE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.kg import catalog
from llmkg.kg.build import Dataset, memory_store, write_store
from llmkg.namespaces import DEFAULT_GRAPH, GRAPH, ID, LLMKG
from tests.engines import Engine, oxigraph
from tests.server_support import running_server

pytestmark = pytest.mark.xdist_group("federation")
WD, WDT = "http://www.wikidata.org/entity/", "http://www.wikidata.org/prop/direct/"
SKOS = "http://www.w3.org/2004/02/skos/core#"
LINKED = {"model/llama-4-scout": "Q9900001", "model/llama-4-maverick": "Q9900002", "model/llama-3.1-8b": "Q9900003"}
LICENCE = WD + "Q9900100"
WIKIDATA = "".join(
    f'<{WD}{q}> <http://www.w3.org/2000/01/rdf-schema#label> "{entity.split("/")[1]} (stand-in)"@en ;'
    f' <http://www.w3.org/2000/01/rdf-schema#label> "ignored"@de ; <{WDT}P275> <{LICENCE}> .\n'
    for entity, q in LINKED.items()
)
SETTINGS = ServerSettings(workers=1, query_timeout_s=30.0, cache_entries=0)


@pytest.fixture(scope="module")
def wikidata(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """``oxigraph serve`` holding the Wikidata-shaped items in its default graph, as Wikidata answers."""
    with oxigraph(tmp_path_factory.mktemp("wikidata")) as engine:
        put = httpx.put(engine.gsp + "?default", content=WIKIDATA, headers={"Content-Type": "text/turtle"})
        assert put.status_code in (200, 201, 204), put.text
        yield engine


@pytest.fixture(scope="module")
def linked(dataset: Dataset) -> Dataset:
    """The shipped graph plus a test graph linking three models to the stand-in's items (and, as for any
    curated link, the same statements in graph/default)."""
    links = [
        ox.Quad(ox.NamedNode(ID + entity), ox.NamedNode(SKOS + "exactMatch"), ox.NamedNode(WD + q), ox.NamedNode(g))
        for entity, q in LINKED.items()
        for g in (GRAPH + "test/wikidata-links", DEFAULT_GRAPH)
    ]
    return Dataset(quads=[*dataset.quads, *links], graph_files=dict(dataset.graph_files))


def federated_031(service: str) -> str:
    """Saved query 031 with its SERVICE pointed at ``service`` instead of Wikidata."""
    text = catalog.find("031").text
    assert "<https://query.wikidata.org/sparql>" in text
    return text.replace("<https://query.wikidata.org/sparql>", f"<{service}>")


def test_saved_federated_query_joins_the_graph_with_the_wikidata_stand_in(linked: Dataset, wikidata: Engine) -> None:
    settings = dataclasses.replace(SETTINGS, service_allowlist=(wikidata.query,))
    with TestClient(create_app(store=memory_store(linked), settings=settings, version="test")) as client:
        answer = client.get("/sparql", params={"query": federated_031(wikidata.query)}, headers={"Accept": "text/csv"})
    assert answer.status_code == 200, answer.text
    rows = answer.text.splitlines()[1:]
    assert len(rows) == len(LINKED)
    for entity, q in LINKED.items():
        row = next(r for r in rows if r.startswith(ID + entity + ","))
        assert f"{WD}{q}" in row and "(stand-in)" in row and LICENCE in row and "ignored" not in row


def test_a_service_outside_the_allowlist_is_refused(linked: Dataset, wikidata: Engine) -> None:
    settings = dataclasses.replace(SETTINGS, service_allowlist=(wikidata.query,))
    with TestClient(create_app(store=memory_store(linked), settings=settings, version="test")) as client:
        answer = client.get("/sparql", params={"query": federated_031("http://127.0.0.1:9/sparql")})
        original = client.get("/sparql", params={"query": catalog.find("031").text})
    assert answer.status_code == 403 and original.status_code == 403
    assert wikidata.query in answer.json()["detail"]


def test_oxigraph_federates_into_llmkg_serve(dataset: Dataset, wikidata: Engine, tmp_path: Path) -> None:
    """An engine's SERVICE call into ``llmkg serve`` gets the same models the embedded store holds."""
    store = tmp_path / "store"
    write_store(dataset, store)
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    models = f"SELECT ?model ?label WHERE {{ ?model a <{LLMKG}Model> ; {label} ?label }}"
    solutions = memory_store(dataset).query(models, default_graph=ox.NamedNode(DEFAULT_GRAPH))
    assert isinstance(solutions, ox.QuerySolutions)
    want = {(str(r["model"]), str(r["label"])) for r in solutions}
    with running_server(store, log=tmp_path / "serve.log", timeout_s=30.0) as server:
        query = models.replace("WHERE {", f"WHERE {{ SERVICE <{server.base}/sparql> {{", 1) + " }"
        answer = httpx.post(
            wikidata.query,
            content=query,
            headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
            timeout=60,
        )
    assert answer.status_code == 200, answer.text
    answered = ox.parse_query_results(answer.content, ox.QueryResultsFormat.JSON)
    assert isinstance(answered, ox.QuerySolutions)
    got = {(str(r["model"]), str(r["label"])) for r in answered}
    assert got == want and len(got) > 5
