"""Is the online store there? `/health`, `/ready` and fast 503s during a Redis outage.

`OnlineStoreGuard` watches the Redis a server reads from. A lookup that fails because
Redis does not answer (a timeout: paused, partitioned) or is unreachable opens the guard:
for `cooldown` seconds every lookup is refused at once with `StoreUnavailable` (503)
instead of waiting out the socket timeout again, so a partition costs the callers one
timeout, not one per request. After the cooldown one request probes Redis (PING, within
`probe_timeout`); if it answers, lookups go through again, otherwise the guard stays open
for another cooldown. `check()` (used by `/health` and `/ready`) probes every time and
closes the guard when Redis answers.

A store that is not a single Redis reached through `skewguard.store.connection` (a
cluster, another online store) has no target: the guard admits everything and
`check()` reports nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feast.errors import FeastError

from skewguard.store.redaction import redact

if TYPE_CHECKING:
    from skewguard.store.connection import RedisTarget

__all__ = ["StoreUnavailable", "OnlineStoreGuard", "StoreState", "redis_fault"]

DEFAULT_COOLDOWN = 1.0  # seconds a failed Redis is not asked again
DEFAULT_PROBE_TIMEOUT = 0.5  # seconds a PING may take


class StoreUnavailable(FeastError):
    """The online store cannot serve now; Feast's exception handler answers 503."""

    def http_status_code(self) -> int:
        return 503


@dataclass(frozen=True)
class StoreState:
    """The answer of `OnlineStoreGuard.check()`."""

    ok: bool
    detail: str | None  # why not, password masked
    target: str | None  # the Redis asked, password masked

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "redis": self.target}


def redis_fault(err: BaseException) -> str | None:
    """Why `err` says Redis is not there (`timeout`, `unreachable`, `tls`, `auth`), or
    None when `err` is something else (a bad request, a bug)."""
    import redis

    from skewguard.store.redis_errors import classify

    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, redis.exceptions.RedisError | ConnectionError | TimeoutError):
            fault = str(classify(current))
            return None if fault == "refused" else fault
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class OnlineStoreGuard:
    """Refuses lookups fast while Redis does not answer; probes it back."""

    def __init__(
        self,
        target: RedisTarget | None,
        *,
        cooldown: float = DEFAULT_COOLDOWN,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.cooldown = cooldown
        self.probe_timeout = probe_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._open = False
        self._retry_at = 0.0
        self._probing = False
        self._reason = ""
        self._refused = 0
        self._probe_client: Any = None

    # -- the request path -------------------------------------------------------------

    def admit(self) -> None:
        """Return when a lookup may go to Redis; raise `StoreUnavailable` otherwise.

        Blocks for at most `probe_timeout` (one request per cooldown probes)."""
        with self._lock:
            if not self._open:
                return
            if self._probing or self.clock() < self._retry_at:
                self._refused += 1
                raise self._unavailable()
            self._probing = True
        state = self._probe()
        with self._lock:
            self._probing = False
            if state.ok:
                self._open = False
                return
            self._reason = state.detail or self._reason
            self._retry_at = self.clock() + self.cooldown
            self._refused += 1
            raise self._unavailable()

    def failed(self, err: BaseException) -> StoreUnavailable | None:
        """A lookup raised `err`: when Redis is at fault, open the guard and return the
        503 to raise instead; None for any other error."""
        fault = redis_fault(err)
        if fault is None:
            return None
        with self._lock:
            self._open = True
            self._retry_at = self.clock() + self.cooldown
            self._reason = f"{fault}: {redact(err)}"
            return self._unavailable()

    # -- health -----------------------------------------------------------------------

    def check(self) -> StoreState:
        """PING Redis now (within `probe_timeout`); a success closes the guard."""
        state = self._probe()
        with self._lock:
            if state.ok:
                self._open = False
            elif not self._open:
                self._open = True
                self._retry_at = self.clock() + self.cooldown
                self._reason = state.detail or "Redis does not answer"
        return state

    def counters(self) -> dict[str, Any]:
        with self._lock:
            return {"open": self._open, "refused": self._refused, "reason": self._reason or None}

    def _probe(self) -> StoreState:
        import redis

        from skewguard.store.redis_errors import online_store_error

        if self.target is None:
            return StoreState(True, None, None)
        where = self.target.redacted()
        try:
            if self._probe_client is None:
                timeout = self.probe_timeout
                self._probe_client = self.target.with_timeouts(timeout, timeout).client()
            self._probe_client.ping()
            return StoreState(True, None, where)
        except (redis.exceptions.RedisError, OSError) as err:
            error = online_store_error(err, self.target, "answer PING")
            return StoreState(False, redact(error.what), where)

    def _unavailable(self) -> StoreUnavailable:
        return StoreUnavailable(
            f"the online store is unavailable ({self._reason}); retry later "
            f"(the server asks Redis again every {self.cooldown:g} s)"
        )
