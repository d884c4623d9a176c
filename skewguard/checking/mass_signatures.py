"""Signatures of moved probability mass, read from the stored value samples: a coarser
lattice (`precision_loss`), a pile-up at a bound (`clipping`), one value's share jumping
(`default_fill`), and categories that only changed form (`category_form`)."""

from __future__ import annotations

import math
import unicodedata

import numpy as np

from skewguard.checking.comparing import Measurement
from skewguard.checking.profile import CategoricalProfile, NumericProfile
from skewguard.checking.significance import rise_pvalue
from skewguard.checking.specs import CategoricalSpec
from skewguard.checking.unit_signatures import SignatureSettings, no_match, old_profile
from skewguard.vocabulary import CheckName

__all__ = [
    "FILL_NUMBERS",
    "PLACEHOLDERS",
    "precision_loss",
    "clipping",
    "default_fill",
    "categorical_fill",
    "normalise",
    "category_form",
]

_LATTICES = [10.0**j for j in range(3, -7, -1)]  # 1000 .. 1e-6, coarse to fine


def _on_lattice(x: np.ndarray, step: float) -> np.ndarray:
    scaled = x / step
    # A decimal like 12.3 is not exact in binary: allow the few ulps its scaling costs.
    slack = np.maximum(1e-6, 8 * np.finfo(np.float64).eps * np.abs(scaled))
    return np.abs(scaled - np.round(scaled)) <= slack


def precision_loss(t: NumericProfile, s: NumericProfile, cfg: SignatureSettings) -> Measurement:
    xt, xs = t.values(), s.values()
    if xt is None or xs is None:
        return old_profile(CheckName.PRECISION_LOSS)
    xt, xs = xt[xt != 0], xs[xs != 0]  # zero sits on every lattice
    if xt.size < 100 or xs.size < 100:
        return no_match(CheckName.PRECISION_LOSS, None, xt.size, xs.size)
    lattices: list[tuple[str, np.ndarray, np.ndarray]] = []
    typical = float(np.median(np.abs(xt)))
    for step in _LATTICES:
        if typical / step > 1e12:  # float64 cannot tell lattices this fine apart
            continue
        lattices.append((f"{step:g}", _on_lattice(xt, step), _on_lattice(xs, step)))
    lattices.append(("float32 precision", xt.astype(np.float32) == xt, xs.astype(np.float32) == xs))
    for name, on_t, on_s in lattices:
        share_t, share_s = float(on_t.mean()), float(on_s.mean())
        if share_s >= 0.99 and share_t <= 0.9 and share_s - share_t >= cfg.min_share:
            kt, ks = int(on_t.sum()), int(on_s.sum())
            what = name if name.startswith("float32") else f"multiples of {name}"
            return Measurement(
                check=CheckName.PRECISION_LOSS,
                value=share_s - share_t,
                p_value=rise_pvalue(kt, xt.size, ks, xs.size),
                n_training=xt.size,
                n_serving=xs.size,
                training=share_t,
                serving=share_s,
                cause=f"values collapsed onto {what}: {share_s:.0%} of served values, "
                f"training had {share_t:.0%}",
                params={"lattice": name},
            )
    return no_match(CheckName.PRECISION_LOSS, None, xt.size, xs.size)


def _sample_ks(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return 1.0
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def _point_mass(
    xt: np.ndarray, xs: np.ndarray, value: float, others_t: np.ndarray, others_s: np.ndarray
) -> tuple[float, float, float]:
    """(training share, serving share, KS of the other values) for one exact value."""
    share_t = float(np.count_nonzero(xt == value)) / xt.size
    share_s = float(np.count_nonzero(xs == value)) / xs.size
    return share_t, share_s, _sample_ks(others_t, others_s)


def clipping(t: NumericProfile, s: NumericProfile, cfg: SignatureSettings) -> Measurement:
    xt, xs = t.values(), s.values()
    if xt is None or xs is None:
        return old_profile(CheckName.CLIPPING)
    if xt.size < 100 or xs.size < 100 or s.min is None or s.max is None:
        return no_match(CheckName.CLIPPING, None, xt.size, xs.size)
    heaviest = float(np.unique(xt, return_counts=True)[1].max()) / xt.size
    for side, bound in (("upper", float(s.max)), ("lower", float(s.min))):
        beyond_t = xt > bound if side == "upper" else xt < bound
        share_beyond = float(beyond_t.mean())
        inside_t = xt[(xt < bound) if side == "upper" else (xt > bound)]
        inside_s = xs[xs != bound]
        share_t, share_s, rest = _point_mass(xt, xs, bound, inside_t, inside_s)
        jump = share_s - share_t
        if (
            jump >= max(cfg.min_share, 4.0 * heaviest)
            and share_beyond >= 0.5 * jump
            and rest <= cfg.max_residual + 1.5 / math.sqrt(min(inside_s.size, inside_t.size) or 1)
        ):
            kt = int(np.count_nonzero(xt == bound)) + int(beyond_t.sum())
            return Measurement(
                check=CheckName.CLIPPING,
                value=jump,
                p_value=rise_pvalue(int(np.count_nonzero(xt == bound)), xt.size,
                                    int(np.count_nonzero(xs == bound)), xs.size),
                n_training=xt.size,
                n_serving=xs.size,
                training=share_t,
                serving=share_s,
                cause=f"{share_s:.0%} of values sit at the {side} bound {bound:.6g}; training "
                f"had {share_t:.1%} there and {share_beyond:.1%} beyond it (clipped)",
                params={"bound": bound, "side": side, "training_beyond": share_beyond,
                        "training_at_or_beyond": kt / xt.size},
            )  # fmt: skip
    return no_match(CheckName.CLIPPING, None, xt.size, xs.size)


FILL_NUMBERS = frozenset({0.0, -1.0, 1.0, -9.0, 9.0, -99.0, 99.0, -999.0, 999.0, -9999.0, 9999.0,
                          99999.0, 999999.0})  # fmt: skip


def _fill_like(value: float, t: NumericProfile) -> bool:
    """Values pipelines fill with: 0, -1, 999-style sentinels, the training mean or
    median. (Any other value piling up is as likely one popular entity's.)"""
    if value in FILL_NUMBERS:
        return True
    near = 0.1 * t.std if t.std > 0 else 1e-9
    median = t.quantiles([0.5])
    return abs(value - t.mean) <= near or (median is not None and abs(value - median[0]) <= near)


def default_fill(t: NumericProfile, s: NumericProfile, cfg: SignatureSettings) -> Measurement:
    xt, xs = t.values(), s.values()
    if xt is None or xs is None:
        return old_profile(CheckName.DEFAULT_FILL)
    if xt.size < 100 or xs.size < 100:
        return no_match(CheckName.DEFAULT_FILL, None, xt.size, xs.size)
    values, counts = np.unique(xs, return_counts=True)
    order = np.argsort(-counts)
    top, count = float(values[order[0]]), int(counts[order[0]])
    runner_up = int(counts[order[1]]) if order.size > 1 else 0
    # Entity-level features repeat one value per row of a popular entity: a fill must
    # stand out among serving's own values and outweigh any single value of training's.
    heaviest = float(np.unique(xt, return_counts=True)[1].max()) / xt.size
    if count < 2 * runner_up or not _fill_like(top, t):
        return no_match(CheckName.DEFAULT_FILL, None, xt.size, xs.size)
    share_t, share_s, rest = _point_mass(xt, xs, top, xt[xt != top], xs[xs != top])
    noise = 1.5 / math.sqrt(max(1, min(int((xs != top).sum()), int((xt != top).sum()))))
    if (
        share_t <= cfg.fill_max_training_share
        and share_s - share_t >= max(cfg.min_share, 2.0 * heaviest)
        and rest <= cfg.max_residual + noise
    ):
        return Measurement(
            check=CheckName.DEFAULT_FILL,
            value=share_s - share_t,
            p_value=rise_pvalue(int(round(share_t * xt.size)), xt.size, count, xs.size),
            n_training=xt.size,
            n_serving=xs.size,
            training=share_t,
            serving=share_s,
            cause=f"{share_s:.0%} of values are {top:.6g}, training had {share_t:.0%} "
            "(a default fill)",
            params={"value": top},
        )
    return no_match(CheckName.DEFAULT_FILL, None, xt.size, xs.size)


PLACEHOLDERS = frozenset(
    {"", "unknown", "none", "null", "nan", "n/a", "na", "-", "?", "default", "missing",
     "0", "-1", "undefined"}
)  # fmt: skip


def _shares(p: CategoricalProfile) -> tuple[dict[str, int], int]:
    return dict(p.top(n=10_000)), p.count - p.nulls


def categorical_fill(
    t: CategoricalProfile, s: CategoricalProfile, cfg: SignatureSettings
) -> Measurement:
    top_t, n_t = _shares(t)
    top_s, n_s = _shares(s)
    for value, count in sorted(top_s.items(), key=lambda kv: -kv[1]):
        if value.strip().lower() not in PLACEHOLDERS or not n_s or not n_t:
            continue
        share_t, share_s = top_t.get(value, 0) / n_t, count / n_s
        if share_t <= cfg.fill_max_training_share and share_s - share_t >= cfg.min_share:
            return Measurement(
                check=CheckName.DEFAULT_FILL,
                value=share_s - share_t,
                p_value=rise_pvalue(top_t.get(value, 0), n_t, count, n_s),
                n_training=n_t,
                n_serving=n_s,
                training=share_t,
                serving=share_s,
                cause=f"{share_s:.0%} of values are {value!r}, training had {share_t:.0%} "
                "(a placeholder fill)",
                params={"value": value},
            )
    return no_match(CheckName.DEFAULT_FILL, None, n_t, n_s)


def normalise(label: str) -> str:
    """A category as compared for `category_form`: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", label).casefold().split())


def category_form(
    t: CategoricalProfile, s: CategoricalProfile, spec: CategoricalSpec
) -> Measurement:
    known = set(spec.labels)
    forms: dict[str, str] = {}
    for label in spec.labels:
        forms.setdefault(normalise(label), label)
    top_s, n_s = _shares(s)
    n_t = t.count - t.nulls
    matched = {v: c for v, c in top_s.items() if v not in known and normalise(v) in forms}
    total = sum(matched.values())
    if not total or not n_s:
        return no_match(CheckName.CATEGORY_FORM, None, n_t, n_s)
    worst = max(matched, key=lambda v: matched[v])
    share = total / n_s
    return Measurement(
        check=CheckName.CATEGORY_FORM,
        value=share,
        p_value=rise_pvalue(0, n_t, total, n_s),
        n_training=n_t,
        n_serving=n_s,
        training=0.0,
        serving=share,
        cause=f"{worst!r} served for {forms[normalise(worst)]!r} ({share:.0%} of values in "
        f"{len(matched)} changed form{'s' if len(matched) > 1 else ''}): case, whitespace "
        "or encoding changed",
        params={"forms": {v: forms[normalise(v)] for v in sorted(matched)[:20]}},
    )
