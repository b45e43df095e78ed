"""llmkg: an open, source-backed knowledge graph of large-language-model families."""

__version__ = "0.1.0"
