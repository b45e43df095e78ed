"""Process plumbing for query isolation: fork a child, harden a worker, kill by pidfd (Linux).

The connection filter (egress.py) is required: a worker that cannot install it never answers.
The other measures are best effort: where the kernel refuses one (no network namespace for this
user, no pidfd), the worker runs without it.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import resource
import signal
import socket
import sys
import warnings
from collections.abc import Callable
from typing import Any

from llmkg.engine import egress

log = logging.getLogger("llmkg.workers")
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1


def fork(target: Callable[..., None], *args: Any, keep: socket.socket) -> int:
    """Run ``target(*args)`` in a child process and return its pid; the child never returns.

    The child keeps only stdio and ``keep`` of the parent's file descriptors, and freezes the
    objects it inherited so that the garbage collector neither copies their pages nor closes
    descriptors that are no longer theirs. The server's threads do not survive the fork; only
    the single-threaded zygote (and the workers it forks) ever run code after it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        gc.freeze()
        os.closerange(3, keep.fileno())
        os.closerange(keep.fileno() + 1, _max_fd())
        target(*args)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 1 << 20)
    except (ValueError, OSError):
        return 4096


def become_zygote() -> None:
    """Workers are reaped by the kernel, and Ctrl-C on the server is the server's business."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def harden(*, memory_bytes: int, network: bool) -> int:
    """Make this process a worker: die with the zygote, cap memory, confine its connections.

    Returns the listener fd of the connection filter (egress.py), which the server must supervise.
    Raises egress.SandboxError when the filter cannot be installed. Without any allowed SERVICE
    endpoint the worker also leaves the network where the kernel lets it (a second wall, for root).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _libc_call("prctl", _PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not network and not _libc_call("unshare", _CLONE_NEWNET):
        log.debug("no private network namespace; the connection filter alone keeps the worker off the network")
    if memory_bytes > 0:
        _cap_address_space(memory_bytes)
    return egress.confine()


def _libc_call(name: str, *args: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(getattr(libc, name)(*args) == 0)
    except (OSError, AttributeError):
        return False


def _cap_address_space(extra: int) -> None:
    """Allow ``extra`` bytes of address space beyond what the worker already maps."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (current + extra, current + extra))
    except (OSError, ValueError):
        log.debug("could not cap the worker's address space")


def pidfd(pid: int) -> int | None:
    """A descriptor that names exactly this process, or None where the kernel has none."""
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def kill(pid: int, fd: int | None) -> None:
    """SIGKILL ``pid``, through ``fd`` when there is one; a process already gone is fine."""
    try:
        if fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, OSError):
        pass
