"""SPARQL text: what a query asks for before it is parsed, and the rewrites of its text.

What it asks for: its form, dataset clause and SERVICE endpoints (:func:`inspect`).

A small lexer that follows the terminals of the SPARQL 1.1 grammar (IRIs, the four kinds of
string, comments, variables, prefixed names), so that a keyword inside a literal, an IRI, a
comment or a name is never taken for code. The web layer uses it to refuse updates and SERVICE
calls before a query reaches the engine; the engine still parses the query itself.

>>> shape = inspect('PREFIX s: <http://x/> SELECT * FROM <g> { SERVICE SILENT <http://e/> {} } # ASK')
>>> shape.form, shape.has_dataset_clause, shape.services
('SELECT', True, ('<http://e/>',))
>>> inspect('SELECT ("SERVICE" AS ?service) { ?s s:SERVICE ?o }').services
()

Bind query variables in the text of a query, for engines that take no ``substitutions``.

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

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyoxigraph as ox

from llmkg.sparql.store import Term

QUERY_FORMS = frozenset({"SELECT", "CONSTRUCT", "DESCRIBE", "ASK"})
UPDATE_FORMS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})

_OPERATOR_WORDS = frozenset({"UNION", "OPTIONAL", "MINUS", "FILTER", "BIND", "GRAPH", "SERVICE", "EXISTS"})
_OPERATOR_SIGNS = frozenset(".;&|!=<>+-*/^")
_PN_LOCAL_ESC = r"\\[-_~.!$&'()*+,;=/?#@%]"
_PLX = rf"(?:%[0-9A-Fa-f]{{2}}|{_PN_LOCAL_ESC})"
_TOKEN = re.compile(
    "|".join(
        [
            r"(?P<space>\s+)",
            r"(?P<comment>#[^\r\n]*)",
            # A string that is not closed ends at the end of its line (long strings: of the text), so
            # no position is scanned twice; the engine reports the syntax error.
            r"(?P<string>'''(?:[^'\\]|\\.|'(?!''))*+(?:'''|\Z)"
            r'|"""(?:[^"\\]|\\.|"(?!""))*+(?:"""|\Z)'
            r"|'(?:[^'\\\r\n]|\\.)*+'?"
            r'|"(?:[^"\\\r\n]|\\.)*+"?)',
            r"(?P<iri><(?:[^<>\"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*+>)",
            r"(?P<var>[?$]\w+)",
            rf"(?P<pname>(?:[^\W\d](?:[\w.-]*[\w-])?)?:(?:(?:[\w:]|{_PLX})(?:[\w.:-]|{_PLX})*+)?)",
            # as long as the prefix a failed pname scanned, so that scan is never repeated inside it
            r"(?P<word>[^\W\d](?:[\w.-]*[\w-])?)",
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
    ``distinct``: the top-level SELECT is DISTINCT or REDUCED (duplicates may go).
    ``operators``: how many operators join its parts (UNION, OPTIONAL, MINUS, FILTER, BIND, GRAPH,
    SERVICE, EXISTS; ``.``, ``;`` and, outside parentheses, ``,`` between triple patterns; logical,
    comparison, arithmetic and path operators): the size of the query as the engine nests it.
    """

    form: str
    has_dataset_clause: bool
    services: tuple[str, ...]
    depth: int = 0
    distinct: bool = False
    operators: int = 0

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
    """Form, dataset clause and SERVICE endpoints of a query or update text, in one pass that keeps
    no token list (time linear in the length, memory in the number of SERVICE calls)."""
    form, has_from, services, depth, level = "", False, [], 0, 0
    after_service = False  # the previous significant token was SERVICE (or SERVICE SILENT)
    distinct, modifier_next = False, False  # the token after the first SELECT says DISTINCT or REDUCED
    operators, parentheses = 0, 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in ("space", "comment"):
            continue
        value = match.group()
        word = value.upper() if kind == "word" else ""
        if after_service and word != "SILENT":
            services.append(value)
            after_service = False
        elif word == "SERVICE":
            after_service = True
        if modifier_next:
            distinct, modifier_next = word in ("DISTINCT", "REDUCED"), False
        if word and not form and word not in ("PREFIX", "BASE"):
            form = word
            modifier_next = word == "SELECT"
        has_from = has_from or word == "FROM"
        if (
            word in _OPERATOR_WORDS
            or (kind == "other" and value in _OPERATOR_SIGNS)
            or (kind == "other" and value == "," and parentheses == 0)
        ):
            operators += 1
        parentheses += (value == "(") - (value == ")") if kind == "other" else 0
        if kind == "other" and value in "({[":
            level += 1
            depth = max(depth, level)
        elif kind == "other" and value in ")}]":
            level -= 1
    if after_service:
        services.append("")
    shape = QueryShape(form, has_from, tuple(services), depth, distinct, operators)
    return shape


def declared_prefixes(text: str) -> set[str]:
    """The prefix names a query declares with ``PREFIX name: <iri>``.

    >>> sorted(declared_prefixes('PREFIX a: <http://a/> prefix : <http://b/> SELECT * { ?s a:PREFIX ?o }'))
    ['', 'a']
    """
    found, after_prefix = set(), False
    for kind, value in tokens(text):
        if after_prefix and kind == "pname" and value.endswith(":"):
            found.add(value[:-1])
        after_prefix = kind == "word" and value.upper() == "PREFIX"
    return found


def names_a_graph(text: str) -> bool:
    """Whether a query has ``GRAPH`` followed by an IRI or a prefixed name (not a variable).

    >>> names_a_graph('SELECT * { GRAPH ?g { ?s ?p ?o } }'), names_a_graph('ASK { GRAPH graph:preferred { } }')
    (False, True)
    """
    found = tokens(text)
    return any(
        kind == "word" and value.upper() == "GRAPH" and nxt[0] in ("iri", "pname")
        for (kind, value), nxt in itertools.pairwise(found)
    )


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


def anchored(text: str, terms: Substitutions) -> str:
    """``text`` with a ``VALUES`` block for each IRI parameter at the head of its WHERE clause.

    The parameters are bound by the engine's substitutions all the same; the block only tells the
    planner where to start, since pyoxigraph plans a substituted variable as if it were unbound.
    Literal parameters are left out (docs/deploy.md has the measurements behind both choices).
    """
    iris = [f"VALUES {var} {{ {term} }}" for var, term in terms.items() if isinstance(term, ox.NamedNode)]
    try:
        at = outer_group(text)
    except BindingError:  # no group to put it in (CONSTRUCT WHERE): the substitutions suffice
        return text
    return f"{text[:at]} {' '.join(iris)} {text[at:]}" if iris else text


def scope_graph_variables(text: str, prefix: str) -> str:
    """``text`` with each ``GRAPH ?var { … }`` kept to the graphs whose IRI starts with ``prefix``.

    The pattern becomes a group of its own with the filter, which means the same wherever it
    stands (the filter reads only ``?var``, which the pattern always binds).

    >>> scope_graph_variables('SELECT ?g { GRAPH ?g { ?s ?p "}" } }', "http://x/")
    'SELECT ?g { { GRAPH ?g { ?s ?p "}" } FILTER(STRSTARTS(STR(?g), "http://x/")) } }'
    """
    marks = spans(text)
    inserts: list[tuple[int, str]] = []
    for i, (kind, value, start, _) in enumerate(marks[:-2]):
        if kind != "word" or value.upper() != "GRAPH" or marks[i + 1][0] != "var" or marks[i + 2][1] != "{":
            continue
        depth = 0
        for _, brace, _, end in marks[i + 2 :]:
            depth += {"{": 1, "}": -1}.get(brace, 0)
            if depth == 0:
                scope = f"FILTER(STRSTARTS(STR(?{marks[i + 1][1][1:]}), {ox.Literal(prefix)}))"
                inserts += [(start, "{ "), (end, f" {scope} }}")]
                break
    for at, piece in sorted(inserts, reverse=True):
        text = text[:at] + piece + text[at:]
    return text
