"""What went wrong talking to Redis, said as such: rejected password, timeout, TLS, down.

`online_store_error` turns any exception from a Redis call into the package's
`OnlineStoreError` with the right diagnosis and a hint, naming the target with its
password masked. `probe` asks a target whether it answers, telling a server that rejects
the password apart from one that is not there.
"""

from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass

from skewguard.errors import OnlineStoreError
from skewguard.store.connection import RedisTarget
from skewguard.store.redaction import redact

__all__ = ["Fault", "classify", "online_store_error", "Probe", "probe"]


class Fault(enum.StrEnum):
    """Why a Redis call failed."""

    AUTH = "auth"  # the server rejected the credentials, or requires some
    TIMEOUT = "timeout"  # connected (or tried to), no answer in time: paused, partitioned
    TLS = "tls"  # the TLS handshake failed, or one side speaks TLS and the other not
    UNREACHABLE = "unreachable"  # refused, reset, no such host
    REFUSED = "refused"  # the server answered with an error to the command


def classify(err: BaseException) -> Fault:
    import redis

    if isinstance(err, redis.exceptions.AuthenticationError | redis.exceptions.AuthorizationError):
        return Fault.AUTH
    text = str(err)
    if isinstance(err, redis.exceptions.ResponseError) and text.startswith(
        ("NOAUTH", "WRONGPASS", "NOPERM")
    ):
        return Fault.AUTH
    if isinstance(err, redis.exceptions.TimeoutError) or "Timeout" in text:
        return Fault.TIMEOUT
    if _caused_by(err, ssl.SSLError) or "SSL" in text or "TLS" in text:
        return Fault.TLS
    if isinstance(err, redis.exceptions.ConnectionError | OSError):
        return Fault.UNREACHABLE
    return Fault.REFUSED


def online_store_error(err: BaseException, target: RedisTarget, action: str) -> OnlineStoreError:
    """The `OnlineStoreError` for `err`, raised while trying to `action` on `target`."""
    fault = classify(err)
    detail = redact(err)
    where = target.redacted()
    if fault is Fault.AUTH:
        if target.password is None:
            what = f"Redis requires a password ({detail})"
            hint = f"add the password to {target.source}: host:port,password=... or redis://:PASSWORD@host:port"
        else:
            what = f"Redis rejected the password ({detail})"
            hint = f"check the password (and username) in {target.source}"
        return OnlineStoreError(what, where=where, hint=hint)
    if fault is Fault.TIMEOUT:
        return OnlineStoreError(
            f"Redis did not answer within {target.read_timeout:g} s while trying to {action} "
            f"({detail})",
            where=where,
            hint="the server may be paused, overloaded or cut off by the network; the timeouts "
            f"are socket_connect_timeout= and socket_timeout= in {target.source}",
        )
    if fault is Fault.TLS:
        return OnlineStoreError(
            f"the TLS connection to Redis failed ({detail})",
            where=where,
            hint="check ssl=true / rediss:// against the server's tls-port, and the CA file "
            "(ssl_ca_certs=...)",
        )
    if fault is Fault.UNREACHABLE:
        hint = f"start redis-server there, or set {target.source} to a running one"
        if not target.ssl and ("closed by server" in detail or "reset by peer" in detail):
            hint += "; if the server speaks TLS, use rediss:// or ssl=true"
        return OnlineStoreError(f"Redis is unreachable: {detail}", where=where, hint=hint)
    return OnlineStoreError(
        f"Redis refused to {action}: {detail}", where=where, hint="check the server log"
    )


def _caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@dataclass(frozen=True)
class Probe:
    """The answer to "does Redis answer at this target?"."""

    target: RedisTarget
    fault: Fault | None  # None: it answered PING
    error: OnlineStoreError | None = None

    @property
    def answers(self) -> bool:
        return self.fault is None

    @property
    def listening(self) -> bool:
        """Something speaking Redis is there, even if it refused us (auth)."""
        return self.fault in (None, Fault.AUTH, Fault.REFUSED)


def probe(target: RedisTarget, timeout: float = 0.5) -> Probe:
    """PING the target once (no retry), within `timeout` seconds per step."""
    import redis

    client = target.with_timeouts(timeout, timeout).client()
    try:
        client.ping()
        return Probe(target, None)
    except (redis.exceptions.RedisError, OSError) as err:
        return Probe(target, classify(err), online_store_error(err, target, "answer PING"))
    finally:
        client.close()
