"""What the benchmark scripts share to run servers on 127.0.0.1: a free port, and `llmkg serve` started and ready."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_llmkg(*options: str, wait_s: float = 600.0) -> tuple[subprocess.Popen[bytes], str]:
    """`llmkg serve` with ``options`` on a free loopback port, once its /health answers; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "llmkg.cli", "serve", *options, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + wait_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx2.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx2.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("llmkg serve did not start")
