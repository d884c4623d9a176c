"""The closed loop on the real Redis and a real MLflow store (embedded SQLite): trend shift
-> retrain event -> consumer retrains, registers with lineage -> champion -> the next check
passes; a killed consumer re-processes its event; a transformation bug blocks and trains
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from loop_fixtures import SERVICE, WINDOW_A, WINDOW_B, LoopWorld, build_loop_world, serve

from skewguard.checking.policy import load_policy
from skewguard.loop.events import event_from_report, publish
from skewguard.loop.registry import Registry
from skewguard.loop.retrain import (
    JOURNAL,
    RetrainConfig,
    Trainer,
    consume,
    register_snapshot_model,
)
from skewguard.loop.stream import RedisStream, redis_client
from skewguard.loop.watch import WatchConfig, read_state, watch_once
from skewguard.store.replay import read_serving_logs, replay

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 21, tzinfo=UTC)  # both log days are over


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, redis_connection: str) -> Iterator[LoopWorld]:
    built = build_loop_world(tmp_path_factory.mktemp("loop"))
    yield built
    built.store.teardown()


@pytest.fixture()
def stream(redis_connection: str, world: LoopWorld) -> Iterator[RedisStream]:
    client = redis_client(redis_connection)
    s = RedisStream(client, world.stream_name(), "trainers")
    yield s
    client.delete(s.stream, f"{s.stream}:dead")
    client.close()


def _replayer(world: LoopWorld):  # noqa: ANN202
    return lambda path: replay(world.store, SERVICE, read_serving_logs(path))


@pytest.fixture(scope="module")
def registry(world: LoopWorld) -> Registry:
    """The embedded MLflow store of the world's repo (<repo>/data/mlflow.db)."""
    return Registry.open(store=world.store)


def _name() -> str:
    return f"sgtest-{uuid.uuid4().hex[:8]}"


def _journal(models: Path) -> list[dict]:
    return [json.loads(line) for line in (models / JOURNAL).read_text().splitlines()]


def test_trend_shift_retrain_promote_then_the_next_check_passes(
    world: LoopWorld, stream: RedisStream, registry: Registry, tmp_path: Path
) -> None:
    policy = load_policy(None)
    models = tmp_path / "models"
    name = _name()
    # Model v1 learned from days 14-28; it is the champion in production.
    v1 = register_snapshot_model(
        registry, world.first_snapshot, models, model_name=name, champion=True
    )
    assert registry.champion(name).version == v1.version == "1"

    def champion_snapshot() -> Path | None:
        champion = registry.champion(name)
        return Path(champion.lineage.snapshot_path) if champion else None

    watch = WatchConfig(
        serving=world.logs,
        state=tmp_path / "watch" / "state.json",
        policy=policy,
        champion_snapshot=champion_snapshot,
        sinks=[stream],
        replayer=_replayer(world),
    )

    # 1. The week after: the check of today's logs against v1's snapshot says retrain.
    (a,) = watch_once(watch, now=NOW)
    assert (a.window.id, a.verdict, a.action) == ("2026-11-19", "retrain", "published")
    report = json.loads(a.report.read_text())
    retrain_features = {f["name"] for f in report["features"] if f["verdict"] == "retrain"}
    assert "product_stats__views_7d" in retrain_features
    assert not any(f["verdict"] == "block" for f in report["features"])
    joined = [
        c for f in report["features"] for c in f["checks"] if c["check"] == "joined_mismatch_rate"
    ]
    assert joined and all(c["verdict"] == "pass" for c in joined)  # online == offline

    # 2. The event is on the stream, for the trainers group.
    assert stream.client.xlen(stream.stream) == 1
    ((entry_id, fields),) = stream.client.xrange(stream.stream)
    assert fields["verdict"] == "retrain" and fields["event_id"] == a.event_id
    assert json.loads(fields["log_window"])["id"] == "2026-11-19"

    # 3. The consumer retrains on the last 14 days, checks, promotes, acknowledges.
    config = RetrainConfig(models=models, policy=policy, repo=world.repo, model_name=name)
    trainer = Trainer(config, stream)
    (outcome,) = consume(trainer, "trainer-1")
    assert outcome.outcome == "promoted", outcome.reason
    assert outcome.check_verdict in ("pass", "warn") and outcome.acknowledged
    assert stream.pending() == []
    champion = registry.champion(name)
    assert champion.uri == outcome.model_uri == f"models:/{name}/2"
    lineage = champion.lineage
    assert lineage.trained_version == outcome.version != v1.lineage.trained_version
    assert lineage.event_id == a.event_id and lineage.gaps() == []
    assert lineage.snapshot_id != report["inputs"]["training"]["content_hash"]
    assert lineage.snapshot_id != v1.lineage.snapshot_id
    snapshot = json.loads((Path(lineage.snapshot_path) / "manifest.json").read_text())
    assert snapshot["content_hash"] == lineage.snapshot_id
    assert snapshot["time_range"]["start"] >= "2026-11-05"  # the recent weeks only
    assert lineage.check_verdict == outcome.check_verdict
    assert lineage.feature_service == SERVICE
    assert set(lineage.feature_views) == {
        "customer_profile",
        "product_stats",
        "customer_product_fit",
    }
    # MLflow holds the run: Feast's tags, parameters, metrics and the artifacts.
    run = registry.client.get_run(champion.run_id)
    assert run.data.tags["feast.feature_service"] == SERVICE
    assert run.data.tags["skewguard.snapshot_id"] == lineage.snapshot_id
    assert run.data.params["label"] == "purchased" and run.data.params["label_days"] == "14.0"
    assert run.data.metrics["auc"] == lineage.metrics["auc"]
    artifacts = {a.path for a in registry.client.list_artifacts(champion.run_id)}
    assert {"feast_features.json", "skewguard", "snapshot", "check"} <= artifacts
    # Feast's resolver names the service from the registered version.
    assert registry.feature_service_of(champion) == SERVICE
    # The champion scores online-shaped rows.
    scorer = registry.load(champion)
    rows = {c: [None] for c in scorer.features}
    assert 0.0 < scorer.predict_proba(rows)[0] < 1.0

    # 4. The next day's logs, checked against the promoted model's snapshot, pass; the
    #    first window is not checked again.
    serve(world, WINDOW_B, part=1)
    (b,) = watch_once(watch, now=NOW)
    assert (b.window.id, b.action) == ("2026-11-20", "none")
    assert b.verdict in ("pass", "warn")
    assert (
        json.loads(b.report.read_text())["inputs"]["training"]["content_hash"]
        == lineage.snapshot_id
    )
    assert watch_once(watch, now=NOW) == []
    assert set(read_state(watch.state)["windows"]) == {"2026-11-19", "2026-11-20"}
    assert stream.client.xlen(stream.stream) == 1  # a pass publishes nothing

    # 5. Cooldown: against the old snapshot both days say retrain; one event, not two.
    held = WatchConfig(
        serving=world.logs,
        state=tmp_path / "held" / "state.json",
        policy=policy,
        training=world.first_snapshot,
        sinks=[stream],
        cooldown=timedelta(hours=48),
    )
    first, second = watch_once(held, now=NOW)
    assert (first.verdict, first.action) == ("retrain", "published")
    assert (second.verdict, second.action) == ("retrain", "cooldown")
    assert stream.client.xlen(stream.stream) == 2


def _retrain_cmd(models: Path, world: LoopWorld, stream: RedisStream, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "skewguard",
        "retrain",
        "--once",
        "--models",
        str(models),
        "--model-name",
        name,
        "--repo",
        str(world.repo),
        "--stream",
        stream.stream,
        "--consumer",
        "trainer-k",
        "--events-redis",
        os.environ["SKEWGUARD_REDIS"],
    ]


def test_a_consumer_killed_mid_way_reprocesses_the_event_after_restart(
    world: LoopWorld, stream: RedisStream, registry: Registry, tmp_path: Path
) -> None:
    from skewguard.checking.pipeline import check

    report = check(world.first_snapshot, world.window("2026-11-19"), load_policy(None))
    event = event_from_report(
        report,
        serving_path=world.window("2026-11-19"),
        log_window={
            "id": "2026-11-19",
            "start": WINDOW_A.isoformat(),
            "end": (WINDOW_A + timedelta(days=1)).isoformat(),
        },
        report_path=None,
    )
    assert event is not None and event.verdict == "retrain"
    assert publish(event, [stream]).ok
    models = tmp_path / "models"
    name = _name()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}

    consumer = subprocess.Popen(
        _retrain_cmd(models, world, stream, name),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            line = consumer.stdout.readline()
            seen.append(line)
            if "claimed entry" in line or not line:
                break
        assert any("claimed entry" in line for line in seen), seen
        os.kill(consumer.pid, 9)  # mid-way: before the snapshot is built
    finally:
        consumer.kill()
        consumer.wait(30)
        consumer.stdout.close()
    (pending,) = stream.pending()
    assert pending["consumer"] == "trainer-k"
    assert registry.champion(name) is None

    restarted = subprocess.run(
        _retrain_cmd(models, world, stream, name),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "delivery 2" in restarted.stdout and "promoted" in restarted.stdout
    assert stream.pending() == []
    assert registry.champion(name).lineage.event_id == event.event_id
    assert [j["outcome"] for j in _journal(models)] == ["promoted"]


def test_a_transformation_bug_blocks_and_trains_nothing(
    world: LoopWorld, stream: RedisStream, registry: Registry, tmp_path: Path
) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from skewguard.checking.pipeline import check

    # The latest materialized product rows, written again online with discount x100 (a
    # percentage where a fraction belongs). Feast's Redis store keeps a stored row whose
    # event time is not older than the new one, so the rewrite is one second newer.
    stats = pq.read_table(world.data.product_stats).to_pandas()
    stats = stats[stats["event_timestamp"] <= world.data.end]
    latest = stats.sort_values("event_timestamp").groupby("product_id").tail(1)
    second = timedelta(seconds=1)
    broken = latest.assign(
        discount=latest["discount"] * 100, event_timestamp=latest["event_timestamp"] + second
    )
    world.store.write_to_online_store("product_stats", broken)
    try:
        logs = tmp_path / "logs"
        serve(world, WINDOW_A + timedelta(hours=6), part=0, log_root=logs)
    finally:  # put the right values back for whatever runs next
        world.store.write_to_online_store(
            "product_stats", latest.assign(event_timestamp=latest["event_timestamp"] + 2 * second)
        )
    served = logs / SERVICE
    assert pc.max(read_serving_logs(served).column("product_stats__discount")).as_py() >= 10

    replayed = replay(world.store, SERVICE, read_serving_logs(served))
    report = check(world.first_snapshot, served, load_policy(None), replayed=replayed)
    assert str(report.verdict) == "block"
    discount = report.feature("product_stats__discount")
    assert str(discount.verdict) == "block"
    assert discount.joined["causes"][0]["cause"] == "scale"

    event = event_from_report(
        report, serving_path=served, log_window={"id": "bug"}, report_path=None
    )
    assert event.verdict == "block" and "product_stats__discount" in event.failing_features
    assert publish(event, [stream]).ok
    models = tmp_path / "models"
    name = _name()
    config = RetrainConfig(
        models=models, policy=load_policy(None), repo=world.repo, model_name=name
    )
    (outcome,) = consume(Trainer(config, stream), "trainer-b")
    assert outcome.outcome == "blocked" and outcome.acknowledged
    assert outcome.reason.startswith("blocked: not retraining")
    assert stream.pending() == []
    assert registry.champion(name) is None
    assert not (models / "snapshots").exists()  # no snapshot built, no model trained
    assert [j["outcome"] for j in _journal(models)] == ["blocked"]
