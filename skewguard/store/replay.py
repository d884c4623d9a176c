"""Replay: logged requests through the offline store, compared value by value.

Takes serving logs (all rows, or a seeded sample), builds an entity frame from their
join keys and `__log_timestamp`, runs Feast's `get_historical_features` for the same
feature service with full feature names, and compares each feature row by row with
what was served (`skewguard.checking.joined`). Offline rows are tied back to the logged request
they came from by a row id carried through Feast, never by Feast's output order.

The result says, per feature, how often online and offline agree and, when they do not,
why (stale online value, TTL exceeded, missing online, a x100 scale, ...).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from skewguard.checking.joined import (
    FeatureSides,
    JoinedFeature,
    ReplayResult,
    all_inputs_matched,
    compare_feature,
    match_mask,
)
from skewguard.errors import InputError, TimestampError
from skewguard.logschema import (
    EVENT_TIMESTAMP,
    LOG_TIMESTAMP,
    REQUEST_ID,
    status_column,
    timestamp_column,
)

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.checking.reading import ServingInput
    from skewguard.store.service import ServedFeature, ServiceSpec

__all__ = ["read_serving_logs", "read_opened_logs", "sample_rows", "replay"]


def read_serving_logs(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """All log rows under `path` (a parquet file or a folder, searched recursively, or a
    URI pyarrow's filesystems read).

    Files are found and validated as `skewguard check` does (`reading.open_serving`):
    unreadable files, naive timestamps and schemas that disagree are errors naming the file.
    """
    from skewguard.checking.reading import open_serving

    return read_opened_logs(
        open_serving(path if isinstance(path, Path) else str(path)), path, columns
    )


def read_opened_logs(
    serving: ServingInput, where: str | Path, columns: list[str] | None = None
) -> pa.Table:
    """The rows of serving logs already found by `open_serving` (listed once, not twice)."""
    try:
        dataset = ds.dataset(
            [str(f) for f in serving.data.files],
            format="parquet",
            filesystem=serving.data.filesystem,
        )
        return dataset.to_table(columns=columns)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(
            f"cannot read the serving logs: {err}",
            where=str(where),
            hint="remove or repair the unreadable file",
        ) from err


def sample_rows(table: pa.Table, size: int | None, seed: int) -> pa.Table:
    """A seeded uniform sample of `size` rows in their original order (all if size is None)."""
    if size is None or size >= table.num_rows:
        return table
    if size < 1:
        raise InputError("--sample must be at least 1", where="--sample", hint="pass a row count")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(table.num_rows, size=size, replace=False))
    return table.take(pa.array(picked))


def _check_log_columns(logs: pa.Table, spec: ServiceSpec, where: str) -> None:
    names = set(logs.column_names)
    needed = [*spec.join_keys, LOG_TIMESTAMP, REQUEST_ID, *spec.columns]
    missing = [c for c in needed if c not in names]
    if missing:
        raise InputError(
            f"the serving logs lack column(s) {missing} of feature service {spec.name!r}",
            where=where,
            hint="replay logs written for this feature service (Feast's logging schema)",
        )
    ts_type = logs.schema.field(LOG_TIMESTAMP).type
    if not pa.types.is_timestamp(ts_type) or ts_type.tz is None:
        raise TimestampError(
            f"column {LOG_TIMESTAMP!r} is {ts_type}, not a UTC timestamp",
            where=where,
            hint="log request times as timestamp with time zone UTC",
        )


def _micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    as_us = pc.cast(column, pa.timestamp("us", tz="UTC"))
    return np.asarray(pc.fill_null(pc.cast(as_us, pa.int64()), -1).to_numpy(), dtype=np.int64)


def _is_float32(spec: ServedFeature) -> bool:
    t = spec.arrow_type
    if pa.types.is_list(t):
        t = t.value_type
    return pa.types.is_float32(t)


def replay(
    store: FeatureStore,
    service_name: str,
    logs: pa.Table,
    *,
    sample: int | None = None,
    seed: int = 0,
    where: str = "serving logs",
) -> ReplayResult:
    """Replay logged rows through the offline store and compare feature by feature."""
    from skewguard.store.service import describe_service
    from skewguard.store.snapshot import point_in_time_features

    started = time.perf_counter()
    spec = describe_service(store, service_name)
    _check_log_columns(logs, spec, where)
    logged_rows = logs.num_rows
    logs = sample_rows(logs, sample, seed)

    request_time = logs.column(LOG_TIMESTAMP).cast(pa.timestamp("us", tz="UTC"))
    labels = pa.table(
        {**{k: logs.column(k) for k in spec.join_keys}, EVENT_TIMESTAMP: request_time}
    )
    offline = point_in_time_features(store, spec, labels)
    n = logs.num_rows
    float32 = {f.column: _is_float32(f) for f in spec.features}
    matched = {
        f.column: match_mask(
            logs.column(f.column), offline.column(f.column), float32=float32[f.column]
        )
        for f in spec.features
    }
    offline_times = _offline_times_where_needed(store, spec, logs, offline, labels, matched)

    request_us = _micros(request_time)
    context: Mapping[str, pa.ChunkedArray] = {
        REQUEST_ID: logs.column(REQUEST_ID),
        **{k: logs.column(k) for k in spec.join_keys},
    }
    results: dict[str, JoinedFeature] = {}
    agreements: dict[str, np.ndarray] = {}
    for feature in sorted(spec.features, key=lambda f: f.on_demand):  # inputs first
        served = logs.column(feature.column)
        ts_col, status_col = timestamp_column(feature.column), status_column(feature.column)
        served_time = _micros(logs.column(ts_col)) if ts_col in logs.column_names else None
        served_status = (
            np.asarray(pc.fill_null(logs.column(status_col), 0).to_numpy(), dtype=np.int32)
            if status_col in logs.column_names
            else None
        )
        sides = FeatureSides(
            name=feature.column,
            served=served,
            offline=offline.column(feature.column),
            request_time=request_us,
            served_time=served_time,
            served_status=served_status,
            offline_time=None if feature.on_demand else offline_times.get(feature.view),
            ttl=feature.ttl,
            float32=float32[feature.column],
            on_demand=feature.on_demand,
            inputs_matched=(
                all_inputs_matched(agreements, feature.inputs, n) if feature.on_demand else None
            ),
            context=context,
        )
        results[feature.column] = compare_feature(sides, matched=matched[feature.column])
        both_missing = ~np.asarray(served.is_valid()) & ~np.asarray(sides.offline.is_valid())
        agreements[feature.column] = matched[feature.column] | both_missing
    return ReplayResult(
        feature_service=spec.name,
        logged_rows=logged_rows,
        replayed_rows=n,
        sample=sample,
        seed=seed,
        seconds=time.perf_counter() - started,
        features=tuple(results[f.column] for f in spec.features),
    )


def _offline_times_where_needed(
    store: FeatureStore,
    spec: ServiceSpec,
    logs: pa.Table,
    offline: pa.Table,
    labels: pa.Table,
    matched: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Event times of the offline rows the point-in-time join picked, per batch view.

    Only a row whose batch feature differs with values on both sides needs them (to tell a
    stale online value from a wrong one), so the second ASOF pass runs on those rows
    only; every other row gets -1 (unknown). A healthy pipeline pays nothing.
    """
    from skewguard.store.offline_store import point_in_time_event_times

    need = np.zeros(logs.num_rows, dtype=bool)
    for f in spec.features:
        if not f.on_demand:
            both = np.asarray(logs.column(f.column).is_valid()) & np.asarray(
                offline.column(f.column).is_valid()
            )
            need |= both & ~matched[f.column]
    views = list(dict.fromkeys(f.view for f in spec.features if not f.on_demand))
    times = {v: np.full(logs.num_rows, -1, dtype=np.int64) for v in views}
    rows = np.flatnonzero(need)
    if rows.size:
        picked = point_in_time_event_times(
            store.config,
            [store.get_feature_view(v) for v in views],
            labels.take(pa.array(rows)),
            EVENT_TIMESTAMP,
        )
        for view, values in picked.items():
            times[view][rows] = values
    return times
