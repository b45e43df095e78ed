"""The seam to the data: what the server needs from a store, whichever engine holds it.

Everything the server does with its data goes through the four methods of :class:`Backend`:
``query`` (with pyoxigraph's keyword arguments and result types), ``quads_for_pattern``,
``contains_named_graph`` and iteration over all quads. ``pyoxigraph.Store`` has them, and so does
:class:`~llmkg.sparql.remote.RemoteStore`, so negotiation, the catalogue, the pages and the audit
work the same on either. This module imports nothing of llmkg.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyoxigraph as ox

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
GraphName = ox.NamedNode | ox.BlankNode | ox.DefaultGraph


@runtime_checkable
class Backend(Protocol):
    """What the server needs from a store; ``pyoxigraph.Store`` and ``RemoteStore`` both have it."""

    def query(
        self,
        query: str,
        *,
        prefixes: dict[str, str] | None = None,
        use_default_graph_as_union: bool = False,
        default_graph: GraphName | list[GraphName] | None = None,
        named_graphs: list[ox.NamedNode | ox.BlankNode] | None = None,
        substitutions: dict[ox.Variable, Term] | None = None,
    ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples: ...

    def quads_for_pattern(
        self,
        subject: ox.NamedNode | ox.BlankNode | ox.Triple | None,
        predicate: ox.NamedNode | None,
        object: Term | None,
        graph_name: GraphName | None = None,
    ) -> Iterator[ox.Quad]: ...

    def contains_named_graph(self, graph_name: GraphName) -> bool: ...

    def __iter__(self) -> Any: ...


Source = Backend | Path
