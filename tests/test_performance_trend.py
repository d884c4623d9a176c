"""The CBPE estimate on the demo's trend shift: the first model (days 14-28) scores the
labelled interactions of the last week, one prediction-log window per day; each day's
realised AUC lies within the estimate's stated interval."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import TEST_END, copy_feature_repo

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SERVICE = "recommender_v1"


@pytest.fixture(scope="module")
def trend(tmp_path_factory: pytest.TempPathFactory, redis_connection: str) -> Iterator[Any]:
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.demo.trend_story import first_training_labels
    from skewguard.loop.model import train
    from skewguard.store.repo import apply_repo, data_dir
    from skewguard.store.snapshot import build_snapshot, filter_time_window

    root = tmp_path_factory.mktemp("trend")
    repo = copy_feature_repo(root / "feature_repo", f"sgtrend_{os.getpid()}")
    data = generate(data_dir(repo), GeneratorConfig(end=TEST_END))
    store = apply_repo(repo)
    labels = pq.read_table(data.interactions)
    first = build_snapshot(store, SERVICE, first_training_labels(labels, data.start), root / "s1")
    last_week = filter_time_window(labels, data.end - timedelta(days=7), data.end, where="labels")
    held_out = build_snapshot(store, SERVICE, last_week, root / "held_out")
    yield root, train(first.path), pq.read_table(held_out.path / "data.parquet").to_pandas()
    store.teardown()


def test_the_estimate_holds_the_realised_auc_of_each_day(trend: Any) -> None:
    from skewguard.loop.performance import PerformanceConfig, evaluate

    root, model, rows = trend
    # What the first model would have logged serving the last week, and the labels.
    frame = pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "product_id": rows["product_id"],
            "__prediction": model.predict_proba(rows),
            "__model_name": "first",
            "__model_version": "1",
            "__log_timestamp": pd.to_datetime(rows["event_timestamp"], utc=True),
            "__request_id": [f"t-{i}" for i in range(len(rows))],
        }
    )
    predictions = root / "predictions"
    predictions.mkdir()
    frame.to_parquet(predictions / "part-0.parquet")
    labels = frame[["__request_id", "customer_id", "product_id"]].assign(
        purchased=rows["purchased"].astype("int64"),
        label_timestamp=frame["__log_timestamp"] + pd.Timedelta(hours=36),
    )
    labels.to_parquet(root / "labels.parquet")
    document = evaluate(
        PerformanceConfig(
            predictions,
            root / "labels.parquet",
            training=model.metadata["metrics"],
        )
    )
    windows = [w for w in document["windows"] if w["labelled"] >= 100]
    assert len(windows) >= 6
    for w in windows:
        realised, estimated = w["realised"]["auc"], w["estimated"]["auc"]
        assert estimated["low"] <= realised["value"] <= estimated["high"], w["id"]
        assert w["label_delay"]["median_hours"] == pytest.approx(36.0)
    spread = np.mean(
        [w["estimated"]["auc"]["high"] - w["estimated"]["auc"]["low"] for w in windows]
    )
    assert spread < 0.35  # an interval that says something at ~150 labels a day
