"""The human-facing HTML face and Linked Data: the page routes (``routes``), IRI dereferencing
(``resolve``, ``linkeddata``), the shared page kit (``kit``), reading the store for pages (``data``),
and the view-models of each page (``entity``, ``presentation``, ``boards``, ``compare``,
``editor``), with ``templates/`` and ``static/``. Never imports ``api``.
"""
