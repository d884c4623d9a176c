"""The generator is deterministic and its world drifts: categories trend over time."""

from __future__ import annotations

from dataclasses import replace
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


# -- concept drift (opt-in) --------------------------------------------------------------

# Content hashes of the small default world (seed 7), taken before the concept-drift option
# existed: the default configuration must keep giving exactly this data.
_DEFAULT_CONTENT = {
    "customer_profile": "f898e8d07afd606bec140e6f1b41174323b021ac7e88182783291d07b4126e42",
    "product_stats": "4ff311e3217c13435808f0e3b941f07a0acb906e699f6029630bb3e7022cf8d7",
    "interactions": "055140521102bb07cb2f3d486ca83a70f6735abcfe4a430438e01b47a2127f73",
}


def _content_hash(table) -> str:  # noqa: ANN001
    import hashlib

    digest = hashlib.sha256()
    for name in table.column_names:
        digest.update(name.encode())
        digest.update(repr(table.column(name).combine_chunks().to_pylist()).encode())
    return digest.hexdigest()


def test_the_default_world_is_unchanged_by_the_concept_drift_option(tmp_path) -> None:
    data = generate(tmp_path, _small())
    for name, expected in _DEFAULT_CONTENT.items():
        assert _content_hash(pq.read_table(getattr(data, name))) == expected, name


def test_concept_drift_changes_only_purchased_and_only_through_price(tmp_path) -> None:
    import numpy as np
    import pandas as pd

    from skewguard.demo.datagen import ConceptDrift

    plain = generate(tmp_path / "plain", _small())
    drift = ConceptDrift(day=14, before=-1.5, after=1.5)
    drifted = generate(tmp_path / "drift", replace(_small(), concept_drift=drift))
    for name in ("customer_profile", "product_stats"):
        assert pq.read_table(getattr(plain, name)).equals(pq.read_table(getattr(drifted, name)))
    a = pq.read_table(plain.interactions)
    b = pq.read_table(drifted.interactions)
    assert a.drop(["purchased"]).equals(b.drop(["purchased"]))
    assert not a.column("purchased").equals(b.column("purchased"))

    # Before day 14 dear products sell worse than cheap ones; from day 14 on, better.
    events = b.to_pandas()
    prices = pq.read_table(drifted.product_stats, columns=["product_id", "price"]).to_pandas()
    price = prices.groupby("product_id")["price"].median()
    events["dear"] = events["product_id"].map(price) > price.median()
    events["after"] = events["event_timestamp"] >= pd.Timestamp(drifted.start) + pd.Timedelta(
        days=14
    )
    rate = events.groupby(["after", "dear"])["purchased"].mean()
    assert rate[(False, True)] < rate[(False, False)]
    assert rate[(True, True)] > rate[(True, False)]
    assert np.isfinite(rate).all()


def test_concept_drift_day_must_fall_inside_the_window(tmp_path) -> None:
    import pytest

    from skewguard.demo.datagen import ConceptDrift

    with pytest.raises(ValueError, match="inside the window"):
        generate(tmp_path, replace(_small(), concept_drift=ConceptDrift(day=28)))
