"""The composition root: open the store, start the engine, mount the machine API and the pages.

:func:`create_app` is the one place that knows what is wired to what; ``llmkg serve`` and the
tests build the server with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from llmkg import __version__
from llmkg.api import saved_queries
from llmkg.api import sparql as sparql_routes
from llmkg.api.http import RequestContext, install_error_handlers
from llmkg.config import ServerSettings
from llmkg.engine.endpoint import Endpoint
from llmkg.kg import audit, catalog, describe
from llmkg.kg.build import (
    Dataset,
    forget_store_records,
    pin_store,
    read_store_info,
    recorded_report,
    store_record,
    unpin_store,
)
from llmkg.pages import routes as page_routes
from llmkg.pages.data import PageSettings, Row, Runner, rows, triple_row
from llmkg.sparql.formats import N_TRIPLES, RESULTS_JSON
from llmkg.sparql.remote import RemoteStore
from llmkg.sparql.store import Backend


def create_app(
    *,
    store: Backend | Path,
    settings: ServerSettings | None = None,
    version: str | None = None,
    statistics: describe.Statistics | None = None,
    report: audit.Report | None = None,
    pages: dict[str, Any] | None = None,
) -> FastAPI:
    """The endpoint over ``store``: an in-memory store, the directory of one built by ``llmkg build --store``,
    or a :class:`~llmkg.sparql.remote.RemoteStore` (any SPARQL 1.1 engine, see sparql/store.py).

    ``version`` is the data version (ETag), ``statistics`` what the descriptions count, ``report`` the
    audit the pages show, ``pages`` what the pages read from the whole graph (pages/precomputed.py); by
    default they are read from the store directory's build record, or computed from the quads. Query
    workers start with the app's lifespan.
    """
    settings = settings or ServerSettings.from_env()
    pinned = pin_store(store) if isinstance(store, Path) else None  # later builds never reach this server
    served = pinned or store
    if isinstance(served, Path):  # the record pinned with the store, so it is that build's
        found = recorded(served)
        version, statistics = version or found["version"], statistics or found["statistics"]
        report, pages = report or found["report"], pages or found["pages"]
    elif isinstance(store, RemoteStore) and (version is None or report is None):
        # A remote engine has no build record: its quads are read once, here, for both (a page that
        # waited for the audit on first use would wait for every quad to come over HTTP).
        quads = list(store)
        version, report = version or Dataset(quads=quads).version, report or audit.build_report(quads)
    read = ox.Store.read_only(str(served)) if isinstance(served, Path) else served
    version = version or Dataset(quads=list(read)).version  # an in-memory store given without one
    endpoint = Endpoint(read, source=served, settings=settings, version=version, statistics=statistics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        endpoint.start()
        try:
            yield
        finally:
            endpoint.close()
            if pinned is not None:
                unpin_store(pinned)

    app = FastAPI(title="llmkg SPARQL endpoint", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.endpoint = endpoint
    pages_settings = PageSettings.from_settings(settings)
    app.state.catalogue = tuple(catalog.saved_queries(pages_settings.data, strict=False))  # read once
    # The pages read the store only through the Backend methods (their annotations say ox.Store).
    site_store = cast(ox.Store, endpoint.store)
    api = (sparql_routes.router, saved_queries.router)
    runner = endpoint_runner(endpoint)
    page_routes.install(
        app,
        site_store,
        settings=pages_settings,
        runner=runner,
        api=api,
        version=endpoint.version,
        statistics=endpoint,
        report=report,
        recorded=pages,
    )
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["ETag", "X-Request-ID", "Server-Timing"],
        max_age=86400,
    )
    app.add_middleware(RequestContext)
    return app


def recorded(store_dir: Path) -> dict[str, Any]:
    """What the build recorded beside a store, as :func:`create_app`'s keywords: the data version, the
    statistics, the audit report and the pages' record (each None when not recorded, but the version,
    which a store without a record gets from its quads)."""
    found = {
        "version": read_store_info(store_dir)[0],
        "statistics": describe.recorded_statistics(store_dir),
        "report": recorded_report(store_dir),
        "pages": store_record(store_dir, "pages"),
    }
    forget_store_records()  # tens of MB parsed at 10M quads: the server keeps only what it took
    return found


def endpoint_runner(endpoint: Endpoint) -> Runner:
    """A runner for :class:`llmkg.pages.data.Site` that sends a person's query through the endpoint's worker pool.

    The endpoint checks it (read-only, SERVICE allowlist) and runs it with its timeout and size limits.
    """

    def run(text: str) -> tuple[list[str], list[Row]] | bool:
        job = endpoint.job(text, accept=f"{RESULTS_JSON}, {N_TRIPLES}")
        answer = endpoint.answer(job)
        body = answer.body
        if answer.content_type.startswith(N_TRIPLES):
            triples = ox.parse(body, format=ox.RdfFormat.N_TRIPLES)
            return ["subject", "predicate", "object"], [triple_row(t) for t in triples]
        parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        if isinstance(parsed, ox.QueryBoolean):
            return bool(parsed)
        return [v.value for v in parsed.variables], rows(parsed)

    return run
