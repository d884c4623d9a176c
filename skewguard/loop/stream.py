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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skewguard.errors import OnlineStoreError
from skewguard.loop.events import Event
from skewguard.store.connection import (
    REDIS_ENV,
    RedisTarget,
    derive_client,
    resolve_target,
    target_of,
)
from skewguard.store.redaction import redact

if TYPE_CHECKING:
    import redis

__all__ = [
    "DEFAULT_STREAM",
    "DEFAULT_GROUP",
    "DEFAULT_MAXLEN",
    "EVENTS_REDIS_ENV",
    "Delivery",
    "RedisStream",
    "events_target",
    "redis_client",
]

DEFAULT_STREAM = "skewguard:events"
DEFAULT_GROUP = "trainers"
DEFAULT_MAXLEN = 10_000
EVENTS_REDIS_ENV = "SKEWGUARD_EVENTS_REDIS"
_SOURCE = f"--events-redis / ${EVENTS_REDIS_ENV}"


def events_target(connection_string: str | None = None) -> RedisTarget:
    """The events Redis: `connection_string` (--events-redis), else $SKEWGUARD_EVENTS_REDIS,
    then $SKEWGUARD_REDIS, then 127.0.0.1:6379; any form the connection helper reads."""
    return resolve_target(
        connection_string, env=(EVENTS_REDIS_ENV, REDIS_ENV), flag="--events-redis"
    )


def redis_client(connection_string: str | None = None) -> redis.Redis:
    """A client of the events Redis (see `events_target`) that decodes replies to str."""
    return events_target(connection_string).client(decode_responses=True)


@dataclass(frozen=True)
class Delivery:
    """A stream entry handed to a consumer: the entry id, the event, how often delivered."""

    entry_id: str
    event: Event | None  # None: the entry could not be parsed (see `error`)
    deliveries: int
    error: str | None = None
    raw: Mapping[bytes, bytes] = field(default_factory=dict, repr=False)  # the entry as stored


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
        target: RedisTarget | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.maxlen = maxlen
        self.target = target or target_of(client, source=_SOURCE)
        # Entries are read undecoded: a field that is not UTF-8 must make its entry a
        # poison event (dead-lettered), not make every read of the stream fail.
        self._raw = derive_client(client, decode_responses=False)
        self._blocking: dict[int, redis.Redis] = {}

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
                raise self._error(err, "create the consumer group of") from err
        except redis_lib.exceptions.RedisError as err:
            raise self._error(err, "create the consumer group of") from err

    def read_own(self, consumer: str, *, after: str = "0", count: int = 1) -> list[Delivery]:
        """Entries delivered to this consumer and not yet acknowledged, with ids > `after`
        (what a consumer restarted under the same name resumes with)."""
        self.ensure_group()
        answer = self._call(
            "read", self._raw.xreadgroup, self.group, consumer, {self.stream: after}, count=count
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
            self._raw.xclaim,
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
            self._reader(block_ms).xreadgroup,
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
            self._raw.xautoclaim,
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
        """Move an entry that keeps failing to `<stream>:dead`, as it was stored (its bytes
        unchanged, a poison entry included) plus `original_id` and `reason`; then ack it."""
        fields: dict[Any, Any] = dict(delivery.raw) if delivery.raw else {}
        if not fields and delivery.event is not None:
            fields = dict(delivery.event.to_fields())
        fields[b"original_id"] = delivery.entry_id.encode()
        fields[b"reason"] = redact(reason).encode()
        self._call(
            "publish to",
            self._raw.xadd,
            f"{self.stream}:dead",
            fields,
            maxlen=self.maxlen,
            approximate=True,
        )
        self.ack(delivery.entry_id)

    def _delivery(self, entry_id: bytes | str, fields: Mapping[Any, Any]) -> Delivery:
        entry = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        deliveries = 1
        rows = self._call(
            "inspect",
            self.client.xpending_range,
            self.stream,
            self.group,
            min=entry,
            max=entry,
            count=1,
        )
        if rows:
            deliveries = int(rows[0]["times_delivered"])
        raw = {_as_bytes(k): _as_bytes(v) for k, v in fields.items()}
        try:
            return Delivery(entry, Event.from_fields(raw), deliveries, raw=raw)
        except Exception as err:  # any unreadable entry is a poison event, never a crash
            return Delivery(entry, None, deliveries, error=redact(err), raw=raw)

    def _reader(self, block_ms: int | None) -> redis.Redis:
        """The raw client, or for a blocking read one whose read timeout outlasts the block."""
        if not block_ms:
            return self._raw
        if block_ms not in self._blocking:
            timeout = block_ms / 1000 + self.target.read_timeout
            self._blocking[block_ms] = derive_client(self._raw, socket_timeout=timeout)
        return self._blocking[block_ms]

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import redis as redis_lib

        try:
            return fn(*args, **kwargs)
        except redis_lib.exceptions.RedisError as err:
            raise self._error(err, action) from err

    def _error(self, err: BaseException, action: str) -> OnlineStoreError:
        from skewguard.store.redis_errors import Fault, classify, online_store_error

        found = online_store_error(err, self.target, f"{action} stream {self.stream!r}")
        if classify(err) is Fault.REFUSED:
            return OnlineStoreError(
                found.what,
                where=found.where,
                hint="check that the key is a stream and the server is Redis 6.2 or newer",
            )
        if classify(err) is Fault.UNREACHABLE:
            return OnlineStoreError(
                f"the events Redis is unreachable: {redact(err)}",
                where=found.where,
                hint=f"start it, or set {EVENTS_REDIS_ENV} (or pass --events-redis) to a "
                "running one",
            )
        return found


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _entries(answer: Any) -> list[tuple[Any, dict[Any, Any]]]:
    if not answer:
        return []
    # [[stream, [(id, fields), ...]]]; a deleted entry comes back with fields None.
    return [(entry_id, fields) for entry_id, fields in answer[0][1] if fields]
