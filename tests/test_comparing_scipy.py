"""Distances agree with scipy on the same data or the same bins, within stated tolerances."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from skewguard.checking.comparing import js_distance, ks_statistic, psi, wasserstein_norm
from skewguard.checking.counting import profile_batches
from skewguard.checking.specs import Kind, NumericSpec, ProfileSpec

# KLL sketches (k=400) have a normalised rank error of about 0.7% each; two sketches and a
# 1,025-point grid stay within this of the exact two-sample statistic.
KS_TOLERANCE = 0.03
# Wasserstein from a 2,048-point quantile grid: relative error, plus an absolute floor
# in training standard deviations.
W_RELATIVE, W_ABSOLUTE = 0.05, 0.03


def _profile(x: np.ndarray, edges: tuple[float, ...] = (0.0,)):
    spec = ProfileSpec("v__x", Kind.NUMERIC, "double", NumericSpec(edges=edges))
    batch = pa.record_batch({"v__x": pa.array(x)})
    _, profiles, _ = profile_batches([batch], [spec])
    return profiles["v__x"]


def test_js_distance_matches_scipy_base_2() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        p, q = rng.integers(0, 100, 12), rng.integers(0, 100, 12)
        assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-9)


def test_js_distance_of_disjoint_buckets_is_one() -> None:
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_psi_matches_its_formula() -> None:
    p, q = np.array([0.2, 0.3, 0.5]), np.array([0.3, 0.3, 0.4])
    assert psi(p, q) == pytest.approx(float(np.sum((q - p) * np.log(q / p))))


@pytest.mark.parametrize(
    ("shift", "scale", "n"),
    [(0.0, 1.0, 2_000), (0.3, 1.0, 5_000), (0.0, 2.0, 20_000), (1.0, 1.0, 100_000)],
)
def test_ks_statistic_matches_ks_2samp(shift: float, scale: float, n: int) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, n), rng.normal(shift, scale, n // 2)
    exact = ks_2samp(a, b).statistic
    assert ks_statistic(_profile(a), _profile(b)) == pytest.approx(exact, abs=KS_TOLERANCE)


def test_ks_statistic_on_discrete_data_matches_ks_2samp() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.poisson(3.0, 50_000).astype(float), rng.poisson(3.5, 50_000).astype(float)
    exact = ks_2samp(a, b).statistic
    assert ks_statistic(_profile(a), _profile(b)) == pytest.approx(exact, abs=KS_TOLERANCE)


@pytest.mark.parametrize(
    ("make_b"),
    [
        lambda rng: rng.normal(0.5, 1.0, 30_000),
        lambda rng: rng.normal(0.0, 2.0, 30_000),
        lambda rng: rng.lognormal(0.0, 0.5, 30_000),
    ],
)
def test_wasserstein_matches_scipy(make_b) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.0, 1.0, 50_000), make_b(rng)
    exact = wasserstein_distance(a, b) / a.std()
    got = wasserstein_norm(_profile(a), _profile(b))
    assert got == pytest.approx(exact, rel=W_RELATIVE, abs=W_ABSOLUTE)


def test_wasserstein_is_the_shift_in_training_std() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(10.0, 2.0, 100_000)
    assert wasserstein_norm(_profile(a), _profile(a + 1.0)) == pytest.approx(0.5, abs=W_ABSOLUTE)
