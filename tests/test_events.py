"""Trigger events on a real Redis Stream: publish, consumer groups, catch-up, re-claim, sinks."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from skewguard.loop.events import Event, FileSink, WebhookSink, publish
from skewguard.loop.stream import RedisStream, redis_client

pytestmark = pytest.mark.redis


def _event(verdict: str = "retrain", **overrides: object) -> Event:
    fields: dict = dict(
        verdict=verdict,
        failing_features=("product_stats__views_7d",),
        failing_checks={"product_stats__views_7d": ("psi", "js_distance")},
        snapshot_id="sha256:abc",
        snapshot_path="/snapshots/v1",
        feature_service="recommender_v1",
        serving_path="/logs/recommender_v1/2026-11-19",
        log_window={
            "id": "2026-11-19",
            "start": "2026-11-19T00:00:00+00:00",
            "end": "2026-11-20T00:00:00+00:00",
        },
        report_path="/reports/2026-11-19.json",
    )
    fields.update(overrides)
    return Event(**fields)


@pytest.fixture()
def stream(redis_connection: str) -> Iterator[RedisStream]:
    client = redis_client(redis_connection)
    name = f"sgtest:events:{uuid.uuid4().hex[:8]}"
    yield RedisStream(client, name, "trainers", maxlen=100)
    client.delete(name, f"{name}:dead")
    client.close()


def test_event_round_trips_through_stream_fields() -> None:
    event = _event()
    fields = event.to_fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert json.loads(fields["failing_features"]) == ["product_stats__views_7d"]
    assert Event.from_fields(fields) == event
    assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_a_consumer_that_was_down_catches_up(stream: RedisStream) -> None:
    stream.ensure_group()  # the group exists before anything is published
    ids = [stream.send(_event(report_path=f"/r/{i}.json")) for i in range(3)]
    got = stream.read_new("late-consumer", count=10)
    assert [d.entry_id for d in got] == ids
    assert [d.event.report_path for d in got] == ["/r/0.json", "/r/1.json", "/r/2.json"]
    assert stream.read_new("late-consumer", count=10) == []  # delivered once to the group


def test_unacknowledged_entries_stay_pending_until_ack(stream: RedisStream) -> None:
    entry = stream.send(_event())
    (delivery,) = stream.read_new("a")
    # "a" restarts under the same name: its own pending entry comes back.
    (again,) = stream.read_own("a")
    assert again.entry_id == entry and again.event == delivery.event
    assert stream.read_own("a", after=entry) == []
    assert [p["consumer"] for p in stream.pending()] == ["a"]
    stream.ack(entry)
    assert stream.pending() == [] and stream.read_own("a") == []


def test_a_dead_consumers_entry_is_claimed_after_idle_time(stream: RedisStream) -> None:
    entry = stream.send(_event())
    stream.read_new("dead")
    assert stream.claim_stale("rescuer", min_idle_ms=60_000) == []  # not idle long enough
    (claimed,) = stream.claim_stale("rescuer", min_idle_ms=0)
    assert claimed.entry_id == entry and claimed.deliveries >= 2
    assert [p["consumer"] for p in stream.pending()] == ["rescuer"]


def test_stream_is_trimmed_to_about_maxlen(stream: RedisStream) -> None:
    stream.maxlen = 10
    for _ in range(300):
        stream.send(_event())
    assert stream.client.xlen(stream.stream) < 300


def test_dead_letter_moves_and_acknowledges(stream: RedisStream) -> None:
    stream.send(_event())
    (delivery,) = stream.read_new("c")
    stream.dead_letter(delivery, "failed 3 times")
    assert stream.pending() == []
    (dead,) = stream.client.xrange(f"{stream.stream}:dead")
    assert dead[1]["reason"] == "failed 3 times" and dead[1]["original_id"] == delivery.entry_id


def test_malformed_entry_is_reported_not_raised(stream: RedisStream) -> None:
    stream.ensure_group()
    stream.client.xadd(stream.stream, {"verdict": "retrain"})
    (delivery,) = stream.read_new("c")
    assert delivery.event is None and "schema_version" in (delivery.error or "")


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 204

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_file_and_webhook_sinks_and_failures_are_counted(tmp_path: Path) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        event = _event("block")
        outcome = publish(
            event,
            [
                FileSink(tmp_path / "events.jsonl"),
                WebhookSink(url),
                WebhookSink("http://127.0.0.1:9/unreachable", timeout=0.5),
            ],
        )
        assert [name for name, _ in outcome.delivered] == ["file", "webhook"]
        assert [name for name, _ in outcome.failed] == ["webhook"] and not outcome.ok
        line = (tmp_path / "events.jsonl").read_text().splitlines()
        assert Event.from_dict(json.loads(line[0])) == event
        assert _Hook.received[-1]["event_id"] == event.event_id
        _Hook.status = 500
        failed = publish(event, [WebhookSink(url)])
        assert failed.failed and "500" in failed.failed[0][1]
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_redis_is_a_failed_sink_not_a_crash() -> None:
    stream = RedisStream(redis_client("127.0.0.1:9"), "x")
    outcome = publish(_event(), [stream])
    assert outcome.failed and "unreachable" in outcome.failed[0][1]
