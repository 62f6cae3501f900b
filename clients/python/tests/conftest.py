"""Fixtures: the real context server as a child process (node + tsx from the repository root),
tokens signed with its secret, and a small REST helper. Nothing here is a mock."""
from __future__ import annotations

import asyncio
import base64
import ctypes
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]
SECRET = "python-client-test-secret-0123456789abcdef"


def sign(sub: str = "alice", roles=("writer",), tenant: str = "default", ttl: float = 3600, **claims) -> str:
    """An HS256 JWT the test server accepts."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    now = int(time.time())
    payload = {"sub": sub, "roles": list(roles), "tenant": tenant, "iat": now, "exp": int(now + ttl), **claims}
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(payload).encode())
    signature = hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(signature)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, the server gets SIGKILL when pytest dies (a tap
    timeout, a crash), so no server outlives the run to hold its port and burn a core."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Server:
    """One server process; ``restart`` keeps the port (clients reconnect to the same URL)."""

    def __init__(self, env: Optional[Dict[str, str]] = None) -> None:
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="ctx-py-")
        self.env = {"MCP_DATA_DIR": self.data_dir, **(env or {})}
        self.proc: Optional[subprocess.Popen] = None
        self.output = ""

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **overrides: str) -> "Server":
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"),
               "NODE_ENV": "test", "LOG_LEVEL": "warn", "MCP_HOST": "127.0.0.1", "MCP_PORT": str(self.port),
               "MCP_JWT_SECRET_KEY": SECRET, "MCP_HTTP_RATE_LIMIT": "1000000", **self.env, **overrides}
        self.proc = subprocess.Popen(["node", "--import", "tsx", "src/server.ts"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=_die_with_parent)
        threading.Thread(target=self._collect, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.output}")
            try:
                with urllib.request.urlopen(f"{self.http}/ready", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready within 60 s:\n{self.output}")

    def _collect(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.output += line

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, **overrides: str) -> "Server":
        self.stop()
        return self.start(**overrides)

    def rest(self, method: str, path: str, token: str, body: Optional[dict] = None) -> tuple:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.http}{path}", data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}",
                                                  **({"content-type": "application/json"} if data else {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                text = reply.read().decode()
                return reply.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read().decode() or "null")

    def context(self, token: str) -> dict:
        status, body = self.rest("GET", "/context", token)
        assert status == 200, body
        return body

    def cleanup(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[Server]:
    """A fresh server with the embedded (persistent) store."""
    srv = Server().start()
    yield srv
    srv.cleanup()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[Server]:
    """One server for the tests that do not restart it; each test uses its own tenant."""
    srv = Server().start()
    yield srv
    srv.cleanup()


_tenants = iter(range(1, 1_000_000))


@pytest.fixture
def tenant() -> str:
    return f"py-{os.getpid()}-{next(_tenants)}"


async def eventually(predicate, timeout: float = 10.0, message: str = "condition") -> None:
    """Waits for ``predicate()`` to be true, failing with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for: {message}")
