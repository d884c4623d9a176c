"""The p-values against scipy on raw samples, and the properties the gates rely on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from skewguard.checking.significance import (
    binned_ks,
    chi2_pvalue,
    chi2_sf,
    kolmogorov_sf,
    ks_pvalue,
    mean_shift_pvalue,
    rise_pvalue,
)


@pytest.mark.parametrize("x", [0.3, 0.5, 0.8, 1.0, 1.36, 1.63, 2.5])
def test_kolmogorov_sf_matches_scipy(x: float) -> None:
    assert kolmogorov_sf(x) == pytest.approx(stats.kstwobign.sf(x), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("n1", "n2", "shift"), [(2000, 3000, 0.0), (5000, 5000, 0.08)])
def test_ks_pvalue_matches_scipy_asymptotic(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, n1), rng.normal(shift, 1, n2)
    ref = stats.ks_2samp(a, b, method="asymp")
    ours = ks_pvalue(float(ref.statistic), n1, n2)
    assert ours == pytest.approx(ref.pvalue, rel=0.05, abs=1e-12)


def test_binned_ks_never_exceeds_the_raw_statistic() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.lognormal(0, 1, 4000), rng.lognormal(0.1, 1, 4000)
    edges = np.quantile(a, np.linspace(0, 1, 11))
    ha = np.histogram(a, np.concatenate([[-np.inf], edges, [np.inf]]))[0]
    hb = np.histogram(b, np.concatenate([[-np.inf], edges, [np.inf]]))[0]
    assert binned_ks(ha, hb) <= stats.ks_2samp(a, b).statistic + 1e-12
    assert binned_ks(ha, ha) == 0.0


@pytest.mark.parametrize("dof", [1, 2, 3, 11, 100, 999])
@pytest.mark.parametrize("quantile", [0.01, 0.5, 0.99, 0.999999])
def test_chi2_sf_matches_scipy(dof: int, quantile: float) -> None:
    x = stats.chi2.ppf(quantile, dof)
    assert chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-9, abs=1e-300)
    assert chi2_sf(x * 3 + 50, dof) == pytest.approx(stats.chi2.sf(x * 3 + 50, dof), rel=1e-8)


def test_chi2_matches_scipy_contingency() -> None:
    a, b = [500, 300, 150, 50], [420, 330, 190, 60]
    ref = stats.chi2_contingency(np.array([a, b]), correction=False)
    assert chi2_pvalue(a, b) == pytest.approx(ref.pvalue, rel=1e-9)
    assert chi2_pvalue(a, [0, 0, 0, 0]) is None


def test_mean_shift_matches_welch_at_large_samples() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(10, 2, 20_000), rng.normal(10.05, 3, 30_000)
    ref = stats.ttest_ind(a, b, equal_var=False)
    ours = mean_shift_pvalue(a.mean(), a.var(), a.size, b.mean(), b.var(), b.size)
    assert ours == pytest.approx(ref.pvalue, rel=0.01)


def test_rise_is_one_sided_and_matches_the_pooled_z_test() -> None:
    # 5.0% -> 6.0% at 10k rows each: z = 0.01 / sqrt(p(1-p)(2/n)), p = 0.055
    z = 0.01 / np.sqrt(0.055 * 0.945 * 2 / 10_000)
    assert rise_pvalue(500, 10_000, 600, 10_000) == pytest.approx(stats.norm.sf(z), rel=1e-9)
    assert rise_pvalue(600, 10_000, 500, 10_000) > 0.99  # a drop is no rise
    assert rise_pvalue(0, 10_000, 0, 10_000) == 1.0
