"""Run queries straight on a worker pool (no query check in front) and print each outcome as JSON.

Used by test_egress.py as a separate process, so that it can run as an ordinary user: reads
``{"allowlist": [...], "queries": [...]}`` on standard input, prints ``[[status, title], ...]``
and the uid and effective capabilities it ran with.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from llmkg.engine.pool import WorkerPool
from llmkg.engine.worker import Limits
from llmkg.sparql.query import Job, QueryError
from tests.sparql_support import make_store


async def outcomes(pool: WorkerPool, queries: list[str]) -> list[list[object]]:
    found: list[list[object]] = []
    for query in queries:
        job = Job(query=query, results_type="application/sparql-results+json", graph_type="application/n-triples")
        try:
            reply = await pool.submit(job)
            body = b"".join([chunk async for chunk in reply.chunks()])
            found.append([200, body.decode()[:200]])
        except QueryError as error:
            found.append([error.status, error.title])
    return found


def main() -> None:
    request = json.load(sys.stdin)
    pool = WorkerPool(make_store(), size=1, limits=Limits(timeout_s=10), allowlist=tuple(request["allowlist"]))
    pool.start()
    try:
        results = asyncio.run(outcomes(pool, request["queries"]))
    finally:
        pool.close()
    lines = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
    status = dict(line.split(":", 1) for line in lines if ":" in line)
    print(json.dumps({"uid": os.getuid(), "cap_eff": int(status["CapEff"].strip(), 16), "results": results}))


if __name__ == "__main__":
    main()
