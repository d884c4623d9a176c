"""A training snapshot as Feast's monitoring baseline, where Feast's UI shows it.

`feast monitor run --set-baseline` takes its baseline from every row of the batch sources;
the model, though, was trained on a snapshot. `write_feast_baseline` computes Feast's own
feature metrics (`feast.monitoring.metrics_calculator.MetricsCalculator`: row and null
counts, mean, stddev, min, max, p50-p99, a 20-bin histogram or the top categories) over
the snapshot's rows and saves them through the offline store's monitoring API as the
baseline of each feature view (`data_source_type` "batch", `granularity` "baseline",
`metric_date` the snapshot's last label day), replacing the view's previous baseline. Feast's
monitoring API (`/monitoring/metrics/baseline`) and UI then compare serving-log metrics
(`feast monitor run --source-type log`) with what the model was trained on.

Features Feast's monitoring does not measure (arrays) are left out, as Feast leaves them out.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = ["BaselineWritten", "write_feast_baseline"]


@dataclass(frozen=True)
class BaselineWritten:
    views: dict[str, list[str]]  # feature view -> features with a baseline
    skipped: list[str]  # snapshot columns Feast's monitoring does not measure
    metric_date: date
    rows: int


def write_feast_baseline(store: FeatureStore, snapshot: str | Path) -> BaselineWritten:
    """Save the snapshot's feature metrics as Feast's monitoring baseline (module docstring)."""
    import pyarrow.parquet as pq
    from feast.monitoring.metrics_calculator import MetricsCalculator
    from feast.monitoring.monitoring_utils import build_view_aggregate

    from skewguard.checking.reading import open_training

    training = open_training(Path(snapshot))
    if training.manifest is None or training.data is None:
        raise InputError(
            "Feast's baseline is computed from a snapshot's rows and manifest",
            where=str(snapshot),
            hint="pass a snapshot folder written by `skewguard snapshot` (with data.parquet)",
        )
    manifest = training.manifest
    table = pq.read_table(training.data.files[0])
    metric_date = _last_label_day(manifest.time_range)
    by_view: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    skipped = []
    for feature in manifest.features:
        kind = MetricsCalculator.classify_feature_arrow(table.schema.field(feature.name).type)
        view, _, name = feature.name.partition("__")
        if kind is None:
            skipped.append(feature.name)
        else:
            by_view[view].append((feature.name, name, kind))

    offline_store = store._get_provider().offline_store
    config = store.config
    offline_store.ensure_monitoring_tables(config)
    calculator = MetricsCalculator()
    now = datetime.now(UTC)
    written: dict[str, list[str]] = {}
    for view, features in by_view.items():
        metrics = calculator.compute_all(table, [(column, kind) for column, _, kind in features])
        for row, (_, name, _) in zip(metrics, features, strict=True):
            row.update(_keys(store.project, view, metric_date, now), feature_name=name)
        offline_store.clear_monitoring_baseline(
            config=config, project=store.project, feature_view_name=view
        )
        aggregate = _keys(store.project, view, metric_date, now) | build_view_aggregate(metrics)
        with warnings.catch_warnings():  # pandas' notice about Feast's concat of empty tables
            warnings.simplefilter("ignore", FutureWarning)
            offline_store.save_monitoring_metrics(config, "feature", metrics)
            offline_store.save_monitoring_metrics(config, "feature_view", [aggregate])
        written[view] = [name for _, name, _ in features]
    return BaselineWritten(written, skipped, metric_date, table.num_rows)


def _keys(project: str, view: str, metric_date: date, now: datetime) -> dict[str, Any]:
    return {
        "project_id": project,
        "feature_view_name": view,
        "metric_date": metric_date,
        "granularity": "baseline",
        "data_source_type": "batch",
        "computed_at": now,
        "max_event_timestamp": None,
        "is_baseline": True,
    }


def _last_label_day(time_range: Any) -> date:
    end = (time_range or {}).get("end")
    return datetime.fromisoformat(end).date() if end else datetime.now(UTC).date()
