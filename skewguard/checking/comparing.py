"""Compare a training profile with a serving profile: numbers only, no decisions.

Every comparison returns `Measurement`s (a value per check, with the two sides' rates
where a rate is compared). Whether a value is acceptable is the policy's business
(`skewguard.checking.deciding`).

Distances, all on bins frozen from training (nulls, NaN and infinities excluded; they have
checks of their own):

- `js_distance`: Jensen-Shannon *distance* (square root of the divergence), logarithm base 2,
  so it lies in [0, 1]. Equals `scipy.spatial.distance.jensenshannon(p, q, base=2)`.
- `psi`: population stability index, sum((q - p) * ln(q / p)), with bucket shares below
  `PSI_EPSILON` (1e-4) raised to it so empty buckets stay finite. Symmetric, unbounded.
- `linf_distance`: largest absolute difference of bucket shares (categoricals), in [0, 1].
- `ks_statistic`: two-sample Kolmogorov-Smirnov statistic sup |F_t(x) - F_s(x)|, evaluated
  from the two KLL sketches on the union of a 1,025-point quantile grid of each side. The
  sketches' rank error (about 0.7% each at k=400) bounds the difference from an exact
  `scipy.stats.ks_2samp` statistic; tests hold it within 0.03.
- `wasserstein_norm`: Wasserstein-1 distance between the two distributions, computed as
  the integral of |Q_t(u) - Q_s(u)| over a 2,048-point midpoint grid of the quantile
  functions, divided by the training standard deviation (or by max(|training mean|, 1) when
  that is 0). For a pure shift it equals the shift in training standard deviations.
- `mean_shift`: |serving mean - training mean| in training standard deviations.

Rates are serving minus training: `null_rate`, `nan_rate`, `pos_inf_rate`, `neg_inf_rate`,
`missing_or_invalid_rate` (nulls, NaN and infinities together), `negative_rate`,
`new_category_rate`, `integer_rate`, `missing_online_rate`.

Every distance and rate also carries a `p_value` (`skewguard.checking.significance`): KS,
Wasserstein and the KS gate use the KS test on the frozen-bin CDFs (exact counts), PSI,
JS and L-infinity the chi-square test over the buckets, `mean_shift` Welch's z-test, the
rates a one-sided two-proportion test. The policy decides with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from skewguard.checking.profile import (
    ArrayProfile,
    CategoricalProfile,
    FeatureProfile,
    NumericProfile,
)
from skewguard.checking.schema import type_change_cause
from skewguard.checking.significance import (
    binned_ks,
    chi2_pvalue,
    ks_pvalue,
    mean_shift_pvalue,
    rise_pvalue,
)
from skewguard.checking.specs import NULL, OTHER, ArraySpec, CategoricalSpec, Kind, NumericSpec
from skewguard.logschema import FieldStatus
from skewguard.vocabulary import CheckName, Reason, SchemaState, Subject

__all__ = [
    "PSI_EPSILON",
    "Measurement",
    "FeatureComparison",
    "js_distance",
    "psi",
    "linf_distance",
    "ks_statistic",
    "wasserstein_norm",
    "HISTOGRAM_METRICS",
    "compare_schema",
    "compare_feature",
]

PSI_EPSILON = 1e-4
KS_GRID = 1025
WASSERSTEIN_GRID = 2048
QUANTILES = {"p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
QUANTILES["p99"] = 0.99


@dataclass(frozen=True)
class Measurement:
    """One measured value. `value` is None when the check could not be computed (no
    values on a side); `n_training`/`n_serving` are the sample sizes it rests on."""

    check: CheckName
    value: float | str | None
    subject: Subject = Subject.VALUE
    training: float | None = None
    serving: float | None = None
    n_training: int | None = None
    n_serving: int | None = None
    detail: str | None = None
    reason: Reason | None = None  # set when the value cannot be judged (see `Reason`)
    p_value: float | None = None  # how likely sampling noise alone gives this value
    cause: str | None = None  # what happened, in words (set by a signature that matched)
    params: Mapping[str, Any] | None = None  # a signature's fitted parameters


@dataclass(frozen=True)
class FeatureComparison:
    name: str
    kind: Kind | None
    training_type: str | None
    serving_type: str | None
    rows_training: int
    rows_serving: int
    measurements: tuple[Measurement, ...]
    distribution: Mapping[str, Any] | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- distances


def _shares(counts: Sequence[float]) -> np.ndarray:
    arr = np.asarray(counts, dtype=np.float64)
    total = arr.sum()
    return arr / total if total > 0 else arr


def js_distance(p_counts: Sequence[float], q_counts: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2, of two count vectors over the same buckets."""
    p, q = _shares(p_counts), _shares(q_counts)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    divergence = 0.5 * (kl(p) + kl(q))
    return float(min(1.0, math.sqrt(max(divergence, 0.0))))


def psi(p_counts: Sequence[float], q_counts: Sequence[float], eps: float = PSI_EPSILON) -> float:
    """Population stability index of two count vectors; shares floored at `eps`."""
    p = np.maximum(_shares(p_counts), eps)
    q = np.maximum(_shares(q_counts), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def linf_distance(p_counts: Sequence[float], q_counts: Sequence[float]) -> float:
    """Largest absolute difference between bucket shares."""
    return float(np.max(np.abs(_shares(p_counts) - _shares(q_counts)), initial=0.0))


HISTOGRAM_METRICS: dict[CheckName, Callable[[Sequence[float], Sequence[float]], float]] = {
    CheckName.PSI: psi,
    CheckName.JS_DISTANCE: js_distance,
    CheckName.LINF_DISTANCE: linf_distance,
}


def ks_statistic(a: NumericProfile, b: NumericProfile) -> float | None:
    """Kolmogorov-Smirnov statistic from the two profiles' KLL sketches."""
    if not a.finite or not b.finite:
        return None
    sa, sb = a.kll(), b.kll()
    ranks = np.linspace(0.0, 1.0, KS_GRID).tolist()
    points = np.unique(np.concatenate([sa.get_quantiles(ranks), sb.get_quantiles(ranks)]))
    grid = points.tolist()
    fa = np.asarray(sa.get_cdf(grid, True)[:-1])
    fb = np.asarray(sb.get_cdf(grid, True)[:-1])
    return float(np.max(np.abs(fa - fb), initial=0.0))


def _scale(training: NumericProfile) -> float:
    std = training.std
    if std > 0 and math.isfinite(std):
        return std
    return max(abs(training.mean), 1.0)


def wasserstein_norm(training: NumericProfile, serving: NumericProfile) -> float | None:
    """Wasserstein-1 distance from the quantile sketches, in training standard deviations."""
    if not training.finite or not serving.finite:
        return None
    us = ((np.arange(WASSERSTEIN_GRID) + 0.5) / WASSERSTEIN_GRID).tolist()
    qa = np.asarray(training.kll().get_quantiles(us))
    qb = np.asarray(serving.kll().get_quantiles(us))
    distance = float(np.mean(np.abs(qa - qb)))
    value = distance / _scale(training)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- measurements


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


def _rate_measurement(
    check: CheckName,
    subject: Subject,
    t_part: int,
    t_whole: int,
    s_part: int,
    s_whole: int,
) -> Measurement:
    t, s = _rate(t_part, t_whole), _rate(s_part, s_whole)
    value = s - t if t is not None and s is not None else None
    return Measurement(
        check=check,
        value=value,
        subject=subject,
        training=t,
        serving=s,
        n_training=t_whole,
        n_serving=s_whole,
        p_value=rise_pvalue(t_part, t_whole, s_part, s_whole) if value is not None else None,
    )


def _numeric_measurements(
    t: NumericProfile, s: NumericProfile, spec: NumericSpec, subject: Subject
) -> list[Measurement]:
    out = [
        _rate_measurement(CheckName.NAN_RATE, subject, t.nan, t.count, s.nan, s.count),
        _rate_measurement(CheckName.POS_INF_RATE, subject, t.pos_inf, t.count, s.pos_inf, s.count),
        _rate_measurement(CheckName.NEG_INF_RATE, subject, t.neg_inf, t.count, s.neg_inf, s.count),
        _rate_measurement(
            CheckName.MISSING_OR_INVALID_RATE,
            subject,
            t.count - t.finite,
            t.count,
            s.count - s.finite,
            s.count,
        ),
    ]
    if t.negative is not None and s.negative is not None:
        out.append(
            _rate_measurement(
                CheckName.NEGATIVE_RATE, subject, t.negative, t.finite, s.negative, s.finite
            )
        )
    else:
        out.append(
            Measurement(
                check=CheckName.NEGATIVE_RATE,
                value=None,
                subject=subject,
                detail="the reference profile predates negative counts: re-snapshot",
                reason=Reason.NOT_COMPUTABLE,
            )
        )
    if not spec.integral:
        out.append(
            _rate_measurement(
                CheckName.INTEGER_RATE, subject, t.integral, t.finite, s.integral, s.finite
            )
        )
    sizes: dict[str, Any] = {"n_training": t.finite, "n_serving": s.finite}
    both = bool(t.finite and s.finite)
    chi2_p = chi2_pvalue(t.histogram, s.histogram) if both else None
    ks_p = ks_pvalue(binned_ks(t.histogram, s.histogram), t.finite, s.finite) if both else None
    for check in (CheckName.PSI, CheckName.JS_DISTANCE):
        value = HISTOGRAM_METRICS[check](t.histogram, s.histogram) if both else None
        out.append(Measurement(check=check, value=value, subject=subject, p_value=chi2_p, **sizes))
    out.append(
        Measurement(
            check=CheckName.KS_STATISTIC,
            value=ks_statistic(t, s),
            subject=subject,
            p_value=ks_p,
            **sizes,
        )
    )
    out.append(
        Measurement(
            check=CheckName.WASSERSTEIN_NORM,
            value=wasserstein_norm(t, s),
            subject=subject,
            detail=f"scale (training std) {_scale(t):.6g}",
            p_value=ks_p,
            **sizes,
        )
    )
    out.append(_mean_shift(t, s, subject))
    return out


def _mean_shift(t: NumericProfile, s: NumericProfile, subject: Subject) -> Measurement:
    sizes: dict[str, Any] = {"n_training": t.finite, "n_serving": s.finite}
    if not t.finite or not s.finite:
        return Measurement(check=CheckName.MEAN_SHIFT, value=None, subject=subject, **sizes)
    value = abs(s.mean - t.mean) / _scale(t)
    return Measurement(
        check=CheckName.MEAN_SHIFT,
        value=value if math.isfinite(value) else None,
        subject=subject,
        training=t.mean,
        serving=s.mean,
        p_value=mean_shift_pvalue(t.mean, t.variance, t.finite, s.mean, s.variance, s.finite),
        detail=f"in training standard deviations ({_scale(t):.6g})",
        **sizes,
    )


def _categorical_measurements(
    t: CategoricalProfile, s: CategoricalProfile, subject: Subject, *, vocabulary_capped: bool
) -> list[Measurement]:
    t_values, s_values = t.count - t.nulls, s.count - s.nulls
    out = [
        _rate_measurement(
            CheckName.NEW_CATEGORY_RATE, subject, t.other, t_values, s.other, s_values
        )
    ]
    sizes: dict[str, Any] = {"n_training": t_values, "n_serving": s_values}
    chi2_p = chi2_pvalue(t.counts, s.counts) if t_values and s_values else None
    for check in (CheckName.PSI, CheckName.JS_DISTANCE, CheckName.LINF_DISTANCE):
        value = HISTOGRAM_METRICS[check](t.counts, s.counts) if t_values and s_values else None
        out.append(Measurement(check=check, value=value, subject=subject, p_value=chi2_p, **sizes))
    if vocabulary_capped:
        out[0] = replace(out[0], detail="training vocabulary capped: 'other' also holds rare ones")
    return out


def _status_measurement(
    statuses: tuple[int, ...] | None, training_nulls: int, training_count: int
) -> Measurement:
    """Share of serving rows the online store had no (fresh) value for, minus the share of
    training rows without a value: missing online is judged against missing in training."""
    if statuses is None:
        return Measurement(
            check=CheckName.MISSING_ONLINE_RATE, value=None, detail="no status column"
        )
    total = sum(statuses)
    missing = statuses[FieldStatus.NOT_FOUND] + statuses[FieldStatus.OUTSIDE_MAX_AGE]
    m = _rate_measurement(
        CheckName.MISSING_ONLINE_RATE,
        Subject.VALUE,
        training_nulls,
        training_count,
        missing,
        total,
    )
    return replace(
        m,
        detail=f"not_found {statuses[FieldStatus.NOT_FOUND]}, "
        f"outside_max_age {statuses[FieldStatus.OUTSIDE_MAX_AGE]}",
    )


# --------------------------------------------------------------------------- distributions


def _numeric_stats(p: NumericProfile) -> dict[str, Any]:
    qs = p.quantiles(list(QUANTILES.values()))
    return {
        "count": p.count,
        "nulls": p.nulls,
        "nan": p.nan,
        "pos_inf": p.pos_inf,
        "neg_inf": p.neg_inf,
        "min": p.min,
        "max": p.max,
        "mean": p.mean if p.finite else None,
        "std": p.std if p.finite else None,
        "quantiles": dict(zip(QUANTILES, qs, strict=True)) if qs is not None else None,
    }


def _histogram(spec: NumericSpec, t: NumericProfile, s: NumericProfile) -> dict[str, Any]:
    return {
        "kind": "histogram",
        "edges": list(spec.edges),
        "training": list(t.histogram),
        "serving": list(s.histogram),
        "stats": {"training": _numeric_stats(t), "serving": _numeric_stats(s)},
    }


def _categories(
    spec: CategoricalSpec, t: CategoricalProfile, s: CategoricalProfile
) -> dict[str, Any]:
    return {
        "kind": "categories",
        "labels": [*spec.labels, OTHER, NULL],
        "training": [*t.counts, t.nulls],
        "serving": [*s.counts, s.nulls],
        "top": {
            "training": [list(x) for x in t.top()],
            "serving": [list(x) for x in s.top()],
        },
        "distinct": {"training": round(t.distinct, 1), "serving": round(s.distinct, 1)},
    }


# --------------------------------------------------------------------------- features


def compare_schema(training_type: str | None, serving_type: str | None) -> Measurement:
    """Schema check: present on both sides with the same Arrow type?"""
    if serving_type is None:
        state, detail = SchemaState.MISSING_IN_SERVING, f"training {training_type}, serving -"
    elif training_type is None:
        state, detail = SchemaState.MISSING_IN_TRAINING, f"training -, serving {serving_type}"
    elif training_type != serving_type:
        state, detail = (
            SchemaState.TYPE_CHANGED,
            f"training {training_type}, serving {serving_type}",
        )
    else:
        state, detail = SchemaState.OK, training_type
    cause = {
        SchemaState.MISSING_IN_SERVING: "feature not served (missing_in_serving)",
        SchemaState.MISSING_IN_TRAINING: "feature served but absent from training "
        "(missing_in_training)",
    }.get(state)
    if state is SchemaState.TYPE_CHANGED:
        assert training_type is not None and serving_type is not None
        cause = f"{type_change_cause(training_type, serving_type)}: type_changed"
    return Measurement(check=CheckName.SCHEMA, value=str(state), detail=detail, cause=cause)


def compare_feature(
    name: str,
    training: FeatureProfile | None,
    serving: FeatureProfile | None,
    *,
    training_type: str | None,
    serving_type: str | None,
    rows_training: int,
    rows_serving: int,
) -> FeatureComparison:
    """All measurements for one feature. Missing profiles give the schema check only."""
    measurements = [compare_schema(training_type, serving_type)]
    distribution: dict[str, Any] | None = None
    kind = training.spec.kind if training is not None else None
    if training is not None and serving is not None:
        spec = training.spec.body
        tp, sp = training.profile, serving.profile
        measurements.append(
            _rate_measurement(
                CheckName.NULL_RATE, Subject.VALUE, tp.nulls, tp.count, sp.nulls, sp.count
            )
        )
        measurements.append(_status_measurement(serving.statuses, tp.nulls, tp.count))
        if isinstance(tp, NumericProfile):
            assert isinstance(sp, NumericProfile) and isinstance(spec, NumericSpec)
            measurements += _numeric_measurements(tp, sp, spec, Subject.VALUE)
            distribution = _histogram(spec, tp, sp)
        elif isinstance(tp, CategoricalProfile):
            assert isinstance(sp, CategoricalProfile) and isinstance(spec, CategoricalSpec)
            capped = tp.other > 0
            measurements += _categorical_measurements(
                tp, sp, Subject.VALUE, vocabulary_capped=capped
            )
            distribution = _categories(spec, tp, sp)
        else:
            assert isinstance(tp, ArrayProfile) and isinstance(sp, ArrayProfile)
            assert isinstance(spec, ArraySpec)
            measurements += _numeric_measurements(tp.length, sp.length, spec.length, Subject.LENGTH)
            element: dict[str, Any]
            if isinstance(tp.element, NumericProfile):
                assert isinstance(sp.element, NumericProfile)
                assert isinstance(spec.element, NumericSpec)
                measurements += _numeric_measurements(
                    tp.element, sp.element, spec.element, Subject.ELEMENT
                )
                element = _histogram(spec.element, tp.element, sp.element)
            else:
                assert isinstance(sp.element, CategoricalProfile)
                assert isinstance(spec.element, CategoricalSpec)
                measurements += _categorical_measurements(
                    tp.element, sp.element, Subject.ELEMENT, vocabulary_capped=tp.element.other > 0
                )
                element = _categories(spec.element, tp.element, sp.element)
            distribution = {
                "kind": "array",
                "length": _histogram(spec.length, tp.length, sp.length),
                "element": element,
            }
    if training is not None and serving is None and serving_type is not None:
        # Served, but as a type whose values cannot be counted into training's bins.
        measurements.append(
            Measurement(
                check=CheckName.PSI,
                value=None,
                detail=f"serving {serving_type} cannot be compared with training {training_type}",
                reason=Reason.TYPE_MISMATCH,
            )
        )
    return FeatureComparison(
        name=name,
        kind=kind,
        training_type=training_type,
        serving_type=serving_type,
        rows_training=rows_training,
        rows_serving=rows_serving,
        measurements=tuple(measurements),
        distribution=distribution,
    )
