"""Poison events: whatever is wrong with an entry, it reaches the dead-letter stream after
`--max-attempts` deliveries and the consumer moves on to the valid events behind it.

Each test runs on a private redis-server (a stream of poison must not reach a real
training pipeline). Training is stubbed (as in test_retrain_consumer.py): the valid
events here are block events, acknowledged without a model, and stubbed retrains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skewguard import cli
from skewguard.checking.policy import load_policy
from skewguard.loop.events import Event
from skewguard.loop.retrain import RetrainConfig, RetrainOutcome, Trainer, consume
from skewguard.loop.stream import RedisStream, redis_client

pytestmark = pytest.mark.fault
STREAM = "sgtest:poison"


def _event(verdict: str = "block", **overrides: Any) -> Event:
    fields: dict[str, Any] = dict(
        verdict=verdict,
        failing_features=("f",),
        failing_checks={"f": ("psi",)},
        snapshot_id="sha256:x",
        snapshot_path="/s",
        feature_service="recommender_v1",
        serving_path="/logs",
        log_window={"id": "2026-11-19"},
        report_path=None,
    )
    fields.update(overrides)
    return Event(**fields)


def _poison(valid: Event) -> dict[str, dict[Any, Any]]:
    good = valid.to_fields()
    return {
        "list where a mapping is expected": {**good, "failing_checks": '["psi"]'},
        "log_window a list": {**good, "log_window": "[1, 2]"},
        "non-UTF-8 value": {**good, "serving_path": b"\xff\xfe/logs"},
        "non-UTF-8 field name": {**good, b"\xc3\x28": b"x"},
        "missing fields": {"verdict": "retrain"},
        "schema_version not a number": {**good, "schema_version": "one"},
        "JSON nested too deep": {**good, "failing_features": "[" * 100_000 + "]" * 100_000},
        "failing_features a number": {**good, "failing_features": "7"},
    }


class StubTrainer(Trainer):
    """Retrains succeed (acknowledged as promotion would); `explode` makes the handling of
    event ids in it raise, as a bug or a full disk would."""

    explode: set[str] = set()

    def _retrain(self, delivery: Any, event: Event) -> RetrainOutcome:
        if event.event_id in self.explode:
            raise KeyError("an exception nobody anticipated")
        self.stream.ack(delivery.entry_id)
        return self._record(delivery, "promoted", "check pass", True, version="v2")


@pytest.fixture()
def stream(private_redis: Any) -> RedisStream:
    return RedisStream(redis_client(private_redis.connection_string), STREAM, "trainers")


def _trainer(stream: RedisStream, models: Path, max_attempts: int) -> StubTrainer:
    config = RetrainConfig(models=models, policy=load_policy(None), max_attempts=max_attempts)
    return StubTrainer(config, stream, say=lambda line: None)


def test_every_poison_event_is_dead_lettered_and_the_valid_ones_are_handled(
    stream: RedisStream, private_redis: Any, tmp_path: Path
) -> None:
    stream.ensure_group()
    poison = _poison(_event())
    for fields in poison.values():
        stream.client.xadd(STREAM, fields)
    exploding = _event("retrain")
    StubTrainer.explode = {exploding.event_id}
    stream.send(exploding)
    valid = [stream.send(_event("block")), stream.send(_event("retrain"))]

    first = consume(_trainer(stream, tmp_path, max_attempts=2), "t1")
    by_entry = {o.entry_id: o for o in first}
    assert [by_entry[e].outcome for e in valid] == ["blocked", "promoted"]  # moved on
    assert {o.outcome for o in first} == {"failed", "blocked", "promoted"}

    second = consume(_trainer(stream, tmp_path, max_attempts=2), "t1")
    assert len(second) == len(poison) + 1
    assert {o.outcome for o in second} == {"dead_letter"}
    assert stream.pending() == []
    assert consume(_trainer(stream, tmp_path, max_attempts=2), "t1") == []

    dead = private_redis.client().xrange(f"{STREAM}:dead")
    assert len(dead) == len(poison) + 1
    reasons = [fields[b"reason"].decode() for _, fields in dead]
    assert any("not UTF-8" in r for r in reasons)
    assert any("KeyError" in r for r in reasons)
    # A poison entry is kept byte for byte for whoever investigates it.
    assert any(fields.get(b"serving_path") == b"\xff\xfe/logs" for _, fields in dead)


def test_retrain_command_dead_letters_poison_and_acknowledges_what_follows(
    stream: RedisStream, private_redis: Any, tmp_path: Path, capsys: Any
) -> None:
    stream.ensure_group()
    for fields in _poison(_event()).values():
        stream.client.xadd(STREAM, fields)
    block = stream.send(_event("block"))
    argv = ["retrain", "--once", "--models", str(tmp_path / "models"), "--max-attempts", "1"]
    argv += ["--events-redis", private_redis.connection_string, "--stream", STREAM]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err  # events were dead-lettered: a step failed
    assert "Traceback" not in err
    assert stream.pending() == []
    journal = [
        json.loads(x) for x in (tmp_path / "models" / "retrain.jsonl").read_text().split("\n") if x
    ]
    assert [j["outcome"] for j in journal if j["entry_id"] == block] == ["blocked"]
    assert len(private_redis.client().xrange(f"{STREAM}:dead")) == len(_poison(_event()))
