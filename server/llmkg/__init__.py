"""llmkg: an open, source-backed knowledge graph of large-language-model families.

For notebooks and scripts: ``llmkg.open()`` (the shipped graph) or ``llmkg.connect(url)`` (a running
endpoint) give a :class:`llmkg.notebook.Graph`; see the README's "Python" section.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: What ``import llmkg`` offers, from :mod:`llmkg.notebook`; imported on first use, so that the command
#: line and the modules that only need ``__version__`` do not load the query engine's machinery.
_FACE = frozenset({"open", "connect", "Graph", "Rows", "Fact"})


def __getattr__(name: str) -> Any:
    if name in _FACE:
        from llmkg import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'llmkg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_FACE})
