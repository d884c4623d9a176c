"""After materialization, Redis serves the latest offline value of every feature.

Round trips by declared type, as Feast 0.67 returns them online:
  Float64 -> float (exact); Float32 -> float holding the float32 value widened to double
  (4.29080963134765625, not 4.2908); Int64 and Int32 -> int; String -> str;
  Bool -> bool; Array(String) -> list of str; an entity with no row -> None.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from skewguard.store.online import lookup
from skewguard.store.repo import open_store


@pytest.fixture(scope="module")
def latest(small_repo):
    """The latest offline row per entity inside the materialized window."""
    customers = pq.read_table(small_repo.data.customer_profile).to_pandas()
    products = pq.read_table(small_repo.data.product_stats).to_pandas()
    last_c = customers.sort_values("event_timestamp").groupby("customer_id").tail(1)
    last_p = products.sort_values("event_timestamp").groupby("product_id").tail(1)
    return last_c.set_index("customer_id"), last_p.set_index("product_id")


@pytest.fixture(scope="module")
def online(small_repo, latest):
    last_c, last_p = latest
    rng = np.random.default_rng(3)
    customers = rng.choice(last_c.index.to_numpy(), 20, replace=False)
    products = rng.choice(last_p.index.to_numpy(), 20, replace=False)
    rows = [
        {"customer_id": int(c), "product_id": int(p)}
        for c, p in zip(customers, products, strict=True)
    ]
    return rows, lookup(open_store(small_repo.path), "recommender_v1", rows)


EXPECTED_PYTHON_TYPE = {
    "avg_order_value": float,
    "orders_90d": int,
    "age": int,
    "loyalty_tier": str,
    "is_premium": bool,
    "recent_categories": list,
    "price": float,
    "discount": float,
    "rating": float,
    "views_7d": int,
    "stock_level": int,
    "category": str,
    "in_stock": bool,
}


def test_online_values_equal_latest_offline_values(online, latest) -> None:
    rows, response = online
    last_c, last_p = latest
    for i, row in enumerate(rows):
        for view, frame, key in (
            ("customer_profile", last_c, "customer_id"),
            ("product_stats", last_p, "product_id"),
        ):
            offline = frame.loc[row[key]]
            for feature, python_type in EXPECTED_PYTHON_TYPE.items():
                column = f"{view}__{feature}"
                if column not in response:
                    continue
                served = response[column][i]
                assert type(served) is python_type, f"{column}: {type(served)}"
                want = offline[feature]
                if feature in ("discount", "rating"):
                    # Float32 comes back as a double holding the float32 value exactly.
                    assert served == float(np.float32(want)), column
                elif feature == "recent_categories":
                    assert served == list(want), column
                else:
                    assert served == want, column


def test_response_has_every_feature_of_the_service(online) -> None:
    _, response = online
    features = [k for k in response if "__" in k]
    assert len(features) == 15  # 6 customer + 7 product + 2 on-demand


def test_on_demand_features_are_computed_online(online) -> None:
    _, response = online
    expected = [
        p * (1 - d) / a
        for p, d, a in zip(
            response["product_stats__price"],
            response["product_stats__discount"],
            response["customer_profile__avg_order_value"],
            strict=True,
        )
    ]
    np.testing.assert_allclose(response["customer_product_fit__price_vs_aov"], expected)


def test_unknown_entity_is_served_as_nulls(small_repo) -> None:
    response = lookup(
        open_store(small_repo.path), "recommender_v1", [{"customer_id": 10**9, "product_id": 1}]
    )
    assert response["customer_profile__age"] == [None]
    assert response["product_stats__price"][0] is not None
