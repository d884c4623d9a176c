"""A feature served with no usable value at all is a finding, not a lack of data.

When every served value of a feature is null, NaN or infinite, its distribution checks
rest on zero values and used to say `insufficient_data` (exit 2, "collect more logs"),
which outranks block and hid the finding: the null, NaN or inf rate checks, computed on
all the rows, had fired. `judge_served_without_values` marks those distribution checks
`not_computable` (recorded, not judged) when the serving side had enough rows, so the
rate checks decide: with the default policy, a block.
"""

from __future__ import annotations

from dataclasses import replace

from skewguard.checking.comparing import FeatureComparison, Measurement
from skewguard.checking.profile import FeatureProfile, NumericProfile, Profile
from skewguard.vocabulary import Reason

__all__ = ["usable_values", "judge_served_without_values"]

_DETAIL = (
    "serving has no usable value ({what}): not computable; the null, NaN and inf rate "
    "checks judge this feature"
)


def usable_values(profile: Profile) -> int:
    """Values a distribution can be computed from: finite numbers, non-null labels/lists."""
    if isinstance(profile, NumericProfile):
        return profile.finite
    return profile.count - profile.nulls


def _what(profile: Profile) -> str:
    if isinstance(profile, NumericProfile):
        parts = [
            f"{n} {label}"
            for n, label in (
                (profile.nulls, "null"),
                (profile.nan, "NaN"),
                (profile.pos_inf, "+inf"),
                (profile.neg_inf, "-inf"),
            )
            if n
        ]
        return ", ".join(parts) or "no values"
    return f"{profile.nulls} null"


def judge_served_without_values(
    comparison: FeatureComparison, served: FeatureProfile | None, min_rows: int
) -> FeatureComparison:
    """`comparison` with its distribution checks made not computable when every served
    value is null, NaN or inf and the serving side has at least `min_rows` rows."""
    if served is None or comparison.rows_serving < min_rows:
        return comparison
    if served.profile.count < min_rows or usable_values(served.profile) > 0:
        return comparison
    detail = _DETAIL.format(what=_what(served.profile))
    measurements: list[Measurement] = []
    for m in comparison.measurements:
        if m.n_serving is not None and m.n_serving < min_rows:
            m = replace(m, value=None, reason=Reason.NOT_COMPUTABLE, detail=detail, n_serving=None)
        measurements.append(m)
    return replace(comparison, measurements=tuple(measurements))
