"""`skewguard performance`: metrics against scikit-learn, label joins, windows, verdicts,
the retrain event, and the CBPE estimate's interval."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import roc_auc_score

from skewguard import cli
from skewguard.checking.performance import (
    PerformanceRule,
    calibration_error,
    estimate,
    expected_auc,
    log_loss,
    roc_auc,
)
from skewguard.loop.performance import PerformanceConfig, evaluate

DAY1 = datetime(2026, 11, 19, tzinfo=UTC)
TRAINING_AUC = 0.84


@given(
    st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.1, 0.2, 0.5, 0.7, 0.9])), min_size=4)
)
@settings(max_examples=60, deadline=None)
def test_auc_and_log_loss_match_scikit_learn(rows: list[tuple[int, float]]) -> None:
    y = np.array([r[0] for r in rows], dtype=float)
    p = np.array([r[1] for r in rows])
    if len(set(y)) < 2:
        assert np.isnan(roc_auc(y, p))
        return
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))  # ties included
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, p, labels=[0, 1]))


def test_calibration_error_is_zero_when_calibrated_and_large_when_not() -> None:
    p = np.repeat([0.1, 0.5, 0.9], 100)
    y = np.concatenate([np.r_[np.ones(10), np.zeros(90)], np.r_[np.ones(50), np.zeros(50)],
                        np.r_[np.ones(90), np.zeros(10)]])  # fmt: skip
    assert calibration_error(y, p) == pytest.approx(0.0)
    assert calibration_error(1 - y, p) == pytest.approx((0.8 + 0.0 + 0.8) / 3)


def test_expected_auc_is_the_mean_of_simulated_realised_aucs() -> None:
    rng = np.random.default_rng(1)
    p = rng.beta(2, 5, 400)
    sims = [roc_auc((rng.random(400) < p).astype(float), p) for _ in range(2000)]
    assert expected_auc(p) == pytest.approx(np.mean(sims), abs=0.005)


def test_the_estimate_covers_the_realised_auc_of_calibrated_scores() -> None:
    rng = np.random.default_rng(7)
    inside = 0
    for trial in range(40):
        p = rng.beta(2, 4, 600)
        y = (rng.random(600) < p).astype(float)
        band = estimate(p, seed=trial)["auc"]
        inside += band.low <= roc_auc(y, p) <= band.high
    assert inside >= 34  # a 95% interval: 38 expected of 40


def _write_world(root: Path, *, degrade_day2: bool) -> tuple[Path, pd.DataFrame]:
    """Two days of predictions (600 a day) and their labels (delayed 6-30 hours): day 1
    as good as training; day 2 with labels that no longer follow the scores."""
    rng = np.random.default_rng(3)
    frames = []
    label_rows = []
    for d in range(2):
        n = 600
        times = [DAY1 + timedelta(days=d, seconds=int(s)) for s in rng.integers(0, 86_000, n)]
        score = rng.beta(0.7, 1.2, n)
        ids = [f"r{d}-{i}" for i in range(n)]
        frame = pd.DataFrame(
            {
                "customer_id": rng.integers(1, 10_000, n),
                "product_id": rng.integers(1, 500, n),
                "__prediction": score,
                "__model_name": "m",
                "__model_version": "1",
                "__log_timestamp": pd.to_datetime(times, utc=True),
                "__request_id": ids,
            }
        )
        frame["__log_date"] = frame["__log_timestamp"].dt.date
        frames.append(frame)
        y = rng.random(n) < (score if not (degrade_day2 and d == 1) else 0.4)
        labels = frame[["__request_id", "customer_id", "product_id"]].copy()
        labels["purchased"] = y.astype("int64")
        labels["event_timestamp"] = frame["__log_timestamp"] + pd.Timedelta(minutes=5)
        labels["label_timestamp"] = frame["__log_timestamp"] + pd.to_timedelta(
            rng.integers(6, 30, n), unit="h"
        )
        label_rows.append(labels)
    folder = root / "recommender_v1__predictions"
    for frame in frames:
        part = folder / frame["__log_date"].iloc[0].isoformat()
        part.mkdir(parents=True)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, part / "part-0.parquet")
    return folder, pd.concat(label_rows, ignore_index=True)


def test_windows_match_scikit_learn_and_a_significant_drop_retrains(tmp_path: Path) -> None:
    predictions, labels = _write_world(tmp_path, degrade_day2=True)
    label_file = tmp_path / "labels.parquet"
    labels.to_parquet(label_file)
    config = PerformanceConfig(
        predictions=predictions, labels=label_file, training={"auc": TRAINING_AUC}
    )
    document = evaluate(config)
    assert document["join"] == "request_id" and document["label_delay_known"]
    first, second = document["windows"]
    frame = pd.concat(
        [pq.read_table(f).to_pandas() for f in sorted(predictions.rglob("*.parquet"))]
    ).merge(labels[["__request_id", "purchased"]], on="__request_id")
    for window, day in ((first, "2026-11-19"), (second, "2026-11-20")):
        rows = frame[frame["__log_date"].astype(str) == day]
        assert window["realised"]["auc"]["value"] == pytest.approx(
            roc_auc_score(rows["purchased"], rows["__prediction"]), abs=1e-6
        )
        assert window["realised"]["log_loss"]["value"] == pytest.approx(
            sk_log_loss(rows["purchased"], rows["__prediction"]), abs=1e-6
        )
        assert window["labelled"] == window["predictions"] == 600
        assert 6 <= window["label_delay"]["median_hours"] <= 30
        low, high = window["realised"]["auc"]["low"], window["realised"]["auc"]["high"]
        assert low < window["realised"]["auc"]["value"] < high
    assert first["verdict"] in ("pass", "warn") and first["cause"] != "auc_drop"
    assert (second["verdict"], second["cause"]) == ("retrain", "auc_drop")
    assert document["verdict"] == "retrain" and document["exit_code"] == 3


def test_labels_join_by_entity_and_time_as_well(tmp_path: Path) -> None:
    predictions, labels = _write_world(tmp_path, degrade_day2=False)
    by_id = tmp_path / "by_id.parquet"
    by_entity = tmp_path / "by_entity.parquet"
    labels.to_parquet(by_id)
    labels.drop(columns=["__request_id"]).to_parquet(by_entity)
    a = evaluate(PerformanceConfig(predictions, by_id, training={"auc": TRAINING_AUC}))
    b = evaluate(PerformanceConfig(predictions, by_entity, training={"auc": TRAINING_AUC}))
    assert b["join"] == "entity_time"
    assert [w["labelled"] for w in b["windows"]] == [w["labelled"] for w in a["windows"]]
    assert [w["realised"]["auc"]["value"] for w in b["windows"]] == pytest.approx(
        [w["realised"]["auc"]["value"] for w in a["windows"]]
    )


def test_without_enough_labels_the_window_is_estimated(tmp_path: Path) -> None:
    predictions, labels = _write_world(tmp_path, degrade_day2=False)
    few = tmp_path / "few.parquet"
    labels.groupby(labels["__request_id"].str[:2]).head(50).to_parquet(few)
    document = evaluate(
        PerformanceConfig(
            predictions, few, training={"auc": 0.95}, rule=PerformanceRule(min_labels=200)
        )
    )
    for window in document["windows"]:
        assert window["labelled"] == 50
        assert window["cause"] == "estimated_auc_drop" and window["verdict"] == "warn"
        assert "an estimate, not a measurement" in window["detail"]
        assert window["estimated"]["auc"]["low"] < window["estimated"]["auc"]["value"]


def test_cli_exit_codes_and_the_retrain_event(tmp_path: Path, capsys) -> None:
    predictions, labels = _write_world(tmp_path, degrade_day2=True)
    label_file = tmp_path / "labels.parquet"
    labels.to_parquet(label_file)
    events = tmp_path / "events.jsonl"
    out = tmp_path / "performance.json"
    argv = ["performance", "--labels", str(label_file), "--predictions", str(predictions)]
    code = cli.main(
        [*argv, "--training-auc", "0.8", "--json", str(out), "--events-file", str(events)]
    )
    assert code == 3
    printed = capsys.readouterr().out
    assert "skewguard performance: RETRAIN (exit 3)" in printed and "(auc_drop)" in printed
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert event["verdict"] == "retrain" and event["source"] == "performance"
    assert event["log_window"]["id"] == "2026-11-20T00:00:00Z"
    assert json.loads(out.read_text())["windows"][1]["verdict"] == "retrain"
    # A floor above the drop: significant, but smaller than what matters: warn, exit 0.
    assert cli.main([*argv, "--training-auc", "0.8", "--auc-floor", "0.5"]) == 0
    assert "auc_drop_below_floor" in capsys.readouterr().out
    assert cli.main([*argv]) == 2  # nothing to compare with
    assert "nothing to compare with" in capsys.readouterr().err
