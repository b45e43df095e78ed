"""How the HTTP server runs: uvicorn, with limits on connections and on how long a request may take to arrive.

uvicorn's own limits stop at a keep-alive timeout and a per-request 503; it waits forever for a
request head that never completes, accepts connections until the process runs out of file
descriptors, and Python's accept loop then logs the same error thousands of times a second. The
protocol here closes connections whose head or body does not arrive in time (408), refuses
connections beyond a cap at once with a readable 503, and the event loop reports a repeated error
once per interval.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import resource
import time
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from llmkg.config import ServerSettings

log = logging.getLogger("llmkg.server")
#: File descriptors kept back from the connection cap: the store, the workers' sockets, the logs.
FD_RESERVE = 256


def plain_response(status: str, text: str, *, retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, for a client no request cycle exists for."""
    body = (text + "\n").encode()
    head = [f"HTTP/1.1 {status}", "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}"]
    head += [f"Retry-After: {retry_after}"] if retry_after is not None else []
    return ("\r\n".join([*head, "Connection: close", "", ""])).encode() + body


def guarded_protocol(limits: ServerSettings) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a deadline for each request's head and body and a connection cap.

    ``_phase`` follows the parser's callbacks: "idle" between requests, "head" from a request's first
    byte to the end of its headers, "body" until the request is complete. A timer runs while the
    client owes us bytes (idle with nothing received yet counts as owing the head).
    """

    class Guarded(HttpToolsProtocol):
        _timer: asyncio.TimerHandle | None = None
        _phase = "idle"

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                transport.write(plain_response("503 Service Unavailable", _FULL, retry_after=1))
                transport.close()
                return
            if self._from_same_address() > limits.max_connections_per_client:
                transport.write(plain_response("503 Service Unavailable", _YOURS, retry_after=1))
                transport.close()
                return
            self._arm(limits.head_timeout_s)

        def _from_same_address(self) -> int:
            """Open connections from this connection's address, this one included."""
            host = self.client[0] if self.client else None
            peers = (other.client for other in self.connections if isinstance(other, Guarded))
            return sum(1 for peer in peers if peer and peer[0] == host)

        def data_received(self, data: bytes) -> None:
            if self._phase == "idle" and self._timer is None and not self.transport.is_closing():
                self._arm(limits.head_timeout_s)  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._phase = "head"
            if self._timer is None:  # a pipelined request begins in the same bytes as the one before
                self._arm(limits.head_timeout_s)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._phase = "body"
            self._arm(limits.body_timeout_s)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._phase = "idle"
            self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            if self._phase != "body" and (self.cycle is None or self.cycle.response_complete):
                seconds = f"{limits.head_timeout_s:g}"  # no request under way: answer it ourselves
                self.transport.write(plain_response("408 Request Timeout", _HEAD_LATE.format(seconds)))
            self.transport.close()  # a request whose body stalls: the route sees the client go away

    return Guarded


_FULL = "Server busy: too many open connections; try again later"
_YOURS = "Too many open connections from this address; close some and try again"
_HEAD_LATE = "Request Timeout: the request head did not arrive within {} s"


class OncePerInterval:
    """An event-loop exception handler that reports each kind of error at most once per ``interval``
    seconds, with how many were left out; a failing accept loop would otherwise fill the disk."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        key = str(context.get("message", ""))
        now = time.monotonic()
        if now - self._last.get(key, -self.interval) < self.interval:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return
        self._last[key] = now
        dropped = self._dropped.pop(key, 0)
        if dropped:
            context = {**context, "message": f"{key} (and {dropped} more in the last {self.interval:g} s)"}
        loop.default_exception_handler(context)


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards the hard one; return the connections that fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted + FD_RESERVE)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return max(1, min(wanted, soft - FD_RESERVE))


def run(app: FastAPI, *, host: str, port: int, limits: ServerSettings) -> None:
    """Serve ``app`` until interrupted, within the connection limits of ``limits``."""
    fitting = raise_fd_limit(limits.max_connections)
    if fitting < limits.max_connections:
        log.warning("only %d connections fit the open-file limit (asked for %d)", fitting, limits.max_connections)
    limits = dataclasses.replace(limits, max_connections=fitting)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        access_log=False,
        server_header=False,
        log_level="warning",
        timeout_keep_alive=limits.keep_alive_s,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(OncePerInterval())
        await server.serve()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # libuv's loop: a lookup costs less
        runner.run(main())
