"""Deterministic synthetic data for the fashion-recommendation feature repo.

Writes three parquet files into the repo's data folder:

- `customer_profile.parquet`: one row per customer per week (after they sign up);
- `product_stats.parquet`: one row per product per day (a few daily batches missing);
- `interactions.parquet`: labelled browsing events (customer, product, time, purchased),
  the entity/label frame that training snapshots are built from.

The world has trends: category popularity moves across the window (sneakers rise,
knitwear fades), so a model trained on the early weeks drifts on the later ones. The
same seed, sizes and end date always give the same bytes of data.

Opt-in, the label's dependence on the features can change too (concept drift,
`ConceptDrift`): from a given day on, shoppers weigh a product's price differently (a
premium trend: cheaper items sold better before, dearer ones after). The features do not
change with it, only `purchased`; the term is computed from arrays already drawn, so a
configuration without it gives exactly the data it gave before the option existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "CATEGORIES",
    "ConceptDrift",
    "GeneratorConfig",
    "GeneratedData",
    "generate",
    "today_utc",
]

CATEGORIES = ("dresses", "jeans", "sneakers", "jackets", "knitwear", "accessories")
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")

# Category popularity at the start and at the end of the window; interpolated daily.
_TREND_START = np.array([0.22, 0.20, 0.10, 0.16, 0.20, 0.12])
_TREND_END = np.array([0.18, 0.17, 0.32, 0.13, 0.06, 0.14])
_BASE_PRICE = np.array([60.0, 70.0, 95.0, 140.0, 55.0, 25.0])

_TS = pa.timestamp("us", tz="UTC")


def today_utc() -> datetime:
    """Midnight UTC of the current day: the default end of the simulated window."""
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


@dataclass(frozen=True)
class ConceptDrift:
    """A change of how the purchase depends on price, at the start of day `day`.

    The purchase logit gains `sensitivity * z`, where z is the standardized log of the
    product's base price (the `price` feature, before its slow daily creep) and the
    sensitivity is `before` on days `[0, day)` and `after` from `day` on. Negative: cheaper
    items sell better; positive: dearer ones do.
    """

    day: int = 21
    before: float = -1.0
    after: float = 1.0


@dataclass(frozen=True)
class GeneratorConfig:
    customers: int = 400
    products: int = 150
    days: int = 42
    events_per_day: int = 150
    seed: int = 7
    end: datetime | None = None  # None: today at midnight UTC
    missing_batch_rate: float = 0.03  # share of product daily batches that never landed
    concept_drift: ConceptDrift | None = None  # None: P(purchase | features) never changes

    def resolved_end(self) -> datetime:
        end = self.end or today_utc()
        if end.tzinfo is None:
            raise ValueError("GeneratorConfig.end must be time-zone aware (UTC)")
        return end.astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.resolved_end() - timedelta(days=self.days)


@dataclass(frozen=True)
class GeneratedData:
    folder: Path
    customer_profile: Path
    product_stats: Path
    interactions: Path
    start: datetime
    end: datetime
    rows: dict[str, int]


def _trend(days: int) -> np.ndarray:
    """Category popularity per day, shape (days, categories), rows sum to 1."""
    w = np.linspace(0.0, 1.0, days)[:, None]
    mix = (1 - w) * _TREND_START + w * _TREND_END
    return mix / mix.sum(axis=1, keepdims=True)


def _timestamps(start: datetime, offsets_s: np.ndarray) -> pa.Array:
    base_us = int(start.timestamp() * 1_000_000)
    return pa.array(base_us + (offsets_s * 1_000_000).astype(np.int64), type=pa.int64()).cast(_TS)


def _customers(cfg: GeneratorConfig, rng: np.random.Generator, trend: np.ndarray) -> pa.Table:
    n, days = cfg.customers, cfg.days
    weeks = max(1, days // 7)
    # 80% existed before the window, the rest sign up during its first two thirds: their
    # early events have no profile yet, which training snapshots must keep as nulls.
    signup_day = np.where(rng.random(n) < 0.8, 0, rng.integers(1, max(2, days * 2 // 3), n))
    base_aov = rng.lognormal(mean=4.2, sigma=0.45, size=n)
    age = rng.integers(18, 71, n).astype(np.int32)
    premium = rng.random(n) < 0.15
    taste = rng.dirichlet(np.ones(len(CATEGORIES)) * 0.8, size=n)

    cust_grid, week_grid = np.meshgrid(np.arange(n), np.arange(weeks), indexing="ij")
    cust_idx, week_idx = cust_grid.ravel(), week_grid.ravel()
    # Profiles are computed weekly at a random hour of the week's first day.
    day = week_idx * 7
    offset_s = day * 86400 + rng.integers(0, 86400, cust_idx.size)
    keep = day >= signup_day[cust_idx]
    cust_idx, week_idx, day, offset_s = (a[keep] for a in (cust_idx, week_idx, day, offset_s))
    m = cust_idx.size

    aov = base_aov[cust_idx] * (1 + 0.01 * week_idx) * rng.lognormal(0, 0.05, m)
    orders = rng.poisson(2 + 6 * premium[cust_idx] + week_idx * 0.2).astype(np.int64)
    tier_idx = np.clip(orders // 3, 0, len(LOYALTY_TIERS) - 1)
    # Recent categories: a mix of the shopper's taste and the current trend.
    pref = 0.6 * taste[cust_idx] + 0.4 * trend[np.minimum(day, cfg.days - 1)]
    k = rng.integers(1, 4, m)
    # Weighted sampling without replacement for all rows at once (Gumbel top-k).
    keys = np.log(pref) + rng.gumbel(size=pref.shape)
    ranked = np.argsort(-keys, axis=1)
    names = np.array(CATEGORIES, dtype=object)[ranked]
    offsets = np.concatenate([[0], np.cumsum(k)])
    flat = names[:, :3][np.arange(3)[None, :] < k[:, None]]  # first k of each row
    recent = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, pa.string()))

    event_ts = _timestamps(cfg.start, offset_s)
    created_ts = _timestamps(cfg.start, offset_s + 3600)
    return pa.table(
        {
            "customer_id": pa.array(cust_idx + 1, pa.int64()),
            "event_timestamp": event_ts,
            "created_timestamp": created_ts,
            "avg_order_value": pa.array(np.round(aov, 2), pa.float64()),
            "orders_90d": pa.array(orders, pa.int64()),
            "age": pa.array(age[cust_idx], pa.int32()),
            "loyalty_tier": pa.array([LOYALTY_TIERS[i] for i in tier_idx], pa.string()),
            "is_premium": pa.array(premium[cust_idx], pa.bool_()),
            "recent_categories": recent,
        }
    )


def _products(
    cfg: GeneratorConfig, rng: np.random.Generator, trend: np.ndarray
) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    n, days = cfg.products, cfg.days
    category = rng.integers(0, len(CATEGORIES), n)
    appeal = rng.lognormal(0, 0.6, n)
    base_price = _BASE_PRICE[category] * rng.lognormal(0, 0.35, n)
    rating = np.clip(rng.normal(4.1, 0.45, n), 1.0, 5.0)

    prod_grid, day_grid = np.meshgrid(np.arange(n), np.arange(days), indexing="ij")
    prod_idx, day = prod_grid.ravel(), day_grid.ravel()
    # The nightly batch lands at about 02:00; a few batches never land.
    keep = rng.random(prod_idx.size) >= cfg.missing_batch_rate
    prod_idx, day = prod_idx[keep], day[keep]
    m = prod_idx.size
    offset_s = day * 86400 + 7200 + rng.integers(0, 1800, m)

    popularity = appeal[prod_idx] * trend[day, category[prod_idx]] * len(CATEGORIES)
    views = rng.poisson(40 * popularity * 7).astype(np.int64)
    # Sales: a category goes on sale for a week now and then.
    on_sale = ((day // 7 + category[prod_idx]) % 4 == 0) & (rng.random(m) < 0.9)
    discount = np.where(on_sale, rng.choice([0.1, 0.2, 0.3, 0.5], m), 0.0).astype(np.float32)
    price = np.round(base_price[prod_idx] * (1 + 0.002 * day), 2)
    # Stock belongs to the product and moves a little from day to day, so whether a
    # product is in stock today is what it mostly was this week.
    base_stock = rng.normal(60, 40, n)
    stock = np.maximum(0, base_stock[prod_idx] + rng.normal(0, 8, m) - views / 20)
    stock = stock.astype(np.int32)
    day_rating = np.clip(rating[prod_idx] + rng.normal(0, 0.05, m), 1, 5).astype(np.float32)

    table = pa.table(
        {
            "product_id": pa.array(prod_idx + 1, pa.int64()),
            "event_timestamp": _timestamps(cfg.start, offset_s),
            "created_timestamp": _timestamps(cfg.start, offset_s + 600),
            "price": pa.array(price, pa.float64()),
            "discount": pa.array(discount, pa.float32()),
            "rating": pa.array(day_rating, pa.float32()),
            "views_7d": pa.array(views, pa.int64()),
            "stock_level": pa.array(stock, pa.int32()),
            "category": pa.array([CATEGORIES[i] for i in category[prod_idx]], pa.string()),
            "in_stock": pa.array(stock > 0, pa.bool_()),
        }
    )
    return table, category, appeal, base_price


def _price_term(drift: ConceptDrift, day: np.ndarray, price: np.ndarray) -> np.ndarray:
    """The concept-drift term of each event's purchase logit (no random draw)."""
    log_price = np.log(price)
    z = (log_price - log_price.mean()) / log_price.std()
    sensitivity = np.where(day < drift.day, drift.before, drift.after)
    return sensitivity * z


def _interactions(
    cfg: GeneratorConfig,
    rng: np.random.Generator,
    trend: np.ndarray,
    category: np.ndarray,
    appeal: np.ndarray,
    base_price: np.ndarray,
) -> pa.Table:
    days, per_day = cfg.days, cfg.events_per_day
    total = days * per_day
    day = np.repeat(np.arange(days), per_day)
    offset_s = day * 86400 + rng.integers(0, 86400, total)
    customer = rng.integers(1, cfg.customers + 1, total)
    # Shoppers browse what is popular today.
    product = np.empty(total, dtype=np.int64)
    for d in range(days):
        weights = appeal * trend[d, category]
        sel = slice(d * per_day, (d + 1) * per_day)
        product[sel] = rng.choice(cfg.products, size=per_day, p=weights / weights.sum()) + 1
    trendiness = trend[day, category[product - 1]] * len(CATEGORIES)
    logit = (
        -2.2 + 1.2 * (trendiness - 1) + 0.4 * np.log(appeal[product - 1]) + rng.normal(0, 1, total)
    )
    if cfg.concept_drift is not None:
        logit = logit + _price_term(cfg.concept_drift, day, base_price[product - 1])
    purchased = rng.random(total) < 1 / (1 + np.exp(-logit))
    order = np.argsort(offset_s, kind="stable")
    return pa.table(
        {
            "customer_id": pa.array(customer[order], pa.int64()),
            "product_id": pa.array(product[order], pa.int64()),
            "event_timestamp": _timestamps(cfg.start, offset_s[order]),
            "purchased": pa.array(purchased[order], pa.bool_()),
        }
    )


def generate(folder: str | Path, config: GeneratorConfig | None = None) -> GeneratedData:
    """Write the three parquet files into `folder`; returns their paths and row counts."""
    cfg = config or GeneratorConfig()
    for name in ("customers", "products", "days", "events_per_day"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"GeneratorConfig.{name} must be at least 1")
    if cfg.concept_drift is not None and not 0 < cfg.concept_drift.day < cfg.days:
        raise ValueError("ConceptDrift.day must fall inside the window (0 < day < days)")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    trend = _trend(cfg.days)

    customers = _customers(cfg, rng, trend)
    products, category, appeal, base_price = _products(cfg, rng, trend)
    interactions = _interactions(cfg, rng, trend, category, appeal, base_price)

    paths = {}
    for name, table in (
        ("customer_profile", customers),
        ("product_stats", products),
        ("interactions", interactions),
    ):
        path = out / f"{name}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)  # readers never see a half-written file
        paths[name] = path
    return GeneratedData(
        folder=out,
        customer_profile=paths["customer_profile"],
        product_stats=paths["product_stats"],
        interactions=paths["interactions"],
        start=cfg.start,
        end=cfg.resolved_end(),
        rows={
            "customer_profile": customers.num_rows,
            "product_stats": products.num_rows,
            "interactions": interactions.num_rows,
        },
    )
