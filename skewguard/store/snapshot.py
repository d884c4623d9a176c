"""Training snapshots: point-in-time correct training data plus a manifest.

`build_snapshot` runs Feast's `get_historical_features(..., full_feature_names=True)` for
a feature service over an entity/label frame and writes a folder:

    <out>/data.parquet        the label frame, in its order, plus `<view>__<feature>` columns
    <out>/manifest.json       feature service, features and types, time range, row count,
                              rows without features, Feast version, content hash
    <out>/reference_profile.json  the training side of `skewguard check`, precomputed

Feast's file offline store drops entity rows that have no feature row inside the TTL and
re-sorts its output. The snapshot carries a row id through Feast and puts every requested
row back in place, missing features as nulls, so no label is lost silently. Feature
columns are cast to their declared types (Feast turns Int64 into float64 when a value is
missing). The folder appears atomically: it is written beside the target and renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skewguard.errors import InputError, SkewguardError, TimestampError
from skewguard.logschema import EVENT_TIMESTAMP

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

    from skewguard.checking.dask_profiling import DaskEngine
    from skewguard.store.service import ServedFeature, ServiceSpec

__all__ = [
    "MANIFEST_NAME",
    "DATA_NAME",
    "SnapshotResult",
    "build_snapshot",
    "read_labels",
    "validate_labels",
    "filter_time_window",
    "point_in_time_features",
]

MANIFEST_NAME = "manifest.json"
DATA_NAME = "data.parquet"
SNAPSHOT_KIND = "skewguard.training_snapshot"
_ROW_ID = "__skewguard_row"


@dataclass(frozen=True)
class SnapshotResult:
    path: Path
    rows: int
    rows_without_features: int  # rows for which no feature had a value inside its TTL
    missing_by_feature: dict[str, int]
    manifest: dict[str, Any]


def read_labels(path: str | Path) -> pa.Table:
    """Read an entity/label frame from parquet (file or folder) or CSV."""
    source = Path(path)
    if not source.exists():
        raise InputError(
            "label file not found", where=str(source), hint="pass --labels PATH to parquet or CSV"
        )
    try:
        if source.suffix.lower() == ".csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(source)
        return pq.read_table(source)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(
            f"cannot read the label frame: {err}",
            where=str(source),
            hint="give a readable parquet file or folder, or a CSV with a header row",
        ) from err


def validate_labels(labels: pa.Table, spec: ServiceSpec, *, where: str) -> pa.Table:
    """Check the label frame against the feature service; return it with UTC timestamps."""
    names = labels.column_names
    if labels.num_rows == 0:
        raise InputError("the label frame has no rows", where=where, hint="pass a non-empty frame")
    if EVENT_TIMESTAMP not in names:
        raise TimestampError(
            f"the label frame has no {EVENT_TIMESTAMP!r} column",
            where=where,
            hint=f"add a UTC timestamp column {EVENT_TIMESTAMP!r}: when each label was observed",
        )
    ts_type = labels.schema.field(EVENT_TIMESTAMP).type
    if not pa.types.is_timestamp(ts_type):
        raise TimestampError(
            f"column {EVENT_TIMESTAMP!r} is {ts_type}, not a timestamp",
            where=where,
            hint="parse it, e.g. pd.to_datetime(df['event_timestamp'], utc=True)",
        )
    if ts_type.tz is None:
        raise TimestampError(
            f"column {EVENT_TIMESTAMP!r} has naive timestamps (no time zone)",
            where=where,
            hint="localize it, e.g. df['event_timestamp'].dt.tz_localize('UTC')",
        )
    missing_keys = [k for k in spec.join_keys if k not in names]
    if missing_keys:
        others = [n for n in names if n != EVENT_TIMESTAMP]
        raise InputError(
            f"the label frame lacks join key column(s) {missing_keys} of feature service "
            f"{spec.name!r} (it has {others})",
            where=where,
            hint=f"rename the entity columns to {list(spec.join_keys)}",
        )
    clashes = [n for n in names if n in spec.columns or n == _ROW_ID]
    if clashes:
        raise InputError(
            f"label columns {clashes} clash with feature column names",
            where=where,
            hint="rename or drop them",
        )
    for column in (*spec.join_keys, EVENT_TIMESTAMP):
        nulls = labels.column(column).null_count
        if nulls:
            raise InputError(
                f"column {column!r} has {nulls} null value(s)",
                where=where,
                hint="drop those rows or fill them",
            )
    index = names.index(EVENT_TIMESTAMP)
    utc = pc.cast(labels.column(EVENT_TIMESTAMP), pa.timestamp("us", tz="UTC"))
    return labels.set_column(index, EVENT_TIMESTAMP, utc)


def _entity_frame(spec: ServiceSpec, labels: pa.Table) -> pd.DataFrame:
    entity_df = labels.select([*spec.join_keys, EVENT_TIMESTAMP]).to_pandas()
    entity_df[_ROW_ID] = np.arange(len(entity_df), dtype=np.int64)
    return entity_df


def _retrieve(
    store: FeatureStore, entity_df: pd.DataFrame, features: list[ServedFeature], where: str
) -> tuple[pa.Table, bool]:
    """Point-in-time values of batch features, one row per entity row, in entity order.

    Rows Feast did not return come back as nulls; the flag says whether any were dropped.
    """
    refs = [f"{f.view}:{f.feature}" for f in features]
    try:
        result = store.get_historical_features(
            entity_df=entity_df, features=refs, full_feature_names=True
        ).to_arrow()
    except Exception as err:
        raise SkewguardError(
            f"Feast could not retrieve historical features: {type(err).__name__}: {err}",
            where=where,
            hint="check that `skewguard apply` ran and that the parquet sources exist",
        ) from err
    row_ids = result.column(_ROW_ID).to_numpy()
    if result.num_rows == len(entity_df) and (row_ids == np.arange(len(row_ids))).all():
        take = None  # every row, already in order (skewguard's ASOF store)
    else:
        positions = np.full(len(entity_df), -1, dtype=np.int64)
        positions[row_ids] = np.arange(result.num_rows, dtype=np.int64)
        take = pa.array(positions, mask=positions < 0)
    columns = {}
    for f in features:
        column = result.column(f.column)
        columns[f.column] = _cast(column if take is None else column.take(take), f.arrow_type)
    schema = pa.schema([pa.field(f.column, f.arrow_type) for f in features])
    return pa.table(columns, schema=schema), result.num_rows < len(entity_df)


def point_in_time_features(store: FeatureStore, spec: ServiceSpec, labels: pa.Table) -> pa.Table:
    """All features of the service for every label row, in label order.

    `labels` holds the join keys and a UTC `event_timestamp`. Feast's file store drops a
    row whenever any one view has no value inside its TTL, losing the other views'
    values too; when that happens each batch view is retrieved on its own, which keeps
    every value that exists. On-demand views are then computed with their own
    transformation.
    """
    entity_df = _entity_frame(spec, labels)
    batch = [f for f in spec.features if not f.on_demand]
    table, dropped = _retrieve(store, entity_df, batch, where=f"feature service {spec.name!r}")
    if dropped:
        columns: dict[str, pa.ChunkedArray] = {}
        for view in dict.fromkeys(f.view for f in batch):
            part, _ = _retrieve(
                store,
                entity_df,
                [f for f in batch if f.view == view],
                where=f"feature view {view!r}",
            )
            columns.update(zip(part.column_names, part.columns, strict=True))
        table = pa.table([columns[f.column] for f in batch], schema=table.schema)
    columns = dict(zip(table.column_names, table.columns, strict=True))
    for view in dict.fromkeys(f.view for f in spec.features if f.on_demand):
        outputs = [f for f in spec.features if f.view == view]
        transformed = _on_demand(store.get_on_demand_feature_view(view), table, outputs)
        for f in outputs:
            columns[f.column] = _cast(transformed[f.column], f.arrow_type)
    return pa.table([columns[f.column] for f in spec.features], schema=spec.arrow_schema())


def _on_demand(
    view: Any, table: pa.Table, outputs: list[ServedFeature]
) -> dict[str, pa.ChunkedArray]:
    """An on-demand view's outputs for every row of `table` (batch features, full names).

    Python mode runs through Feast's `transform_dict`, as online, on the view's inputs
    only, each turned into Python values once. Feast's `transform_arrow` would turn every
    column of the table into Python values, twice (under both name forms): at 1M rows
    of this repo that took 2 to 3 times as long (`benchmarks/bench_lookup.py --offline`).
    Other modes run through `transform_arrow`.
    """
    if view.mode == "python" and not view.singleton:
        values = view.transform_dict({c: table.column(c).to_pylist() for c in outputs[0].inputs})
        return {f.column: pa.chunked_array([values[f.feature]], f.arrow_type) for f in outputs}
    transformed = view.transform_arrow(table, full_feature_names=True)
    return {f.column: transformed.column(f.column) for f in outputs}


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if pa.types.is_integer(target) and pa.types.is_floating(column.type):
        # Feast made an int column float because of a missing value: every present
        # value must still be a whole number, or the cast would hide a real change.
        return pc.cast(column, target, safe=True)
    return pc.cast(column, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


@contextlib.contextmanager
def _atomic_folder(target: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a scratch folder beside `target`; rename it into place only on success."""
    if target.exists() and not overwrite:
        raise InputError(
            "the snapshot folder already exists",
            where=str(target),
            hint="choose another --out or pass --overwrite",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        yield scratch
        if target.exists():
            retired = target.parent / f".{target.name}.old-{os.getpid()}"
            target.rename(retired)
            scratch.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_snapshot(
    store: FeatureStore,
    service_name: str,
    labels: pa.Table | pd.DataFrame,
    out: str | Path,
    *,
    overwrite: bool = False,
    where: str = "label frame",
    engine: DaskEngine | None = None,
) -> SnapshotResult:
    """Build a point-in-time correct training snapshot folder at `out`.

    With `engine`, its reference profile is computed on that Dask cluster."""
    import feast

    from skewguard.store.service import describe_service

    spec = describe_service(store, service_name)
    table = (
        labels
        if isinstance(labels, pa.Table)
        else pa.Table.from_pandas(labels, preserve_index=False)
    )
    table = validate_labels(table, spec, where=where)
    target = Path(out)

    with _atomic_folder(target, overwrite=overwrite) as scratch:
        features = point_in_time_features(store, spec, table)
        data = table
        for field, column in zip(features.schema, features.columns, strict=True):
            data = data.append_column(field, column)
        data_path = scratch / DATA_NAME
        pq.write_table(data, data_path)

        missing = {f.column: data.column(f.column).null_count for f in spec.features}
        batch_features = [f.column for f in spec.features if not f.on_demand]
        served = np.zeros(data.num_rows, dtype=bool)
        for column in batch_features:
            served |= data.column(column).is_valid().to_numpy(zero_copy_only=False)
        timestamps = data.column(EVENT_TIMESTAMP)
        manifest: dict[str, Any] = {
            "schema_version": 1,
            "kind": SNAPSHOT_KIND,
            "feature_service": spec.name,
            "project": spec.project,
            "join_keys": list(spec.join_keys),
            "label_columns": [
                c for c in table.column_names if c not in (*spec.join_keys, EVENT_TIMESTAMP)
            ],
            "features": [f.to_manifest() for f in spec.features],
            "time_range": {
                "start": pc.min(timestamps).as_py().isoformat(),
                "end": pc.max(timestamps).as_py().isoformat(),
            },
            "row_count": data.num_rows,
            "rows_without_features": int((~served).sum()),
            "missing_by_feature": missing,
            "feast_version": feast.__version__,
            "content_hash": _sha256(data_path),
            "created_at": datetime.now(UTC).isoformat(),
            "data_file": DATA_NAME,
            "reference_profile": None,
        }
        (scratch / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        # The reference profile travels with the snapshot: a check then needs only it.
        from skewguard.checking.reference import write_reference_profile

        manifest["reference_profile"] = write_reference_profile(scratch, engine=engine).name
        (scratch / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")

    return SnapshotResult(
        path=target,
        rows=data.num_rows,
        rows_without_features=manifest["rows_without_features"],
        missing_by_feature=missing,
        manifest=manifest,
    )


def filter_time_window(
    labels: pa.Table, since: datetime | None, until: datetime | None, *, where: str
) -> pa.Table:
    """Keep label rows with since <= event_timestamp < until (either bound optional)."""
    if since is None and until is None:
        return labels
    if EVENT_TIMESTAMP not in labels.column_names:
        raise TimestampError(
            f"the label frame has no {EVENT_TIMESTAMP!r} column to filter on",
            where=where,
            hint=f"add a UTC timestamp column {EVENT_TIMESTAMP!r}",
        )
    ts = labels.column(EVENT_TIMESTAMP)
    if not pa.types.is_timestamp(ts.type) or ts.type.tz is None:
        return labels  # validate_labels reports the problem with its own message
    conditions = []
    if since is not None:
        conditions.append(pc.greater_equal(ts, pa.scalar(since, ts.type)))
    if until is not None:
        conditions.append(pc.less(ts, pa.scalar(until, ts.type)))
    mask = conditions[0] if len(conditions) == 1 else pc.and_(*conditions)
    return labels.filter(mask)
