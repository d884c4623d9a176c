"""The prediction log: every score a served model gave, beside the features it was given.

One row per scored entity row: the join keys, the prediction (the positive class's
probability), the registered model's name and version, `__log_timestamp`, `__log_date` and
`__request_id`. The request id is made exactly as the feature log makes it (one id per
request, `<id>#<n>` for a repeated entity row), so a prediction joins its logged features
on `__request_id` and the join keys, which name one row in each log.

Written by the same `ServingLogWriter` as the feature logs (buffer, spool, separate writer
process, atomic files, one folder per `__log_date`): a `submit` never waits on the disk,
and rows the server acknowledged survive a SIGTERM or a killed worker. The folder is
`<feature log folder>__predictions`, beside the feature service's log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from skewguard.logschema import LOG_DATE, LOG_TIMESTAMP, REQUEST_ID
from skewguard.serving.encoding import request_micros
from skewguard.serving.layout import TS_TYPE, LogLayout
from skewguard.serving.writer import ServingLogWriter, WriterConfig, WriterStats

__all__ = [
    "PREDICTION",
    "MODEL_NAME",
    "MODEL_VERSION",
    "PREDICTIONS_SUFFIX",
    "PredictionEncoder",
    "PredictionLog",
    "prediction_folder",
]

PREDICTION = "__prediction"
MODEL_NAME = "__model_name"
MODEL_VERSION = "__model_version"
PREDICTIONS_SUFFIX = "__predictions"


def prediction_folder(layout: LogLayout) -> Path:
    """`<feature log folder>__predictions`: beside the features it scored."""
    if layout.folder is None:
        from skewguard.errors import FeatureRepoError

        raise FeatureRepoError(
            f"feature service {layout.service!r} declares no logging_config",
            where="skewguard serve --model",
            hint="predictions are logged beside the features: give the service a "
            "LoggingConfig with a FileLoggingDestination",
        )
    return layout.folder.with_name(layout.folder.name + PREDICTIONS_SUFFIX)


class PredictionEncoder:
    """Items -> one Arrow table (runs in the writer process; plain values only)."""

    def __init__(self, layout: LogLayout) -> None:
        self.keys = tuple(layout.join_keys) + tuple(layout.request_fields)
        self.key_types = {name: layout.schema.field(name).type for name in self.keys}
        self.schema = pa.schema(
            [
                *(pa.field(name, self.key_types[name]) for name in layout.join_keys),
                pa.field(PREDICTION, pa.float64()),
                pa.field(MODEL_NAME, pa.string()),
                pa.field(MODEL_VERSION, pa.string()),
                pa.field(LOG_TIMESTAMP, TS_TYPE),
                pa.field(LOG_DATE, pa.date32()),
                pa.field(REQUEST_ID, pa.string()),
            ]
        )
        self.join_keys = tuple(layout.join_keys)

    def __call__(self, items: Sequence[tuple[Any, ...]]) -> pa.Table:
        from skewguard.serving.encoding import _request_ids  # the feature log's own ids

        columns: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        for request_id, micros, model_name, model_version, keys, scores in items:
            rows = len(scores)
            key_columns = [list(keys.get(k, [None] * rows)) for k in self.keys]
            for name, values in zip(self.keys, key_columns, strict=True):
                if name in self.join_keys:
                    columns[name].extend(values)
            columns[PREDICTION].extend(scores)
            columns[MODEL_NAME].extend([model_name] * rows)
            columns[MODEL_VERSION].extend([model_version] * rows)
            columns[LOG_TIMESTAMP].extend([micros] * rows)
            day = datetime.fromtimestamp(micros / 1e6, UTC).date()
            columns[LOG_DATE].extend([day] * rows)
            columns[REQUEST_ID].extend(_request_ids(request_id, key_columns, rows))
        arrays = {}
        for field in self.schema:
            values = columns[field.name]
            if pa.types.is_timestamp(field.type):
                arrays[field.name] = pa.array(values, pa.int64()).cast(field.type)
            else:
                arrays[field.name] = pa.array(values, field.type)
        return pa.table(arrays, schema=self.schema)


class PredictionLog:
    """The prediction log of one served model; `open()` after the fork, `close()` flushes."""

    def __init__(
        self,
        layout: LogLayout,
        model_name: str,
        model_version: str,
        config: WriterConfig,
        folder: Path | None = None,
    ) -> None:
        self.layout = layout
        self.model_name = model_name
        self.model_version = model_version
        self.config = config
        self.folder = folder or prediction_folder(layout)
        self.encoder = PredictionEncoder(layout)
        self.writer: ServingLogWriter[tuple[Any, ...]] | None = None

    def open(self) -> None:
        self.writer = ServingLogWriter(
            self.folder,
            self.encoder,
            self.config,
            partitioned=self.layout.partitioned,
            name=f"prediction-log[{self.layout.service}]",
        )

    def record(
        self,
        request_id: str,
        request_time: datetime,
        entity_rows: Mapping[str, Sequence[Any]],
        scores: Sequence[float],
    ) -> None:
        if self.writer is None:
            from skewguard.errors import SkewguardError

            raise SkewguardError(
                "the prediction log is not open",
                where=str(self.folder),
                hint="serve the app through its lifespan (uvicorn or gunicorn start it)",
            )
        keys = {k: list(entity_rows.get(k, [None] * len(scores))) for k in self.encoder.keys}
        item = (
            request_id,
            request_micros(request_time),
            self.model_name,
            self.model_version,
            keys,
            [float(s) for s in scores],
        )
        self.writer.submit(item, len(scores))

    def stats(self) -> WriterStats | None:
        return self.writer.stats() if self.writer is not None else None

    def flush(self, timeout: float | None = 30.0) -> bool:
        return self.writer.flush(timeout) if self.writer is not None else True

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
