"""A generated verdict suite: pipeline defects (block), drifts (retrain), clean resamples.

Its own features and distributions (not the ones the defaults were set on): money with
cents, session lengths, temperatures, an hour of day, ages, weights and heights, a
category. `DEFECTS` break the serving path one way each and name the check that must
explain it; `DRIFTS` move the world; `make_pair` writes a training snapshot and serving
logs (Feast log schema) for one case at one size and seed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

Columns = dict[str, np.ndarray]
Transform = Callable[[Columns, np.random.Generator], Columns]

CATEGORIES = [f"cat_{c}" for c in "abcdefghijklmnopqrstuvwxy"]
NUMERIC = [
    "orders__spend",
    "session__seconds",
    "weather__temp_c",
    "orders__count_90d",
    "orders__discount",
    "event__hour",
    "user__age",
    "product__weight_kg",
    "product__height_cm",
]
_HOUR_WEIGHTS = 1.2 + np.sin((np.arange(24) - 9) / 24 * 2 * np.pi)
_HOUR_WEIGHTS /= _HOUR_WEIGHTS.sum()


def world(n: int, rng: np.random.Generator, *, drift: dict[str, float] | None = None) -> Columns:
    """One sample of every feature; `drift` moves the world's parameters."""
    d = drift or {}
    zipf = 1.0 / np.arange(1, len(CATEGORIES) + 1) ** (1.1 - d.get("mix", 0.0))
    zipf /= zipf.sum()
    young = rng.random(n) < d.get("young", 0.0)
    age = np.where(young, rng.normal(24, 4, n), rng.normal(38, 12, n))
    discounted = rng.random(n) < 0.3 + d.get("promo", 0.0)
    return {
        "orders__spend": np.round(rng.lognormal(3.5 + d.get("spend", 0.0), 0.9, n), 2),
        "session__seconds": rng.gamma(2.0, 150.0 * (1 + d.get("session", 0.0)), n),
        "weather__temp_c": rng.normal(14.0 + d.get("temp", 0.0), 7.0, n),
        "orders__count_90d": rng.poisson(4.0 * (1 + d.get("orders", 0.0)), n),
        "orders__discount": np.where(discounted, np.round(rng.uniform(0.05, 0.5, n), 2), 0.0),
        "event__hour": rng.choice(24, n, p=_HOUR_WEIGHTS),
        "user__age": np.clip(np.round(age), 18, 90).astype(np.int64),
        "product__weight_kg": rng.lognormal(0.0, 0.6, n),
        "product__height_cm": rng.normal(170.0, 9.0, n),
        "product__category": rng.choice(CATEGORIES, n, p=zipf),
    }


def _with(name: str, f: Callable[[np.ndarray, np.random.Generator], np.ndarray]) -> Transform:
    return lambda c, rng: {**c, name: f(c[name], rng)}


def _fill(value: float, share: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    def apply(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.where(rng.random(x.size) < share, value, x)

    return apply


def _poison(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(x.size)
    return np.where(u < 0.03, np.nan, np.where(u < 0.05, np.inf, x))


def _nulls(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.ma.masked_array(x, mask=rng.random(x.size) < 0.05)  # type: ignore[no-any-return]


def _swap(a: str, b: str) -> Transform:
    return lambda c, rng: {**c, a: c[b], b: c[a]}


def _case(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.array([v.upper() if v in ("cat_a", "cat_c") else v for v in x])


def _placeholder(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(x.size) < 0.2, "unknown", x)


@dataclass(frozen=True)
class Case:
    name: str
    feature: str
    check: str  # the check that must fire with the expected verdict
    transform: Transform
    serving_type: dict[str, pa.DataType] | None = None


DEFECTS = [
    Case(
        "percent_x100",
        "orders__discount",
        "unit_change",
        _with("orders__discount", lambda x, r: x * 100),
    ),
    Case(
        "seconds_as_minutes",
        "session__seconds",
        "unit_change",
        _with("session__seconds", lambda x, r: x / 60),
    ),
    Case(
        "seconds_as_ms",
        "session__seconds",
        "unit_change",
        _with("session__seconds", lambda x, r: x * 1000),
    ),
    Case(
        "celsius_as_fahrenheit",
        "weather__temp_c",
        "unit_change",
        _with("weather__temp_c", lambda x, r: x * 1.8 + 32),
    ),
    Case(
        "cm_as_inches",
        "product__height_cm",
        "unit_change",
        _with("product__height_cm", lambda x, r: x / 2.54),
    ),
    Case(
        "kg_as_pounds",
        "product__weight_kg",
        "unit_change",
        _with("product__weight_kg", lambda x, r: x / 0.4536),
    ),
    Case(
        "hour_in_utc",
        "event__hour",
        "time_offset",
        _with("event__hour", lambda x, r: (x + 5) % 24),
    ),
    Case(
        "spend_rounded",
        "orders__spend",
        "precision_loss",
        _with("orders__spend", lambda x, r: np.round(x, 0)),
    ),
    Case(
        "spend_zero_fill",
        "orders__spend",
        "default_fill",
        _with("orders__spend", _fill(0.0, 0.3)),
    ),
    Case(
        "temp_mean_fill",
        "weather__temp_c",
        "default_fill",
        _with("weather__temp_c", _fill(14.0, 0.25)),
    ),
    Case(
        "session_clipped",
        "session__seconds",
        "clipping",
        _with("session__seconds", lambda x, r: np.minimum(x, 500.0)),
    ),
    Case(
        "weight_height_swapped",
        "product__weight_kg",
        "swapped",
        _swap("product__weight_kg", "product__height_cm"),
    ),
    Case(
        "category_upper_case",
        "product__category",
        "category_form",
        _with("product__category", _case),
    ),
    Case(
        "category_unknown_fill",
        "product__category",
        "default_fill",
        _with("product__category", _placeholder),
    ),
    Case(
        "nan_and_inf",
        "orders__spend",
        "nan_rate",
        _with("orders__spend", _poison),
    ),
    Case(
        "nulls_appear",
        "user__age",
        "null_rate",
        _with("user__age", _nulls),
    ),
    Case(
        "float32_served",
        "weather__temp_c",
        "schema",
        lambda c, r: c,
        {"weather__temp_c": pa.float32()},
    ),
    Case(
        "counts_as_strings",
        "orders__count_90d",
        "schema",
        lambda c, r: c,
        {"orders__count_90d": pa.string()},
    ),
]

DRIFTS: dict[str, dict[str, float]] = {
    "seasonal": {"temp": 4.0, "session": 0.15, "promo": 0.1},
    "trend": {"spend": 0.15, "orders": 0.2},
    "mix_change": {"mix": 0.5, "young": 0.3},
}


def _array(values: np.ndarray, arrow_type: pa.DataType | None = None) -> pa.Array:
    mask = np.ma.getmaskarray(values) if isinstance(values, np.ma.MaskedArray) else None
    data = np.ma.getdata(values)
    if arrow_type is not None and pa.types.is_string(arrow_type):
        return pa.array([str(v) for v in data.tolist()], type=pa.string())
    array = pa.array(data, mask=mask)
    return array.cast(arrow_type) if arrow_type is not None else array


def write_snapshot(folder: Path, columns: Columns) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({name: _array(v) for name, v in columns.items()})
    pq.write_table(table, folder / "data.parquet")
    manifest = {
        "schema_version": 1,
        "kind": "skewguard.training_snapshot",
        "feature_service": "suite",
        "join_keys": [],
        "label_columns": [],
        "features": [
            {"name": n, "arrow_type": str(table.schema.field(n).type)} for n in table.column_names
        ],
        "row_count": table.num_rows,
        "data_file": "data.parquet",
        "reference_profile": None,
        "time_range": {"start": datetime(2026, 1, 1, tzinfo=UTC).isoformat()},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def write_logs(folder: Path, columns: Columns, types: dict[str, pa.DataType] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(next(iter(columns.values())))
    out: dict[str, pa.Array] = {}
    for name, values in columns.items():
        array = _array(values, (types or {}).get(name))
        status = np.where(array.is_null().to_numpy(zero_copy_only=False), 2, 1)
        out[name] = array
        out[name + "__status"] = pa.array(status.astype(np.int32))
    # the columns of Feast's logging schema a serving log must carry
    logged = pa.array(np.full(n, np.datetime64("2026-11-30T12:00:00", "us")))
    out["__log_timestamp"] = logged.cast(pa.timestamp("us", tz="UTC"))
    out["__log_date"] = logged.cast(pa.date32())
    out["__request_id"] = pa.array([f"r{i}" for i in range(n)])
    pq.write_table(pa.table(out), folder / "part-0.parquet")
    return folder


def make_pair(
    root: Path,
    n: int,
    seed: int,
    *,
    defect: Case | None = None,
    drift: dict[str, float] | None = None,
) -> tuple[Path, Path]:
    """(training snapshot folder, serving log folder) for one case."""
    train = world(n, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 10_000)
    serve = world(n, rng, drift=drift)
    types = None
    if defect is not None:
        serve = defect.transform(serve, rng)
        types = defect.serving_type
    return write_snapshot(root / "train", train), write_logs(root / "logs", serve, types)
