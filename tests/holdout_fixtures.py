"""A second, held-out verdict suite: other features, other defects, other drifts.

Written after the defaults were set and run as it is (`bench_verdicts.py --world
holdout`), so its counts say how the detection does on data it was not adjusted to.
Same shape as `defect_fixtures`: `DEFECTS`, `DRIFTS`, `make_pair`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from defect_fixtures import Case, Columns, Transform, write_logs, write_snapshot

DEVICES = ["ios", "android", "web", "tv", "watch", "kiosk", "car", "console"]
_DEVICE_P = np.array([0.3, 0.3, 0.2, 0.07, 0.05, 0.04, 0.02, 0.02])


def world(n: int, rng: np.random.Generator, *, drift: dict[str, float] | None = None) -> Columns:
    d = drift or {}
    p = _DEVICE_P * np.exp(d.get("devices", 0.0) * np.arange(len(DEVICES)) / 4)
    return {
        "loan__amount": np.round(1000 * (rng.pareto(2.5, n) + 1) * (1 + d.get("loans", 0.0)), 2),
        "sensor__pressure_kpa": rng.normal(101.3 + d.get("pressure", 0.0), 1.5, n),
        "trip__distance_km": rng.exponential(8.0 * (1 + d.get("trips", 0.0)), n),
        "user__tenure_days": rng.geometric(1 / (400 * (1 + d.get("tenure", 0.0))), n),
        "sensor__humidity_pct": 100 * rng.beta(5 + d.get("humid", 0.0), 3, n),
        "page__load_ms": rng.lognormal(5.5 + d.get("load", 0.0), 0.4, n),
        "basket__items": rng.poisson(2.5 + d.get("items", 0.0), n) + 1,
        "user__device": rng.choice(DEVICES, n, p=p / p.sum()),
    }


def _with(name: str, f: Callable[[np.ndarray, np.random.Generator], np.ndarray]) -> Transform:
    return lambda c, rng: {**c, name: f(c[name], rng)}


def _share(share: float, value: object) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    return lambda x, rng: np.where(rng.random(x.size) < share, value, x)


DEFECTS = [
    Case("km_as_m", "trip__distance_km", "unit_change",
         _with("trip__distance_km", lambda x, r: x * 1000)),
    Case("days_as_hours", "user__tenure_days", "unit_change",
         _with("user__tenure_days", lambda x, r: x * 24)),
    Case("ms_as_s", "page__load_ms", "unit_change", _with("page__load_ms", lambda x, r: x / 1000)),
    Case("kpa_as_hpa", "sensor__pressure_kpa", "unit_change",
         _with("sensor__pressure_kpa", lambda x, r: x * 10)),
    Case("humidity_fill_minus_one", "sensor__humidity_pct", "default_fill",
         _with("sensor__humidity_pct", _share(0.15, -1.0))),
    Case("amount_fill_zero", "loan__amount", "default_fill",
         _with("loan__amount", _share(0.08, 0.0))),
    Case("distance_clipped", "trip__distance_km", "clipping",
         _with("trip__distance_km", lambda x, r: np.minimum(x, 15.0))),
    Case("humidity_floor", "sensor__humidity_pct", "clipping",
         _with("sensor__humidity_pct", lambda x, r: np.maximum(x, 50.0))),
    Case("pressure_rounded", "sensor__pressure_kpa", "precision_loss",
         _with("sensor__pressure_kpa", lambda x, r: np.round(x, 0))),
    Case("load_in_float32", "page__load_ms", "precision_loss",
         _with("page__load_ms", lambda x, r: x.astype(np.float32).astype(np.float64))),
    Case("device_title_case", "user__device", "category_form",
         _with("user__device", lambda x, r: np.char.title(x.astype(str)))),
    Case("device_padded", "user__device", "category_form",
         _with("user__device", lambda x, r: np.char.add(x.astype(str), " "))),
    Case("device_empty_fill", "user__device", "default_fill",
         _with("user__device", _share(0.1, ""))),
    Case("distance_load_swapped", "trip__distance_km", "swapped",
         lambda c, r: {**c, "trip__distance_km": c["page__load_ms"],
                       "page__load_ms": c["trip__distance_km"]}),
    Case("pressure_nan", "sensor__pressure_kpa", "nan_rate",
         _with("sensor__pressure_kpa", _share(0.02, np.nan))),
    Case("negative_amounts", "loan__amount", "negative_rate",
         _with("loan__amount", lambda x, r: np.where(r.random(x.size) < 0.05, -x, x))),
    Case("items_as_float", "basket__items", "schema", lambda c, r: c,
         {"basket__items": pa.float64()}),
]  # fmt: skip

DRIFTS: dict[str, dict[str, float]] = {
    "weather_front": {"pressure": 1.2, "humid": 1.5},
    "growth": {"loans": 0.12, "tenure": -0.2, "items": 0.4},
    "new_devices": {"devices": 1.0, "load": 0.08},
    "longer_trips": {"trips": 0.1},
}


def make_pair(
    root: Path,
    n: int,
    seed: int,
    *,
    defect: Case | None = None,
    drift: dict[str, float] | None = None,
) -> tuple[Path, Path]:
    train = world(n, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 20_000)
    serve = world(n, rng, drift=drift)
    types = None
    if defect is not None:
        serve = defect.transform(serve, rng)
        types = defect.serving_type
    return write_snapshot(root / "train", train), write_logs(root / "logs", serve, types)
