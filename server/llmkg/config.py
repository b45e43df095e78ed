"""Where the data folders are, and settings read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_FOLDERS = ("ontology", "shapes", "triples", "queries")


def data_root() -> Path:
    """The one place that knows where ontology/, shapes/, triples/ and queries/ live.

    ``LLMKG_DATA`` overrides; an installed wheel carries them in ``llmkg/_data``; a source
    checkout has them at the repository root.
    """
    override = os.environ.get("LLMKG_DATA")
    if override:
        return Path(override).resolve()
    packaged = Path(__file__).parent / "_data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Settings of ``llmkg serve`` and its pages; every field can be set by an ``LLMKG_*`` variable, read here only."""

    query_timeout_s: float = 30.0
    max_request_bytes: int = 1_000_000
    cache_entries: int = 256
    cache_mb: int = 64
    service_allowlist: tuple[str, ...] = ()
    public_base: str = "https://w3id.org/llmkg/"
    site_base: str | None = None
    node_modules: str | None = None
    workers: int = 4
    max_query_operators: int = 250
    max_result_bytes: int = 100_000_000
    worker_memory_mb: int = 2048
    #: A worker that has made this much of its memory private (copied pages of the shared store)
    #: is replaced by a fresh fork once the pool is idle (engine/pool.py, RECYCLE_IDLE_S).
    worker_recycle_mb: int = 64
    max_result_rows: int = 100_000
    #: Admission: queries one client may have running or waiting; waiting requests; how long one may wait.
    per_client_queries: int = 4
    queue_length: int = 64
    queue_timeout_s: float = 10.0
    #: Connections: how many may be open, and how long a request's head and body may take to arrive.
    max_connections: int = 1000
    #: Connections one address may hold open: a quarter of the cap, so one client cannot hold all of it
    #: (behind a reverse proxy every connection comes from the proxy: raise it to max_connections).
    max_connections_per_client: int = 250
    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: int = 5

    @classmethod
    def from_env(cls) -> ServerSettings:
        env = os.environ
        allow = env.get("LLMKG_SERVICE_ALLOWLIST", "")
        return cls(
            query_timeout_s=float(env.get("LLMKG_QUERY_TIMEOUT", cls.query_timeout_s)),
            max_request_bytes=int(env.get("LLMKG_MAX_REQUEST_BYTES", cls.max_request_bytes)),
            cache_entries=int(env.get("LLMKG_CACHE_ENTRIES", cls.cache_entries)),
            cache_mb=int(env.get("LLMKG_CACHE_MB", cls.cache_mb)),
            service_allowlist=tuple(u for u in allow.split() if u),
            public_base=env.get("LLMKG_PUBLIC_BASE", cls.public_base),
            site_base=env.get("LLMKG_SITE_BASE") or None,
            node_modules=env.get("LLMKG_NODE_MODULES") or None,
            workers=int(env.get("LLMKG_WORKERS", cls.workers)),
            max_query_operators=int(env.get("LLMKG_MAX_QUERY_OPERATORS", cls.max_query_operators)),
            max_result_bytes=int(env.get("LLMKG_MAX_RESULT_BYTES", cls.max_result_bytes)),
            worker_memory_mb=int(env.get("LLMKG_WORKER_MEMORY_MB", cls.worker_memory_mb)),
            worker_recycle_mb=int(env.get("LLMKG_WORKER_RECYCLE_MB", cls.worker_recycle_mb)),
            max_result_rows=int(env.get("LLMKG_MAX_RESULT_ROWS", cls.max_result_rows)),
            per_client_queries=int(env.get("LLMKG_PER_CLIENT_QUERIES", cls.per_client_queries)),
            queue_length=int(env.get("LLMKG_QUEUE_LENGTH", cls.queue_length)),
            queue_timeout_s=float(env.get("LLMKG_QUEUE_TIMEOUT", cls.queue_timeout_s)),
            max_connections=int(env.get("LLMKG_MAX_CONNECTIONS", cls.max_connections)),
            max_connections_per_client=int(env.get("LLMKG_MAX_CONNECTIONS_PER_CLIENT", cls.max_connections_per_client)),
            head_timeout_s=float(env.get("LLMKG_HEAD_TIMEOUT", cls.head_timeout_s)),
            body_timeout_s=float(env.get("LLMKG_BODY_TIMEOUT", cls.body_timeout_s)),
            keep_alive_s=int(env.get("LLMKG_KEEP_ALIVE", cls.keep_alive_s)),
        )
