"""customer_product_fit: the same values offline and online, and as its pandas-mode original.

The view runs in Feast's python mode. Its transformation is taken from the registry,
as Feast runs it (rebuilt from the stored source text), and checked three ways:

- against the pandas-mode definition it replaced, on generated inputs with nulls, zeros
  and NaN (same values, same null pattern);
- online (Redis, Feast's SDK) against offline point-in-time values for the same moment,
  under full and bare feature names, through Feast's `get_historical_features` and
  skewguard's snapshot path, missing entities included;
- the declared types come back online under both name forms.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skewguard.store.repo import open_store
from skewguard.store.service import describe_service
from skewguard.store.snapshot import point_in_time_features

SERVICE = "recommender_v1"
VIEW = "customer_product_fit"
OUTPUTS = ("price_vs_aov", "category_match")
INPUTS = ("avg_order_value", "recent_categories", "price", "discount", "category")
INPUT_COLUMNS = [
    "customer_profile__avg_order_value",
    "customer_profile__recent_categories",
    "product_stats__price",
    "product_stats__discount",
    "product_stats__category",
]
CATEGORIES = ["sneakers", "knitwear", "denim", None]


def pandas_definition(inputs: pd.DataFrame) -> pd.DataFrame:
    """The pandas-mode transformation customer_product_fit had before (the oracle)."""
    out = pd.DataFrame(index=inputs.index)
    aov = inputs["avg_order_value"].astype("float64").where(lambda v: v != 0)
    discount = inputs["discount"].astype("float64").fillna(0.0)
    out["price_vs_aov"] = inputs["price"].astype("float64") * (1.0 - discount) / aov
    recent = inputs["recent_categories"].explode()
    hits = recent.eq(inputs["category"].reindex(recent.index)) & recent.notna()
    out["category_match"] = hits.groupby(level=0).any().reindex(inputs.index, fill_value=False)
    return out


def as_pandas_mode_served(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """What pandas mode produced: Feast turned its frame into Arrow (NaN became null)."""
    table = pa.Table.from_pandas(pandas_definition(pd.DataFrame(columns)), preserve_index=False)
    return {name: table.column(name).to_pylist() for name in OUTPUTS}


@pytest.fixture(scope="module")
def store(small_repo: Any) -> Any:
    return open_store(small_repo.path)


@pytest.fixture(scope="module")
def udf(store: Any) -> Any:
    view = store.get_on_demand_feature_view(VIEW)
    assert view.mode == "python" and not view.singleton
    return view.feature_transformation.udf  # rebuilt from the registry's source text


def run(udf: Any, columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return udf({k: list(v) for k, v in columns.items()})


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == b or math.isclose(a, b, rel_tol=1e-12)


def test_edge_cases(udf: Any) -> None:
    cases = [  # aov, recent, price, discount, category -> price_vs_aov, category_match
        ((50.0, ["denim"], 100.0, 0.5, "denim"), (1.0, True)),
        ((50.0, ["denim"], 100.0, None, "knitwear"), (2.0, False)),
        ((50.0, ["denim"], 100.0, float("nan"), None), (2.0, False)),
        ((0.0, [], 100.0, 0.1, "denim"), (None, False)),
        ((None, None, 100.0, 0.1, "denim"), (None, False)),
        ((50.0, ["denim", None], None, 0.1, "denim"), (None, True)),
        ((float("nan"), ["denim"], 100.0, 0.0, "denim"), (None, True)),
    ]
    columns = {name: [case[0][i] for case in cases] for i, name in enumerate(INPUTS)}
    out = run(udf, columns)
    assert out["price_vs_aov"] == [case[1][0] for case in cases]
    assert out["category_match"] == [case[1][1] for case in cases]
    assert all(type(v) is float for v in out["price_vs_aov"] if v is not None)
    assert all(type(v) is bool for v in out["category_match"])


maybe_float = st.one_of(
    st.none(),
    st.just(0.0),
    st.just(float("nan")),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
row = st.tuples(
    maybe_float,  # avg_order_value
    st.one_of(st.none(), st.lists(st.sampled_from(CATEGORIES), max_size=3)),
    maybe_float,  # price
    maybe_float,  # discount
    st.sampled_from(CATEGORIES),
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=20))
def test_same_values_as_the_pandas_mode_definition(udf: Any, rows: list[tuple[Any, ...]]) -> None:
    columns = {name: [r[i] for r in rows] for i, name in enumerate(INPUTS)}
    got = run(udf, columns)
    want = as_pandas_mode_served(columns)
    assert got["category_match"] == want["category_match"]
    for a, b in zip(got["price_vs_aov"], want["price_vs_aov"], strict=True):
        assert same(a, b), (a, b)


# -- online against offline, on Redis ---------------------------------------------------


@pytest.fixture(scope="module")
def pairs(small_repo: Any) -> list[dict[str, int]]:
    """Entity pairs whose inputs are inside their TTL at the end of the data (online
    ignores the TTL, offline applies it), plus missing customers and products."""
    end = small_repo.data.end
    customers = pq.read_table(small_repo.data.customer_profile).to_pandas()
    products = pq.read_table(small_repo.data.product_stats).to_pandas()
    fresh_c = customers.groupby("customer_id")["event_timestamp"].max() >= end - timedelta(14)
    fresh_p = products.groupby("product_id")["event_timestamp"].max() >= end - timedelta(2)
    rng = np.random.default_rng(11)
    c = rng.choice(fresh_c[fresh_c].index.to_numpy(), 40)
    p = rng.choice(fresh_p[fresh_p].index.to_numpy(), 40)
    known = [{"customer_id": int(a), "product_id": int(b)} for a, b in zip(c, p, strict=True)]
    missing = [
        {"customer_id": 10**9, "product_id": int(p[0])},
        {"customer_id": int(c[0]), "product_id": 10**9},
        {"customer_id": 10**9, "product_id": 10**9},
    ]
    return known + missing


def online_values(store: Any, pairs: list[dict[str, int]], full: bool) -> dict[str, list[Any]]:
    response = store.get_online_features(
        features=store.get_feature_service(SERVICE), entity_rows=pairs, full_feature_names=full
    ).to_dict()
    prefix = f"{VIEW}__" if full else ""
    return {name: response[prefix + name] for name in OUTPUTS}


@pytest.fixture(scope="module")
def offline_feast(store: Any, small_repo: Any, pairs: list[dict[str, int]]) -> dict[str, Any]:
    """Feast's own get_historical_features at the end of the data, both name forms."""
    entity_df = pd.DataFrame(pairs)
    entity_df["event_timestamp"] = pd.Series(
        [small_repo.data.end] * len(pairs), dtype="datetime64[us, UTC]"
    )
    service = store.get_feature_service(SERVICE)
    out = {}
    for full in (True, False):
        table = store.get_historical_features(
            entity_df=entity_df, features=service, full_feature_names=full
        ).to_arrow()
        prefix = f"{VIEW}__" if full else ""
        out[full] = {name: table.column(prefix + name).to_pylist() for name in OUTPUTS}
        if full:
            out["inputs"] = {c: table.column(c).to_pylist() for c in INPUT_COLUMNS}
    return out


@pytest.mark.parametrize("full", [True, False])
def test_online_equals_offline_point_in_time(
    store: Any, pairs: list[dict[str, int]], offline_feast: dict[str, Any], full: bool
) -> None:
    served = online_values(store, pairs, full)
    offline = offline_feast[full]
    assert len(served["price_vs_aov"]) == len(pairs)
    for a, b in zip(served["price_vs_aov"], offline["price_vs_aov"], strict=True):
        assert same(a, b), (a, b)
    assert served["category_match"] == offline["category_match"]
    # Both values occur, missing ones too: the comparison is not vacuous.
    assert {True, False} <= set(served["category_match"])
    assert served["price_vs_aov"][-3:] == [None, None, None]
    assert sum(v is not None for v in served["price_vs_aov"]) == len(pairs) - 3


def test_the_inputs_agree_too(
    store: Any, pairs: list[dict[str, int]], offline_feast: dict[str, Any]
) -> None:
    """The comparison above is for the same moment: online inputs equal offline ones."""
    response = store.get_online_features(
        features=store.get_feature_service(SERVICE), entity_rows=pairs, full_feature_names=True
    ).to_dict()
    for column in INPUT_COLUMNS:
        assert response[column] == offline_feast["inputs"][column], column


def test_snapshot_path_equals_online(
    store: Any, small_repo: Any, pairs: list[dict[str, int]]
) -> None:
    spec = describe_service(store, SERVICE)
    labels = pa.table(
        {
            "customer_id": pa.array([p["customer_id"] for p in pairs], pa.int64()),
            "product_id": pa.array([p["product_id"] for p in pairs], pa.int64()),
            "event_timestamp": pa.array(
                [small_repo.data.end] * len(pairs), pa.timestamp("us", tz="UTC")
            ),
        }
    )
    table = point_in_time_features(store, spec, labels)
    served = online_values(store, pairs, full=True)
    assert table.schema.field(f"{VIEW}__price_vs_aov").type == pa.float64()
    assert table.schema.field(f"{VIEW}__category_match").type == pa.bool_()
    for name in OUTPUTS:
        offline = table.column(f"{VIEW}__{name}").to_pylist()
        assert all(same(a, b) for a, b in zip(served[name], offline, strict=True)), name


@pytest.mark.parametrize("full", [True, False])
def test_declared_types_online(store: Any, pairs: list[dict[str, int]], full: bool) -> None:
    response = store.get_online_features(
        features=store.get_feature_service(SERVICE), entity_rows=pairs, full_feature_names=full
    )
    names = list(response.proto.metadata.feature_names.val)
    prefix = f"{VIEW}__" if full else ""
    kinds = {
        name: {
            v.WhichOneof("val") for v in response.proto.results[names.index(prefix + name)].values
        }
        for name in OUTPUTS
    }
    assert kinds == {"price_vs_aov": {"double_val", None}, "category_match": {"bool_val"}}
