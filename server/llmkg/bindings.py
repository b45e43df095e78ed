"""Bind query variables in the text of a query, for engines that take no ``substitutions``.

pyoxigraph binds a saved query's parameters with ``substitutions`` (SEP-0007). A remote engine
only takes text, so the bindings travel as ``BIND(term AS ?var)`` placed first in the query's
outermost group: the variables are bound before anything else in the group is evaluated, and
stay in the answer. (A one-row ``VALUES`` block means the same, but Virtuoso then refuses a
transitive property path that starts at the bound variable: "transitive start not given".)
The terms are serialised by pyoxigraph (its own escaping), never a user's text spliced in, and
they go in at a position found by the same lexer that keeps keywords in strings, IRIs and
comments from being taken for code.

>>> text = 'SELECT ?m WHERE { ?m a ?kind } # { not here'
>>> with_bindings(text, {ox.Variable("kind"): ox.NamedNode("http://x/Model")})
'SELECT ?m WHERE { BIND(<http://x/Model> AS ?kind) ?m a ?kind } # { not here'
"""

from __future__ import annotations

from collections.abc import Mapping

import pyoxigraph as ox

from llmkg.sparqltext import spans

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Substitutions = Mapping[ox.Variable, Term]


class BindingError(ValueError):
    """The query has no group the bindings can go into (``CONSTRUCT WHERE { … }``)."""


def with_bindings(text: str, substitutions: Substitutions) -> str:
    """``text`` with ``substitutions`` bound at the start of its outermost group."""
    if not substitutions:
        return text
    for term in substitutions.values():
        if isinstance(term, ox.BlankNode):
            raise BindingError("a blank node cannot be sent to another engine as a binding")
    block = "".join(f"BIND({term} AS {variable}) " for variable, term in substitutions.items())
    at = outer_group(text)
    return text[:at] + " " + block + text[at:].lstrip(" ")


def outer_group(text: str) -> int:
    """The offset just after the ``{`` that opens the query pattern of ``text``.

    Nothing before the query pattern of a SELECT, ASK or DESCRIBE has a brace, so that is the
    first brace; in a CONSTRUCT it is the first brace after ``WHERE`` (or after the template).
    """
    marks: list[tuple[str, int]] = []  # keywords, and braces with their offsets
    for kind, value, _, end in spans(text):
        if kind == "word" or (kind == "other" and value in "{}"):
            marks.append((value.upper(), end))
    words = [w for w, _ in marks]
    if "CONSTRUCT" not in words:
        return _first_brace(marks)
    after = words.index("CONSTRUCT") + 1
    if words[after : after + 1] == ["WHERE"]:
        raise BindingError("CONSTRUCT WHERE { … } has no group to bind parameters in; write the template out")
    template_end = words.index("}", after)  # a template holds triples only: its first } closes it
    return _first_brace(marks[template_end + 1 :])


def _first_brace(marks: list[tuple[str, int]]) -> int:
    for word, end in marks:
        if word == "{":
            return end
    raise BindingError("the query has no group pattern")
