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
import contextlib
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
from llmkg.engine.admission import Admission, AdmissionLimits, Ticket
from llmkg.engine.worker import Limits, Source, WorkerGone, encode_frame, read_frame, zygote_main
from llmkg.sparql.query import Job, QueryError

log = logging.getLogger("llmkg.workers")
#: How long past its deadline a checked-out worker may stay before the watchdog kills it.
GRACE_S = 2.0
#: How long the pool must have been idle before workers over their copy budget are replaced: a fresh
#: worker pays again for every page of the store it copies, so this is done between bursts, not in one.
RECYCLE_IDLE_S = 30.0
#: How long the worker factory may take to fork a worker before it is replaced.
SPAWN_TIMEOUT_S = 10.0


@dataclass
class Worker:
    pid: int
    sock: socket.socket
    pidfd: int | None
    retired: bool = False
    spent: bool = False  # it has copied more of the store than its budget (worker.Limits.recycle_bytes)

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
        self.ctl.settimeout(SPAWN_TIMEOUT_S)  # a factory that hangs is treated as dead, not waited on forever

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

    def alive(self) -> bool:
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid:
            self.pid = 0  # reaped: never signal a number the kernel may give to another process
        return pid == 0

    def close(self) -> None:
        self.ctl.close()
        if self.pid:
            sandbox.kill(self.pid, None)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)


class WorkerPool:
    """``size`` workers always ready, and up to as many again forked while all of them are busy.

    The extra workers let simple queries keep answering while runaway ones wait for their
    timeout; they leave again once the pool is idle. Queries are sent and answers read on the
    caller's event loop (:meth:`submit`); the bookkeeping is thread-safe, so a watchdog thread can
    kill workers held past their deadline.
    """

    def __init__(
        self,
        source: Source,
        *,
        size: int,
        limits: Limits,
        allowlist: tuple[str, ...] = (),
        admission: AdmissionLimits | None = None,
    ) -> None:
        # a worker needs the network only to reach an allowed SERVICE endpoint
        self.source, self.size, self.limits = source, max(1, size), dataclasses.replace(limits, network=bool(allowlist))
        self.allowlist = allowlist
        self.supervisor: egress.Supervisor | None = None
        self.max_size = 2 * self.size
        self.admission = Admission(self.max_size, admission or AdmissionLimits())
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()  # the most recently used worker has warm caches
        self._busy: dict[int, tuple[Worker, float, Ticket]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._zygote: Zygote | None = None
        self._live = 0
        self.restarts = 0
        self.zygote_restarts = 0
        self.recycled = 0  # spent workers replaced while the pool was idle
        self._last_checkin = time.monotonic()

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
            workers = [w for w, _, _ in self._busy.values()] + _drain(self._idle)
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
                "factory_restarts": self.zygote_restarts,
                "recycled": self.recycled,
            }

    async def submit(self, job: Job) -> Reply:
        """Send ``job`` to a free worker; return once it has answered with a media type.

        Raises QueryError: the job's own error (400, 406, …); 429 or 503 from admission control;
        503 when no worker can be started, the query runs past its timeout, or its worker dies.
        """
        return await self._submit(encode_frame(b"Q", json.dumps(job.to_dict()).encode()), job.client)

    async def dump(self, name: str) -> Reply:
        """The canonical dump ``name`` (kg.build.DUMPS) of the whole store, made in a worker; it may take
        ten times a query's timeout."""
        return await self._submit(encode_frame(b"W", name.encode()), "", self.limits.timeout_s * 10)

    async def _submit(self, frame: bytes, client: str, timeout_s: float | None = None) -> Reply:
        ticket = await self.admission.enter(client)
        deadline = time.monotonic() + (timeout_s or self.limits.timeout_s)  # counted from the start, not the wait
        try:
            worker = await self._send(frame, deadline, ticket)
        except BaseException:
            ticket.release()
            raise
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

    async def _send(self, frame: bytes, deadline: float, ticket: Ticket) -> Worker:
        """Check a worker out for ``ticket`` (admission keeps one idle or forkable) and send it ``frame``."""
        loop = asyncio.get_running_loop()
        for _ in range(self.max_size + 1):
            try:  # the common case, an idle worker, without the trip to a thread a fork needs
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = await anyio.to_thread.run_sync(self._checkout)
            with self._lock:
                self._busy[worker.pid] = (worker, deadline, ticket)
            if self.supervisor is not None:
                self.supervisor.refused(worker.pid)  # a refusal belongs to the job that caused it
            try:
                worker.sock.setblocking(False)
                await loop.sock_sendall(worker.sock, frame)
                return worker
            except OSError:  # it died while idle: replace it and try another
                self._forget(worker)
        raise QueryError(503, "No query worker", "no query worker could take the query")

    def _checkout(self) -> Worker:
        """An idle worker, else a new one; a zygote that cannot fork is replaced once before giving up."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            for attempt in range(2):
                try:
                    return self._fork()
                except (OSError, WorkerGone) as error:
                    if attempt == 0 and not self._stop.is_set():
                        self._restart_zygote(f"it could not fork a worker ({error})")
        raise QueryError(503, "No query worker", "no query worker could be started; the server log says why")

    def _restart_zygote(self, why: str) -> None:
        """Replace the process that forks workers (lock held); the idle workers it made die with it."""
        log.error("restarting the worker factory: %s", why)
        old, self._zygote = self._zygote, None
        if old is not None:
            old.close()
        for worker in _drain(self._idle):
            worker.kill()
            worker.close()
            self._live -= 1
        assert self.supervisor is not None
        try:
            self._zygote = Zygote(self.source, self.limits, self.supervisor)
            self.zygote_restarts += 1
            while self._live < self.size:
                self._idle.put(self._fork())
        except (OSError, WorkerGone, egress.SandboxError) as error:  # /health says degraded; the next query tries again
            log.error("the worker factory could not be restarted: %s", error)

    def _fork(self) -> Worker:
        """A new worker; call with the lock held."""
        if self._stop.is_set():
            raise QueryError(503, "No query worker", "the endpoint is shutting down")
        if self._zygote is None:
            raise WorkerGone("no worker factory is running")
        worker = self._zygote.spawn()
        self._live += 1
        return worker

    def checkin(self, worker: Worker, *, healthy: bool, spent: bool = False) -> None:
        """Give a worker back; one that did not finish cleanly, or is one too many, is killed. A ``spent``
        one (it said so: ``E R``) is replaced once the pool is idle (:meth:`_recycle`)."""
        with self._lock:
            self._last_checkin = time.monotonic()
            worker.spent = worker.spent or spent
            held = self._busy.pop(worker.pid, None)
            if worker.retired or self._stop.is_set():
                worker.close()  # the watchdog or close() killed it; its reader closes the socket
                return
            if held is not None:
                held[2].release()
            if healthy and self._idle.qsize() < self.size:
                self._idle.put(worker)
                return
            self.restarts += 0 if healthy else 1
            self._retire(worker)
        worker.close()

    def _forget(self, worker: Worker) -> None:
        """A checked-out worker that died before its job was sent: replace it, keep its place."""
        with self._lock:
            self._busy.pop(worker.pid, None)
            self.restarts += 1
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
                for pid, (worker, deadline, ticket) in list(self._busy.items()):
                    if now > deadline + GRACE_S:  # its reader, if any, sees EOF and closes the socket
                        del self._busy[pid]
                        ticket.release()
                        self.restarts += 1
                        self._retire(worker)
                if not self._stop.is_set() and (self._zygote is None or not self._zygote.alive()):
                    self._restart_zygote("it is not running")
                if not self._busy and now - self._last_checkin > RECYCLE_IDLE_S:
                    self._recycle()

    def _recycle(self) -> None:
        """Replace the idle workers that are spent with fresh forks, which share the store again. Lock held."""
        idle = _drain(self._idle)  # most recently used first
        for worker in reversed(idle):  # put back in the same order: the last one used stays on top
            if not worker.spent:
                self._idle.put(worker)
                continue
            self.recycled += 1
            self._retire(worker)
            worker.close()


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
                self.pool.checkin(self.worker, healthy=True, spent=kind == b"E" and payload == b"R")
                if kind == b"X":
                    raise self.pool.explain(self.worker, QueryError.from_dict(json.loads(payload)))
                return
        finally:
            if not finished:
                self.pool.checkin(self.worker, healthy=False)
