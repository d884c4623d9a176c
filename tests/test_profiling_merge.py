"""Profiles of parts merge into the profile of the whole, and survive JSON."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skewguard.checking.counting import profile_batches
from skewguard.checking.profile import DatasetProfile, FeatureProfile, merge
from skewguard.checking.specs import CategoricalSpec, Kind, NumericSpec, ProfileSpec

NUM = ProfileSpec("v__x", Kind.NUMERIC, "double", NumericSpec(edges=(-10.0, -1.0, 0.0, 1.0, 10.0)))
CAT = ProfileSpec("v__c", Kind.CATEGORICAL, "string", CategoricalSpec(labels=("a", "b")))

values = st.lists(
    st.one_of(
        st.none(),
        st.floats(-100, 100, allow_nan=False),
        st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    ),
    min_size=0,
    max_size=200,
)
labels = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])), max_size=200)


def _numeric(xs: list[float | None]):
    batch = pa.record_batch({"v__x": pa.array(xs, type=pa.float64())})
    return profile_batches([batch], [NUM])[1]["v__x"]


def _categorical(xs: list[str | None]):
    batch = pa.record_batch({"v__c": pa.array(xs, type=pa.string())})
    return profile_batches([batch], [CAT])[1]["v__c"]


@settings(max_examples=60, deadline=None)
@given(values, values)
def test_numeric_merge_equals_whole(a: list, b: list) -> None:
    whole, merged = _numeric(a + b), merge(_numeric(a), _numeric(b))
    for field in ("count", "nulls", "nan", "pos_inf", "neg_inf", "integral", "histogram"):
        assert getattr(merged, field) == getattr(whole, field), field
    assert merged.min == whole.min and merged.max == whole.max
    assert merged.mean == pytest.approx(whole.mean, abs=1e-9)
    assert merged.m2 == pytest.approx(whole.m2, rel=1e-9, abs=1e-6)
    # Below the KLL compaction size the sketch is exact, so quantiles agree exactly.
    if whole.finite:
        ranks = [0.0, 0.25, 0.5, 0.75, 1.0]
        assert merged.quantiles(ranks) == whole.quantiles(ranks)


@settings(max_examples=60, deadline=None)
@given(labels, labels)
def test_categorical_merge_equals_whole(a: list, b: list) -> None:
    whole, merged = _categorical(a + b), merge(_categorical(a), _categorical(b))
    assert (merged.count, merged.nulls, merged.counts) == (whole.count, whole.nulls, whole.counts)
    assert merged.top() == whole.top()
    assert merged.distinct == pytest.approx(whole.distinct, abs=0.01)


def test_null_nan_and_infinities_are_counted_apart() -> None:
    p = _numeric([None, float("nan"), float("inf"), float("-inf"), 0.5, 20.0, -20.0])
    assert (p.count, p.nulls, p.nan, p.pos_inf, p.neg_inf, p.finite) == (7, 1, 1, 1, 1, 3)
    # finite values only in the histogram: underflow, [0, 1), overflow
    assert p.histogram == (1, 0, 0, 1, 0, 1)


def test_categories_outside_the_vocabulary_count_as_other() -> None:
    p = _categorical(["a", "a", "b", "zzz", None])
    assert p.counts == (2, 1, 1) and p.nulls == 1 and p.other == 1
    assert p.top()[0] == ("a", 2)


def test_large_sample_merge_keeps_quantiles_close() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=200_000)
    parts = [_numeric(list(chunk)) for chunk in np.array_split(x, 4)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merge(merged, p)
    whole = _numeric(list(x))
    assert merged.histogram == whole.histogram
    for got, want in zip(
        merged.quantiles([0.1, 0.5, 0.9]), np.quantile(x, [0.1, 0.5, 0.9]), strict=True
    ):
        assert got == pytest.approx(want, abs=0.03)


def test_dataset_profile_round_trips_through_json() -> None:
    feature = FeatureProfile(spec=NUM, arrow_type="double", profile=_numeric([1.0, None, 2.5]))
    profile = DatasetProfile(source="x", rows=3, files=1, features=(feature,))
    again = DatasetProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile
