"""Generated training snapshots and serving logs (Feast log schema) for `check` tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from skewguard.logschema import FieldStatus

CATEGORIES = [
    "books",
    "electronics",
    "garden",
    "toys",
    "grocery",
    "beauty",
    "sports",
    "music",
    "office",
    "pets",
    "baby",
    "auto",
]
_CATEGORY_WEIGHTS = np.array([1 / (i + 1) for i in range(len(CATEGORIES))])
_CATEGORY_WEIGHTS /= _CATEGORY_WEIGHTS.sum()

# name -> (arrow type, feast type)
FEATURES: dict[str, tuple[pa.DataType, str]] = {
    "customer_stats__avg_order_value": (pa.float64(), "Float64"),
    "customer_stats__orders_30d": (pa.int64(), "Int64"),
    "customer_stats__recent_views": (pa.list_(pa.int64()), "Array(Int64)"),
    "product_stats__price": (pa.float64(), "Float64"),
    "product_stats__rating": (pa.float64(), "Float64"),
    "product_stats__category": (pa.string(), "String"),
    "product_stats__in_stock": (pa.bool_(), "Bool"),
}

Columns = dict[str, pa.Array]
START = datetime(2026, 11, 1, tzinfo=UTC)


def feature_values(n: int, seed: int) -> Columns:
    """One sample of every feature from fixed distributions."""
    rng = np.random.default_rng(seed)
    rating = np.clip(rng.normal(4.0, 0.5, n), 1.0, 5.0)
    rating_null = rng.random(n) < 0.05
    lengths = rng.integers(0, 6, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    views = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(rng.integers(1, 500, int(offsets[-1])))
    )
    return {
        "customer_stats__avg_order_value": pa.array(rng.normal(100.0, 15.0, n)),
        "customer_stats__orders_30d": pa.array(rng.poisson(3.0, n)),
        "customer_stats__recent_views": views,
        "product_stats__price": pa.array(np.round(rng.lognormal(3.0, 0.5, n), 2) + 0.001),
        "product_stats__rating": pa.array(rating, mask=rating_null),
        "product_stats__category": pa.array(rng.choice(CATEGORIES, n, p=_CATEGORY_WEIGHTS)),
        "product_stats__in_stock": pa.array(rng.random(n) < 0.8),
    }


def _times(n: int, seed: int) -> pa.Array:
    rng = np.random.default_rng(seed + 7)
    micros = np.sort(rng.integers(0, 20 * 86_400 * 10**6, n)) + int(START.timestamp() * 10**6)
    return pa.array(micros, type=pa.timestamp("us", tz="UTC"))


def manifest_document(
    schema: pa.Schema,
    feast_types: dict[str, str],
    *,
    rows: int,
    start: datetime,
    end: datetime,
    content_hash: str | None,
) -> dict[str, object]:
    """A snapshot `manifest.json` as `skewguard snapshot` writes it, for hand-made data."""
    return {
        "schema_version": 1,
        "kind": "skewguard.training_snapshot",
        "feature_service": "recommender_v1",
        "join_keys": ["customer_id", "product_id"],
        "label_columns": ["purchased"],
        "features": [
            {
                "name": name,
                "view": name.split("__")[0],
                "feature": name.split("__")[1],
                "feast_type": feast_type,
                "arrow_type": str(schema.field(name).type),
            }
            for name, feast_type in feast_types.items()
        ],
        "time_range": {"start": start.isoformat(), "end": end.isoformat()},
        "row_count": rows,
        "feast_version": "0.67.0",
        "content_hash": content_hash,
        "created_at": start.isoformat(),
        "data_file": "data.parquet",
        "reference_profile": None,
    }


def file_hash(path: Path) -> str:
    """`sha256:<hex>` of a file, as the snapshot writer records it."""
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def write_training(
    folder: Path,
    n: int,
    seed: int = 1,
    *,
    transform: Callable[[Columns], Columns] | None = None,
    manifest: bool = True,
    reference: bool = False,
) -> Path:
    """A snapshot folder: data.parquet (+ manifest.json, + reference_profile.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    values = feature_values(n, seed)
    if transform is not None:
        values = transform(values)
    rng = np.random.default_rng(seed + 3)
    table = pa.table(
        {
            "customer_id": pa.array(rng.integers(1, 10_000, n)),
            "product_id": pa.array(rng.integers(1, 2_000, n)),
            "event_timestamp": _times(n, seed),
            "purchased": pa.array(rng.random(n) < 0.1),
            **values,
        }
    )
    pq.write_table(table, folder / "data.parquet")
    if manifest:
        doc = manifest_document(
            table.schema,
            {name: FEATURES[name][1] for name in values},
            rows=n,
            start=START,
            end=START + timedelta(20),
            content_hash=file_hash(folder / "data.parquet"),
        )
        if reference:
            from skewguard.checking.reference import write_reference_profile

            (folder / "manifest.json").write_text(json.dumps(doc))
            path = write_reference_profile(folder)
            doc["reference_profile"] = path.name
        (folder / "manifest.json").write_text(json.dumps(doc))
    return folder


def serving_table(
    n: int,
    seed: int = 2,
    *,
    transform: Callable[[Columns], Columns] | None = None,
    not_found_rate: float = 0.0,
) -> pa.Table:
    """Serving logs in Feast's feature-logging schema."""
    values = feature_values(n, seed)
    if transform is not None:
        values = transform(values)
    rng = np.random.default_rng(seed + 5)
    logged = _times(n, seed)
    columns: dict[str, pa.Array] = {
        "customer_id": pa.array(rng.integers(1, 10_000, n)),
        "product_id": pa.array(rng.integers(1, 2_000, n)),
    }
    for name, array in values.items():
        status = np.where(array.is_null().to_numpy(zero_copy_only=False), 2, 1).astype(np.int32)
        if not_found_rate:
            missing = rng.random(n) < not_found_rate
            status[missing] = int(FieldStatus.NOT_FOUND)
            array = pa.array(array.to_pylist(), type=array.type, mask=missing | array.is_null())
        columns[name] = array
        columns[name + "__timestamp"] = logged
        columns[name + "__status"] = pa.array(status, type=pa.int32())
    columns["__log_timestamp"] = logged
    columns["__log_date"] = logged.cast(pa.date32())
    columns["__request_id"] = pa.array([f"req-{seed}-{i}" for i in range(n)])
    return pa.table(columns)


def write_serving(folder: Path, n: int, seed: int = 2, *, parts: int = 1, **kwargs) -> Path:
    """Serving logs under hive partitions: folder/__log_date=YYYY-MM-DD/part-0.parquet."""
    table = serving_table(n, seed, **kwargs)
    bounds = np.linspace(0, n, parts + 1).astype(int)
    for i in range(parts):
        day = (START + timedelta(days=i)).date().isoformat()
        part = folder / f"__log_date={day}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(bounds[i], bounds[i + 1] - bounds[i]), part / "part-0.parquet")
    return folder


def replace_column(values: Columns, name: str, array: pa.Array) -> Columns:
    return {**values, name: array}
