"""Signatures of a changed scale: a unit factor (`unit_change`) or a whole-hour shift
(`time_offset`), fitted on the two sides' quantile sketches. Also the settings and the
"no match" value every signature shares. See `signatures` for the whole list."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from skewguard.checking.comparing import Measurement, ks_statistic
from skewguard.checking.profile import NumericProfile
from skewguard.vocabulary import CheckName, Reason

__all__ = [
    "SignatureSettings",
    "UNIT_FACTORS",
    "no_match",
    "old_profile",
    "unit_change",
    "time_offset",
]

_RATIOS = [0.05 * i for i in range(1, 20)]  # the quantiles a fit may use (5%..95%)
_EXPLAINED = 0.35  # undoing a defect must leave at most this fraction of the KS distance
_CENTRAL = 0.1  # ... preferring those from 10% to 90% when at least 3 of them are usable
_GRID = np.linspace(0.0, 1.0, 257).tolist()  # ranks for residual KS distances


@dataclass(frozen=True)
class SignatureSettings:
    fill_max_training_share: float = 0.05
    factor_tolerance: float = 0.10
    max_residual: float = 0.05
    min_share: float = 0.01  # a defect must touch at least this share of values


def _known_factors() -> dict[float, str]:
    out: dict[float, str] = {}
    for j in range(1, 10):
        out[10.0**j] = f"{10**j:g}"
        out[10.0**-j] = f"1/{10**j:g}"
    for k, name in ((60.0, "60 (minutes/seconds)"), (3600.0, "3600 (hours/seconds)")):
        out[k], out[1 / k] = name, f"1/{name}"
    out[24.0], out[1 / 24.0] = "24 (days/hours)", "1/24 (hours/days)"
    out[2.54], out[1 / 2.54] = "2.54 (inches to cm)", "1/2.54 (cm to inches)"
    out[0.4536], out[1 / 0.4536] = "0.4536 (pounds to kg)", "1/0.4536 (kg to pounds)"
    return out


UNIT_FACTORS = _known_factors()
# (multiplier, offset, name) for the affine unit changes
_AFFINE = ((1.8, 32.0, "Celsius to Fahrenheit"), (1 / 1.8, -32.0 / 1.8, "Fahrenheit to Celsius"))


def no_match(check: CheckName, p: float | None, n_t: int, n_s: int) -> Measurement:
    return Measurement(check=check, value=0.0, p_value=p, n_training=n_t, n_serving=n_s)


def matched(
    check: CheckName,
    t: NumericProfile,
    s: NumericProfile,
    p: float | None,
    cause: str,
    params: dict[str, float | int | None],
    detail: str | None = None,
) -> Measurement:
    """A scale signature that explains every serving value: value 1, judged on finite sizes."""
    return Measurement(
        check=check,
        value=1.0,
        p_value=p,
        n_training=t.finite,
        n_serving=s.finite,
        cause=cause,
        params=params,
        detail=detail,
    )


def old_profile(check: CheckName) -> Measurement:
    return Measurement(
        check=check,
        value=None,
        detail="the reference profile predates value samples: re-snapshot to check this",
        reason=Reason.NOT_COMPUTABLE,
    )


def _residual(t: NumericProfile, s: NumericProfile, a: float, b: float) -> float:
    """KS distance between training and serving with `serving = a * training + b` undone."""
    kt, ks = t.kll(), s.kll()
    xs = np.unique(np.asarray(kt.get_quantiles(_GRID), dtype=np.float64))
    # Just above each point, so atoms that moved by rounding (float32 storage) still align.
    xs = xs + 1e-5 * np.maximum(np.abs(xs), 1e-9)
    ft = np.asarray(kt.get_cdf(xs.tolist(), True)[:-1])
    fs = np.asarray(ks.get_cdf((a * xs + b).tolist(), True)[:-1])
    if a < 0:
        fs = 1.0 - fs
    return float(np.max(np.abs(ft - fs), initial=0.0))


def _quantiles(t: NumericProfile, s: NumericProfile) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray(t.kll().get_quantiles(_RATIOS), dtype=np.float64),
        np.asarray(s.kll().get_quantiles(_RATIOS), dtype=np.float64),
    )


def _zero_inflated(t: NumericProfile) -> bool:
    """Non-negative with at least 5% exact zeros (a unit factor keeps zeros at zero)."""
    if t.min is None or t.min < 0:
        return False
    at_zero = t.kll().get_cdf([0.0], True)[0]
    return bool(at_zero >= 0.05)


def _positive_quantiles(t: NumericProfile, s: NumericProfile) -> tuple[np.ndarray, np.ndarray]:
    """Matched quantiles of the positive parts: sampling moves the zero share a little,
    which would misalign quantiles taken over the whole."""
    out = []
    for side in (t, s):
        sketch = side.kll()
        zero = float(sketch.get_cdf([0.0], True)[0])
        ranks = [zero + r * (1.0 - zero) for r in _RATIOS]
        out.append(np.asarray(sketch.get_quantiles(ranks), dtype=np.float64))
    return out[0], out[1]


def unit_change(
    t: NumericProfile, s: NumericProfile, p: float | None, cfg: SignatureSettings
) -> Measurement:
    sizes = (t.finite, s.finite)
    moved = ks_statistic(t, s)
    if moved is None or moved < cfg.max_residual:
        return no_match(CheckName.UNIT_CHANGE, p, *sizes)
    qt, qs = _quantiles(t, s) if not _zero_inflated(t) else _positive_quantiles(t, s)
    usable = (qt != 0) & (qs != 0) & (np.sign(qt) == np.sign(qs))
    central = usable & (np.abs(np.asarray(_RATIOS) - 0.5) <= 0.5 - _CENTRAL + 1e-9)
    if int(central.sum()) >= 3:  # zero-inflated features fit on their non-zero tail
        usable = central
    candidates: list[tuple[float, float, float, str, float | None]] = []
    if int(usable.sum()) >= 3:
        fitted = float(np.median(qs[usable] / qt[usable]))
        for factor, name in UNIT_FACTORS.items():
            if abs(fitted / factor - 1.0) <= cfg.factor_tolerance:
                candidates.append((factor, 0.0, fitted, f"x {name}", fitted))
    for a, b, name in _AFFINE:
        predicted = a * qt + b
        close = np.abs(qs - predicted) <= cfg.factor_tolerance * np.maximum(np.abs(qs), 1.0)
        if int(close.sum()) >= 0.75 * qt.size:
            candidates.append((a, b, a, f"x {a:.4g} + {b:.4g} ({name})", None))
    best = None
    for a, b, _, name, ratio in candidates:
        residual = _residual(t, s, a, b)
        # The factor must explain the change: little left (entity-level features keep
        # some lumpiness from which entities were served), or most of it gone.
        explained = residual <= max(cfg.max_residual, _EXPLAINED * moved)
        if explained and (best is None or residual < best[0]):
            best = (residual, a, b, name, ratio)
    if best is None:
        return no_match(CheckName.UNIT_CHANGE, p, *sizes)
    residual, a, b, name, ratio = best
    fit = f"; fitted factor {ratio:.4g} over {int(usable.sum())} quantiles" if ratio else ""
    return matched(
        CheckName.UNIT_CHANGE,
        t,
        s,
        p,
        f"served = training {name}{fit}",
        {"factor": a, "offset": b, "fitted": ratio, "residual_ks": residual},
        detail=f"KS {moved:.3g} before, {residual:.3g} with the factor undone",
    )


_EPOCH_UNITS = (  # (lowest plausible magnitude, highest, one hour in that unit, unit)
    (1e8, 1e10, 3600.0, "s"),
    (1e11, 1e13, 3.6e6, "ms"),
    (1e14, 1e16, 3.6e9, "us"),
    (1e17, 1e19, 3.6e12, "ns"),
)
_TIMESTAMP_HOURS = {"s": 3600.0, "ms": 3.6e6, "us": 3.6e9, "ns": 3.6e12}
# one hour in the unit a feature's name states ("hours_since_order", "session__seconds");
# "min" and "s" are left out: they too often mean a minimum or a plural
_NAMED_UNITS = {
    **dict.fromkeys(("hours", "hour", "hrs", "hr", "h"), 1.0),
    **dict.fromkeys(("minutes", "minute", "mins"), 60.0),
    **dict.fromkeys(("seconds", "second", "secs", "sec"), 3600.0),
    **dict.fromkeys(("ms", "millis", "milliseconds"), 3.6e6),
    **dict.fromkeys(("days", "day"), 1 / 24),
}


def _named_hour_length(name: str) -> float | None:
    """One hour in the duration unit the feature's own name gives, or None."""
    words = re.split(r"[^a-z0-9]+", name.rsplit("__", 1)[-1].lower())
    units = {_NAMED_UNITS[w] for w in words if w in _NAMED_UNITS}
    return units.pop() if len(units) == 1 else None


def _hour_length(arrow_type: str, t: NumericProfile) -> float | None:
    """One hour in a timestamp's unit, or in an epoch number's (by its magnitude)."""
    if arrow_type.startswith("timestamp["):
        return _TIMESTAMP_HOURS.get(arrow_type[len("timestamp[") :].split(",")[0].rstrip("]"))
    if arrow_type.startswith(("date", "time", "duration")) or t.min is None or t.max is None:
        return None
    low, high = abs(t.min), abs(t.max)
    for lo, hi, hour, _ in _EPOCH_UNITS:
        if lo <= low and high <= hi:
            return hour
    return None


def _hour_of_day(t: NumericProfile, s: NumericProfile, p: float | None) -> Measurement | None:
    """An hour-of-day feature (integers 0..23) rotated by whole hours, or None."""
    xt, xs = t.values(), s.values()
    if xt is None or xs is None or xt.size < 240 or xs.size < 240:
        return None
    if t.min != 0 or t.max != 23 or not np.all(np.floor(xs) == xs) or xs.min() < 0 or xs.max() > 23:
        return None
    ht = np.bincount(xt.astype(np.int64), minlength=24)[:24] / xt.size
    hs = np.bincount(xs.astype(np.int64), minlength=24)[:24] / xs.size
    gaps = [float(np.abs(np.roll(ht, h) - hs).sum()) for h in range(24)]
    best = int(np.argmin(gaps))
    if best == 0 or gaps[best] > 0.5 * gaps[0] or gaps[0] < 0.1:
        return None
    hours = best if best <= 12 else best - 24
    return matched(
        CheckName.TIME_OFFSET,
        t,
        s,
        p,
        f"hour of day served {hours:+d} h from training's (a time zone or UTC conversion)",
        {"hours": hours, "l1_rotated": gaps[best], "l1_as_is": gaps[0]},
    )


def time_offset(
    t: NumericProfile,
    s: NumericProfile,
    arrow_type: str,
    p: float | None,
    cfg: SignatureSettings,
    name: str = "",
) -> Measurement:
    """A timestamp or epoch moved by whole hours, an hour of day rotated by them, or a
    named duration ("hours_since_order") moved by a constant."""
    sizes = (t.finite, s.finite)
    rotated = _hour_of_day(t, s, p)
    if rotated is not None:
        return rotated
    moved = ks_statistic(t, s)
    if moved is None or moved < cfg.max_residual:
        return no_match(CheckName.TIME_OFFSET, p, *sizes)
    hour = _hour_length(arrow_type, t)
    if hour is None:
        named = _named_hour_length(name)
        if named is None:
            return no_match(CheckName.TIME_OFFSET, p, *sizes)
        return _duration_offset(t, s, p, named, moved)
    qt, qs = _quantiles(t, s)
    shift = float(np.median(qs - qt)) / hour
    hours = round(shift)
    tight = np.abs((qs - qt) / hour - hours) <= 0.1
    if not 1 <= abs(hours) <= 24 or abs(shift - hours) > 0.05 or tight.mean() < 0.75:
        return no_match(CheckName.TIME_OFFSET, p, *sizes)
    residual = _residual(t, s, 1.0, hours * hour)
    if residual > max(cfg.max_residual, _EXPLAINED * moved):
        return no_match(CheckName.TIME_OFFSET, p, *sizes)
    return matched(
        CheckName.TIME_OFFSET,
        t,
        s,
        p,
        f"served = training {hours:+d} h (a time zone or UTC conversion); fitted {shift:+.3f} h",
        {"hours": hours, "fitted_hours": shift, "residual_ks": residual},
    )


_SKETCH_NOISE = 0.025  # KS distance two sketches of one distribution can show


def _duration_offset(
    t: NumericProfile, s: NumericProfile, p: float | None, hour: float, moved: float
) -> Measurement:
    """An elapsed time ("hours since", "session seconds") whose every quantile moved by
    the same amount: the clock the serving path measures from is off. A real change of
    behaviour stretches such a distribution; it does not slide it whole. Sampling noise
    blurs whole hours at these sizes, so the offset is fitted, not rounded."""
    sizes = (t.finite, s.finite)
    qt, qs = _quantiles(t, s)
    shift = float(np.median(qs - qt))
    hours = shift / hour
    if not 0.5 <= abs(hours) <= 24:
        return no_match(CheckName.TIME_OFFSET, p, *sizes)
    noise = max(_SKETCH_NOISE, 1.36 * np.sqrt((sizes[0] + sizes[1]) / (sizes[0] * sizes[1])))
    residual = _residual(t, s, 1.0, shift)
    if residual > min(noise, _EXPLAINED * moved):
        return no_match(CheckName.TIME_OFFSET, p, *sizes)
    # how far sampling alone moves the fitted shift (the median's standard error, roughly)
    spread = t.std if np.isfinite(t.std) else 0.0
    noise_hours = 1.25 * spread * np.sqrt(1 / sizes[0] + 1 / sizes[1]) / hour
    whole = round(hours)
    named = bool(whole) and abs(hours - whole) <= 0.25 and noise_hours <= 0.1
    said = (
        f"{whole:+d} h (a time zone or clock offset in the serving computation)"
        if named
        else f"about {hours:+.1f} h (± {2 * noise_hours:.1f} h: a clock, time-zone or "
        "reference-time offset in the serving computation)"
    )
    return matched(
        CheckName.TIME_OFFSET,
        t,
        s,
        p,
        f"served = training {said}; every quantile moved alike",
        {
            "hours": whole if named else round(hours, 1),
            "fitted_hours": hours,
            "residual_ks": residual,
        },
    )
