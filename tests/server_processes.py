"""Feature servers as subprocesses for tests: started on a free loopback port, stopped by pid.

`feast serve` and `skewguard serve` both run gunicorn; SIGTERM to the master stops its
workers gracefully (the serving logs flush). Both get the same PYTHONHASHSEED: Feast orders
the features of a view by iterating a set, so the order in a response varies between
Python processes unless their string hashes agree.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HASH_SEED = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Reply:
    """One request; `body` is sent as is when bytes, else as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    connection.request(
        method, path, body=payload, headers={"Content-Type": "application/json", **headers}
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    log: Path

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (a graceful stop), then wait; kill only if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_server(
    argv: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None
) -> ServerProcess:
    """Start `argv` (which must bind `--port`), wait until GET /health answers 200.

    The server reads its Redis from the repo's feature_store.yaml, as plain `feast` does:
    `$SKEWGUARD_REDIS` is passed on only through `env`.
    """
    port = int(argv[argv.index("--port") + 1])
    inherited = {k: v for k, v in os.environ.items() if k != "SKEWGUARD_REDIS"}
    environment = {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "PYTHONHASHSEED": HASH_SEED,
        **(env or {}),
    }
    handle = log.open("w")
    process = subprocess.Popen(
        argv, cwd=cwd, env=environment, stdout=handle, stderr=subprocess.STDOUT, text=True
    )
    server = ServerProcess(process, port, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{argv[:2]} exited early:\n{server.output()[-3000:]}")
        try:
            if call(port, "GET", "/health").status == 200:
                return server
        except OSError:
            time.sleep(0.25)
    server.stop()
    raise AssertionError(f"{argv[:2]} did not answer on port {port}:\n{server.output()[-3000:]}")


def feast_serve(repo: Path, log: Path, *extra: str) -> ServerProcess:
    feast = str(Path(sys.executable).with_name("feast"))
    port = free_port()
    argv = [feast, "serve", "--port", str(port), "--no-access-log", *extra]
    return start_server(argv, cwd=repo, log=log)


def skewguard_serve(
    repo: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "skewguard", "serve", "--port", str(port), "--no-access-log"]
    return start_server([*argv, *extra], cwd=repo, log=log, env=env)
