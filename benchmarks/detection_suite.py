"""The generated detection suite: a world of features, the defects and drifts applied to it.

`benchmarks/bench_detection.py` runs it. A case is a training table (a snapshot: join key,
`event_timestamp`, features) and a serving table in Feast's logging schema (feature,
`__timestamp`, `__status` per feature), plus what a right answer is:

- a pipeline defect (`block`): the world is the same, the serving path broke it;
- a realistic drift (`retrain`): the world moved, the pipeline is fine;
- a clean resample (`pass`; `warn` is no false alarm either).

Every defect kind of docs/detection.md has a case: unit or scale change (x100, minutes to
seconds), a whole-hour offset, precision loss, a default fill, clipping, swapped columns,
category case and whitespace changes, type changes (int to float, float64 to float32,
numbers as strings), NaN and infinities appearing, and a rise of NOT_FOUND lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewguard.logschema import FieldStatus

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 28
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
]
CATEGORY_WEIGHTS = np.array([1 / (i + 1) ** 0.8 for i in range(len(CATEGORIES))])
CATEGORY_WEIGHTS /= CATEGORY_WEIGHTS.sum()

# name -> Feast type of the snapshot manifest
FEAST_TYPES = {
    "orders__amount": "Float64",
    "sessions__minutes": "Float64",
    "customer__hours_since_order": "Float64",
    "product__price": "Float64",
    "customer__avg_basket": "Float64",
    "product__discount": "Float64",
    "product__width_cm": "Float64",
    "product__height_cm": "Float64",
    "product__category": "String",
    "customer__segment": "String",
    "customer__orders_30d": "Int64",
    "customer__return_rate": "Float64",
    "product__rating": "Float64",
}
FEATURES = list(FEAST_TYPES)
PRESENT, NULL_VALUE, NOT_FOUND = (
    int(s) for s in (FieldStatus.PRESENT, FieldStatus.NULL_VALUE, FieldStatus.NOT_FOUND)
)

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class World:
    """The knobs a drift turns; the defaults are the training world."""

    business_share: float = 0.2  # customer mix: business customers buy more, more often
    amount_log_mean: float = 3.5
    minutes_scale: float = 6.0
    category_tilt: float = 0.0  # > 0 moves mass towards the later (seasonal) categories
    discount_a: float = 2.0


def draw(n: int, rng: np.random.Generator, world: World = World()) -> Columns:
    """n rows of every feature, as NumPy arrays (object arrays for strings; NaN for null)."""
    business = rng.random(n) < world.business_share
    weights = CATEGORY_WEIGHTS * np.exp(world.category_tilt * np.linspace(-1, 1, len(CATEGORIES)))
    weights /= weights.sum()
    rating = np.round(np.clip(rng.normal(4.0, 0.5, n), 1.0, 5.0), 2)
    rating[rng.random(n) < 0.03] = np.nan  # training has some nulls: a rise must be judged
    return {
        "orders__amount": np.round(
            rng.lognormal(world.amount_log_mean + 0.4 * business, 0.6, n), 2
        ),
        "sessions__minutes": np.round(rng.gamma(2.0, world.minutes_scale, n), 2),
        "customer__hours_since_order": rng.gamma(2.0, 20.0, n),
        "product__price": np.round(rng.lognormal(2.5, 0.7, n), 2),
        "customer__avg_basket": np.where(
            business, rng.normal(90.0, 15.0, n), rng.normal(55.0, 10.0, n)
        ),
        "product__discount": rng.beta(world.discount_a, 8.0, n),
        "product__width_cm": rng.normal(30.0, 5.0, n),
        "product__height_cm": rng.normal(45.0, 8.0, n),
        "product__category": rng.choice(np.array(CATEGORIES, dtype=object), n, p=weights),
        "customer__segment": np.where(business, "business", "consumer").astype(object),
        "customer__orders_30d": rng.poisson(np.where(business, 6.0, 3.0)).astype(np.int64),
        "customer__return_rate": rng.beta(2.0, 20.0, n),
        "product__rating": rating,
    }


def _times(n: int, rng: np.random.Generator, start: datetime) -> np.ndarray:
    offset = np.sort(rng.integers(0, DAYS * 86_400 * 10**6, n))
    return offset + int(start.timestamp() * 10**6)


def _array(values: np.ndarray, feast_type: str) -> pa.Array:
    if values.dtype == object:
        return pa.array(values, type=pa.string(), from_pandas=True)
    if feast_type == "Int64" and values.dtype.kind == "i":
        return pa.array(values, type=pa.int64())
    mask = np.isnan(values) if values.dtype.kind == "f" and feast_type != "raw" else None
    return pa.array(values, mask=mask)


def training_table(columns: Columns, rng: np.random.Generator) -> pa.Table:
    n = len(columns["orders__amount"])
    times = pa.array(_times(n, rng, START), type=pa.timestamp("us", tz="UTC"))
    data: dict[str, pa.Array] = {
        "customer_id": pa.array(rng.integers(1, 50_000, n)),
        "event_timestamp": times,
    }
    for name in FEATURES:
        data[name] = _array(columns[name], FEAST_TYPES[name])
    return pa.table(data)


def serving_table(
    columns: dict[str, np.ndarray | pa.Array],
    rng: np.random.Generator,
    *,
    not_found: np.ndarray | None = None,
) -> pa.Table:
    """Serving logs: values (an array already in Arrow form keeps its type), statuses."""
    n = len(columns["orders__amount"])
    logged = pa.array(
        _times(n, rng, START + timedelta(days=DAYS)), type=pa.timestamp("us", tz="UTC")
    )
    data: dict[str, pa.Array] = {"customer_id": pa.array(rng.integers(1, 50_000, n))}
    for name in FEATURES:
        values = columns[name]
        array = values if isinstance(values, pa.Array) else _array(values, FEAST_TYPES[name])
        status = np.where(array.is_null().to_numpy(zero_copy_only=False), NULL_VALUE, PRESENT)
        if not_found is not None and name.startswith("customer__"):
            status = np.where(not_found, NOT_FOUND, status)
            array = pc.if_else(pa.array(not_found), pa.nulls(n, array.type), array)
        data[name] = array
        data[name + "__timestamp"] = logged
        data[name + "__status"] = pa.array(status.astype(np.int32))
    data["__log_timestamp"] = logged
    data["__request_id"] = pa.array(np.arange(n)).cast(pa.string())
    return pa.table(data)


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    name: str
    family: str  # defect | drift | clean
    expected: str  # block | retrain | pass
    what: str
    build: Callable[[int, np.random.Generator], tuple[dict[str, np.ndarray | pa.Array], dict]]


def _same(n: int, rng: np.random.Generator) -> Columns:
    return draw(n, rng)


def _edit(fn: Callable[[Columns, np.random.Generator], None]) -> Callable:
    def build(n: int, rng: np.random.Generator) -> tuple[dict, dict]:
        columns: dict = dict(_same(n, rng))
        fn(columns, rng)
        return columns, {}

    return build


def _scale(name: str, k: float) -> Callable:
    return _edit(lambda c, rng: c.__setitem__(name, np.round(c[name] * k, 2)))


def _offset(c: Columns, rng: np.random.Generator) -> None:
    c["customer__hours_since_order"] = c["customer__hours_since_order"] + 5.0


def _precision(c: Columns, rng: np.random.Generator) -> None:
    c["product__price"] = np.round(c["product__price"], 0)


def _default_fill(c: Columns, rng: np.random.Generator) -> None:
    basket = c["customer__avg_basket"].copy()
    basket[rng.random(len(basket)) < 0.15] = 0.0
    c["customer__avg_basket"] = basket


def _clip(c: Columns, rng: np.random.Generator) -> None:
    c["product__discount"] = np.minimum(c["product__discount"], 0.25)


def _swap(c: Columns, rng: np.random.Generator) -> None:
    c["product__width_cm"], c["product__height_cm"] = (
        c["product__height_cm"],
        c["product__width_cm"],
    )


def _case(c: Columns, rng: np.random.Generator) -> None:
    cats = c["product__category"].copy()
    upper = rng.random(len(cats)) < 0.3
    cats[upper] = np.char.upper(cats[upper].astype(str)).astype(object)
    c["product__category"] = cats


def _space(c: Columns, rng: np.random.Generator) -> None:
    cats = c["product__category"].copy()
    padded = rng.random(len(cats)) < 0.3
    cats[padded] = np.char.add(cats[padded].astype(str), " ").astype(object)
    c["product__category"] = cats


def _int_to_float(c: dict, rng: np.random.Generator) -> None:
    c["customer__orders_30d"] = pa.array(c["customer__orders_30d"].astype(np.float64))


def _to_float32(c: dict, rng: np.random.Generator) -> None:
    c["product__price"] = pa.array(c["product__price"].astype(np.float32))


def _as_strings(c: dict, rng: np.random.Generator) -> None:
    c["customer__orders_30d"] = pa.array(c["customer__orders_30d"].astype(str).astype(object))


def _nan_inf(c: Columns, rng: np.random.Generator) -> None:
    rate = c["customer__return_rate"].copy()
    u = rng.random(len(rate))
    rate[u < 0.03] = np.nan
    rate[(u >= 0.03) & (u < 0.05)] = np.inf
    # NaN here is a value, not a null: keep it as NaN in Arrow
    c["customer__return_rate"] = pa.array(rate, from_pandas=False)


def _not_found(n: int, rng: np.random.Generator) -> tuple[dict, dict]:
    return dict(_same(n, rng)), {"not_found": rng.random(n) < 0.08}


def _drift(world: World) -> Callable:
    return lambda n, rng: (dict(draw(n, rng, world)), {})


def _trend(n: int, rng: np.random.Generator) -> tuple[dict, dict]:
    """Spend and discounts climb over the serving month (rows are in time order)."""
    columns: dict = dict(draw(n, rng))
    ramp = np.linspace(0.0, 1.0, n)
    columns["orders__amount"] = np.round(columns["orders__amount"] * (1.0 + 0.3 * ramp), 2)
    columns["product__discount"] = np.clip(columns["product__discount"] + 0.06 * ramp, 0, 1)
    return columns, {}


def _gradual_mix(n: int, rng: np.random.Generator) -> tuple[dict, dict]:
    """The share of business customers grows from 20% to 45% over the month."""
    halves = []
    for share in np.linspace(0.2, 0.45, 8):
        halves.append(draw(max(1, n // 8), rng, World(business_share=float(share))))
    columns = {k: np.concatenate([h[k] for h in halves])[:n] for k in FEATURES}
    short = n - len(columns["orders__amount"])
    if short > 0:
        extra = draw(short, rng, World(business_share=0.45))
        columns = {k: np.concatenate([columns[k], extra[k]]) for k in FEATURES}
    return dict(columns), {}


CASES: list[Case] = [
    Case(
        "unit_x100",
        "defect",
        "block",
        "orders__amount in cents (x100)",
        _scale("orders__amount", 100.0),
    ),
    Case(
        "minutes_to_seconds",
        "defect",
        "block",
        "sessions__minutes sent in seconds (x60)",
        _scale("sessions__minutes", 60.0),
    ),
    Case(
        "hour_offset",
        "defect",
        "block",
        "customer__hours_since_order +5 h (time zone)",
        _edit(_offset),
    ),
    Case(
        "precision_loss",
        "defect",
        "block",
        "product__price rounded to whole units",
        _edit(_precision),
    ),
    Case(
        "default_fill",
        "defect",
        "block",
        "15% of customer__avg_basket filled with 0.0",
        _edit(_default_fill),
    ),
    Case("clipping", "defect", "block", "product__discount clipped at 0.25", _edit(_clip)),
    Case(
        "swapped_columns",
        "defect",
        "block",
        "product__width_cm and product__height_cm swapped",
        _edit(_swap),
    ),
    Case("category_case", "defect", "block", "30% of product__category upper-cased", _edit(_case)),
    Case(
        "category_whitespace",
        "defect",
        "block",
        "30% of product__category with a trailing space",
        _edit(_space),
    ),
    Case(
        "int_to_float",
        "defect",
        "block",
        "customer__orders_30d served as float64",
        _edit(_int_to_float),
    ),
    Case(
        "float64_to_float32",
        "defect",
        "block",
        "product__price served as float32",
        _edit(_to_float32),
    ),
    Case(
        "numbers_as_strings",
        "defect",
        "block",
        "customer__orders_30d served as strings",
        _edit(_as_strings),
    ),
    Case(
        "nan_inf_appearing",
        "defect",
        "block",
        "customer__return_rate: 3% NaN, 2% +inf (training: none)",
        _edit(_nan_inf),
    ),
    Case(
        "not_found_rise",
        "defect",
        "block",
        "8% of customer lookups NOT_FOUND (training: none)",
        _not_found,
    ),
    Case(
        "seasonal",
        "drift",
        "retrain",
        "a season later: spend +10%, longer sessions, garden/outdoor mix up, more discounts",
        _drift(World(amount_log_mean=3.6, minutes_scale=6.6, category_tilt=0.5, discount_a=2.4)),
    ),
    Case(
        "trend",
        "drift",
        "retrain",
        "spend climbs 0 to 30% and discounts +0.06 over the month",
        _trend,
    ),
    Case(
        "gradual_mix",
        "drift",
        "retrain",
        "business customers 20% to 45% over the month",
        _gradual_mix,
    ),
]
CLEAN = Case(
    "clean",
    "clean",
    "pass",
    "a fresh sample of the training world",
    lambda n, rng: (dict(_same(n, rng)), {}),
)


def build_case(case: Case, n: int, seed: int) -> pa.Table:
    """The serving table of `case` with n rows."""
    rng = np.random.default_rng(seed)
    columns, extra = case.build(n, rng)
    return serving_table(columns, rng, **extra)


def shifted(n: int, seed: int, *, shift_sd: float = 0.0, null_rise: float = 0.0) -> pa.Table:
    """Serving rows with customer__avg_basket's mean moved by `shift_sd` training standard
    deviations, and product__rating's null share raised by `null_rise` (power table)."""
    rng = np.random.default_rng(seed)
    columns: dict = dict(draw(n, rng))
    basket = columns["customer__avg_basket"]
    columns["customer__avg_basket"] = basket + shift_sd * BASKET_SD
    if null_rise:
        rating = columns["product__rating"].copy()
        rating[rng.random(n) < null_rise / 0.97] = np.nan  # of the non-null 97%
        columns["product__rating"] = rating
    return serving_table(columns, rng)


# customer__avg_basket: a 20/80 mixture of N(90, 15) and N(55, 10)
_MEAN = 0.2 * 90 + 0.8 * 55
BASKET_SD = float(np.sqrt(0.2 * (15**2 + 90**2) + 0.8 * (10**2 + 55**2) - _MEAN**2))
