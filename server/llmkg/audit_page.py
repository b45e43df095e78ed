"""``GET /audit``: the provenance report of ``llmkg audit`` as a page, or as JSON for programs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from llmkg.webkit import page, prefers_json, site_of

router = APIRouter(include_in_schema=False)


@router.get("/audit")
async def audit(request: Request) -> Response:
    """Sources, statements without provenance, conflicts, secondary-only statements and coverage."""
    report = await run_in_threadpool(lambda: site_of(request).report)
    if prefers_json(request) or request.query_params.get("format") == "json":
        return JSONResponse(report.as_dict(), headers={"Vary": "Accept"})
    return page(request, "audit.html", {"report": report}, headers={"Vary": "Accept"})
