"""How surprising a difference is at these two sample sizes: p-values, numbers only.

Each function answers "could sampling noise alone explain this difference between a
training sample of n1 and a serving sample of n2?" The policy (`deciding`) compares the
p-values with its family-wise alpha, corrected for the number of checks in the run.

- `ks_pvalue`: the asymptotic Kolmogorov distribution with effective size
  n = n1*n2/(n1+n2) and Stephens' small-sample correction. Applied to the CDFs on the
  frozen training bins (`binned_ks`), whose counts are exact: binning can only shrink
  the statistic, so the p-value errs on the side of "noise" (no false alarms from it).
- `rise_pvalue`: one-sided pooled two-proportion z-test that serving's rate is higher.
- `mean_shift_pvalue`: two-sided Welch z-test on the two means.
- `chi2_pvalue`: chi-square test of homogeneity over shared buckets (categories).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "effective_n",
    "kolmogorov_sf",
    "ks_pvalue",
    "binned_ks",
    "rise_pvalue",
    "mean_shift_pvalue",
    "chi2_sf",
    "chi2_pvalue",
]


def effective_n(n1: int, n2: int) -> float:
    return n1 * n2 / (n1 + n2) if n1 > 0 and n2 > 0 else 0.0


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (the limit of sqrt(n) * D_n)."""
    if x <= 0:
        return 1.0
    if x < 0.27:  # the series converges slowly here; the value is 1 to double precision
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * x * x)
        total += term if k % 2 else -term
        if term < 1e-17:
            break
    return float(min(1.0, max(0.0, 2.0 * total)))


def ks_pvalue(statistic: float, n1: int, n2: int) -> float | None:
    """Asymptotic two-sample KS p-value for `statistic` at sizes n1, n2."""
    n = effective_n(n1, n2)
    if n <= 0 or not math.isfinite(statistic):
        return None
    root = math.sqrt(n)
    return kolmogorov_sf((root + 0.12 + 0.11 / root) * statistic)


def binned_ks(a: Sequence[float], b: Sequence[float]) -> float:
    """Largest difference of the two cumulative shares over the same ordered buckets."""
    pa_, pb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ta, tb = pa_.sum(), pb.sum()
    if ta <= 0 or tb <= 0:
        return 0.0
    return float(np.max(np.abs(np.cumsum(pa_) / ta - np.cumsum(pb) / tb), initial=0.0))


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def rise_pvalue(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """One-sided p-value that the serving rate k2/n2 exceeds the training rate k1/n1."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 1.0
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    return _normal_sf((p2 - p1) / se)


def mean_shift_pvalue(
    mean1: float, var1: float, n1: int, mean2: float, var2: float, n2: int
) -> float | None:
    """Two-sided Welch z-test p-value for a difference of means."""
    if n1 < 2 or n2 < 2:
        return None
    se = math.sqrt(max(var1, 0.0) / n1 + max(var2, 0.0) / n2)
    diff = abs(mean2 - mean1)
    if not math.isfinite(se) or not math.isfinite(diff):
        return None
    if se == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    return 2.0 * _normal_sf(diff / se)


def _upper_gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x): a series below a + 1, a continued
    fraction above (Numerical Recipes' gammq). Here so a check never imports scipy."""
    if x <= 0.0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X > statistic) for a chi-square variable with `dof` degrees of freedom."""
    return _upper_gamma_q(dof / 2.0, statistic / 2.0)


def chi2_pvalue(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Chi-square test of homogeneity of two count vectors over the same buckets."""
    ca, cb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = (ca + cb) > 0
    ca, cb = ca[keep], cb[keep]
    na, nb = ca.sum(), cb.sum()
    if na <= 0 or nb <= 0:
        return None
    if ca.size < 2:
        return 1.0
    total = ca + cb
    ea, eb = total * na / (na + nb), total * nb / (na + nb)
    stat = float(np.sum((ca - ea) ** 2 / ea) + np.sum((cb - eb) ** 2 / eb))
    return chi2_sf(stat, ca.size - 1)
