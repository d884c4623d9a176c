"""The retrain consumer's delivery rules on a real Redis Stream (training stubbed out)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from skewguard.checking.policy import load_policy
from skewguard.loop.events import Event
from skewguard.loop.retrain import JOURNAL, RetrainConfig, RetrainOutcome, Trainer, consume
from skewguard.loop.stream import RedisStream, redis_client

pytestmark = pytest.mark.redis


class StubTrainer(Trainer):
    """Fails its first `failures` retrains, then succeeds (acknowledging, as promotion does)."""

    failures = 0
    rejected = False

    def _retrain(self, delivery, event) -> RetrainOutcome:  # noqa: ANN001
        if self.failures:
            type(self).failures -= 1
            if self.rejected:
                return self._failed(
                    delivery,
                    "not promoted: check says retrain",
                    check_verdict="retrain",
                    version="v",
                )
            raise RuntimeError("the offline store is down")
        self.stream.ack(delivery.entry_id)
        return self._record(delivery, "promoted", "check pass", True, version="v2")


def _event(verdict: str = "retrain") -> Event:
    return Event(
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


@pytest.fixture()
def stream(redis_connection: str) -> Iterator[RedisStream]:
    client = redis_client(redis_connection)
    s = RedisStream(client, f"sgtest:retrain:{uuid.uuid4().hex[:8]}", "trainers")
    yield s
    client.delete(s.stream, f"{s.stream}:dead")
    client.close()


def _trainer(stream: RedisStream, models: Path, **kw: object) -> StubTrainer:
    config = RetrainConfig(models=models, policy=load_policy(None), **kw)
    return StubTrainer(config, stream, say=lambda line: None)


def test_a_failure_leaves_the_event_pending_then_retries_then_dead_letters(
    stream: RedisStream, tmp_path: Path
) -> None:
    StubTrainer.failures, StubTrainer.rejected = 5, False
    stream.send(_event())
    trainer = _trainer(stream, tmp_path)
    (first,) = consume(trainer, "t1")  # once: handled one time per run
    assert (first.outcome, first.acknowledged) == ("failed", False)
    assert "the offline store is down; left pending" in first.reason
    (second,) = consume(trainer, "t1")  # restarted under the same name
    assert second.outcome == "failed" and len(stream.pending()) == 1
    (third,) = consume(trainer, "t1")
    assert third.outcome == "dead_letter" and third.acknowledged
    assert stream.pending() == []
    (dead,) = stream.client.xrange(f"{stream.stream}:dead")
    assert "offline store is down" in dead[1]["reason"]
    journal = [json.loads(x) for x in (tmp_path / JOURNAL).read_text().splitlines()]
    assert [j["outcome"] for j in journal] == ["failed", "failed", "dead_letter"]


def test_a_rejected_model_is_not_acknowledged(stream: RedisStream, tmp_path: Path) -> None:
    StubTrainer.failures, StubTrainer.rejected = 1, True
    stream.send(_event())
    (outcome,) = consume(_trainer(stream, tmp_path), "t1")
    assert (outcome.outcome, outcome.check_verdict, outcome.acknowledged) == (
        "rejected",
        "retrain",
        False,
    )
    (again,) = consume(_trainer(stream, tmp_path), "t1")
    assert again.outcome == "promoted" and stream.pending() == []


def test_another_consumer_takes_over_an_idle_event(stream: RedisStream, tmp_path: Path) -> None:
    StubTrainer.failures = 0
    stream.send(_event())
    stream.read_new("crashed")  # delivered, never acknowledged
    patient = _trainer(stream, tmp_path, claim_idle=timedelta(minutes=5))
    assert consume(patient, "t2") == []  # not idle long enough yet
    eager = _trainer(stream, tmp_path, claim_idle=timedelta(0))
    (outcome,) = consume(eager, "t2")
    assert outcome.outcome == "promoted" and stream.pending() == []


def test_block_events_are_acknowledged_without_training(
    stream: RedisStream, tmp_path: Path
) -> None:
    StubTrainer.failures = 99  # training would fail: it must not be reached
    stream.send(_event("block"))
    stream.send(_event("retrain"))
    stream.client.xadd(stream.stream, {"verdict": "retrain"})  # malformed
    outcomes = consume(_trainer(stream, tmp_path, max_attempts=1), "t3")
    assert [o.outcome for o in outcomes] == ["blocked", "dead_letter", "dead_letter"]
    assert outcomes[0].reason.startswith("blocked: not retraining")
    assert stream.pending() == []
