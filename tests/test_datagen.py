"""The generator is deterministic and its world drifts: categories trend over time."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq

from skewguard.demo.datagen import GeneratorConfig, generate

END = datetime(2026, 11, 20, tzinfo=UTC)


def _small(seed: int = 7) -> GeneratorConfig:
    return GeneratorConfig(
        customers=80, products=40, days=28, events_per_day=120, seed=seed, end=END
    )


def test_same_seed_same_data(tmp_path) -> None:
    a = generate(tmp_path / "a", _small())
    b = generate(tmp_path / "b", _small())
    for name in ("customer_profile", "product_stats", "interactions"):
        assert pq.read_table(getattr(a, name)).equals(pq.read_table(getattr(b, name)))


def test_other_seed_other_data(tmp_path) -> None:
    a = generate(tmp_path / "a", _small(1))
    b = generate(tmp_path / "b", _small(2))
    assert not pq.read_table(a.interactions).equals(pq.read_table(b.interactions))


def test_window_ends_at_the_requested_day(tmp_path) -> None:
    data = generate(tmp_path, _small())
    ts = pq.read_table(data.interactions).column("event_timestamp").to_pandas()
    assert ts.min() >= data.start and ts.max() < data.end
    assert str(ts.dt.tz) == "UTC"


def test_sneakers_trend_up_across_the_window(tmp_path) -> None:
    data = generate(tmp_path, _small())
    events = pq.read_table(data.interactions).to_pandas()
    products = pq.read_table(data.product_stats, columns=["product_id", "category"]).to_pandas()
    category = products.drop_duplicates("product_id").set_index("product_id")["category"]
    events["category"] = events["product_id"].map(category)
    first = events[events.event_timestamp < data.start + (data.end - data.start) / 4]
    last = events[events.event_timestamp >= data.end - (data.end - data.start) / 4]
    share = lambda frame: (frame.category == "sneakers").mean()  # noqa: E731
    assert share(last) > share(first) + 0.05


def test_some_customers_sign_up_late_and_some_batches_are_missing(tmp_path) -> None:
    data = generate(tmp_path, _small())
    customers = pq.read_table(data.customer_profile).to_pandas()
    first_seen = customers.groupby("customer_id").event_timestamp.min()
    assert (first_seen > data.start + (data.end - data.start) / 7).any()
    products = pq.read_table(data.product_stats).to_pandas()
    assert len(products) < 40 * 28  # a few daily batches never landed
