"""The machine-facing HTTP face: the SPARQL 1.1 protocol, Graph Store read side, VoID, dumps, health
(``sparql``), the saved-query routes (``saved_queries``), and what every API answer shares:
middleware, problem documents, body limits, conditional GET (``http``). Never imports ``pages``.
"""
