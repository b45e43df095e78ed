"""What a SPARQL text asks for before it is parsed: its form, dataset clause, SERVICE endpoints.

A small lexer that follows the terminals of the SPARQL 1.1 grammar (IRIs, the four kinds of
string, comments, variables, prefixed names), so that a keyword inside a literal, an IRI, a
comment or a name is never taken for code. The web layer uses it to refuse updates and SERVICE
calls before a query reaches the engine; the engine still parses the query itself.

>>> shape = inspect('PREFIX s: <http://x/> SELECT * FROM <g> { SERVICE SILENT <http://e/> {} } # ASK')
>>> shape.form, shape.has_dataset_clause, shape.services
('SELECT', True, ('<http://e/>',))
>>> inspect('SELECT ("SERVICE" AS ?service) { ?s s:SERVICE ?o }').services
()
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUERY_FORMS = frozenset({"SELECT", "CONSTRUCT", "DESCRIBE", "ASK"})
UPDATE_FORMS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})

_PN_LOCAL_ESC = r"\\[-_~.!$&'()*+,;=/?#@%]"
_PLX = rf"(?:%[0-9A-Fa-f]{{2}}|{_PN_LOCAL_ESC})"
_TOKEN = re.compile(
    "|".join(
        [
            r"(?P<space>\s+)",
            r"(?P<comment>#[^\r\n]*)",
            r"(?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''"
            r'|"""(?:[^"\\]|\\.|"(?!""))*"""'
            r"|'(?:[^'\\\r\n]|\\.)*'"
            r'|"(?:[^"\\\r\n]|\\.)*")',
            r"(?P<iri><[^<>\"{}|^`\\\x00-\x20]*>)",
            r"(?P<var>[?$]\w+)",
            rf"(?P<pname>(?:[^\W\d](?:[\w.-]*[\w-])?)?:(?:(?:[\w:]|{_PLX})(?:[\w.:-]|{_PLX})*)?)",
            r"(?P<word>[^\W\d]\w*)",
            r"(?P<other>.)",
        ]
    ),
    re.DOTALL,
)


@dataclass(frozen=True)
class QueryShape:
    """``form``: the first keyword after the prologue, upper-cased (SELECT, INSERT, … or "").

    ``services``: each SERVICE endpoint as written (``<iri>``, a prefixed name or a variable).
    ``depth``: the deepest nesting of brackets, braces and parentheses.
    """

    form: str
    has_dataset_clause: bool
    services: tuple[str, ...]
    depth: int = 0

    @property
    def is_update(self) -> bool:
        return self.form in UPDATE_FORMS


def spans(text: str) -> list[tuple[str, str, int, int]]:
    """The significant tokens of ``text`` as (kind, text, start, end); spaces and comments are dropped."""
    found = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind not in ("space", "comment"):
            found.append((kind, match.group(), match.start(), match.end()))
    return found


def tokens(text: str) -> list[tuple[str, str]]:
    """The significant tokens of ``text`` as (kind, text); spaces and comments are dropped."""
    return [(kind, value) for kind, value, _, _ in spans(text)]


def inspect(text: str) -> QueryShape:
    """Form, dataset clause and SERVICE endpoints of a query or update text."""
    toks = tokens(text)
    words = [value.upper() if kind == "word" else "" for kind, value in toks]
    form = next((w for w in words if w and w not in ("PREFIX", "BASE")), "")
    services = []
    for index, word in enumerate(words):
        if word == "SERVICE":
            services.append(_endpoint(toks, words, index + 1))
    return QueryShape(form=form, has_dataset_clause="FROM" in words, services=tuple(services), depth=_depth(toks))


def _depth(toks: list[tuple[str, str]]) -> int:
    deepest = level = 0
    for kind, value in toks:
        if kind == "other" and value in "({[":
            level += 1
            deepest = max(deepest, level)
        elif kind == "other" and value in ")}]":
            level -= 1
    return deepest


def _endpoint(toks: list[tuple[str, str]], words: list[str], index: int) -> str:
    if index < len(toks) and words[index] == "SILENT":
        index += 1
    return toks[index][1] if index < len(toks) else ""
