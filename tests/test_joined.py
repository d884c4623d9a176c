"""Joined comparison: TFDV-style counts, match rules by type, and cause classification."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skewguard.checking.joined import FeatureSides, compare_feature, match_mask
from skewguard.logschema import FieldStatus

HOUR_US = 3_600_000_000
T0 = 1_763_600_000_000_000  # a request time, µs since epoch


def _sides(served, offline, **kw) -> FeatureSides:
    n = len(served)
    kw.setdefault("request_time", np.full(n, T0, dtype=np.int64))
    return FeatureSides(name="v__f", served=pa.array(served), offline=pa.array(offline), **kw)


def _causes(result) -> dict[str, int]:
    return {str(c.cause): c.count for c in result.causes}


def test_identical_values_match_everywhere() -> None:
    r = compare_feature(_sides([1.5, 2.0, None], [1.5, 2.0, None]))
    assert (r.match_count, r.diff_count, r.base_count, r.test_count) == (2, 0, 2, 2)
    assert r.mismatch_rate == 0.0 and r.causes == ()


def test_float32_values_match_when_the_feature_is_float32() -> None:
    offline = [0.1, 1 / 3, 4.2908]
    served = [float(np.float32(v)) for v in offline]
    assert compare_feature(_sides(served, offline, float32=True)).diff_count == 0
    as_float64 = compare_feature(_sides(served, offline, float32=False))
    assert _causes(as_float64) == {"type_coercion": 3}


def test_truncation_to_int_is_type_coercion() -> None:
    r = compare_feature(_sides([1.0, 2.0, 7.0], [1.7, 2.2, 7.9]))
    assert _causes(r) == {"type_coercion": 3}


def test_consistent_ratio_is_scale() -> None:
    offline = [0.1, 0.2, 0.3, 0.5, 0.0]
    served = [10.0, 20.0, 30.0, 50.0, 0.0]
    r = compare_feature(_sides(served, offline))
    assert _causes(r) == {"scale": 4}
    assert r.causes[0].detail == "served = offline x 100"
    assert r.match_count == 1  # 0 x 100 is still 0


def test_consistent_difference_is_offset() -> None:
    offline = pa.array([T0, T0 + 7, T0 + 99], pa.timestamp("us", tz="UTC"))
    served = pa.array(
        [T0 + HOUR_US, T0 + 7 + HOUR_US, T0 + 99 + HOUR_US], pa.timestamp("us", tz="UTC")
    )
    sides = FeatureSides("v__t", served, offline, request_time=np.full(3, T0))
    r = compare_feature(sides)
    assert _causes(r) == {"offset": 3}
    assert r.causes[0].detail == f"served = offline {HOUR_US:+g}"


def test_one_constant_for_many_values_is_default_fill() -> None:
    r = compare_feature(_sides([0.0, 0.0, 0.0, 0.0], [3.1, 7.4, 9.9, 12.0]))
    assert _causes(r) == {"default_fill": 4}


def test_missing_online_is_base_only() -> None:
    status = np.array([FieldStatus.PRESENT, FieldStatus.NOT_FOUND, FieldStatus.PRESENT], np.int32)
    r = compare_feature(_sides([1, None, None], [1, 2, 3], served_status=status))
    assert (r.base_only, r.test_only, r.mismatch_count) == (2, 0, 0)
    assert _causes(r) == {"missing_online": 2}


def test_served_value_older_than_ttl_is_ttl_exceeded() -> None:
    served_time = np.array([T0 - 3 * 24 * HOUR_US, T0 - HOUR_US], np.int64)
    r = compare_feature(
        _sides([5, 6], [None, None], served_time=served_time, ttl=timedelta(days=2))
    )
    assert _causes(r) == {"ttl_exceeded": 1, "missing_offline": 1}
    assert r.test_only == 2


def test_older_served_row_than_offline_row_is_stale() -> None:
    r = compare_feature(
        _sides(
            [10, 11, 12],
            [20, 11, 22],
            served_time=np.array([T0 - 30 * HOUR_US] * 3, np.int64),
            offline_time=np.array(
                [T0 - 6 * HOUR_US, T0 - 30 * HOUR_US, T0 - 6 * HOUR_US], np.int64
            ),
        )
    )
    assert _causes(r) == {"stale_online": 2}
    assert r.causes[0].examples[0]["served"] == 10 and r.causes[0].examples[0]["offline"] == 20


def test_on_demand_mismatch_with_matching_inputs_is_the_transformation() -> None:
    r = compare_feature(
        _sides(
            [1.0, 2.0, 3.0],
            [1.5, 2.5, 3.0],
            on_demand=True,
            inputs_matched=np.array([True, False, True]),
        )
    )
    assert _causes(r) == {"on_demand_transformation": 1, "upstream_input": 1}


def test_arrays_compare_element_by_element() -> None:
    served = pa.array([["a", "b"], ["a"], ["a", "c"], None], pa.list_(pa.string()))
    offline = pa.array([["a", "b"], ["a", "b"], ["a", "b"], ["x"]], pa.list_(pa.string()))
    assert match_mask(served, offline).tolist() == [True, False, False, False]
    r = compare_feature(FeatureSides("v__l", served, offline, request_time=np.full(4, T0)))
    assert (r.match_count, r.mismatch_count, r.base_only) == (1, 2, 1)


def test_nan_matches_nan_and_strings_are_exact() -> None:
    assert match_mask(pa.array([np.nan, 1.0]), pa.array([np.nan, 1.0 + 1e-12])).tolist() == [
        True,
        True,
    ]
    assert match_mask(pa.array(["a", "A"]), pa.array(["a", "a"])).tolist() == [True, False]


def test_examples_carry_the_request_context() -> None:
    sides = _sides(
        [1, 9],
        [1, None],
        context={"__request_id": pa.array(["r1", "r2"]), "customer_id": pa.array([7, 8])},
    )
    example = compare_feature(sides).causes[0].examples[0]
    assert example == {"__request_id": "r2", "customer_id": 8, "served": 9, "offline": None}


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-5, 5)), st.one_of(st.none(), st.integers(-5, 5))
        ),
        max_size=60,
    )
)
def test_counts_add_up(pairs) -> None:
    served = [p[0] for p in pairs]
    offline = [p[1] for p in pairs]
    r = compare_feature(_sides(pa.array(served, pa.int64()), pa.array(offline, pa.int64())))
    assert r.base_count == r.match_count + r.mismatch_count + r.base_only
    assert r.test_count == r.match_count + r.mismatch_count + r.test_only
    assert r.diff_count == sum(c.count for c in r.causes)
    assert r.rows == len(pairs)
    if r.mismatch_rate is not None:
        assert 0.0 <= r.mismatch_rate <= 1.0


@pytest.mark.parametrize("value", [0, 1, -3])
def test_identical_inputs_give_zero_diff(value: int) -> None:
    r = compare_feature(_sides([value] * 5, [value] * 5))
    assert r.diff_count == 0 and r.match_count == 5


def test_value_past_its_ttl_is_ttl_exceeded_even_when_offline_has_a_fresher_row() -> None:
    r = compare_feature(
        _sides(
            [10, 11],
            [20, 21],
            served_time=np.array([T0 - 70 * HOUR_US, T0 - 30 * HOUR_US], np.int64),
            offline_time=np.array([T0 - 22 * HOUR_US, T0 - 22 * HOUR_US], np.int64),
            ttl=timedelta(days=2),
        )
    )
    assert _causes(r) == {"ttl_exceeded": 1, "stale_online": 1}
