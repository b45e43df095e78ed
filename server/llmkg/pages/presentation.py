"""How the pages present statements: which reading group a property belongs to, and external links.

>>> group_of("https://w3id.org/llmkg/ontology#ropeTheta", [])
'Architecture and size'
>>> external_link("https://w3id.org/llmkg/ontology#huggingFaceRepository", "meta-llama/Llama-3.1-8B")
'https://huggingface.co/meta-llama/Llama-3.1-8B'
>>> external_link("http://purl.org/dc/terms/identifier", "github.com/meta-llama/llama-models@1f0feb7:README.md")
'https://github.com/meta-llama/llama-models/blob/1f0feb7/README.md'
>>> short_version("1f0feb795a4130697ced243fb53051670d591653")
'1f0feb7'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llmkg.namespaces import BASE

#: Reading groups of an entity page, each with the local names (or name prefixes, ending in *) it holds.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "About",
        (
            "type",
            "label",
            "altLabel",
            "prefLabel",
            "comment",
            "title",
            "inFamily",
            "checkpointOf",
            "taskOf",
            "trainingOf",
            "developer",
            "licensor",
            "successorOf",
            "basedOn",
            "tuning",
            "precision",
            "stage*",
            "protects",
            "serves",
            "provider",
            "fineTunedFrom",
            "distilledFrom",
            "prunedFrom",
            "quantizedFrom",
        ),
    ),
    (
        "Architecture and size",
        (
            "architectureType",
            "totalParameters",
            "activeParameters",
            "expert*",
            "routedExperts",
            "sharedExperts",
            "moeLayerInterval",
            "layers",
            "modelDimension",
            "attentionHeads",
            "keyValueHeads",
            "ffn*",
            "vocabularySize",
            "contextLength",
            "trainedContextLength",
            "positionalEncoding",
            "rope*",
            "earlyFusion",
            "component",
            "inputModality",
            "outputModality",
            "maxInputImages",
            "weightFile*",
            "tokenCount",
            "gpu*",
            "trainingData",
        ),
    ),
    (
        "Release, licence and use",
        (
            "issued",
            "modified",
            "license",
            "releaseStatus",
            "knowledgeCutoff",
            "supportedLanguage",
            "builtInTool",
            "pretrainingLanguageCount",
            "*PricePerMTokUsd",
            "acceptableUsePolicy",
            "obligation*",
            "effectiveDate",
            "monthlyActiveUserThreshold",
            "governingLaw",
            "spdxId",
            "softwareVersion",
        ),
    ),
    (
        "Evaluation",
        (
            "evaluatedModel",
            "benchmark",
            "metric",
            "value",
            "shots",
            "setting",
            "chainOfThought",
            "toolUse",
            "category*",
            "labelInSource",
            "evaluatedBy",
            "party",
            "scoringVariant",
            "inEvaluationRun",
            "rank",
            "hazardScope",
            "higherIsBetter",
            "unit",
            "minValue",
            "maxValue",
            "averaging",
            "exampleCount",
        ),
    ),
    (
        "Source document",
        (
            "identifier",
            "url",
            "publisher",
            "version",
            "commit",
            "repository",
            "repositoryPath",
            "retrievedOn",
            "evidence",
            "wasRevisionOf",
            "capturedVia",
            "arxivId",
            "authorList",
            "locator",
            "wasDerivedFrom",
            "sourceFile",
        ),
    ),
    (
        "Links",
        ("exactMatch", "closeMatch", "sameAs", "seeAlso", "huggingFaceRepository", "formerHuggingFaceRepository"),
    ),
)
_LITERAL_LINKS = {
    "huggingFaceRepository": "https://huggingface.co/{}",
    "formerHuggingFaceRepository": "https://huggingface.co/{}",
    "arxivId": "https://arxiv.org/abs/{}",
}
_REPO_FILE = re.compile(r"^github\.com/([^/@\s]+/[^/@\s]+)@([0-9a-f]{7,40}):(\S+)$")
_ARXIV = re.compile(r"^arXiv:(\d{4}\.\d{4,5}(v\d+)?)$", re.IGNORECASE)


def local_name(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


def _matches(name: str, pattern: str) -> bool:
    if pattern.startswith("*"):
        return name.endswith(pattern[1:])
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def group_of(prop: str, targets: Sequence[str | None]) -> str:
    """The reading group of ``prop``; a property whose values all point outside llmkg is a link."""
    name = local_name(prop)
    for group, patterns in GROUPS:
        if any(_matches(name, p) for p in patterns):
            return group
    if targets and all(t and not t.startswith(BASE) for t in targets):
        return "Links"
    return "Other facts"


def external_link(prop: str, value: str) -> str | None:
    """A web address for a literal that names something elsewhere (a Hugging Face repo, an arXiv id)."""
    template = _LITERAL_LINKS.get(local_name(prop))
    if template:
        return template.format(value)
    if match := _REPO_FILE.match(value):
        return f"https://github.com/{match[1]}/blob/{match[2]}/{match[3]}"
    if match := _ARXIV.match(value):
        return f"https://arxiv.org/abs/{match[1]}"
    if value.startswith(("https://", "http://")) and " " not in value:
        return value
    return None


def short_version(version: str) -> str:
    """A commit hash cut to seven characters; any other version as it is."""
    return version[:7] if re.fullmatch(r"[0-9a-f]{12,40}", version) else version
