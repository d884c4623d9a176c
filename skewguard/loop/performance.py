"""`skewguard performance`: delayed labels joined to logged predictions, per window.

Reads the prediction log (`skewguard.serving.predictions`) and a label file, joins them
(by `__request_id`, with the join keys the labels carry, when the labels carry it; else
by the join keys and time: each label
takes the latest prediction for the same entity at or before its `event_timestamp`,
within `tolerance`), cuts the predictions into windows of `every` by `__log_timestamp`,
and per window measures AUC, log loss and calibration error on the labelled rows (with
bootstrap intervals), states the label delay (`label_timestamp` minus the prediction time,
when the labels carry `label_timestamp`) and the label coverage, estimates AUC and log loss
from all the window's scores (CBPE), and judges the window against the AUC recorded at
training (`skewguard.checking.performance.judge_window`). The result is a JSON document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skewguard.checking.performance import PerformanceRule
from skewguard.errors import InputError
from skewguard.logschema import EVENT_TIMESTAMP, LOG_DATE, LOG_TIMESTAMP, REQUEST_ID

if TYPE_CHECKING:
    import pandas as pd

    from skewguard.loop.events import Event
    from skewguard.loop.lineage import Lineage

__all__ = [
    "PERFORMANCE_SCHEMA_VERSION",
    "LABEL_TIMESTAMP",
    "PerformanceConfig",
    "evaluate",
    "read_predictions",
    "join_labels",
    "retrain_windows",
    "performance_event",
]

PERFORMANCE_SCHEMA_VERSION = 1
LABEL_TIMESTAMP = "label_timestamp"
_PREDICTION = "__prediction"
_INTERNAL = {_PREDICTION, "__model_name", "__model_version", LOG_TIMESTAMP, LOG_DATE, REQUEST_ID}


@dataclass(frozen=True)
class PerformanceConfig:
    predictions: Path
    labels: Path
    label: str = "purchased"
    training: dict[str, Any] = field(default_factory=dict)  # metrics recorded at training
    rule: PerformanceRule = field(default_factory=PerformanceRule)
    every: timedelta = timedelta(days=1)
    tolerance: timedelta = timedelta(days=1)
    seed: int = 0
    model: dict[str, Any] = field(default_factory=dict)  # describes the model, for the report
    model_version: str | None = None  # only the predictions this version made


def read_predictions(path: Path) -> pd.DataFrame:
    import pyarrow.dataset as ds

    from skewguard.checking.reading import find_parquet_files

    files = find_parquet_files(path)
    if not files:
        raise InputError(
            "no prediction log files",
            where=str(path),
            hint="serve with `skewguard serve --model ...`: it writes <service log>__predictions",
        )
    frame = ds.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()
    for column in (_PREDICTION, LOG_TIMESTAMP, REQUEST_ID):
        if column not in frame:
            raise InputError(
                f"the prediction log has no {column} column", where=str(path), hint="check the path"
            )
    return frame


def _read_labels(path: Path, label: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, ValueError) as err:
        raise InputError(
            f"cannot read the labels: {err}", where=str(path), hint="pass a parquet file"
        ) from err
    if label not in frame:
        raise InputError(
            f"the labels have no {label!r} column (columns: {list(frame.columns)})",
            where=str(path),
            hint="pass --label NAME",
        )
    return frame[frame[label].notna()]


def join_labels(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    label: str,
    tolerance: timedelta,
    where: str,
) -> tuple[pd.DataFrame, str]:
    """Labelled predictions (one row per joined label) and how they were joined."""
    import pandas as pd

    keep = [c for c in (label, LABEL_TIMESTAMP) if c in labels]
    keys = [c for c in predictions.columns if c not in _INTERNAL and c in labels]
    if REQUEST_ID in labels:
        # A request's rows share its id: with the join keys it names one prediction.
        on = [REQUEST_ID, *keys]
        joined = predictions.merge(labels[[*on, *keep]], on=on, how="inner")
        return joined, "request_id"
    if not keys or EVENT_TIMESTAMP not in labels:
        raise InputError(
            f"the labels carry neither {REQUEST_ID} nor the join keys and {EVENT_TIMESTAMP}",
            where=where,
            hint=f"give each label its {REQUEST_ID}, or the entity's keys and {EVENT_TIMESTAMP}",
        )
    left = labels[[*keys, EVENT_TIMESTAMP, *keep]].copy()
    left[EVENT_TIMESTAMP] = pd.to_datetime(left[EVENT_TIMESTAMP], utc=True).astype(
        "datetime64[us, UTC]"
    )
    right = predictions.copy()
    right[LOG_TIMESTAMP] = pd.to_datetime(right[LOG_TIMESTAMP], utc=True).astype(
        "datetime64[us, UTC]"
    )
    for key in keys:
        left[key] = left[key].astype("int64") if left[key].dtype.kind in "iu" else left[key]
        right[key] = right[key].astype(left[key].dtype)
    joined = pd.merge_asof(
        left.sort_values(EVENT_TIMESTAMP),
        right.sort_values(LOG_TIMESTAMP),
        left_on=EVENT_TIMESTAMP,
        right_on=LOG_TIMESTAMP,
        by=keys,
        direction="backward",
        tolerance=pd.Timedelta(tolerance),
    )
    return joined[joined[_PREDICTION].notna()], "entity_time"


def _hours(delta: Any) -> float:
    return round(float(delta) / 3600e6, 3)  # microseconds -> hours


def evaluate(config: PerformanceConfig) -> dict[str, Any]:
    """The performance document: per window, realised and estimated metrics and verdicts."""
    import pandas as pd

    from skewguard.checking.performance import (
        bootstrap_interval,
        calibration_error,
        estimate,
        judge_window,
        log_loss,
        roc_auc,
    )
    from skewguard.vocabulary import Verdict, exit_code_for

    predictions = read_predictions(config.predictions)
    if config.model_version is not None and "__model_version" in predictions:
        predictions = predictions[predictions["__model_version"] == config.model_version]
        if predictions.empty:
            raise InputError(
                f"no prediction of model version {config.model_version} in the log",
                where=str(config.predictions),
                hint="serve that version with `skewguard serve --model`, or pass another",
            )
    predictions[LOG_TIMESTAMP] = pd.to_datetime(predictions[LOG_TIMESTAMP], utc=True)
    labels = _read_labels(config.labels, config.label)
    joined, how = join_labels(
        predictions, labels, config.label, config.tolerance, where=str(config.labels)
    )
    step = pd.Timedelta(config.every)
    epoch = pd.Timestamp(0, tz="UTC")
    predictions["__window"] = epoch + ((predictions[LOG_TIMESTAMP] - epoch) // step) * step
    joined = joined.copy()
    joined["__window"] = (
        epoch + ((pd.to_datetime(joined[LOG_TIMESTAMP], utc=True) - epoch) // step) * step
    )
    rule = config.rule
    training_auc = config.training.get("auc")
    windows = []
    for start, group in predictions.groupby("__window", sort=True):
        scores = group[_PREDICTION].to_numpy(dtype=np.float64)
        rows = joined[joined["__window"] == start]
        y = rows[config.label].astype("int64").to_numpy().astype(np.float64)
        p = rows[_PREDICTION].to_numpy(dtype=np.float64)
        classes = len(set(y.tolist()))
        realised: dict[str, Any] = {}
        if len(rows) and classes == 2:
            for name, metric in (
                ("auc", roc_auc),
                ("log_loss", log_loss),
                ("calibration_error", calibration_error),
            ):
                realised[name] = bootstrap_interval(
                    metric, y, p, confidence=rule.confidence, seed=config.seed
                )
        estimated = estimate(scores, confidence=rule.confidence, seed=config.seed)
        judgement = judge_window(
            training_auc, realised.get("auc"), estimated["auc"], len(rows), classes, rule
        )
        delay = None
        if LABEL_TIMESTAMP in rows and len(rows):
            lag = (
                pd.to_datetime(rows[LABEL_TIMESTAMP], utc=True)
                - pd.to_datetime(rows[LOG_TIMESTAMP], utc=True)
            ).dt.total_seconds() * 1e6
            delay = {
                "median_hours": _hours(lag.median()),
                "p95_hours": _hours(lag.quantile(0.95)),
                "max_hours": _hours(lag.max()),
            }
        windows.append(
            {
                "id": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "start": start.isoformat(),
                "end": (start + step).isoformat(),
                "predictions": len(group),
                "labelled": len(rows),
                "label_coverage": round(len(rows) / len(group), 4),
                "positive_rate": round(float(y.mean()), 4) if len(rows) else None,
                "label_delay": delay,
                "realised": {k: v.to_dict() for k, v in realised.items()},
                "estimated": {k: v.to_dict() for k, v in estimated.items()},
                "verdict": str(judgement.verdict),
                "cause": str(judgement.cause),
                "detail": judgement.detail,
            }
        )
    verdict = (
        Verdict.worst([Verdict(w["verdict"]) for w in windows])
        if windows
        else (Verdict.INSUFFICIENT_DATA)
    )
    return {
        "schema_version": PERFORMANCE_SCHEMA_VERSION,
        "kind": "skewguard.performance",
        "verdict": str(verdict),
        "exit_code": int(exit_code_for(verdict)),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": dict(config.model),
        "training": {k: config.training.get(k) for k in ("auc", "log_loss")},
        "rule": rule.to_dict(),
        "join": how,
        "label_delay_known": LABEL_TIMESTAMP in labels,
        "inputs": {
            "predictions": str(config.predictions),
            "labels": str(config.labels),
            "label": config.label,
            "every_seconds": config.every.total_seconds(),
            "prediction_rows": len(predictions),
            "model_version": config.model_version,
            "labelled_rows": len(joined),
        },
        "windows": windows,
    }


def retrain_windows(document: dict[str, Any]) -> Sequence[dict[str, Any]]:
    return [w for w in document["windows"] if w["verdict"] == "retrain"]


def performance_event(
    document: dict[str, Any], lineage: Lineage | None, report_path: Path | None = None
) -> Event | None:
    """The retrain event of a performance document: for the last window that fired, naming
    the model's snapshot and feature service and, as the serving path, that window's day of
    the feature log beside the prediction log (or the whole log when it has no such day).
    None when no window fired."""
    from skewguard.loop.events import Event

    fired = retrain_windows(document)
    if not fired:
        return None
    window = fired[-1]
    predictions = Path(document["inputs"]["predictions"])
    features = predictions.with_name(predictions.name.removesuffix("__predictions"))
    day = features / window["id"][:10]
    return Event(
        verdict="retrain",
        failing_features=(_PREDICTION,),
        failing_checks={_PREDICTION: ("auc_drop",)},
        snapshot_id=lineage.snapshot_id if lineage else None,
        snapshot_path=lineage.snapshot_path if lineage else None,
        feature_service=lineage.feature_service if lineage else None,
        serving_path=str((day if day.is_dir() else features).resolve()),
        log_window={"id": window["id"], "start": window["start"], "end": window["end"]},
        report_path=str(report_path.resolve()) if report_path else None,
        source="performance",
    )
