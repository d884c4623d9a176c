"""skewguard watch: one check per closed log window, cooldown, resume from the state file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from check_fixtures import replace_column, serving_table, write_training

from skewguard.checking.policy import load_policy
from skewguard.cli import main
from skewguard.loop.events import FileSink
from skewguard.loop.stream import RedisStream, redis_client
from skewguard.loop.watch import WatchConfig, _in_cooldown, day_windows, read_state, watch_once

DAYS = ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"]
NOW = datetime(2026, 11, 13, 12, tzinfo=UTC)  # the last day is still open


def _shifted(values: dict) -> dict:
    aov = values["customer_stats__avg_order_value"]
    return replace_column(values, "customer_stats__avg_order_value", pc.add(aov, 10.0))


@pytest.fixture()
def world(tmp_path: Path) -> tuple[Path, Path]:
    snapshot = write_training(tmp_path / "snapshot", 2000)
    logs = tmp_path / "logs"
    for i, day in enumerate(DAYS):
        table = serving_table(800, seed=10 + i, transform=_shifted if i else None)
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        stamps = pa.array(
            [start + timedelta(seconds=30 * k) for k in range(table.num_rows)],
            pa.timestamp("us", tz="UTC"),
        )
        table = table.set_column(
            table.column_names.index("__log_timestamp"), "__log_timestamp", stamps
        )
        (logs / day).mkdir(parents=True)
        pq.write_table(table, logs / day / "part-0.parquet")
    return snapshot, logs


def _config(tmp_path: Path, world: tuple[Path, Path], **kw: object) -> WatchConfig:
    snapshot, logs = world
    defaults = dict(
        serving=logs,
        state=tmp_path / "w" / "state.json",
        policy=load_policy(None),
        training=snapshot,
        sinks=[FileSink(tmp_path / "events.jsonl")],
    )
    defaults.update(kw)
    return WatchConfig(**defaults)


def _events(tmp_path: Path) -> list[dict]:
    path = tmp_path / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_day_windows_are_closed_days_with_parquet_files(world: tuple[Path, Path]) -> None:
    _, logs = world
    (logs / "2026-11-09").mkdir()  # empty: not a window
    (logs / "notes").mkdir()
    assert [w.id for w in day_windows(logs, now=NOW)] == DAYS[:3]
    assert [w.id for w in day_windows(logs, now=NOW, include_open=True)] == DAYS
    (logs / DAYS[0]).rename(logs / f"__log_date={DAYS[0]}")  # hive naming works too
    assert day_windows(logs, now=NOW)[0].id == DAYS[0]


def test_each_window_once_with_one_event_per_drift(tmp_path: Path, world) -> None:
    config = _config(tmp_path, world)
    outcomes = watch_once(config, now=NOW)
    assert [(o.window.id, o.verdict, o.action) for o in outcomes] == [
        ("2026-11-10", "pass", "none"),
        ("2026-11-11", "retrain", "published"),
        ("2026-11-12", "retrain", "cooldown"),  # same drift, same snapshot, within 24 h
    ]
    (event,) = _events(tmp_path)
    assert event["verdict"] == "retrain" and event["source"] == "watch"
    assert event["failing_features"] == ["customer_stats__avg_order_value"]
    assert event["log_window"] == {
        "id": "2026-11-11",
        "start": "2026-11-11T00:00:00+00:00",
        "end": "2026-11-12T00:00:00+00:00",
    }
    assert event["report_path"] == str(outcomes[1].report.resolve())
    assert json.loads(outcomes[1].report.read_text())["verdict"] == "retrain"
    assert watch_once(config, now=NOW) == []  # nothing new
    (last,) = watch_once(config, now=NOW + timedelta(days=1))  # the day is over now
    assert (last.window.id, last.action) == ("2026-11-13", "published")  # cooldown over
    state = read_state(config.state)
    assert set(state["windows"]) == set(DAYS)
    assert state["last_trigger"]["retrain"]["window"] == "2026-11-13"


def test_no_cooldown_publishes_every_window(tmp_path: Path, world) -> None:
    outcomes = watch_once(_config(tmp_path, world, cooldown=timedelta(0)), now=NOW)
    assert [o.action for o in outcomes] == ["none", "published", "published"]
    assert len(_events(tmp_path)) == 2


def test_cooldown_is_per_training_snapshot() -> None:
    from skewguard.loop.watch import Window

    state = {
        "last_trigger": {
            "retrain": {
                "window": "d1",
                "snapshot_id": "sha256:a",
                "window_end": "2026-11-11T00:00:00+00:00",
            }
        }
    }
    day = datetime(2026, 11, 11, tzinfo=UTC)
    w = Window("d3", day + timedelta(days=1), day + timedelta(days=2), Path("x"))
    assert _in_cooldown(state, "retrain", "sha256:a", w, timedelta(hours=48))
    assert not _in_cooldown(state, "retrain", "sha256:a", w, timedelta(hours=24))
    assert not _in_cooldown(state, "retrain", "sha256:b", w, timedelta(hours=48))  # new model
    assert not _in_cooldown(state, "block", "sha256:a", w, timedelta(hours=48))


def test_a_watcher_stopped_mid_run_resumes_with_the_next_window(tmp_path: Path, world) -> None:
    config = _config(tmp_path, world)

    def stop_after_first(line: str) -> None:
        raise KeyboardInterrupt  # killed right after the first window was recorded

    with pytest.raises(KeyboardInterrupt):
        watch_once(config, now=NOW, say=stop_after_first)
    assert list(read_state(config.state)["windows"]) == ["2026-11-10"]
    assert not list(config.state.parent.glob(".state.json.tmp*"))  # atomic writes
    resumed = watch_once(config, now=NOW)
    assert [o.window.id for o in resumed] == ["2026-11-11", "2026-11-12"]


def test_an_event_that_reaches_no_sink_is_retried(tmp_path: Path, world) -> None:
    down = RedisStream(redis_client("127.0.0.1:9"), "sgtest:down")
    config = _config(tmp_path, world, sinks=[down])
    outcomes = watch_once(config, now=NOW)
    assert [o.action for o in outcomes] == ["none", "unpublished", "unpublished"]
    assert list(read_state(config.state)["windows"]) == ["2026-11-10"]
    again = watch_once(_config(tmp_path, world), now=NOW)  # the sink works again
    assert [(o.window.id, o.action) for o in again] == [
        ("2026-11-11", "published"),
        ("2026-11-12", "cooldown"),
    ]


def test_minute_windows(tmp_path: Path, world) -> None:
    config = _config(tmp_path, world, every=timedelta(hours=6))
    outcomes = watch_once(config, now=NOW)
    # 800 rows 30 s apart span 6 h 40 min of each day: a full window and a small one.
    ids = [o.window.id for o in outcomes]
    assert ids[:2] == ["2026-11-10T00:00:00Z", "2026-11-10T06:00:00Z"]
    assert outcomes[0].verdict == "pass" and outcomes[1].verdict == "insufficient_data"
    assert all(o.window.end <= NOW for o in outcomes)
    assert watch_once(config, now=NOW) == []


def test_cli_once_exit_codes_and_resume(tmp_path: Path, world, capsys) -> None:
    snapshot, logs = world
    args = [
        "watch",
        "--once",
        "--serving",
        str(logs),
        "--training",
        str(snapshot),
        "--state",
        str(tmp_path / "s.json"),
        "--events-file",
        str(tmp_path / "e.jsonl"),
        "--include-open",
    ]
    assert main(args) == 3  # retrain among the windows checked
    out = capsys.readouterr().out
    assert "window 2026-11-11: RETRAIN (published" in out
    assert "window 2026-11-12: RETRAIN (cooldown" in out
    assert main(args) == 0
    assert "no new window" in capsys.readouterr().out
    assert main(["watch", "--once", "--serving", str(logs)]) == 2  # nothing to check against
