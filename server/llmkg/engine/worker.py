"""What runs inside the query processes: the frame protocol, the zygote and the worker loop.

Frames: one kind byte, a 4-byte big-endian length, the payload. The server sends ``Q`` (a job as
JSON); a worker answers ``M`` (media type), ``D`` (data)… then ``E`` (end), or ``X`` (error) at
any point. The frames of an answer leave together once 64 KiB are ready (or at its end), so a
small answer costs the server one wake-up, not three. An ``E`` with the payload ``R`` says the
worker has copied more of the shared store than ``Limits.recycle_bytes``: the pool replaces it
once it is idle. See pool.py for the pool that drives them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import os
import resource
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from llmkg.engine import egress, sandbox
from llmkg.kg.build import DUMP_WRITERS, DUMPS
from llmkg.sparql.formats import GRAPH_FORMATS, Format
from llmkg.sparql.query import Job, QueryError, run
from llmkg.sparql.rows import row_counter

log = logging.getLogger("llmkg.workers")
Source = ox.Store | Path
_HEADER = struct.Struct(">cI")
CHUNK = 64 * 1024
GRAPH_TYPES = frozenset(f.media_type for f in GRAPH_FORMATS)


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 30.0
    max_result_bytes: int = 100_000_000
    max_result_rows: int = 100_000
    memory_bytes: int = 2 << 30
    network: bool = False
    #: A worker that has copied more than this since it was forked (its private pages: the store's
    #: pages its reads wrote to, and its own allocations) is replaced by a fresh fork when the pool is idle.
    recycle_bytes: int = 64 << 20


class WorkerGone(Exception):
    """The worker's end of the socket closed: it crashed, ran out of memory or was killed."""


def encode_frame(kind: bytes, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


async def read_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    """One frame from a non-blocking socket, read on the running event loop."""
    loop = asyncio.get_running_loop()
    kind, length = _HEADER.unpack(await _read_exact(loop, sock, _HEADER.size))
    return kind, await _read_exact(loop, sock, length)


async def _read_exact(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            raise WorkerGone("worker closed its socket")
        got += n
    return bytes(buffer)


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    sock.sendall(_HEADER.pack(kind, len(payload)))
    if payload:
        sock.sendall(payload)


def recv_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    kind, length = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return kind, _recv_exact(sock, length)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise WorkerGone("worker closed its socket")
        got += n
    return bytes(buffer)


class LimitedWriter:
    """The file-like object pyoxigraph serialises into: hands on chunks, enforces the size and row limits.

    An answer over a limit raises QueryError 422 from ``write``; a worker sends it as an ``X`` frame,
    which the endpoint turns into an error status before the first megabyte of the answer and into a
    broken response after it (see docs/security.md).
    """

    def __init__(self, limits: Limits, media_type: str) -> None:
        self.limits, self.total, self.buffer = limits, 0, bytearray()
        self.rows = row_counter(media_type)

    def write(self, data: bytes) -> int:
        self.total += len(data)
        if self.total > self.limits.max_result_bytes:
            raise QueryError(
                422,
                "Result too large",
                f"the result exceeds {self.limits.max_result_bytes} bytes; add a LIMIT or narrow the query",
            )
        self.buffer += data
        if len(self.buffer) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if not self.buffer:
            return
        if self.rows is not None:
            self.rows.feed(bytes(self.buffer))
            if self.rows.rows > self.limits.max_result_rows:
                raise QueryError(
                    422,
                    "Too many rows",
                    f"the result has more than {self.limits.max_result_rows} rows (the limit); page through it "
                    "with ORDER BY, LIMIT and OFFSET",
                    limit=self.limits.max_result_rows,
                )
        self.emit(bytes(self.buffer))
        self.buffer.clear()

    def emit(self, chunk: bytes) -> None:
        raise NotImplementedError


class Outbox:
    """The frames of one answer, sent in as few writes as they fit: small frames wait for the next."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.pending = sock, bytearray()

    def frame(self, kind: bytes, payload: bytes = b"") -> None:
        self.pending += _HEADER.pack(kind, len(payload))
        if len(self.pending) + len(payload) <= CHUNK:
            self.pending += payload
            return
        self.send()
        self.sock.sendall(payload)  # a whole chunk of data: sent as it is, not copied into the buffer

    def send(self) -> None:
        if self.pending:
            self.sock.sendall(self.pending)
            self.pending.clear()


class _FrameWriter(LimitedWriter):
    """Hands each chunk to the outbox as a ``D`` frame."""

    def __init__(self, outbox: Outbox, limits: Limits, media_type: str) -> None:
        super().__init__(limits, media_type)
        self.outbox = outbox

    def emit(self, chunk: bytes) -> None:
        self.outbox.frame(b"D", chunk)


def worker_main(sock: socket.socket, source: Source, limits: Limits) -> None:
    """A worker's life: confine itself, hand the server its connection filter, answer jobs until the
    server closes the socket. A worker that cannot be confined says why and answers nothing.
    """
    try:
        listener = sandbox.harden(memory_bytes=limits.memory_bytes, network=limits.network)
    except egress.SandboxError as error:
        socket.send_fds(sock, [b"F" + str(error).encode()], [])
        return
    socket.send_fds(sock, [b"L"], [listener])
    os.close(listener)
    store = source if isinstance(source, ox.Store) else ox.Store.read_only(str(source))
    forked = _faults()
    while True:
        try:
            kind, payload = recv_frame(sock)
        except WorkerGone:
            return
        if kind == b"W":
            dump(sock, store, payload.decode())
            continue
        job = Job.from_dict(json.loads(payload))
        answer(sock, store, job, limits, spent=lambda: _copied(forked) > limits.recycle_bytes)


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _copied(faults_at_fork: int) -> int:
    """Bytes made private since the fork: each private page (a page of the shared store that a read
    wrote to, or a new one) costs one minor fault, so the count bounds what the worker has copied."""
    return (_faults() - faults_at_fork) * resource.getpagesize()


def dump(sock: socket.socket, store: ox.Store, name: str) -> None:
    """The canonical dump ``name`` of the whole store (kg.build.DUMPS), sorted and serialised here, not in
    the server, whose other requests would wait for it."""
    try:
        media_type, body = DUMPS[name], DUMP_WRITERS[name](store)
    except (KeyError, OSError, ValueError, RuntimeError) as error:
        send_frame(sock, b"X", json.dumps(_failure(error, None, "dump").to_dict()).encode())
        return
    send_frame(sock, b"M", media_type.encode())
    for start in range(0, len(body), CHUNK):
        send_frame(sock, b"D", body[start : start + CHUNK])
    send_frame(sock, b"E")


def answer(
    sock: socket.socket, store: ox.Store, job: Job, limits: Limits, *, spent: Callable[[], bool] = lambda: False
) -> None:
    """Run one job and send its frames; errors become an ``X`` frame. The end frame says ``R`` when
    ``spent()``: the worker has copied more than its budget."""
    fmt, outbox = None, Outbox(sock)
    try:
        fmt, write = run(store, job)
        if job.own_read:  # the server's own fixed reads: only the memory cap bounds them
            limits = dataclasses.replace(limits, max_result_rows=sys.maxsize, max_result_bytes=sys.maxsize)
        out = _FrameWriter(outbox, limits, fmt.media_type)
        outbox.frame(b"M", fmt.media_type.encode())
        write(out)  # type: ignore[arg-type]
        out.flush()
        outbox.frame(b"E", b"R" if spent() else b"")
    except QueryError as error:
        outbox.frame(b"X", json.dumps(error.to_dict()).encode())
    except (OSError, ValueError, RuntimeError) as error:
        if isinstance(error, (BrokenPipeError, ConnectionError)):
            raise
        outbox.frame(b"X", json.dumps(_failure(error, fmt, job.request_id).to_dict()).encode())
    outbox.send()


def _failure(error: Exception, fmt: Format | None, request_id: str) -> QueryError:
    """A format that cannot write this result (JSON-LD and RDF 1.2 triple terms) is the client's
    choice, a 406 that names formats that can; any other engine failure is ours, a 500 in the log.
    """
    if fmt is not None and "does not support" in str(error):
        better = "text/turtle or application/n-triples" if fmt.media_type in GRAPH_TYPES else "another format"
        return QueryError(
            406, "Not Acceptable", f"{fmt.media_type} cannot express this result ({error}); ask for {better}"
        )
    log.warning("query failed in request %s: %s", request_id or "-", error)
    return QueryError(500, "Query failed", "the query could not be evaluated")


def zygote_main(ctl: socket.socket, source: Source, limits: Limits) -> None:
    sandbox.become_zygote()
    # Every object the server had is inherited copy-on-write; the collector visiting them in a worker
    # would write to each page that holds one. Frozen, a collection never looks at them.
    gc.freeze()
    while ctl.recv(1):
        mine, theirs = socket.socketpair()
        pid = sandbox.fork(worker_main, theirs, source, limits, keep=theirs)
        theirs.close()
        socket.send_fds(ctl, [str(pid).encode()], [mine.fileno()])
        mine.close()
