"""A derivative of a model in the graph, as its maker describes it: Turtle with the ontology's terms, or YAML.

Both forms become the same RDF (``to_triples``), and the licence check reads the description from that RDF
(``from_triples``), so a Turtle description and its YAML twin are checked alike. ``docs/derivatives.md``
documents the fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import yaml

from llmkg.namespaces import LLMKG, PREFIXES, RDF_TYPE, RDFS, XSD, expand, text

DERIVATIVE = LLMKG + "Derivative"
#: How a derivative was made -> the lineage property that links it to its base.
DERIVATIONS: dict[str, str] = {
    "fine-tune": LLMKG + "fineTunedFrom",
    "quantise": LLMKG + "quantizedFrom",
    "distil": LLMKG + "distilledFrom",
    "prune": LLMKG + "prunedFrom",
    "other": LLMKG + "basedOn",
}
#: The YAML words for output uses -> the ontology's concepts.
OUTPUT_USES: dict[str, str] = {
    "improve-other-llm": LLMKG + "ImprovesOtherModels",
    "improve-same-family": LLMKG + "ImprovesSameFamily",
    "end-users": LLMKG + "ServesEndUsers",
}
#: YAML key -> (property, value type); "name" and "base"/"derived_by" are handled apart.
FIELDS: dict[str, tuple[str, type]] = {
    "distributed": (LLMKG + "distributed", bool),
    "offered_as_service": (LLMKG + "offeredAsService", bool),
    "monthly_active_users": (LLMKG + "monthlyActiveUsers", int),
    "attribution_shown": (LLMKG + "attributionShown", str),
    "notice_file": (LLMKG + "noticeFileText", str),
    "includes_licence_copy": (LLMKG + "includesLicenceCopy", bool),
    "licensee_region": (LLMKG + "licenseeRegion", str),
    "offered_in": (LLMKG + "offeredIn", list),
    "output_use": (LLMKG + "outputUse", list),
}
NAME = RDFS + "label"
SUBJECT = "urn:llmkg:derivative"
KEYS = ("name", "base", "derived_by", *FIELDS)


class DescriptionError(ValueError):
    """A description that cannot be read; the message starts with file:line where it is known."""


@dataclass(frozen=True)
class Derivative:
    """The facts of one description; a field left out is None (or empty), which a check reports as missing."""

    iri: str
    base: str
    derivation: str
    name: str | None = None
    values: dict[str, ox.Literal] = field(default_factory=dict)  # property IRI -> its one literal
    output_uses: tuple[str, ...] = ()
    offered_in: tuple[str, ...] = ()


def read(path: Path) -> Derivative:
    """Read a description from a ``.ttl`` or ``.yaml``/``.yml`` file."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DescriptionError(f"{path}: {error}") from None
    return parse(content, path.suffix.lower().lstrip("."), str(path))


def parse(content: str, form: str, where: str = "<description>") -> Derivative:
    """A description in ``form`` ("ttl" or "yaml"); ``where`` names it in error messages."""
    if form in ("ttl", "turtle"):
        return from_triples(parse_turtle(content, where), where)
    if form in ("yaml", "yml"):
        return from_triples(yaml_triples(content, where), where)
    raise DescriptionError(f"{where}: unknown form {form!r}; a description is .ttl or .yaml")


def parse_turtle(content: str, where: str) -> list[ox.Triple]:
    # The project's prefixes come first, on the file's own first line, so line numbers in errors stay right.
    header = " ".join(f"@prefix {name}: <{iri}> ." for name, iri in PREFIXES.items()) + " "
    try:
        found = ox.parse((header + content).encode(), format=ox.RdfFormat.TURTLE, base_iri=SUBJECT)
        return [ox.Triple(q.subject, q.predicate, q.object) for q in found]
    except SyntaxError as error:
        column = (error.offset or 0) - (len(header) if error.lineno == 1 else 0)
        raise DescriptionError(f"{where}:{error.lineno}:{column}: {error.msg}") from None


def yaml_triples(content: str, where: str) -> list[ox.Triple]:
    """The RDF of a YAML description (``docs/derivatives.md``); errors name the line of the bad key."""
    try:
        root = yaml.compose(content)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DescriptionError(f"{where}{line}: not YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(root, yaml.MappingNode):
        raise DescriptionError(f"{where}: a description is a mapping of fields ({', '.join(KEYS)})")
    entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in root.value:
        name = _key(key, where)
        if name in entries:  # YAML would keep the last silently; a description with two names is a mistake
            raise DescriptionError(f"{where}:{key.start_mark.line + 1}: {name!r} is given twice")
        entries[name] = (key, value)
    subject = ox.NamedNode(SUBJECT)
    triples = [ox.Triple(subject, ox.NamedNode(RDF_TYPE), ox.NamedNode(DERIVATIVE))]
    triples += _base_triples(subject, entries, where)
    for key, (node, value) in entries.items():
        triples += _field_triples(subject, key, value, f"{where}:{node.start_mark.line + 1}")
    return triples


def _key(node: yaml.Node, where: str) -> str:
    line = f"{where}:{node.start_mark.line + 1}"
    if not isinstance(node, yaml.ScalarNode) or node.value not in KEYS:
        raise DescriptionError(f"{line}: unknown field {getattr(node, 'value', node)!r}; fields: {', '.join(KEYS)}")
    return str(node.value)


def _base_triples(
    subject: ox.NamedNode, entries: dict[str, tuple[yaml.Node, yaml.Node]], where: str
) -> list[ox.Triple]:
    if "base" not in entries:
        raise DescriptionError(f"{where}: the field 'base' (the model or checkpoint it was derived from) is required")
    key, node = entries["base"]
    line = f"{where}:{key.start_mark.line + 1}"
    base = _iri(_scalar(node, line), line)
    how = "other"
    if "derived_by" in entries:
        how_key, how_node = entries["derived_by"]
        how = _scalar(how_node, f"{where}:{how_key.start_mark.line + 1}")
        if how not in DERIVATIONS:
            raise DescriptionError(
                f"{where}:{how_key.start_mark.line + 1}: derived_by {how!r}: use one of {', '.join(DERIVATIONS)}"
            )
    return [ox.Triple(subject, ox.NamedNode(DERIVATIONS[how]), ox.NamedNode(base))]


def _field_triples(subject: ox.NamedNode, key: str, node: yaml.Node, line: str) -> list[ox.Triple]:
    if key in ("base", "derived_by"):
        return []
    if key == "name":
        return [ox.Triple(subject, ox.NamedNode(NAME), ox.Literal(_scalar(node, line)))]
    prop, kind = FIELDS[key]
    if kind is list:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        objects = [_list_item(key, _scalar(item, line), line) for item in items]
        return [ox.Triple(subject, ox.NamedNode(prop), o) for o in objects]
    return [ox.Triple(subject, ox.NamedNode(prop), _literal(_scalar(node, line), kind, key, line))]


def _scalar(node: yaml.Node, line: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.value == "":
        raise DescriptionError(f"{line}: expected a single value here")
    return str(node.value)


def _iri(name: str, line: str) -> str:
    try:
        return ox.NamedNode(expand(name)).value  # NamedNode refuses what is not an IRI ("http://a b")
    except ValueError as error:
        raise DescriptionError(f"{line}: {error}") from None


def _literal(value: str, kind: type, key: str, line: str) -> ox.Literal:
    if kind is bool:
        if value.lower() not in ("true", "false", "yes", "no"):
            raise DescriptionError(f"{line}: {key} is true or false, not {value!r}")
        return ox.Literal(str(value.lower() in ("true", "yes")).lower(), datatype=ox.NamedNode(XSD + "boolean"))
    if kind is int:
        digits = value.replace("_", "").replace(",", "")
        if not digits.isdigit():
            raise DescriptionError(f"{line}: {key} is a whole number, not {value!r}")
        return ox.Literal(str(int(digits)), datatype=ox.NamedNode(XSD + "integer"))
    return ox.Literal(value)


def _list_item(key: str, value: str, line: str) -> ox.NamedNode | ox.Literal:
    if key != "output_use":
        return ox.Literal(value)
    if value not in OUTPUT_USES:
        raise DescriptionError(f"{line}: output_use {value!r}: use {', '.join(OUTPUT_USES)}")
    return ox.NamedNode(OUTPUT_USES[value])


def from_triples(triples: list[ox.Triple], where: str) -> Derivative:
    """The one ``llmkg:Derivative`` of ``triples``, its base and its facts."""
    subjects = {t.subject for t in triples if t.predicate.value == RDF_TYPE and text(t.object) == DERIVATIVE}
    if len(subjects) != 1:
        raise DescriptionError(f"{where}: a description has exactly one llmkg:Derivative, found {len(subjects)}")
    (subject,) = subjects
    own = [t for t in triples if t.subject == subject]
    lineage = [t for t in own if t.predicate.value in DERIVATIONS.values()]
    if len(lineage) != 1 or not isinstance(lineage[0].object, ox.NamedNode):
        raise DescriptionError(
            f"{where}: give exactly one base model or checkpoint with one of "
            + ", ".join(p.removeprefix(LLMKG) for p in DERIVATIONS.values())
        )
    return Derivative(
        iri=text(subject),
        base=text(lineage[0].object),
        derivation=lineage[0].predicate.value,
        name=_one(own, NAME, where),
        values={p: lit for p, _ in FIELDS.values() if (lit := _one_literal(own, p, where)) is not None},
        output_uses=tuple(sorted(text(t.object) for t in own if t.predicate.value == LLMKG + "outputUse")),
        offered_in=tuple(sorted(text(t.object) for t in own if t.predicate.value == LLMKG + "offeredIn")),
    )


def _one_literal(own: list[ox.Triple], prop: str, where: str) -> ox.Literal | None:
    if prop in (LLMKG + "outputUse", LLMKG + "offeredIn"):
        return None
    found = [t.object for t in own if t.predicate.value == prop]
    literals = [o for o in found if isinstance(o, ox.Literal)]
    if len(found) > 1 or len(literals) != len(found):
        raise DescriptionError(f"{where}: {prop.removeprefix(LLMKG)} takes one literal value")
    return literals[0] if literals else None


def _one(own: list[ox.Triple], prop: str, where: str) -> str | None:
    found = [text(t.object) for t in own if t.predicate.value == prop]
    if len(found) > 1:
        raise DescriptionError(f"{where}: a derivative has one name (rdfs:label), found {len(found)}")
    return found[0] if found else None


def to_turtle(triples: list[ox.Triple]) -> str:
    """A description's RDF as Turtle, as a person would write it: ``<>`` for the derivative, only the prefixes used."""
    used = {text(term) for t in triples for term in (t.predicate, t.object) if isinstance(term, ox.NamedNode)}
    prefixes = {name: iri for name, iri in PREFIXES.items() if any(u.startswith(iri) for u in used)}
    data = bytes(ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes) or b"").decode()
    return data.replace(f"<{SUBJECT}>", "<>")  # parsed again with SUBJECT as base, <> is the same derivative
