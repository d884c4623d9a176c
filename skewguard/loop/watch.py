"""Watching serving logs: check every new log window once, publish what the checks decide.

A window is either one `__log_date` partition of the log folder (`<YYYY-MM-DD>/` or
`__log_date=<YYYY-MM-DD>/`), checked once the day is over, or, with `every`, a slice of
`every` minutes of `__log_timestamp`, checked once it has ended. Each window is checked
against the training reference: the snapshot of the champion model (its lineage in the
MLflow registry) when there is one, else the given snapshot. The JSON report goes to the
reports folder.

Retrain and block verdicts publish an event, except during the cooldown: after an event
for a verdict, later windows with the same verdict against the same training snapshot
publish nothing while they start less than `cooldown` after the end of the window that
fired, so one drift fires one trigger, not one per window. A new training snapshot (a promoted
model) starts afresh.

The state file records each window done (verdict, report, event or why none) and the
last trigger per verdict. It is rewritten atomically after every window, so a watcher
killed at any point resumes with the first window not recorded. A window whose check
raised, or whose event reached no sink, is not recorded and is tried again next time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError, SkewguardError
from skewguard.loop.watch_state import read_state, write_state

if TYPE_CHECKING:
    from skewguard.checking.joined import ReplayResult
    from skewguard.checking.policy import Policy
    from skewguard.loop.events import Sink

__all__ = [
    "WindowAction",
    "Window",
    "WatchConfig",
    "WindowOutcome",
    "day_windows",
    "minute_windows",
    "read_state",
    "training_reference",
    "watch_once",
    "state_path_default",
]

_DAY = re.compile(r"^(?:__log_date=)?(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Window:
    id: str
    start: datetime
    end: datetime
    path: Path  # what the check reads: a partition folder or a parquet file

    def as_event_window(self) -> dict[str, str | None]:
        return {"id": self.id, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class WatchConfig:
    serving: Path  # the log folder of one feature service
    state: Path
    policy: Policy
    reports: Path | None = None  # default: <state folder>/reports
    training: Path | None = None  # used while no model has been promoted
    # The champion's snapshot (from its lineage), or None while there is no champion.
    champion_snapshot: Callable[[], Path | None] | None = None
    sinks: Sequence[Sink] = ()
    cooldown: timedelta = timedelta(hours=24)
    every: timedelta | None = None  # None: one window per __log_date partition
    include_open: bool = False  # also check the partition of the current day
    replayer: Callable[[Path], ReplayResult] | None = None

    @property
    def reports_dir(self) -> Path:
        return self.reports or self.state.parent / "reports"


class WindowAction(enum.StrEnum):
    """What watch did after checking one log window."""

    NONE = "none"  # nothing to publish (pass or warn), or no sink configured
    PUBLISHED = "published"  # a retrain or block event reached at least one sink
    COOLDOWN = "cooldown"  # the same trigger fired recently for this snapshot: not again
    UNPUBLISHED = "unpublished"  # no sink took the event; the window is checked again
    ERROR = "error"  # the window could not be checked; it is tried again


@dataclass(frozen=True)
class WindowOutcome:
    window: Window
    verdict: str
    report: Path | None
    action: WindowAction
    event_id: str | None = None
    detail: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


# -- windows ---------------------------------------------------------------------------


def day_windows(serving: Path, *, now: datetime, include_open: bool = False) -> list[Window]:
    """One window per day partition that holds parquet files, oldest first."""
    if not serving.is_dir():
        raise InputError(
            "the serving log folder does not exist",
            where=str(serving),
            hint="point --serving at the feature service's log folder",
        )
    windows = []
    for child in sorted(serving.iterdir()):
        match = _DAY.match(child.name)
        if not match or not child.is_dir() or not any(child.rglob("*.parquet")):
            continue
        day = date.fromisoformat(match.group(1))
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        if end <= now or include_open:
            windows.append(Window(day.isoformat(), start, end, child))
    return sorted(windows, key=lambda w: w.start)


def minute_windows(
    serving: Path, every: timedelta, *, now: datetime, scratch: Path, skip: set[str]
) -> list[Window]:
    """Windows of `every` over `__log_timestamp` that have ended, each written to a file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from skewguard.logschema import LOG_TIMESTAMP

    if every <= timedelta(0):
        raise InputError("--every must be positive", where="--every", hint="pass minutes > 0")
    from skewguard.checking.reading import find_parquet_files

    # A list of files: pyarrow's discovery skips folders such as `__log_date=...`.
    dataset = ds.dataset([str(f) for f in find_parquet_files(serving)], format="parquet")
    times = dataset.to_table(columns=[LOG_TIMESTAMP]).column(LOG_TIMESTAMP)
    if len(times) == 0:
        return []
    step = int(every.total_seconds() * 1_000_000)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    micros = pc.cast(pc.cast(times, pa.timestamp("us", tz="UTC")), pa.int64()).to_numpy()
    windows = []
    for k in sorted({int(m) // step for m in micros}):
        start = epoch + timedelta(microseconds=k * step)
        end = start + every
        window_id = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        if end > now or window_id in skip:
            continue
        ts = ds.field(LOG_TIMESTAMP)
        rows = dataset.to_table(
            filter=(ts >= pa.scalar(start, pa.timestamp("us", tz="UTC")))
            & (ts < pa.scalar(end, pa.timestamp("us", tz="UTC")))
        )
        path = scratch / f"{window_id.replace(':', '')}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, path)
        windows.append(Window(window_id, start, end, path))
    return windows


# -- training reference -------------------------------------------------------------


def training_reference(config: WatchConfig) -> Path:
    """The snapshot windows are checked against: the champion's, else `training`."""
    if config.champion_snapshot is not None:
        snapshot = config.champion_snapshot()
        if snapshot is not None:
            return snapshot
    if config.training is None:
        raise InputError(
            "no training reference: no model has been promoted and no snapshot was given",
            where="watch",
            hint="pass --training SNAPSHOT (used until `skewguard retrain` promotes a model)",
        )
    return config.training


def _in_cooldown(
    state: dict[str, Any], verdict: str, snapshot_id: Any, window: Window, cooldown: timedelta
) -> bool:
    last = state["last_trigger"].get(verdict)
    if not last or last.get("snapshot_id") != snapshot_id:
        return False
    return window.start < datetime.fromisoformat(last["window_end"]) + cooldown


# -- one pass --------------------------------------------------------------------------


def watch_once(
    config: WatchConfig,
    *,
    now: datetime | None = None,
    say: Callable[[str], None] = print,
) -> list[WindowOutcome]:
    """Check every window not yet done, oldest first; returns what happened to each."""
    from skewguard.checking.pipeline import check
    from skewguard.loop.events import event_from_report, publish
    from skewguard.report.model import write_json

    moment = now or datetime.now(UTC)
    state = read_state(config.state)
    done = set(state["windows"])
    if config.every is not None:
        scratch = config.state.parent / "windows"
        windows = minute_windows(
            config.serving, config.every, now=moment, scratch=scratch, skip=done
        )
    else:
        windows = day_windows(config.serving, now=moment, include_open=config.include_open)
    outcomes = []
    for window in windows:
        if window.id in done:
            continue
        try:
            training = training_reference(config)
            replayed = config.replayer(window.path) if config.replayer else None
            report = check(training, window.path, config.policy, replayed=replayed)
        except SkewguardError as err:
            say(f"window {window.id}: error: {err}")
            outcomes.append(
                WindowOutcome(window, "error", None, WindowAction.ERROR, detail=str(err))
            )
            continue
        report_path = config.reports_dir / f"{window.id.replace(':', '')}.json"
        write_json(report, report_path)
        verdict = str(report.verdict)
        snapshot_id = report.inputs["training"].get("content_hash")
        record: dict[str, Any] = {
            "verdict": verdict,
            "report": str(report_path),
            "training": str(training),
            "snapshot_id": snapshot_id,
            "checked_at": datetime.now(UTC).isoformat(),
            "event_id": None,
            "action": WindowAction.NONE,
        }
        event = event_from_report(
            report,
            serving_path=window.path,
            log_window=window.as_event_window(),
            report_path=report_path,
            snapshot_path=training,
            source="watch",
        )
        detail = None
        if event is not None and _in_cooldown(state, verdict, snapshot_id, window, config.cooldown):
            record["action"] = WindowAction.COOLDOWN
            last = state["last_trigger"][verdict]
            detail = f"cooldown: {verdict} event {last['event_id']} fired for {last['window']}"
        elif event is not None and config.sinks:
            outcome = publish(event, config.sinks)
            record["event_id"] = event.event_id
            record["delivered"] = [list(d) for d in outcome.delivered]
            record["failed"] = [list(f) for f in outcome.failed]
            if not outcome.delivered:
                say(
                    f"window {window.id}: {verdict}, but the event reached no sink: "
                    f"{outcome.failed}; the window is checked again next time"
                )
                outcomes.append(
                    WindowOutcome(
                        window,
                        verdict,
                        report_path,
                        WindowAction.UNPUBLISHED,
                        event.event_id,
                        str(outcome.failed),
                        record,
                    )
                )
                continue
            record["action"] = WindowAction.PUBLISHED
            state["last_trigger"][verdict] = {
                "window": window.id,
                "window_end": window.end.isoformat(),
                "snapshot_id": snapshot_id,
                "event_id": event.event_id,
            }
        state["windows"][window.id] = record
        write_state(config.state, state)
        say(
            f"window {window.id}: {verdict.upper()} ({record['action']}"
            + (f" {record['event_id']}" if record["event_id"] else "")
            + (f"; {detail}" if detail else "")
            + f") report {report_path}"
        )
        outcomes.append(
            WindowOutcome(
                window, verdict, report_path, record["action"], record["event_id"], detail, record
            )
        )
    return outcomes


def state_path_default(serving: Path) -> Path:
    """Where the state lives when --state is not given: beside the log folder."""
    return serving.parent / f".skewguard-watch-{serving.name}" / "state.json"
