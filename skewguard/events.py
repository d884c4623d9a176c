"""Trigger events: what a check decided, published for a training pipeline to act on.

An `Event` is published when a check says retrain or block. Sinks:

- `RedisStream`: `XADD` to a stream (default `skewguard:events`, trimmed with
  `MAXLEN ~`). Consumers read it in a consumer group (default `trainers`, created with
  `MKSTREAM` from the start of the stream), so a consumer that was down catches up on
  what was published meanwhile. An entry stays pending until the consumer acknowledges
  it (`XACK`) after it has acted; a consumer restarted under the same name reads its
  own pending entries first, and any consumer can take over the entries of a dead one
  once they have been idle long enough (`XAUTOCLAIM`).
- `FileSink`: one JSON line per event, appended.
- `WebhookSink`: a JSON `POST` with a timeout.

`publish` sends an event to every sink and returns what happened: a failing sink is
counted and reported, never raised, so publishing cannot crash the check that decided.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from skewguard.errors import InputError, OnlineStoreError

if TYPE_CHECKING:
    import redis

    from skewguard.report import Report

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "DEFAULT_STREAM",
    "DEFAULT_GROUP",
    "EVENTS_REDIS_ENV",
    "Event",
    "Delivery",
    "PublishOutcome",
    "RedisStream",
    "FileSink",
    "WebhookSink",
    "event_from_report",
    "publish",
    "redis_client",
]

log = logging.getLogger(__name__)

EVENT_SCHEMA_VERSION = 1
DEFAULT_STREAM = "skewguard:events"
DEFAULT_GROUP = "trainers"
DEFAULT_MAXLEN = 10_000
EVENTS_REDIS_ENV = "SKEWGUARD_EVENTS_REDIS"
TRIGGER_VERDICTS = ("retrain", "block")


@dataclass(frozen=True)
class Event:
    """One trigger. In a stream entry every field is a string; lists and maps are JSON."""

    verdict: str  # "retrain" or "block"
    failing_features: tuple[str, ...]
    failing_checks: Mapping[str, tuple[str, ...]]  # feature -> checks at the verdict
    snapshot_id: str | None  # the training snapshot's content hash
    snapshot_path: str | None
    feature_service: str | None
    serving_path: str  # the serving logs that were checked
    log_window: Mapping[str, str | None]  # {"id", "start", "end"}, ISO times (UTC)
    report_path: str | None
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    source: str = "check"  # "check" or "watch"
    schema_version: int = EVENT_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failing_features"] = list(self.failing_features)
        d["failing_checks"] = {k: list(v) for k, v in self.failing_checks.items()}
        d["log_window"] = dict(self.log_window)
        return d

    def to_fields(self) -> dict[str, str]:
        """The stream entry: flat string fields."""
        out = {}
        for key, value in self.to_dict().items():
            if isinstance(value, list | dict):
                out[key] = json.dumps(value, sort_keys=True)
            else:
                out[key] = "" if value is None else str(value)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        version = int(d.get("schema_version", 0))
        if version != EVENT_SCHEMA_VERSION:
            raise InputError(
                f"unsupported event schema_version {version}",
                where=str(d.get("event_id")),
                hint=f"this skewguard reads version {EVENT_SCHEMA_VERSION}",
            )
        return cls(
            verdict=str(d["verdict"]),
            failing_features=tuple(d.get("failing_features") or ()),
            failing_checks={k: tuple(v) for k, v in (d.get("failing_checks") or {}).items()},
            snapshot_id=d.get("snapshot_id") or None,
            snapshot_path=d.get("snapshot_path") or None,
            feature_service=d.get("feature_service") or None,
            serving_path=str(d["serving_path"]),
            log_window=dict(d.get("log_window") or {}),
            report_path=d.get("report_path") or None,
            event_id=str(d["event_id"]),
            created_at=str(d["created_at"]),
            source=str(d.get("source") or "check"),
            schema_version=version,
        )

    @classmethod
    def from_fields(cls, fields: Mapping[str | bytes, str | bytes]) -> Event:
        def text(v: str | bytes) -> str:
            return v.decode() if isinstance(v, bytes) else v

        raw = {text(k): text(v) for k, v in fields.items()}
        try:
            d: dict[str, Any] = dict(raw)
            for key in ("failing_features", "failing_checks", "log_window"):
                d[key] = json.loads(raw.get(key) or "null")
            return cls.from_dict(d)
        except (KeyError, ValueError) as err:
            raise InputError(
                f"malformed event entry: {err}",
                where=raw.get("event_id", "stream entry"),
                hint="publish events with skewguard (check --publish or watch)",
            ) from err


def event_from_report(
    report: Report,
    *,
    serving_path: str | Path,
    log_window: Mapping[str, str | None],
    report_path: str | Path | None,
    snapshot_path: str | Path | None = None,
    source: str = "check",
) -> Event | None:
    """The event a report triggers (retrain or block), or None for any other verdict.

    Paths are made absolute: the consumer may run elsewhere."""
    verdict = str(report.verdict)
    if verdict not in TRIGGER_VERDICTS:
        return None
    failing: dict[str, tuple[str, ...]] = {}
    for feature in report.features:
        if str(feature.verdict) in TRIGGER_VERDICTS:
            failing[feature.name] = tuple(
                str(c.check) for c in feature.checks if str(c.verdict) in TRIGGER_VERDICTS
            )
    training = dict(report.inputs.get("training") or {})
    snapshot = snapshot_path or training.get("path")
    return Event(
        verdict=verdict,
        failing_features=tuple(failing),
        failing_checks=failing,
        snapshot_id=training.get("content_hash"),
        snapshot_path=str(Path(snapshot).resolve()) if snapshot else None,
        feature_service=training.get("feature_service"),
        serving_path=str(Path(serving_path).resolve()),
        log_window=dict(log_window),
        report_path=str(Path(report_path).resolve()) if report_path else None,
        source=source,
    )


# -- Redis -----------------------------------------------------------------------------


def redis_client(connection_string: str | None = None) -> redis.Redis:
    """A client for "host:port[,password=...][,db=N]" (default: $SKEWGUARD_EVENTS_REDIS,
    then $SKEWGUARD_REDIS, then 127.0.0.1:6379)."""
    import redis as redis_lib

    from skewguard.repo import DEFAULT_REDIS, REDIS_ENV

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


# -- other sinks -----------------------------------------------------------------------


class FileSink:
    """Append each event as one JSON line."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def send(self, event: Event) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(event.to_dict(), sort_keys=True) + "\n")
        return str(self.path)


class WebhookSink:
    """POST each event as JSON; any status other than 2xx is a failure."""

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError(
                f"webhook URL {url!r} is not http(s)", where="--webhook", hint="use http(s)://..."
            )
        self.url = url
        self.timeout = timeout

    def send(self, event: Event) -> str:
        import urllib.request

        request = urllib.request.Request(
            self.url,
            data=json.dumps(event.to_dict(), sort_keys=True).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            status = int(response.status)
        if not 200 <= status < 300:
            raise RuntimeError(f"HTTP {status}")
        return f"{self.url} (HTTP {status})"


class Sink(Protocol):
    name: str

    def send(self, event: Event) -> str: ...


@dataclass(frozen=True)
class PublishOutcome:
    event: Event
    delivered: tuple[tuple[str, str], ...]  # (sink, where: entry id, file, URL)
    failed: tuple[tuple[str, str], ...]  # (sink, error)

    @property
    def ok(self) -> bool:
        return not self.failed


def publish(event: Event, sinks: Sequence[Sink]) -> PublishOutcome:
    """Send `event` to every sink; failures are collected and logged, never raised."""
    delivered, failed = [], []
    for sink in sinks:
        try:
            delivered.append((sink.name, sink.send(event)))
        except Exception as err:  # a sink must never crash the check
            log.warning(
                "skewguard: could not publish event %s to %s: %s", event.event_id, sink.name, err
            )
            failed.append((sink.name, f"{type(err).__name__}: {err}"))
    return PublishOutcome(event, tuple(delivered), tuple(failed))
