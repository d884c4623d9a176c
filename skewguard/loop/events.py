"""Trigger events: what a check decided, published for a training pipeline to act on.

An `Event` is published when a check says retrain or block. Sinks: the Redis Stream
(`skewguard.loop.stream.RedisStream`), `FileSink` (one JSON line per event, appended) and
`WebhookSink` (a JSON `POST` with a timeout).

`publish` sends an event to every sink and returns what happened: a failing sink is
counted and reported, never raised, so publishing cannot crash the check that decided.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from skewguard.errors import InputError
from skewguard.store.redaction import redact

if TYPE_CHECKING:
    from skewguard.report.model import Report

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "TRIGGER_VERDICTS",
    "Event",
    "PublishOutcome",
    "Sink",
    "FileSink",
    "WebhookSink",
    "event_from_report",
    "publish",
]

log = logging.getLogger(__name__)

EVENT_SCHEMA_VERSION = 1
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
    def from_dict(cls, d: Any) -> Event:
        """The event a JSON object describes; `InputError` for anything else, whatever
        its shape (a list, a wrong type, a missing field): a bad event is refused, never
        a crash of its consumer."""
        if not isinstance(d, Mapping):
            raise _bad("an event must be a JSON object", "event", f"got {type(d).__name__}")
        where = d.get("event_id") if isinstance(d.get("event_id"), str) else "event"
        version = d.get("schema_version", 0)
        if isinstance(version, str) and version.strip().isdigit():
            version = int(version)
        if isinstance(version, bool) or version != EVENT_SCHEMA_VERSION:
            raise InputError(
                f"unsupported event schema_version {str(version)[:20]!r}",
                where=str(where),
                hint=f"this skewguard reads version {EVENT_SCHEMA_VERSION}",
            )
        return cls(
            verdict=_text(d, "verdict", where),
            failing_features=tuple(_texts(d.get("failing_features"), "failing_features", where)),
            failing_checks=_checks(d.get("failing_checks"), where),
            snapshot_id=_optional_text(d, "snapshot_id", where),
            snapshot_path=_optional_text(d, "snapshot_path", where),
            feature_service=_optional_text(d, "feature_service", where),
            serving_path=_text(d, "serving_path", where),
            log_window=_window(d.get("log_window"), where),
            report_path=_optional_text(d, "report_path", where),
            event_id=_text(d, "event_id", where),
            created_at=_text(d, "created_at", where),
            source=_optional_text(d, "source", where) or "check",
            schema_version=EVENT_SCHEMA_VERSION,
        )

    @classmethod
    def from_fields(cls, fields: Mapping[str, str] | Mapping[bytes, bytes]) -> Event:
        """The event of a stream entry (str or bytes fields); `InputError` if it is not one."""
        try:
            raw = {
                _utf8(k, "a field name"): _utf8(v, f"field {_utf8(k, '')!r}")
                for k, v in fields.items()
            }
            d: dict[str, Any] = dict(raw)
            for key in ("failing_features", "failing_checks", "log_window"):
                d[key] = json.loads(raw.get(key) or "null")
            return cls.from_dict(d)
        except InputError:
            raise
        except (ValueError, RecursionError, TypeError, AttributeError) as err:
            raise _bad(
                f"malformed event entry: {type(err).__name__}: {str(err)[:200]}",
                "stream entry",
                "",
            ) from err


def _bad(what: str, where: str, detail: str) -> InputError:
    return InputError(
        what + (f" ({detail})" if detail else ""),
        where=where,
        hint="publish events with skewguard (check --publish or watch)",
    )


def _utf8(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(f"{what or 'a field'} is not UTF-8 text", "stream entry", "") from None
    raise _bad(f"{what or 'a field'} is a {type(value).__name__}, not text", "stream entry", "")


def _text(d: Mapping[str, Any], key: str, where: Any) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(f"the event's {key} is missing or not text", str(where), "")
    return value


def _optional_text(d: Mapping[str, Any], key: str, where: Any) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(f"the event's {key} is not text", str(where), "")
    return value


def _texts(value: Any, key: str, where: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"the event's {key} is not a list of names", str(where), "")
    return list(value)


def _checks(value: Any, where: Any) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad(
            "the event's failing_checks is not a mapping of feature to checks", str(where), ""
        )
    return {str(k): tuple(_texts(v, "failing_checks", where)) for k, v in value.items()}


def _window(value: Any, where: Any) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(v, str) or v is None for v in value.values()
    ):
        raise _bad(
            "the event's log_window is not a mapping of id/start/end to text", str(where), ""
        )
    return {str(k): v for k, v in value.items()}


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

    Paths are made absolute (URIs are kept): the consumer may run elsewhere."""
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
        serving_path=_absolute(serving_path),
        log_window=dict(log_window),
        report_path=str(Path(report_path).resolve()) if report_path else None,
        source=source,
    )


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
            reason = redact(f"{type(err).__name__}: {err}")
            log.warning(
                "skewguard: could not publish event %s to %s: %s", event.event_id, sink.name, reason
            )
            failed.append((sink.name, reason))
    return PublishOutcome(event, tuple(delivered), tuple(failed))


def _absolute(path: str | Path) -> str:
    return str(path) if "://" in str(path) else str(Path(path).resolve())
