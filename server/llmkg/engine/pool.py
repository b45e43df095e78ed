"""Query isolation: every query runs in a worker process that can be killed.

pyoxigraph cannot interrupt a running query, so the server never runs one itself. Once the store
is loaded, a single-threaded *zygote* process is forked from the server; it holds the loaded data
copy-on-write and forks a worker whenever the pool asks for one (in milliseconds). A worker runs
one query at a time and sends the serialised result back in frames over a socket pair, so large
results stream (worker.py). On timeout the pool kills the worker (SIGKILL, through a pidfd) and
forks a fresh one; the server and the other workers never notice. Each worker caps its address
space, dies with the zygote, and, when no SERVICE endpoint is allowed, leaves the network.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from llmkg.engine import egress, sandbox
from llmkg.engine.worker import Limits, Source, WorkerGone, encode_frame, read_frame, zygote_main
from llmkg.sparql.query import Job, QueryError

log = logging.getLogger("llmkg.workers")
#: How long past its deadline a checked-out worker may stay before the watchdog kills it.
GRACE_S = 2.0


@dataclass
class Worker:
    pid: int
    sock: socket.socket
    pidfd: int | None
    retired: bool = False

    def kill(self) -> None:
        """SIGKILL through the pidfd, so a recycled pid can never be hit."""
        self.retired = True
        sandbox.kill(self.pid, self.pidfd)

    def close(self) -> None:
        """Close the descriptors; only whoever reads the socket may, so no event loop waits on it."""
        self.sock.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class Zygote:
    """The single-threaded process that holds the loaded store and forks workers."""

    def __init__(self, source: Source, limits: Limits, supervisor: egress.Supervisor) -> None:
        self._lock = threading.Lock()
        self.supervisor = supervisor
        self.ctl, child = socket.socketpair()
        self.pid = sandbox.fork(zygote_main, child, source, limits, keep=child)
        child.close()

    def spawn(self) -> Worker:
        with self._lock:
            self.ctl.sendall(b"S")
            message, fds, _, _ = socket.recv_fds(self.ctl, 32, 1)
        if not fds:
            raise WorkerGone("the zygote is gone")
        pid = int(message)
        worker = Worker(pid, socket.socket(fileno=fds[0]), sandbox.pidfd(pid))
        self._supervise(worker)
        return worker

    def _supervise(self, worker: Worker) -> None:
        """Take the worker's connection filter; a worker that could not confine itself is refused."""
        try:
            message, fds, _, _ = socket.recv_fds(worker.sock, 4096, 1)
        except OSError as error:
            worker.kill()
            worker.close()
            raise WorkerGone(f"the new worker did not report its sandbox: {error}") from None
        if message != b"L" or not fds:
            worker.kill()
            worker.close()
            reason = message[1:].decode(errors="replace") or "no reason given"
            raise egress.SandboxError(f"a query worker could not be confined ({reason}); refusing to run queries")
        self.supervisor.watch(fds[0], worker.pid)

    def close(self) -> None:
        self.ctl.close()
        sandbox.kill(self.pid, None)
        os.waitpid(self.pid, 0)


class WorkerPool:
    """``size`` workers always ready, and up to as many again forked while all of them are busy.

    The extra workers let simple queries keep answering while runaway ones wait for their
    timeout; they leave again once the pool is idle. Queries are sent and answers read on the
    caller's event loop (:meth:`submit`); the bookkeeping is thread-safe, so a watchdog thread can
    kill workers held past their deadline.
    """

    def __init__(self, source: Source, *, size: int, limits: Limits, allowlist: tuple[str, ...] = ()) -> None:
        # a worker needs the network only to reach an allowed SERVICE endpoint
        self.source, self.size, self.limits = source, max(1, size), dataclasses.replace(limits, network=bool(allowlist))
        self.allowlist = allowlist
        self.supervisor: egress.Supervisor | None = None
        self.max_size = 2 * self.size
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()  # the most recently used worker has warm caches
        self._busy: dict[int, tuple[Worker, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._zygote: Zygote | None = None
        self._live = 0
        self.restarts = 0

    def start(self) -> None:
        self.supervisor = egress.Supervisor(egress.Policy(self.allowlist))
        self._zygote = Zygote(self.source, self.limits, self.supervisor)
        with self._lock:
            for _ in range(self.size):
                self._idle.put(self._fork())
        threading.Thread(target=self._watch, name="llmkg-watchdog", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            workers = [w for w, _ in self._busy.values()] + _drain(self._idle)
            self._busy.clear()
        for worker in workers:
            worker.kill()
            worker.close()
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        if self.supervisor is not None:
            self.supervisor.close()
            self.supervisor = None

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "size": self.size,
                "max": self.max_size,
                "live": self._live,
                "idle": self._idle.qsize(),
                "busy": len(self._busy),
                "restarts": self.restarts,
            }

    async def submit(self, job: Job) -> Reply:
        """Send ``job`` to a free worker; return once it has answered with a media type.

        Raises QueryError: the job's own error (400, 406, …), 503 when no worker is free before
        the deadline or the query runs past it, or when its worker dies.
        """
        deadline = time.monotonic() + self.limits.timeout_s
        worker = await self._send_to_free_worker(encode_frame(b"Q", json.dumps(job.to_dict()).encode()), deadline)
        reply = Reply(self, worker, deadline)
        kind, payload = await reply.next_frame()
        if kind == b"X":
            self.checkin(worker, healthy=True)
            raise self.explain(worker, QueryError.from_dict(json.loads(payload)))
        reply.media_type = payload.decode()
        return reply

    def explain(self, worker: Worker, error: QueryError) -> QueryError:
        """A failure caused by a refused connection is the client's: 403, naming the destination."""
        refused = self.supervisor.refused(worker.pid) if self.supervisor else []
        if not refused or error.status < 500:
            return error
        return QueryError(403, "SERVICE not allowed", egress.describe(refused, self.allowlist))

    async def _send_to_free_worker(self, frame: bytes, deadline: float) -> Worker:
        loop = asyncio.get_running_loop()
        for _ in range(self.max_size + 1):
            worker = self._take_now()
            if worker is None:
                worker = await anyio.to_thread.run_sync(self._wait_for_idle, deadline)
            with self._lock:
                self._busy[worker.pid] = (worker, deadline)
            if self.supervisor is not None:
                self.supervisor.refused(worker.pid)  # a refusal belongs to the job that caused it
            try:
                worker.sock.setblocking(False)
                await loop.sock_sendall(worker.sock, frame)
                return worker
            except OSError:  # it died while idle: replace it and try another
                self.checkin(worker, healthy=False)
        raise QueryError(503, "No query worker", "no query worker could take the query")

    def _take_now(self) -> Worker | None:
        """An idle worker, else a newly forked one while below ``max_size``, else None."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._live < self.max_size and not self._stop.is_set():
                try:
                    return self._fork()
                except (OSError, WorkerGone):
                    log.error("could not fork a query worker")
        return None

    def _wait_for_idle(self, deadline: float) -> Worker:
        try:
            return self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise QueryError(
                503, "Server busy", f"all {self.max_size} query workers stayed busy; try again later"
            ) from None

    def _fork(self) -> Worker:
        """A new worker; call with the lock held."""
        if self._zygote is None:
            raise QueryError(503, "No query worker", "the endpoint is shutting down")
        worker = self._zygote.spawn()
        self._live += 1
        return worker

    def checkin(self, worker: Worker, *, healthy: bool) -> None:
        """Give a worker back; one that did not finish cleanly, or is one too many, is killed."""
        with self._lock:
            if worker.retired or self._stop.is_set():
                worker.close()  # the watchdog or close() killed it; its reader closes the socket
                return
            self._busy.pop(worker.pid, None)
            if healthy and self._idle.qsize() < self.size:
                self._idle.put(worker)
                return
            self.restarts += 0 if healthy else 1
            self._retire(worker)
        worker.close()

    def _retire(self, worker: Worker) -> None:
        """Kill ``worker``; fork a replacement if fewer than ``size`` are left. Lock held."""
        worker.kill()
        self._live -= 1
        if self._live < self.size and not self._stop.is_set():
            try:
                self._idle.put(self._fork())
            except (OSError, WorkerGone, QueryError):
                log.error("could not fork a replacement worker")

    def _watch(self) -> None:
        """Kill workers held past their deadline (a stalled client, an abandoned stream)."""
        while not self._stop.wait(0.5):
            now = time.monotonic()
            with self._lock:
                for pid, (worker, deadline) in list(self._busy.items()):
                    if now > deadline + GRACE_S:  # its reader, if any, sees EOF and closes the socket
                        del self._busy[pid]
                        self.restarts += 1
                        self._retire(worker)


def engine_failed() -> QueryError:
    """What a client is told when its query's worker died: an engine abort, a crash or the memory cap
    all end the same way (SIGABRT or SIGKILL), so the message names them all and claims none."""
    return QueryError(
        503,
        "Query engine failed",
        "the query engine failed on this query and stopped its worker (an engine abort or crash, or the "
        "worker's memory cap); the worker was replaced, the server is fine, and the query was not answered",
    )


def _drain(idle: queue.Queue[Worker]) -> list[Worker]:
    drained = []
    while not idle.empty():
        drained.append(idle.get_nowait())
    return drained


class Reply:
    """A query's answer as it arrives: ``media_type``, then the chunks of the body."""

    def __init__(self, pool: WorkerPool, worker: Worker, deadline: float) -> None:
        self.pool, self.worker, self.deadline = pool, worker, deadline
        self.media_type = ""

    async def next_frame(self) -> tuple[bytes, bytes]:
        try:
            async with asyncio.timeout(max(0.001, self.deadline - time.monotonic())):
                return await read_frame(self.worker.sock)
        except TimeoutError:
            self.pool.checkin(self.worker, healthy=False)
            raise QueryError(
                503, "Query timeout", f"the query ran longer than {self.pool.limits.timeout_s:g} s and was stopped"
            ) from None
        except (OSError, WorkerGone):
            self.pool.checkin(self.worker, healthy=False)
            raise engine_failed() from None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk; an answer abandoned half-way kills the worker."""
        finished = False
        try:
            while True:
                kind, payload = await self.next_frame()
                if kind == b"D":
                    yield payload
                    continue
                finished = True
                self.pool.checkin(self.worker, healthy=True)
                if kind == b"X":
                    raise self.pool.explain(self.worker, QueryError.from_dict(json.loads(payload)))
                return
        finally:
            if not finished:
                self.pool.checkin(self.worker, healthy=False)
