"""What the pages read from the whole graph, computed by ``llmkg build`` into its record.

A page that lists every model, every leaderboard or the first use of every ontology term would read
all of a large graph the first time it is asked for (seconds at 10M quads). The build computes these
once, when it has just written the store, and keeps them under "pages" in the build record; a server
opening the store hands them to its ``Site``, whose ``once`` uses them instead of reading the store.
A store without the record (one made by ``oxigraph load``, or the data served from memory) gets the
same values computed on first use: each module makes its value the same way in both cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyoxigraph as ox

from llmkg.kg import audit, describe
from llmkg.pages import boards, models, ontology_doc, search
from llmkg.pages.data import PageSettings, Site

#: Key in the record -> what makes its value (JSON) from a Site over the finished store.
RECORDED: dict[str, Callable[[Site], Any]] = {
    models.RECORD: models.record,
    models.FAMILIES: lambda site: [list(family) for family in models.families(site)],
    boards.RECORD: boards.record,
    ontology_doc.RECORD: ontology_doc.examples,
    search.RECORD: search.record,
}


def record(store: ox.Store) -> dict[str, Any]:
    """Everything in RECORDED, computed on ``store`` (what the build record keeps under "pages")."""
    site = Site(store, settings=PageSettings(), version="")
    return {key: make(site) for key, make in RECORDED.items()}


def build_records(built: ox.Store, quads: list[ox.Quad]) -> dict[str, Any]:
    """What the build record keeps for the servers, beside the version: the statistics the descriptions
    give, the audit report the audit, sources and conflicts pages show, and this module's record
    (``quads`` are the store's, at hand in the build)."""
    return {
        "statistics": describe.statistics_record(built),
        "audit": audit.build_report(quads).as_dict(),
        "pages": record(built),
    }
