"""skewguard and Feast's own monitoring on the same repo (docs/feast.md).

Feast's `MonitoringService` (what `feast monitor run --source-type log` runs) reads the
serving logs skewguard writes; `skewguard snapshot --feast-baseline` saves the training
snapshot's metrics as the baseline Feast's monitoring API returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from skewguard import cli

SERVICE = "recommender_v1"


def test_snapshot_becomes_feasts_monitoring_baseline(small_repo: Any, tmp_path: Path) -> None:
    from feast.monitoring.monitoring_service import MonitoringService

    from skewguard.store.repo import open_store

    labels = small_repo.path / "data" / "interactions.parquet"
    argv = ["snapshot", "--repo", str(small_repo.path), "--labels", str(labels)]
    assert cli.main([*argv, "--out", str(tmp_path / "snap"), "--feast-baseline"]) == 0
    rows = pq.read_metadata(tmp_path / "snap" / "data.parquet").num_rows

    store = open_store(small_repo.path)
    baseline = MonitoringService(store).get_baseline(store.project)
    measured = {(r["feature_view_name"], r["feature_name"]) for r in baseline}
    assert ("product_stats", "price") in measured
    assert ("customer_product_fit", "price_vs_aov") in measured
    assert ("customer_profile", "recent_categories") not in measured  # arrays: not by Feast
    assert len(measured) == 14
    for row in baseline:
        assert row["is_baseline"] and row["data_source_type"] == "batch"
        assert row["granularity"] == "baseline" and row["row_count"] == rows
    price = next(r for r in baseline if r["feature_name"] == "price")
    values = pq.read_table(tmp_path / "snap" / "data.parquet").column("product_stats__price")
    assert price["mean"] == pytest.approx(values.to_pandas().mean())


def test_feast_monitoring_reads_skewguards_serving_logs(small_repo: Any) -> None:
    from feast.monitoring.monitoring_service import MonitoringService

    from skewguard.serving.logger import FeatureLogger
    from skewguard.store.repo import open_store

    store = open_store(small_repo.path)
    with FeatureLogger(store) as logger:
        for i in range(60):
            logger.get_online_features(SERVICE, [{"customer_id": i + 1, "product_id": i % 30 + 1}])
        folder = logger.layout(SERVICE).folder
    assert folder is not None
    logged = pq.ParquetDataset(folder).read().num_rows

    monitoring = MonitoringService(store)
    result = monitoring.auto_compute_log_metrics(store.project, feature_service_name=SERVICE)
    assert result["status"] == "completed"
    daily = monitoring.get_feature_metrics(
        store.project, feature_service_name=SERVICE, granularity="daily", data_source_type="log"
    )
    by_feature = {(r["feature_view_name"], r["feature_name"]): r for r in daily}
    assert by_feature[("product_stats", "price")]["row_count"] == logged
    assert by_feature[("customer_product_fit", "price_vs_aov")]["row_count"] == logged
