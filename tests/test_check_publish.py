"""check --publish / --events-file / --webhook: events on retrain and block, verdict unchanged."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pyarrow.compute as pc
import pytest
from check_fixtures import replace_column, write_serving, write_training

from skewguard.cli import main
from skewguard.loop.events import Event
from skewguard.loop.stream import redis_client


def _shifted(values: dict) -> dict:
    aov = values["customer_stats__avg_order_value"]
    return replace_column(values, "customer_stats__avg_order_value", pc.add(aov, 10.0))


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    snapshot = write_training(tmp_path / "snap", 2000)
    clean = write_serving(tmp_path / "clean", 1000)
    drifted = write_serving(tmp_path / "drifted", 1000, transform=_shifted, parts=2)
    return snapshot, clean, drifted


def test_retrain_appends_an_event_with_the_report_and_window(tmp_path: Path, inputs) -> None:
    snapshot, clean, drifted = inputs
    events = tmp_path / "events.jsonl"
    report = tmp_path / "report.json"
    common = ["check", "-q", "--training", str(snapshot), "--events-file", str(events)]
    assert main([*common, "--serving", str(clean)]) == 0
    assert not events.exists()  # a pass publishes nothing
    assert main([*common, "--serving", str(drifted), "--json", str(report)]) == 3
    (line,) = events.read_text().splitlines()
    event = Event.from_dict(json.loads(line))
    assert event.verdict == "retrain" and event.source == "check"
    assert event.failing_features == ("customer_stats__avg_order_value",)
    assert "psi" in event.failing_checks["customer_stats__avg_order_value"]
    assert event.report_path == str(report.resolve())
    assert event.serving_path == str(drifted.resolve())
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert event.snapshot_id == manifest["content_hash"]
    assert event.log_window["id"] == "drifted"
    assert event.log_window["start"] < event.log_window["end"]


@pytest.mark.redis
def test_publish_to_the_stream(redis_connection: str, inputs, capsys) -> None:
    snapshot, _, drifted = inputs
    stream = f"sgtest:check:{uuid.uuid4().hex[:8]}"
    client = redis_client(redis_connection)
    try:
        code = main(
            [
                "check",
                "--training",
                str(snapshot),
                "--serving",
                str(drifted),
                "--publish",
                "--events-redis",
                redis_connection,
                "--stream",
                stream,
            ]
        )
        assert code == 3
        assert "retrain event" in capsys.readouterr().out
        ((_, fields),) = client.xrange(stream)
        assert fields["verdict"] == "retrain"
        assert {g["name"] for g in client.xinfo_groups(stream)} == {"trainers"}
    finally:
        client.delete(stream)
        client.close()


def test_a_sink_that_fails_changes_nothing_but_says_so(inputs, capsys) -> None:
    snapshot, _, drifted = inputs
    code = main(
        [
            "check",
            "-q",
            "--training",
            str(snapshot),
            "--serving",
            str(drifted),
            "--publish",
            "--events-redis",
            "127.0.0.1:9",
            "--stream",
            "sgtest:down",
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "warning: could not publish the retrain event to redis" in err
