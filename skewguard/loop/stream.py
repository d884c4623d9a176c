"""The event stream on Redis: publish with XADD, consume in a consumer group.

`RedisStream` appends events to a stream (default `skewguard:events`, trimmed with
`MAXLEN ~`). Consumers read it in a consumer group (default `trainers`, created with
`MKSTREAM` from the start of the stream), so a consumer that was down catches up on what
was published meanwhile. An entry stays pending until the consumer acknowledges it
(`XACK`) after it has acted; a consumer restarted under the same name reads its own
pending entries first, and any consumer can take over the entries of a dead one once
they have been idle long enough (`XAUTOCLAIM`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError, OnlineStoreError
from skewguard.loop.events import Event

if TYPE_CHECKING:
    import redis

__all__ = [
    "DEFAULT_STREAM",
    "DEFAULT_GROUP",
    "DEFAULT_MAXLEN",
    "EVENTS_REDIS_ENV",
    "Delivery",
    "RedisStream",
    "redis_client",
]

DEFAULT_STREAM = "skewguard:events"
DEFAULT_GROUP = "trainers"
DEFAULT_MAXLEN = 10_000
EVENTS_REDIS_ENV = "SKEWGUARD_EVENTS_REDIS"


def redis_client(connection_string: str | None = None) -> redis.Redis:
    """A client for "host:port[,password=...][,db=N]" (default: $SKEWGUARD_EVENTS_REDIS,
    then $SKEWGUARD_REDIS, then 127.0.0.1:6379)."""
    import redis as redis_lib

    from skewguard.store.repo import DEFAULT_REDIS, REDIS_ENV

    target = (
        connection_string
        or os.environ.get(EVENTS_REDIS_ENV)
        or os.environ.get(REDIS_ENV)
        or DEFAULT_REDIS
    )
    address, *options = target.split(",")
    host, _, port = address.rpartition(":")
    kwargs: dict[str, Any] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key.strip() == "password":
            kwargs["password"] = value
        elif key.strip() == "db":
            kwargs["db"] = int(value)
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    try:
        return redis_lib.Redis(
            host=host or "127.0.0.1",
            port=int(port),
            decode_responses=True,
            socket_connect_timeout=5,
            # One quick retry: a publisher must not hang on a Redis that is down.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), 1),
            **kwargs,
        )
    except ValueError as err:
        raise OnlineStoreError(
            f"cannot parse the events Redis address {target!r}",
            where=EVENTS_REDIS_ENV,
            hint="use host:port, e.g. 127.0.0.1:6379",
        ) from err


@dataclass(frozen=True)
class Delivery:
    """A stream entry handed to a consumer: the entry id, the event, how often delivered."""

    entry_id: str
    event: Event | None  # None: the entry could not be parsed (see `error`)
    deliveries: int
    error: str | None = None


class RedisStream:
    """An event stream and its consumer group on one Redis."""

    name = "redis"

    def __init__(
        self,
        client: redis.Redis,
        stream: str = DEFAULT_STREAM,
        group: str = DEFAULT_GROUP,
        *,
        maxlen: int = DEFAULT_MAXLEN,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.maxlen = maxlen

    def send(self, event: Event) -> str:
        """XADD the event (approximately trimmed to `maxlen`); returns the entry id."""
        self.ensure_group()
        return str(
            self._call(
                "publish to",
                self.client.xadd,
                self.stream,
                event.to_fields(),
                maxlen=self.maxlen,
                approximate=True,
            )
        )

    def ensure_group(self) -> None:
        """Create the group (and the stream) if missing; it starts at the first entry."""
        import redis as redis_lib

        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis_lib.exceptions.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise
        except (redis_lib.exceptions.ConnectionError, redis_lib.exceptions.TimeoutError) as err:
            raise self._unreachable(err) from err

    def read_own(self, consumer: str, *, after: str = "0", count: int = 1) -> list[Delivery]:
        """Entries delivered to this consumer and not yet acknowledged, with ids > `after`
        (what a consumer restarted under the same name resumes with)."""
        self.ensure_group()
        answer = self._call(
            "read", self.client.xreadgroup, self.group, consumer, {self.stream: after}, count=count
        )
        return [self._delivery(entry_id, fields) for entry_id, fields in _entries(answer)]

    def pending_ids(self, consumer: str, *, count: int = 100) -> list[str]:
        """Ids of the entries pending for `consumer`, oldest first (no delivery counted)."""
        self.ensure_group()
        rows = self._call(
            "inspect",
            self.client.xpending_range,
            self.stream,
            self.group,
            min="-",
            max="+",
            count=count,
            consumername=consumer,
        )
        return [r["message_id"] for r in rows]

    def take(self, consumer: str, entry_id: str) -> Delivery | None:
        """Deliver a pending entry to `consumer` again (one more delivery counted)."""
        answer = self._call(
            "claim",
            self.client.xclaim,
            self.stream,
            self.group,
            consumer,
            min_idle_time=0,
            message_ids=[entry_id],
        )
        found = [(i, f) for i, f in answer or [] if f]
        return self._delivery(*found[0]) if found else None

    def read_new(
        self, consumer: str, *, count: int = 1, block_ms: int | None = None
    ) -> list[Delivery]:
        """Entries never delivered to any consumer of the group (waits up to `block_ms`)."""
        self.ensure_group()
        answer = self._call(
            "read",
            self.client.xreadgroup,
            self.group,
            consumer,
            {self.stream: ">"},
            count=count,
            block=block_ms,
        )
        return [self._delivery(entry_id, fields) for entry_id, fields in _entries(answer)]

    def claim_stale(self, consumer: str, *, min_idle_ms: int, count: int = 10) -> list[Delivery]:
        """Take over entries another consumer left pending for at least `min_idle_ms`."""
        self.ensure_group()
        answer = self._call(
            "claim",
            self.client.xautoclaim,
            self.stream,
            self.group,
            consumer,
            min_idle_time=min_idle_ms,
            start_id="0-0",
            count=count,
        )
        claimed = answer[1] if answer else []
        return [self._delivery(entry_id, fields) for entry_id, fields in claimed if fields]

    def ack(self, entry_id: str) -> None:
        self._call("acknowledge", self.client.xack, self.stream, self.group, entry_id)

    def pending(self) -> list[dict[str, Any]]:
        """Pending entries of the group: id, consumer, idle ms, deliveries."""
        rows = self._call(
            "inspect",
            self.client.xpending_range,
            self.stream,
            self.group,
            min="-",
            max="+",
            count=1000,
        )
        return [
            {
                "entry_id": r["message_id"],
                "consumer": r["consumer"],
                "idle_ms": r["time_since_delivered"],
                "deliveries": r["times_delivered"],
            }
            for r in rows
        ]

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move an entry that keeps failing to `<stream>:dead` and acknowledge it."""
        fields = delivery.event.to_fields() if delivery.event else {}
        fields.update(original_id=delivery.entry_id, reason=reason)
        self._call("publish to", self.client.xadd, f"{self.stream}:dead", fields)
        self.ack(delivery.entry_id)

    def _delivery(self, entry_id: str, fields: Mapping[str, str]) -> Delivery:
        deliveries = 1
        rows = self._call(
            "inspect",
            self.client.xpending_range,
            self.stream,
            self.group,
            min=entry_id,
            max=entry_id,
            count=1,
        )
        if rows:
            deliveries = int(rows[0]["times_delivered"])
        try:
            return Delivery(entry_id, Event.from_fields(fields), deliveries)
        except InputError as err:
            return Delivery(entry_id, None, deliveries, error=str(err))

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import redis as redis_lib

        try:
            return fn(*args, **kwargs)
        except (redis_lib.exceptions.ConnectionError, redis_lib.exceptions.TimeoutError) as err:
            raise self._unreachable(err) from err
        except redis_lib.exceptions.ResponseError as err:
            raise OnlineStoreError(
                f"Redis refused to {action} stream {self.stream!r}: {err}",
                where=self._where(),
                hint="check that the key is a stream and the server is Redis 6.2 or newer",
            ) from err

    def _where(self) -> str:
        kw = self.client.connection_pool.connection_kwargs
        return f"{kw.get('host')}:{kw.get('port')}"

    def _unreachable(self, err: BaseException) -> OnlineStoreError:
        return OnlineStoreError(
            f"the events Redis is unreachable: {err}",
            where=self._where(),
            hint=f"start it, or set {EVENTS_REDIS_ENV} (or pass --events-redis) to a running one",
        )


def _entries(answer: Any) -> list[tuple[str, dict[str, str]]]:
    if not answer:
        return []
    # [[stream, [(id, fields), ...]]]; a deleted entry comes back with fields None.
    return [(entry_id, fields) for entry_id, fields in answer[0][1] if fields]
