"""The query language, without HTTP or processes: the store seam (``store``), reading and rewriting
query text (``text``), result and graph formats with the one content negotiation (``formats``), a
query's job, checks and execution (``query``), and any SPARQL 1.1 engine over HTTP behind the same
seam (``remote``, ``answers``). Imports nothing above it but ``namespaces``.
"""
