"""Properties of the distances: zero on identical inputs, symmetric, bounded."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from skewguard.checking.comparing import (
    js_distance,
    ks_statistic,
    linf_distance,
    psi,
    wasserstein_norm,
)
from skewguard.checking.counting import profile_batches
from skewguard.checking.deciding import judge
from skewguard.checking.policy import load_policy
from skewguard.checking.specs import Kind, NumericSpec, ProfileSpec
from skewguard.vocabulary import Verdict

counts = st.lists(st.integers(0, 1000), min_size=2, max_size=30).filter(lambda c: sum(c) > 0)
pairs = st.integers(2, 30).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 1000), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
        st.lists(st.integers(0, 1000), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
    )
)
samples = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=300
)


def _profile(values: list[float]):
    spec = ProfileSpec("v__x", Kind.NUMERIC, "double", NumericSpec(edges=(-1.0, 0.0, 1.0)))
    _, profiles, _ = profile_batches([pa.record_batch({"v__x": pa.array(values)})], [spec])
    return profiles["v__x"]


@given(counts)
def test_identical_histograms_have_zero_distance(c: list[int]) -> None:
    assert js_distance(c, c) == 0.0
    assert psi(c, c) == 0.0
    assert linf_distance(c, c) == 0.0


@given(counts)
def test_scaled_counts_have_zero_distance(c: list[int]) -> None:
    # Distances compare shares, so a sample ten times larger is the same distribution.
    scaled = [x * 10 for x in c]
    assert js_distance(c, scaled) < 1e-7
    assert abs(psi(c, scaled)) < 1e-9


@given(pairs)
def test_distances_are_symmetric_and_bounded(pair: tuple[list[int], list[int]]) -> None:
    p, q = pair
    assert abs(js_distance(p, q) - js_distance(q, p)) < 1e-12
    assert abs(psi(p, q) - psi(q, p)) < 1e-9
    assert linf_distance(p, q) == linf_distance(q, p)
    assert 0.0 <= js_distance(p, q) <= 1.0
    assert 0.0 <= linf_distance(p, q) <= 1.0
    assert psi(p, q) >= 0.0


@settings(max_examples=50, deadline=None)
@given(samples)
def test_identical_samples_have_zero_sketch_distances(values: list[float]) -> None:
    a, b = _profile(values), _profile(values)
    assert ks_statistic(a, b) == 0.0
    assert wasserstein_norm(a, b) == 0.0


@settings(max_examples=50, deadline=None)
@given(samples, samples)
def test_ks_is_symmetric_and_bounded(x: list[float], y: list[float]) -> None:
    a, b = _profile(x), _profile(y)
    ks = ks_statistic(a, b)
    assert ks is not None and 0.0 <= ks <= 1.0
    assert ks == ks_statistic(b, a)


@given(counts)
def test_zero_distance_passes_under_the_default_policy(c: list[int]) -> None:
    from skewguard.checking.comparing import Measurement
    from skewguard.vocabulary import CheckName

    rules = load_policy(None).defaults
    for check, value in (
        (CheckName.PSI, psi(c, c)),
        (CheckName.JS_DISTANCE, js_distance(c, c)),
        (CheckName.LINF_DISTANCE, linf_distance(c, c)),
    ):
        m = Measurement(check=check, value=value, n_training=10_000, n_serving=10_000)
        assert judge(m, rules.rule(check), rules.min_rows).verdict is Verdict.PASS


def test_psi_empty_bucket_stays_finite() -> None:
    assert np.isfinite(psi([10, 0], [0, 10]))
