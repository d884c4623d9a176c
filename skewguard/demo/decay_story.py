"""The decay story's world: a change of what shoppers buy, and what the served model logged.

The generated world of `skewguard demo --scenario decay` changes its concept in the middle
of the window: up to day `CHANGE_DAY` shoppers buy cheaper items more often, from then on
dearer ones (`skewguard.demo.datagen.ConceptDrift`). The features do not move with it;
what moves is the label's dependence on them, which only measured performance can see.

Timeline, in days since the start of the 42-day window:

- days 0-14: the labels of model v1's training snapshot; v1 is registered, made champion;
- days 14-28: v1 serves; its features and predictions are logged (day 21: the change);
- day 29: the labels of days 14-28 have arrived (`LABEL_DELAY` after each prediction);
  `skewguard performance` per day says retrain (`auc_drop`) for the days after the change;
  its event retrains on a snapshot of the labelled week after the change (days 21-28):
  model v2, the promotion gate, `champion` moves;
- days 28-42: v2 serves; once its labels arrive, its AUC per day has recovered.

What the server would have served at a time is stood in for by the offline store's
point-in-time features at that time (`build_snapshot` of the interactions): the online
store holds only the latest values, so the past cannot be looked up online again. The
logs are written in the serving path's schemas (Feast's feature-logging schema, and the
prediction log of `skewguard serve --model`), one folder per `__log_date`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from skewguard.demo.datagen import ConceptDrift, GeneratorConfig
from skewguard.logschema import (
    EVENT_TIMESTAMP,
    LOG_DATE,
    LOG_TIMESTAMP,
    REQUEST_ID,
    FieldStatus,
    status_column,
    timestamp_column,
)

if TYPE_CHECKING:
    import pandas as pd

    from skewguard.loop.model import TrainedModel
    from skewguard.serving.layout import LogLayout

__all__ = [
    "CHANGE_DAY",
    "V1_TRAINING_DAYS",
    "V1_SERVING_DAYS",
    "V2_SERVING_DAYS",
    "RETRAIN_LABEL_DAYS",
    "LABEL_DELAY",
    "EVENTS_PER_DAY",
    "DRIFT",
    "decay_generator",
    "Phase",
    "write_served_logs",
    "label_frame",
]

CHANGE_DAY = 21
DRIFT = ConceptDrift(day=CHANGE_DAY, before=-1.0, after=1.0)
V1_TRAINING_DAYS = (0, 14)
V1_SERVING_DAYS = (14, 28)
V2_SERVING_DAYS = (28, 42)
RETRAIN_LABEL_DAYS = 7  # the labelled week after the change
LABEL_DELAY = timedelta(hours=24)  # a purchase is known a day after the recommendation
# A day's window needs 200 labels to be measured (`performance --min-labels`) and a day of
# feature logs 500 rows to be checked (the default policy's `min_rows`).
EVENTS_PER_DAY = 600


def decay_generator(
    seed: int = 7, end: datetime | None = None, drift: ConceptDrift | None = DRIFT
) -> GeneratorConfig:
    """The generated world of the decay story: the default one plus the concept change."""
    return GeneratorConfig(seed=seed, end=end, events_per_day=EVENTS_PER_DAY, concept_drift=drift)


@dataclass(frozen=True)
class Phase:
    """Days `[first, last)` of the window served by one model version."""

    first: int
    last: int

    def bounds(self, start: datetime) -> tuple[datetime, datetime]:
        return start + timedelta(days=self.first), start + timedelta(days=self.last)


def _rows_in(rows: pd.DataFrame, since: datetime, until: datetime) -> pd.DataFrame:
    import pandas as pd

    ts = pd.to_datetime(rows[EVENT_TIMESTAMP], utc=True)
    return rows[(ts >= since) & (ts < until)].reset_index(drop=True)


def write_served_logs(
    rows: pd.DataFrame,
    layout: LogLayout,
    model: TrainedModel,
    model_name: str,
    model_version: str,
    features_folder: Path,
    predictions_folder: Path,
    *,
    request_prefix: str,
) -> pd.DataFrame:
    """Score `rows` (point-in-time features of labelled interactions) with `model` and
    write what a server would have logged: the feature log and the prediction log, each
    row one request at the interaction's time, one folder per day. Returns the rows with
    their `__request_id` and `__prediction`."""
    import pandas as pd

    from skewguard.serving.files import BatchResult, LogFileWriter
    from skewguard.serving.predictions import (
        MODEL_NAME,
        MODEL_VERSION,
        PREDICTION,
        PredictionEncoder,
    )

    scored = rows.copy()
    scored[REQUEST_ID] = [f"{request_prefix}-{i:06d}" for i in range(len(rows))]
    scored[PREDICTION] = model.predict_proba(rows)
    at = pd.to_datetime(scored[EVENT_TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
    micros = at.astype("int64").to_numpy()
    logged = pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    dates = logged.cast(pa.date32())

    columns: dict[str, pa.Array] = {}
    for field in layout.schema:
        name = field.name
        if name in layout.join_keys:
            columns[name] = pa.array(scored[name].to_numpy(), field.type)
        elif name == LOG_TIMESTAMP:
            columns[name] = logged
        elif name == LOG_DATE:
            columns[name] = dates
        elif name == REQUEST_ID:
            columns[name] = pa.array(scored[REQUEST_ID], pa.string())
    for feature in layout.features:
        values = pa.Array.from_pandas(scored[feature.column].astype("object"))
        values = values.cast(layout.schema.field(feature.column).type)
        columns[feature.column] = values
        # The snapshot keeps values, not their event times: unknown here, so null.
        columns[timestamp_column(feature.column)] = pa.nulls(len(scored), pa.timestamp("us", "UTC"))
        absent = values.is_null().to_numpy(zero_copy_only=False)
        status = np.where(absent, int(FieldStatus.NOT_FOUND), int(FieldStatus.PRESENT))
        columns[status_column(feature.column)] = pa.array(status.astype(np.int32))
    table = pa.table({name: columns[name] for name in layout.schema.names}, schema=layout.schema)

    encoder = PredictionEncoder(layout)
    keys = [list(scored[k]) for k in layout.join_keys]
    items = [
        (
            scored[REQUEST_ID].iat[i],
            int(micros[i]),
            model_name,
            model_version,
            {k: [column[i]] for k, column in zip(layout.join_keys, keys, strict=True)},
            [float(scored[PREDICTION].iat[i])],
        )
        for i in range(len(scored))
    ]
    predictions = encoder(items)
    assert set(predictions.column_names) >= {PREDICTION, MODEL_NAME, MODEL_VERSION}
    for folder, log in ((features_folder, table), (predictions_folder, predictions)):
        result = BatchResult()
        LogFileWriter(folder, partitioned=True).write(log, result)
        if result.failed:
            from skewguard.errors import SkewguardError

            raise SkewguardError(f"could not write the log: {result.errors}", where=str(folder))
    return scored


def label_frame(scored: pd.DataFrame, label: str = "purchased") -> pd.DataFrame:
    """The labels of scored rows as they arrive: request id, join keys, the interaction's
    time, the label and when it became known (`LABEL_DELAY` after the prediction)."""
    import pandas as pd

    at = pd.to_datetime(scored[EVENT_TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
    return pd.DataFrame(
        {
            REQUEST_ID: scored[REQUEST_ID],
            "customer_id": scored["customer_id"].astype("int64"),
            "product_id": scored["product_id"].astype("int64"),
            EVENT_TIMESTAMP: at,
            label: scored[label].astype("int64"),
            "label_timestamp": at + pd.Timedelta(LABEL_DELAY),
        }
    )


def arrived(labels: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """The labels known at `now`."""
    import pandas as pd

    return labels[labels["label_timestamp"] <= pd.Timestamp(now)].reset_index(drop=True)


def pooled_auc(rows: pd.DataFrame, score: Any, label: str = "purchased") -> float | None:
    """ROC AUC of `score` (a column name or scores) over `rows`; None without both classes."""
    from skewguard.checking.performance import roc_auc

    y = rows[label].astype("int64").to_numpy().astype(np.float64)
    p = np.asarray(rows[score] if isinstance(score, str) else score, dtype=np.float64)
    if len(set(y.tolist())) < 2:
        return None
    return round(float(roc_auc(y, p)), 4)


def split(rows: pd.DataFrame, start: datetime, phase: Phase) -> pd.DataFrame:
    """The rows of `phase`'s days."""
    return _rows_in(rows, *phase.bounds(start))
