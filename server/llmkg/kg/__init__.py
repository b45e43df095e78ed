"""The knowledge graph as data: files in, graph out. Parsing and building the dataset and its store
(``build``), the preferred-value rule (``provenance``), the audit report and ``why`` (``audit``),
SHACL validation (``validation``), the saved-query catalogue (``catalog``), the dataset's description
of itself (``describe``, ``export``) and loading it into a remote engine (``push``). No HTTP, no
processes.
"""
