"""Where a query worker may connect: enforced by the kernel at ``connect()``, never by reading query text.

Each worker installs a seccomp filter (:func:`confine`) before it touches a query. The filter lets a
worker create only Unix, IPv4 and IPv6 sockets, refuses io_uring (which would bypass the filter), and
hands every ``connect()`` and every ``sendto()`` with an address to a supervisor thread in the server
(:class:`Supervisor`). The supervisor reads the destination from the worker's memory, decides by
:class:`Policy`, and lets the call go on or fails it with ``EACCES``; a refusal is remembered per
worker, so the pool can answer 403 naming the destination. A worker that cannot install the filter
exits before it answers anything: the endpoint fails closed.

:class:`Policy` allows a destination only when it is an address of a host named by an allowlisted
SERVICE endpoint, on that endpoint's port, resolved at the time of the call; loopback, private,
link-local (cloud metadata) and other special addresses are refused unless an allowlisted endpoint
names them itself. Name resolution by the worker may reach the nameservers of ``/etc/resolv.conf``
on port 53 only while the allowlist is not empty.

>>> policy = Policy(("http://127.0.0.1:7878/sparql",))
>>> policy.allows("127.0.0.1", 7878), policy.allows("127.0.0.1", 22), policy.allows("169.254.169.254", 80)
(True, False, False)
>>> Policy(()).allows("93.184.215.14", 80)
False
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import logging
import os
import platform
import selectors
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("llmkg.egress")


class SandboxError(OSError):
    """The kernel refused to confine a worker; the worker must not run queries."""


# --- the filter, installed in the worker --------------------------------------------------------


@dataclass(frozen=True)
class _Arch:
    audit: int
    seccomp: int
    socket: int
    connect: int
    sendto: int
    io_uring_setup: int = 425
    x32_bit: int = 0


_ARCHES = {
    "x86_64": _Arch(audit=0xC000003E, seccomp=317, socket=41, connect=42, sendto=44, x32_bit=0x40000000),
    "aarch64": _Arch(audit=0xC00000B7, seccomp=277, socket=198, connect=203, sendto=206),
}
_PR_SET_NO_NEW_PRIVS = 38
_SET_MODE_FILTER, _FLAG_NEW_LISTENER = 1, 1 << 3
_RET_ALLOW, _RET_NOTIFY, _RET_KILL = 0x7FFF0000, 0x7FC00000, 0x80000000
_LD_ABS, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_ARG = [16 + 8 * i for i in range(6)]  # offset of each argument's low half in struct seccomp_data


def _errno(code: int) -> int:
    return 0x00050000 | code


def _program(arch: _Arch) -> list[tuple[int, int, int, int]]:
    """The BPF program as (code, jump-if-true, jump-if-false, k), jumps resolved from labels."""
    ops: list[tuple[int, str | int, str | int, int] | str] = [
        (_LD_ABS, 0, 0, 4),
        (_JEQ, 0, "kill", arch.audit),
        (_LD_ABS, 0, 0, 0),
    ]
    if arch.x32_bit:
        ops.append((_JGE, "enosys", 0, arch.x32_bit))
    ops += [
        (_JEQ, "enosys", 0, arch.io_uring_setup),
        (_JEQ, "socket", 0, arch.socket),
        (_JEQ, "notify", 0, arch.connect),
        (_JEQ, "sendto", "allow", arch.sendto),
        "socket",
        (_LD_ABS, 0, 0, _ARG[0]),
        (_JEQ, "allow", 0, socket.AF_UNIX),
        (_JEQ, "allow", 0, socket.AF_INET),
        (_JEQ, "allow", "eacces", socket.AF_INET6),
        "sendto",
        (_LD_ABS, 0, 0, _ARG[4]),  # no address: a connected socket, already checked
        (_JEQ, 0, "notify", 0),
        (_LD_ABS, 0, 0, _ARG[4] + 4),
        (_JEQ, "allow", "notify", 0),
        "allow",
        (_RET, 0, 0, _RET_ALLOW),
        "notify",
        (_RET, 0, 0, _RET_NOTIFY),
        "kill",
        (_RET, 0, 0, _RET_KILL),
        "enosys",
        (_RET, 0, 0, _errno(errno.ENOSYS)),
        "eacces",
        (_RET, 0, 0, _errno(errno.EACCES)),
    ]  # classic BPF jumps only forward: every return comes last
    labels, index = {}, 0
    for op in ops:
        if isinstance(op, str):
            labels[op] = index
        else:
            index += 1
    program, index = [], 0
    for op in ops:
        if isinstance(op, str):
            continue
        code, jt, jf, k = op
        jumps = [labels[j] - index - 1 if isinstance(j, str) else j for j in (jt, jf)]
        program.append((code, jumps[0], jumps[1], k))
        index += 1
    return program


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def confine() -> int:
    """Install the worker's filter on this thread (and threads it starts); return the listener fd.

    Raises SandboxError where the platform has no seccomp user notification (Linux 5.5+, x86_64 or
    aarch64): the caller must then not run queries.
    """
    arch = _ARCHES.get(platform.machine())
    if arch is None:
        raise SandboxError(errno.ENOSYS, f"no seccomp filter for {platform.machine()}")
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SandboxError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    program = _program(arch)
    filters = (_SockFilter * len(program))(*[_SockFilter(*op) for op in program])
    fprog = _SockFprog(len(program), filters)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(
        ctypes.c_long(arch.seccomp),
        ctypes.c_long(_SET_MODE_FILTER),
        ctypes.c_long(_FLAG_NEW_LISTENER),
        ctypes.byref(fprog),
    )
    if fd < 0:
        raise SandboxError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER) failed")
    return int(fd)


# --- the policy -------------------------------------------------------------------------------


def _special(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return bool(
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _port(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


def _nameservers(path: Path = Path("/etc/resolv.conf")) -> frozenset[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return frozenset()
    return frozenset(line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1)


@dataclass(frozen=True)
class Policy:
    """Which (address, port) a worker may reach: the hosts of the allowlisted SERVICE endpoints."""

    allowlist: tuple[str, ...]
    nameservers: frozenset[str] = field(default_factory=_nameservers)

    def allows(self, host: str, port: int) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if self.allowlist and port == 53 and str(address) in self.nameservers:
            return True
        for name, allowed_port in filter(None, map(_port, self.allowlist)):
            if port == allowed_port and address in _resolve(name):
                return not _special(address) or _names_itself(name, address)
        return False


def _resolve(name: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}


def _names_itself(name: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A special address passes only when the allowlist spells it (or ``localhost`` for loopback)."""
    try:
        return ipaddress.ip_address(name.strip("[]")) == address
    except ValueError:
        return name == "localhost" and address.is_loopback


def destination(raw: bytes) -> tuple[str, int] | None:
    """(address, port) of a ``struct sockaddr``; None for a Unix socket (always allowed).

    >>> destination(socket.AF_INET.to_bytes(2, "little") + (80).to_bytes(2, "big") + bytes([10, 0, 0, 1]))
    ('10.0.0.1', 80)
    """
    if len(raw) < 2:
        return ("", 0)
    family = int.from_bytes(raw[:2], "little")
    if family == socket.AF_UNIX:
        return None
    if family == socket.AF_INET and len(raw) >= 8:
        return socket.inet_ntop(socket.AF_INET, raw[4:8]), int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET6 and len(raw) >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24]), int.from_bytes(raw[2:4], "big")
    return ("", 0)  # any other family: refused


# --- the supervisor, a thread in the server ------------------------------------------------------


class _SeccompData(ctypes.Structure):
    _fields_ = [
        ("nr", ctypes.c_int32),
        ("arch", ctypes.c_uint32),
        ("ip", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
    ]


class _Notif(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("data", _SeccompData)]


class _NotifResp(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("val", ctypes.c_int64), ("error", ctypes.c_int32), ("flags", ctypes.c_uint32)]


_NOTIF_RECV, _NOTIF_SEND, _NOTIF_ID_VALID = 0xC0502100, 0xC0182101, 0x40082102
_FLAG_CONTINUE = 1
_MAX_SOCKADDR = 128


class Supervisor:
    """Answers the workers' ``connect()`` and ``sendto()`` calls by :class:`Policy`, on its own thread."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._refused: dict[int, list[str]] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stop = self._closed = False
        self._thread = threading.Thread(target=self._loop, name="llmkg-egress", daemon=True)
        self._thread.start()

    def watch(self, listener: int, worker_pid: int) -> None:
        """Take ownership of a worker's listener fd."""
        with self._lock:
            self._selector.register(listener, selectors.EVENT_READ, worker_pid)
        os.write(self._wake_w, b"w")

    def refused(self, worker_pid: int) -> list[str]:
        """The destinations refused to this worker since the last call (and forget them)."""
        with self._lock:
            return self._refused.pop(worker_pid, [])

    def close(self) -> None:
        """Stop the thread, then close the wake-up pipe here: the thread closing it itself could do so
        between ``_stop`` being set and the write below (its select timing out), and the write failed."""
        if self._closed:
            return
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _loop(self) -> None:
        libc = _libc()
        while not self._stop:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    os.read(self._wake_r, 64)
                    continue
                self._serve(libc, int(key.fd), int(key.data))
        for key in list(self._selector.get_map().values()):
            if key.data is not None:
                os.close(int(key.fd))
        self._selector.close()

    def _serve(self, libc: ctypes.CDLL, listener: int, worker_pid: int) -> None:
        notif = _Notif()
        if libc.ioctl(listener, _NOTIF_RECV, ctypes.byref(notif)) != 0:
            if ctypes.get_errno() != errno.EINTR:  # the worker is gone: stop watching it
                with self._lock:
                    self._selector.unregister(listener)
                    self._refused.pop(worker_pid, None)
                os.close(listener)
            return
        allowed, where = self._decide(libc, listener, notif)
        if not allowed:
            with self._lock:
                self._refused.setdefault(worker_pid, []).append(where)
        reply = _NotifResp(notif.id, 0, 0 if allowed else -errno.EACCES, _FLAG_CONTINUE if allowed else 0)
        libc.ioctl(listener, _NOTIF_SEND, ctypes.byref(reply))  # fails only if the worker died meanwhile

    def _decide(self, libc: ctypes.CDLL, listener: int, notif: _Notif) -> tuple[bool, str]:
        connect = notif.data.nr in {a.connect for a in _ARCHES.values()}
        pointer, length = (notif.data.args[1], notif.data.args[2]) if connect else notif.data.args[4:6]
        raw = _read_memory(notif.pid, pointer, min(int(length), _MAX_SOCKADDR))
        check = ctypes.c_uint64(notif.id)
        if raw is None or libc.ioctl(listener, _NOTIF_ID_VALID, ctypes.byref(check)) != 0:
            return False, "(unreadable address)"
        target = destination(raw)
        if target is None:
            return True, "unix socket"
        host, port = target
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return self.policy.allows(host, port), where


def _read_memory(pid: int, address: int, length: int) -> bytes | None:
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.pread(fd, length, address)
    except OSError:
        return None
    finally:
        os.close(fd)


def describe(refused: Iterable[str], allowlist: tuple[str, ...]) -> str:
    """The readable body of a 403 for refused connections."""
    allowed = ", ".join(f"<{a}>" for a in allowlist) or "none"
    return (
        f"the query tried to connect to {', '.join(sorted(set(refused)))}, which is not an allowed SERVICE "
        f"endpoint; endpoints allowed: {allowed}"
    )
