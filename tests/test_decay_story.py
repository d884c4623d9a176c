"""The decay story on the real Redis, Feast and an embedded MLflow store (SQLite), per seed:
the concept change lowers v1's measured AUC significantly, the performance event retrains,
version 2 is registered with lineage to the snapshot the retrain built and becomes
champion, and its AUC has recovered. The default seed runs through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import TEST_END, copy_feature_repo

from skewguard.demo.decay import MODEL_NAME, DecayConfig, run_decay
from skewguard.demo.decay_story import CHANGE_DAY

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _repo(tmp_path: Path, tag: str) -> Path:
    return copy_feature_repo(tmp_path / "feature_repo", f"sgdecay_{tag}_{os.getpid()}")


def _teardown(repo: Path) -> None:
    from skewguard.store.repo import open_store

    open_store(repo).teardown()


def _windows(document: dict[str, Any], start: pd.Timestamp, after: bool) -> list[dict]:
    change = start + pd.Timedelta(days=CHANGE_DAY)
    return [w for w in document["windows"] if (pd.Timestamp(w["start"]) >= change) == after]


def _assert_story(out: Path, repo: Path) -> dict[str, Any]:
    from skewguard.loop.registry import Registry
    from skewguard.store.repo import open_store

    story = json.loads((out / "story.json").read_text())
    assert story["holds"], story["problems"]
    v1_doc = json.loads((out / "performance_v1.json").read_text())
    v2_doc = json.loads((out / "performance_v2.json").read_text())
    start = pd.Timestamp(v1_doc["windows"][0]["start"]) - pd.Timedelta(days=14)
    training_auc = v1_doc["training"]["auc"]

    # v1: every day after the change, a significant drop beyond the floor (auc_drop).
    after = _windows(v1_doc, start, after=True)
    assert len(after) == 7
    for w in after:
        assert (w["verdict"], w["cause"]) == ("retrain", "auc_drop"), w["id"]
        assert w["realised"]["auc"]["high"] < training_auc - 0.05
        assert w["labelled"] >= 200 and w["label_delay"]["median_hours"] == pytest.approx(24.0)
        # The estimate assumes calibrated scores: it cannot see a change of concept.
        assert w["estimated"]["auc"]["value"] > w["realised"]["auc"]["value"] + 0.1
    figures = story["figures"]
    assert figures["v1_auc_after_change"] < figures["v1_auc_before_change"] - 0.2

    # The retrain: version 2, lineage to the snapshot it built, champion moved.
    registry = Registry.open(store=open_store(repo))
    champion = registry.champion(MODEL_NAME)
    assert champion is not None and champion.version == "2"
    outcome = story["retrain_outcome"]
    assert outcome["outcome"] == "promoted" and outcome["model_uri"] == champion.uri
    assert outcome["check_verdict"] in ("pass", "warn")
    manifest = json.loads((Path(outcome["snapshot_path"]) / "manifest.json").read_text())
    assert champion.lineage.snapshot_id == manifest["content_hash"]
    assert champion.lineage.snapshot_id == story["retrain_snapshot_hash"]
    assert champion.lineage.snapshot_id != story["v1"]["snapshot_id"]
    assert champion.lineage.gaps() == [] and champion.lineage.event_id
    first = pd.Timestamp(manifest["time_range"]["start"])
    assert first >= start + pd.Timedelta(days=CHANGE_DAY)  # the weeks after the change only
    assert (
        registry.resolve(f"models:/{MODEL_NAME}/1").lineage.snapshot_id
        == story["v1"]["snapshot_id"]
    )

    # v2 recovered: no day drops, and the pooled AUC is back near v1's before the change.
    assert v2_doc["verdict"] in ("pass", "warn")
    assert all(w["verdict"] != "retrain" for w in v2_doc["windows"])
    assert v2_doc["inputs"]["model_version"] == "2"
    assert figures["v2_auc"] > figures["v1_auc_after_change"] + 0.2
    assert figures["v2_auc"] >= figures["v1_auc_before_change"] - 0.05
    assert (out / "history.html").read_text().count("<svg") >= 1
    return story


def test_the_decay_story_holds_through_the_cli(tmp_path: Path, redis_connection: str) -> None:
    from skewguard.cli import main

    repo = _repo(tmp_path, "cli")
    try:
        code = main(["demo", "--scenario", "decay", "--repo", str(repo), "--out", str(tmp_path)])
        assert code == 0
        _assert_story(tmp_path / "decay", repo)
    finally:
        _teardown(repo)


@pytest.mark.parametrize("seed", [11, 23])
def test_the_decay_story_holds_on_other_seeds(
    tmp_path: Path, redis_connection: str, seed: int
) -> None:
    repo = _repo(tmp_path, str(seed))
    try:
        result = run_decay(
            DecayConfig(repo=repo, out=tmp_path, seed=seed, end=TEST_END), say=lambda _: None
        )
        assert result.holds, result.problems
        story = _assert_story(tmp_path / "decay", repo)
        assert story["seed"] == seed
    finally:
        _teardown(repo)


def test_without_a_change_of_concept_the_story_does_not_hold(
    tmp_path: Path, redis_connection: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: the same timeline on a world whose concept never changes. No day after
    day 21 loses AUC, so the demo says the story did not hold (exit 2), and why."""
    repo = _repo(tmp_path, "control")
    try:
        result = run_decay(
            DecayConfig(repo=repo, out=tmp_path, end=TEST_END, drift=None, watch=False),
            say=lambda _: None,
        )
    finally:
        _teardown(repo)
    assert not result.holds
    assert any("no day after the change" in p for p in result.problems), result.problems
