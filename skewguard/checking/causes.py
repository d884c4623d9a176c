"""A fired check's cause in words: what moved, from what to what.

Signatures (`signatures`) write their own cause ("served = training x 100"); every other
check that warns, retrains or blocks gets one here, so each report line says what happened
rather than only which number crossed which line.
"""

from __future__ import annotations

from skewguard.checking.comparing import Measurement
from skewguard.vocabulary import CheckName, Verdict

__all__ = ["describe"]

_RATE_WHAT = {
    CheckName.NULL_RATE: "null values",
    CheckName.NAN_RATE: "NaN values",
    CheckName.POS_INF_RATE: "+inf values",
    CheckName.NEG_INF_RATE: "-inf values",
    CheckName.MISSING_OR_INVALID_RATE: "missing or invalid values (null, NaN, +-inf)",
    CheckName.NEGATIVE_RATE: "negative values",
    CheckName.NEW_CATEGORY_RATE: "categories training never had",
    CheckName.INTEGER_RATE: "integer-valued floats",
    CheckName.MISSING_ONLINE_RATE: "rows served without a fresh online value",
    CheckName.JOINED_MISMATCH_RATE: "replayed rows where online and offline disagree",
}


def _pct(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1%}" if abs(x) >= 0.001 or x == 0 else f"{x:.3%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def describe(m: Measurement, verdict: Verdict) -> str | None:
    """One phrase for a check that did not pass, or None when there is nothing to say."""
    value = m.value
    if m.check is CheckName.SCHEMA:
        return m.detail
    if not isinstance(value, float | int):
        return None
    what = _RATE_WHAT.get(m.check)
    if what is not None:
        if m.check is CheckName.JOINED_MISMATCH_RATE:
            return f"{_pct(value)} of {what}" + (f", {m.detail}" if m.detail else "")
        if m.training == 0.0:
            return f"{_pct(m.serving)} {what} appeared; training had none"
        return f"{what}: {_pct(m.serving)} served, training had {_pct(m.training)}"
    if m.check is CheckName.KS_STATISTIC:
        return f"{_pct(value)} of the probability mass moved (KS {_num(value)})"
    if m.check is CheckName.LINF_DISTANCE:
        return f"a category's share moved by {_pct(value)} (L-infinity {_num(value)})"
    if m.check is CheckName.MEAN_SHIFT:
        return (
            f"mean moved by {_num(value)} training standard deviations "
            f"(from {_num(m.training)} to {_num(m.serving)})"
        )
    if m.check is CheckName.WASSERSTEIN_NORM:
        return f"values moved by {_num(value)} training standard deviations on average"
    if m.check is CheckName.PSI:
        return f"population stability index {_num(value)}"
    if m.check is CheckName.JS_DISTANCE:
        return f"Jensen-Shannon distance {_num(value)}"
    return None
