"""The licence-check page: a form that fills a derivative's description and shows the report.

The form is a plain GET form (it works without JavaScript); its fields are the YAML form's fields, so
the page builds that YAML and reads it as ``llmkg check-licence`` reads a file. The check reads the
graph through the site's store, which in the served app is the endpoint's (its query workers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from llmkg.kg import derivative, licence_check
from llmkg.pages.data import Site

#: Form fields, in the order of the YAML form (docs/derivatives.md); lists are the fields given more than once.
TEXT_FIELDS = (
    "name",
    "base",
    "derived_by",
    "monthly_active_users",
    "attribution_shown",
    "notice_file",
    "licensee_region",
)
CHOICE_FIELDS = ("distributed", "offered_as_service", "includes_licence_copy")
LIST_FIELDS = ("output_use",)
BASES = f"""
SELECT DISTINCT ?base WHERE {{
  ?base ({licence_check.LINEAGE})* ?ancestor . ?ancestor dcterms:license ?licence . ?licence llmkg:obligation ?o .
}}"""


def context(site: Site, params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """What the template shows: the form as filled, the bases to choose from, the report or the error."""
    fields = description_fields(params)
    view: dict[str, Any] = {
        "form": fields,
        "bases": sorted(site.label(r["base"].value) + "\t" + r["base"].value for r in site.select(BASES)),
        "derivations": list(derivative.DERIVATIONS),
        "output_uses": list(derivative.OUTPUT_USES),
        "disclaimer": licence_check.DISCLAIMER,
        "covered": licence_check.covered(site.store),
        "report": None,
        "error": None,
    }
    if "base" not in fields:
        return view
    description = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)
    try:
        view["turtle"] = derivative.to_turtle(derivative.yaml_triples(description, "the form"))
        view["yaml"] = description  # shown so a person can keep it as a file for `llmkg check-licence`
        view["report"] = licence_check.check(site.store, derivative.parse(description, "yaml", "the form"))
    except (derivative.DescriptionError, licence_check.LicenceCheckError) as error:
        # the YAML is made here, so its line numbers mean nothing to the person who filled the form
        view["error"] = re.sub(r"^the form:\d+: ", "", str(error))
    return view


def description_fields(params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The YAML description the form's answers make; an empty answer (or "unknown") leaves the field out."""
    fields: dict[str, Any] = {}
    for key in (*TEXT_FIELDS, *CHOICE_FIELDS):
        value = (params.get(key) or [""])[-1].strip()
        if value and value != "unknown":
            fields[key] = value
    for key in LIST_FIELDS:
        values = [v for v in params.get(key, []) if v]
        if values:
            fields[key] = values
    regions = [r.strip() for r in (params.get("offered_in") or [""])[-1].split(",") if r.strip()]
    if regions:
        fields["offered_in"] = regions
    return fields
