"""What the web-page tests share: a small dataset with a disagreement, and an app serving it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyoxigraph as ox
from fastapi import FastAPI

from llmkg.app import create_app
from llmkg.config import ServerSettings
from llmkg.kg import catalog
from llmkg.kg.provenance import derived_quads
from llmkg.pages import routes
from llmkg.pages.data import PageSettings
from llmkg.pages.linkeddata import IriMap

WEB = Path(__file__).parent / "fixtures" / "web"
MINI = WEB / "mini.trig"
REPO = Path(__file__).resolve().parents[1]


def mini_store() -> ox.Store:
    """The fixture dataset, with graph/preferred and graph/default computed by the build's own rules."""
    quads = list(ox.parse(path=MINI, format=ox.RdfFormat.TRIG))
    store = ox.Store()
    store.bulk_extend([*quads, *derived_quads(quads)])
    return store


def served_app(store: ox.Store, *, version: str) -> FastAPI:
    """The real app (endpoint and pages); the fixture's saved queries stand in while the graph has none."""
    app = create_app(store=store, settings=ServerSettings(workers=2, query_timeout_s=20), version=version)
    site = app.state.site
    if not catalog.saved_queries(site.settings.data):
        site.settings = dataclasses.replace(site.settings, data=WEB)
    return app


def page_app(store: ox.Store, *, node_modules: Path | None = REPO / "node_modules", site: str | None = None) -> FastAPI:
    """A bare app with only the web face over ``store``, listing the fixture's saved queries.

    Queries typed into the editor's plain form run in-process here (the served app uses the endpoint).
    """
    app = FastAPI()
    settings = PageSettings(iris=IriMap(site=site), node_modules=node_modules, data=WEB)
    routes.install(app, store, settings=settings)
    return app
