"""The store behind the server: the embedded pyoxigraph store, or any SPARQL 1.1 engine over HTTP.

Everything the server does with its data goes through the four methods of :class:`Backend`:
``query`` (with pyoxigraph's keyword arguments and result types), ``quads_for_pattern``,
``contains_named_graph`` and iteration over all quads. ``pyoxigraph.Store`` has them;
:class:`~llmkg.remote.RemoteStore` has them too, so negotiation, the catalogue, the pages and
the audit work the same on either.

What differs is how a query is run. The embedded store cannot interrupt a query, so queries run
in worker processes that can be killed (workers.py). A remote engine is interrupted by dropping
the HTTP request, so :class:`RemotePool` runs queries on threads with the engine's timeout and
the same interface as the worker pool.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread

from llmkg.engine.admission import Admission, AdmissionLimits
from llmkg.engine.pool import WorkerPool
from llmkg.engine.worker import CHUNK, LimitedWriter, Limits
from llmkg.sparql.answers import without_frames
from llmkg.sparql.query import Job, QueryError, run
from llmkg.sparql.remote import RemoteError, RemoteStore
from llmkg.sparql.store import Source


class RemotePool:
    """Runs jobs against a remote engine on threads, with the interface of the worker pool.

    At most ``2 * size`` queries are in flight; a query still running after the timeout is
    abandoned (its HTTP request times out on its own) and answered with a 503.
    """

    def __init__(self, store: RemoteStore, *, size: int, limits: Limits, admission: AdmissionLimits) -> None:
        self.store, self.size, self.limits = store, max(1, size), limits
        self.admission = Admission(2 * self.size, admission)
        self._busy = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        self.store.timeout_s = self.limits.timeout_s

    def close(self) -> None:
        self.store.close()

    def stats(self) -> dict[str, int]:
        with self._lock:
            busy = self._busy
        size, idle = self.size, max(0, self.size - busy)
        return {"size": size, "max": 2 * size, "live": size, "idle": idle, "busy": busy, "restarts": 0}

    async def submit(self, job: Job) -> RemoteReply:
        """Run ``job``; raise QueryError as the worker pool does (400, 406, 503, and 502 for the engine)."""
        ticket = await self.admission.enter(job.client)
        try:
            with anyio.fail_after(self.limits.timeout_s + 1):
                media_type, body = await anyio.to_thread.run_sync(self._answer, job, abandon_on_cancel=True)
        except TimeoutError:
            raise _timeout(self.limits.timeout_s) from None
        finally:
            ticket.release()  # an abandoned request may still run on until the engine's own timeout ends it
        return RemoteReply(media_type, body)

    def _answer(self, job: Job) -> tuple[str, bytes]:
        """The job's answer as bytes: the result never leaves this thread (see results.without_frames)."""
        with self._lock:
            self._busy += 1
        try:
            return self._write(job)
        except BaseException as error:
            # A 406 or 422 is raised while the result is alive in the frames below, and the exception
            # goes on to the event loop's thread: let go of the result here, where it was made.
            without_frames(error, keep_text=not isinstance(error, QueryError))
            raise
        finally:
            with self._lock:
                self._busy -= 1

    def _write(self, job: Job) -> tuple[str, bytes]:
        try:
            fmt, write = run(self.store, job)
            out = _Collected(self.limits, fmt.media_type)
            write(out)  # type: ignore[arg-type]
            out.flush()
            return fmt.media_type, b"".join(out.chunks)
        except RemoteError as error:
            raise as_query_error(error, self.limits.timeout_s) from None
        except SyntaxError as error:  # results are parsed as they are written: a row the engine garbled
            raise as_query_error(RemoteError(200, f"unreadable answer: {error}", self.store.endpoint), 0) from None


class RemoteReply:
    """A remote answer, read whole: ``media_type``, then the body in chunks like a worker's reply."""

    def __init__(self, media_type: str, body: bytes) -> None:
        self.media_type, self.body = media_type, body

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):
            yield self.body[start : start + CHUNK]


class _Collected(LimitedWriter):
    """The whole answer in memory, within the same limits as a worker's."""

    def __init__(self, limits: Limits, media_type: str) -> None:
        super().__init__(limits, media_type)
        self.chunks: list[bytes] = []

    def emit(self, chunk: bytes) -> None:
        self.chunks.append(chunk)


def as_query_error(error: RemoteError, timeout_s: float) -> QueryError:
    """What the client is told when the engine fails: its own message, with the status that fits."""
    if error.status == 0 and "Timeout" in error.detail:
        return _timeout(timeout_s)
    if error.status == 400:
        return QueryError(400, "Malformed query", f"the SPARQL engine refused the query: {error.detail}")
    return QueryError(502, "SPARQL engine error", f"the SPARQL engine behind this endpoint failed: {error.detail}")


def _timeout(seconds: float) -> QueryError:
    return QueryError(503, "Query timeout", f"the query ran longer than {seconds:g} s and was stopped")


def pool_for(
    source: Source,
    *,
    size: int,
    limits: Limits,
    allowlist: tuple[str, ...] = (),
    admission: AdmissionLimits | None = None,
) -> WorkerPool | RemotePool:
    """Worker processes for the embedded store, threads for a remote engine; both behind admission control."""
    rules = admission or AdmissionLimits()
    if isinstance(source, RemoteStore):
        return RemotePool(source, size=size, limits=limits, admission=rules)
    return WorkerPool(source, size=size, limits=limits, allowlist=allowlist, admission=rules)  # type: ignore[arg-type]


__all__ = ["RemotePool", "as_query_error", "pool_for"]
