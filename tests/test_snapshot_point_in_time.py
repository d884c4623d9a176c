"""Snapshot values equal an independent point-in-time join computed with plain pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from skewguard.store.repo import open_store
from skewguard.store.snapshot import build_snapshot

CUSTOMER_FEATURES = [
    "avg_order_value",
    "orders_90d",
    "age",
    "loyalty_tier",
    "is_premium",
    "recent_categories",
]
PRODUCT_FEATURES = [
    "price",
    "discount",
    "rating",
    "views_7d",
    "stock_level",
    "category",
    "in_stock",
]


def _as_of(labels: pd.DataFrame, source: pd.DataFrame, key: str, ttl: str) -> pd.DataFrame:
    """Latest source row at or before each label time, no older than the TTL."""
    source = source.sort_values(["event_timestamp", "created_timestamp"])
    left = labels[[key, "event_timestamp"]].reset_index().sort_values("event_timestamp")
    joined = pd.merge_asof(
        left,
        source.rename(columns={"event_timestamp": "feature_ts"}),
        left_on="event_timestamp",
        right_on="feature_ts",
        by=key,
        direction="backward",
        tolerance=pd.Timedelta(ttl),
        allow_exact_matches=True,
    )
    return joined.set_index("index").sort_index()


@pytest.fixture(scope="module")
def snapshot(small_repo, tmp_path_factory):
    labels = pq.read_table(small_repo.data.interactions)
    out = tmp_path_factory.mktemp("snap") / "snapshot"
    result = build_snapshot(open_store(small_repo.path), "recommender_v1", labels, out)
    return result, labels.to_pandas()


def test_every_label_row_is_kept_in_order(snapshot) -> None:
    result, labels = snapshot
    data = pq.read_table(result.path / "data.parquet").to_pandas()
    assert len(data) == len(labels)
    pd.testing.assert_frame_equal(data[labels.columns], labels)


def test_values_match_pandas_merge_asof_row_for_row(snapshot, small_repo) -> None:
    result, labels = snapshot
    data = pq.read_table(result.path / "data.parquet").to_pandas()
    customers = pq.read_table(small_repo.data.customer_profile).to_pandas()
    products = pq.read_table(small_repo.data.product_stats).to_pandas()
    expected_c = _as_of(labels, customers, "customer_id", "14D")
    expected_p = _as_of(labels, products, "product_id", "2D")

    for names, view, expected in (
        (CUSTOMER_FEATURES, "customer_profile", expected_c),
        (PRODUCT_FEATURES, "product_stats", expected_p),
    ):
        for name in names:
            got = data[f"{view}__{name}"]
            want = expected[name]
            assert got.isna().tolist() == want.isna().tolist(), f"{view}__{name}: null pattern"
            present = want.notna()
            got_values = got[present].tolist()
            want_values = want[present].tolist()
            if name == "recent_categories":
                got_values = [list(v) for v in got_values]
                want_values = [list(v) for v in want_values]
            assert got_values == want_values, f"{view}__{name}: values"


def test_rows_with_no_feature_value_are_kept_and_counted(snapshot, small_repo) -> None:
    result, labels = snapshot
    data = pq.read_table(result.path / "data.parquet").to_pandas()
    customers = pq.read_table(small_repo.data.customer_profile).to_pandas()
    products = pq.read_table(small_repo.data.product_stats).to_pandas()
    no_customer = _as_of(labels, customers, "customer_id", "14D")["feature_ts"].isna()
    no_product = _as_of(labels, products, "product_id", "2D")["feature_ts"].isna()
    # The generated data has late sign-ups and missing daily batches: both cases occur.
    assert no_customer.sum() > 0 and no_product.sum() > 0
    assert result.rows_without_features == int((no_customer & no_product).sum())
    assert result.missing_by_feature["customer_profile__age"] == int(no_customer.sum())
    assert data.loc[no_customer.values, "customer_profile__age"].isna().all()


def test_on_demand_feature_matches_its_formula(snapshot) -> None:
    result, _ = snapshot
    data = pq.read_table(result.path / "data.parquet").to_pandas()
    expected = (
        data["product_stats__price"]
        * (1 - data["product_stats__discount"].astype("float64"))
        / data["customer_profile__avg_order_value"]
    )
    got = data["customer_product_fit__price_vs_aov"]
    assert got.isna().tolist() == expected.isna().tolist()
    np.testing.assert_allclose(got.dropna(), expected.dropna(), rtol=1e-12)


def test_declared_types_survive_missing_values(snapshot) -> None:
    result, _ = snapshot
    schema = pq.read_schema(result.path / "data.parquet")
    # Feast turns Int64 into float64 when a value is missing; the snapshot casts back.
    assert str(schema.field("customer_profile__orders_90d").type) == "int64"
    assert str(schema.field("customer_profile__age").type) == "int32"
    assert str(schema.field("product_stats__discount").type) == "float"
    assert str(schema.field("customer_profile__recent_categories").type).startswith("list<")


def test_manifest_describes_the_snapshot(snapshot) -> None:
    import feast

    result, labels = snapshot
    # The file as written, not a reader's view of it.
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["feature_service"] == "recommender_v1"
    assert manifest["row_count"] == len(labels)
    assert manifest["feast_version"] == feast.__version__
    assert manifest["content_hash"].startswith("sha256:")
    assert manifest["label_columns"] == ["purchased"]
    types = {f["name"]: f["feast_type"] for f in manifest["features"]}
    assert types["product_stats__discount"] == "Float32"
    assert len(types) == 15
