"""A Redis target and its clients: every connection skewguard opens to Redis starts here.

`RedisTarget` holds one server and how to talk to it (TLS, credentials, database,
timeouts). Its clients (`client`, `async_client`) all have connect and read timeouts and
retry a dropped connection once (a restarted Redis), never a timeout or a rejected
password. `str()` and `repr()` mask the password; `feast_string()` writes the target in
Feast's connection-string form with every special character JSON-escaped.

Targets are made by `skewguard.store.connection.parse_target` (from either string form)
and `resolve_target` (from the environment).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from skewguard.store.redaction import MASK

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = [
    "REDIS_ENV",
    "DEFAULT_REDIS",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "RedisTarget",
    "derive_client",
    "feast_option",
    "target_of",
]

REDIS_ENV = "SKEWGUARD_REDIS"
DEFAULT_REDIS = "127.0.0.1:6379"
CONNECT_TIMEOUT = 2.0  # seconds to open a TCP (and TLS) connection
READ_TIMEOUT = 5.0  # seconds to wait for any reply


@dataclass(frozen=True)
class RedisTarget:
    """One Redis server and how to talk to it. `str()` masks the password."""

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: str = "required"
    ssl_check_hostname: bool = True
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    source: str = f"${REDIS_ENV}"  # where the string came from, for messages

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def redacted(self) -> str:
        """The target in Feast's form with the password masked: safe to print."""
        parts = [self.address]
        if self.username:
            parts.append(f"username={self.username}")
        if self.password is not None:
            parts.append(f"password={MASK}")
        if self.ssl:
            parts.append("ssl=true")
        if self.db:
            parts.append(f"db={self.db}")
        return ",".join(parts)

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"RedisTarget({self.redacted()!r}, source={self.source!r})"

    def feast_string(self) -> str:
        """Feast's connection-string form, timeouts included. Values other than plain
        words are JSON strings with every other character escaped, so the string survives
        Feast's parser (which splits on commas) and YAML (`feature_store.yaml`)."""
        return ",".join([self.address, *(feast_option(k, v) for k, v in self._options().items())])

    def redis_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `redis.Redis` (and `redis.asyncio.Redis`), without retry."""
        kwargs: dict[str, Any] = {
            "host": self.host.strip("[]"),
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": self.read_timeout,
            "socket_keepalive": True,
        }
        if self.ssl:
            kwargs.update(
                ssl=True,
                ssl_ca_certs=self.ssl_ca_certs,
                ssl_certfile=self.ssl_certfile,
                ssl_keyfile=self.ssl_keyfile,
                ssl_cert_reqs=self.ssl_cert_reqs,
                ssl_check_hostname=self.ssl_check_hostname and self.ssl_cert_reqs != "none",
            )
        return kwargs

    def client(
        self, *, decode_responses: bool = False, read_timeout: float | None = None
    ) -> redis.Redis:
        """A redis-py client with both timeouts and one reconnect on a dropped connection."""
        import redis as redis_lib

        kwargs = self.redis_kwargs()
        if read_timeout is not None:
            kwargs["socket_timeout"] = read_timeout
        return redis_lib.Redis(**kwargs, decode_responses=decode_responses, retry=_reconnect_once())

    def async_client(self, *, decode_responses: bool = False) -> redis.asyncio.Redis:
        """The asyncio client, with the same timeouts and retry rule."""
        import redis.asyncio as aredis

        return aredis.Redis(
            **self.redis_kwargs(),
            decode_responses=decode_responses,
            retry=_async_reconnect_once(),
        )

    def with_timeouts(self, connect: float, read: float) -> RedisTarget:
        return replace(self, connect_timeout=connect, read_timeout=read)

    def _options(self) -> dict[str, object]:
        options: dict[str, object] = {}
        if self.username is not None:
            options["username"] = self.username
        if self.password is not None:
            options["password"] = self.password
        if self.db:
            options["db"] = self.db
        if self.ssl:
            options["ssl"] = True
            for key in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
                if getattr(self, key) is not None:
                    options[key] = getattr(self, key)
            options["ssl_cert_reqs"] = self.ssl_cert_reqs
            options["ssl_check_hostname"] = self.ssl_check_hostname
        options["socket_connect_timeout"] = self.connect_timeout
        options["socket_timeout"] = self.read_timeout
        return options


def feast_option(key: str, value: object) -> str:
    """`key=value` for Feast's connection-string form, the value escaped (see
    `RedisTarget.feast_string`)."""
    return f"{key}={_feast_value(value)}"


def _feast_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A JSON string with everything but ASCII letters and digits escaped: no comma, colon,
    # space or '#' is left for Feast's split or YAML to misread; json.loads restores it.
    return '"' + "".join(_json_escaped(c) for c in str(value)) + '"'


def _json_escaped(char: str) -> str:
    if char.isascii() and char.isalnum():
        return char
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i] << 8 | units[i + 1]:04x}" for i in range(0, len(units), 2))


# -- clients -----------------------------------------------------------------------------


@functools.cache
def _reconnect_once_class() -> type:
    from redis.exceptions import AuthenticationError, AuthorizationError
    from redis.retry import Retry

    class ReconnectOnce(Retry):
        """Retry a dropped connection once (a restarted Redis); never a rejected password."""

        def call_with_retry(  # type: ignore[override]
            self, do: Any, fail: Any, is_retryable: Any = None, with_failure_count: bool = False
        ) -> Any:
            def retryable(err: Exception) -> bool:
                if isinstance(err, AuthenticationError | AuthorizationError):
                    return False
                return bool(is_retryable(err)) if is_retryable else True

            return super().call_with_retry(do, fail, retryable, with_failure_count)

    return ReconnectOnce


def _reconnect_once() -> Any:
    from redis.backoff import ConstantBackoff
    from redis.exceptions import ConnectionError

    return _reconnect_once_class()(ConstantBackoff(0.05), 1, supported_errors=(ConnectionError,))


def _async_reconnect_once() -> Any:
    from redis.asyncio.retry import Retry
    from redis.backoff import ConstantBackoff
    from redis.exceptions import ConnectionError

    return Retry(ConstantBackoff(0.05), 1, supported_errors=(ConnectionError,))


def derive_client(client: redis.Redis, **overrides: Any) -> redis.Redis:
    """A new client on the same server with the same settings (TLS, password, timeouts)
    but `overrides` (e.g. `decode_responses=False`, `socket_timeout=30`)."""
    import redis as redis_lib

    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, **overrides}
    kwargs.pop("connection_pool", None)
    new_pool = redis_lib.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    return redis_lib.Redis(connection_pool=new_pool)


def target_of(client: redis.Redis, *, source: str) -> RedisTarget:
    """The target a redis-py client talks to (for messages: the password stays masked)."""
    import redis as redis_lib

    pool = client.connection_pool
    kw = pool.connection_kwargs
    return RedisTarget(
        host=str(kw.get("host", "?")),
        port=int(kw.get("port") or 6379),
        db=int(kw.get("db") or 0),
        username=kw.get("username"),
        password=kw.get("password"),
        ssl=issubclass(pool.connection_class, redis_lib.SSLConnection),
        connect_timeout=float(kw.get("socket_connect_timeout") or CONNECT_TIMEOUT),
        read_timeout=float(kw.get("socket_timeout") or READ_TIMEOUT),
        source=source,
    )
