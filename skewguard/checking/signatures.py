"""Pipeline-defect signatures: the fingerprints of a broken serving path in the values alone.

Each signature is a check of its own whose value is the share of serving values the defect
explains (0 when it does not match) and whose cause names what happened. The policy blocks
on any match beyond noise: retraining on a bug bakes the bug into the model.

- `unit_change`: serving = training x k for a known unit factor (powers of ten, 60, 3600,
  24, 2.54, 0.4536 and their inverses) or the Celsius/Fahrenheit map. k is fitted as the
  median ratio of the 10%..90% quantiles (at least 3 usable), and serving with the factor
  undone must match training.
- `time_offset`: a timestamp-like feature (timestamp type, or epoch s/ms/us/ns) shifted by
  a whole number of hours (1..24), or an elapsed time whose name gives its unit
  ("hours_since_order") slid whole by 0.5..24 h; serving shifted back matches training.
- `precision_loss`: nearly all serving values sit on a decimal lattice (or float32
  precision) that most training values did not.
- `default_fill`: one exact value's share jumps (training had at most
  `fill_max_training_share` of it) while the other values keep their training
  distribution; for categories, a placeholder ("", "unknown", "-1"...).
- `clipping`: serving's minimum or maximum lies inside training's range, mass piles up at
  it, and training had that mass beyond it.
- `swapped`: serving A matches training B and serving B matches training A (numeric).
- `category_form`: unseen categories that equal training categories after case,
  whitespace and Unicode (NFKC) normalisation.

Numbers only: the p-value each carries is that of the change it explains, and the policy
decides (`deciding`). Exact-value shares and lattices come from the profiles' stored value
samples; a reference profile written before those existed gives `not_computable` with a
request to re-snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from skewguard.checking.comparing import FeatureComparison, Measurement, ks_statistic
from skewguard.checking.mass_signatures import (
    categorical_fill,
    category_form,
    clipping,
    default_fill,
    precision_loss,
)
from skewguard.checking.profile import CategoricalProfile, FeatureProfile, NumericProfile
from skewguard.checking.significance import binned_ks, chi2_pvalue, ks_pvalue
from skewguard.checking.specs import CategoricalSpec
from skewguard.checking.unit_signatures import (
    SignatureSettings,
    no_match,
    time_offset,
    unit_change,
)
from skewguard.vocabulary import CheckName

__all__ = ["SignatureSettings", "feature_signatures", "add_signatures"]


def _sized(m: Measurement, n_training: int, n_serving: int) -> Measurement:
    """Signatures rest on the feature's values: judged on its sizes (min_rows), not the
    sample's."""
    if m.reason is not None:
        return m
    return replace(m, n_training=n_training, n_serving=n_serving)


def feature_signatures(
    training: FeatureProfile, serving: FeatureProfile, cfg: SignatureSettings
) -> list[Measurement]:
    """The per-feature signatures of one numeric or categorical feature (arrays: none)."""
    tp, sp = training.profile, serving.profile
    if isinstance(tp, NumericProfile) and isinstance(sp, NumericProfile):
        if not tp.finite or not sp.finite:
            return []
        p = ks_pvalue(binned_ks(tp.histogram, sp.histogram), tp.finite, sp.finite)
        unit = unit_change(tp, sp, p, cfg)
        out = [unit, time_offset(tp, sp, training.spec.arrow_type, p, cfg, training.name)]
        if unit.value:  # a unit factor moves the lattice too: that is the unit change
            out.append(no_match(CheckName.PRECISION_LOSS, None, tp.finite, sp.finite))
        else:
            out.append(precision_loss(tp, sp, cfg))
        clip = clipping(tp, sp, cfg)
        out.append(clip)
        if clip.value:  # the pile-up at a bound is the clipping, not a fill
            out.append(no_match(CheckName.DEFAULT_FILL, None, tp.finite, sp.finite))
        else:
            out.append(default_fill(tp, sp, cfg))
        return [_sized(m, tp.finite, sp.finite) for m in out]
    if isinstance(tp, CategoricalProfile) and isinstance(sp, CategoricalProfile):
        spec = training.spec.body
        assert isinstance(spec, CategoricalSpec)
        n_t, n_s = tp.count - tp.nulls, sp.count - sp.nulls
        return [
            _sized(category_form(tp, sp, spec), n_t, n_s),
            _sized(categorical_fill(tp, sp, cfg), n_t, n_s),
        ]
    return []


def _swaps(
    pairs: Sequence[tuple[str, NumericProfile, NumericProfile]], cfg: SignatureSettings
) -> dict[str, Measurement]:
    """Features whose serving values match another feature's training values, both ways."""
    moved = []
    for name, t, s in pairs:
        own = ks_statistic(t, s)
        if own is not None and own >= cfg.max_residual:
            moved.append((name, t, s, own))
    found: dict[str, Measurement] = {}
    for i, (a, ta, sa, _) in enumerate(moved):
        for b, tb, sb, _ in moved[i + 1 :]:
            if a in found or b in found:
                continue
            ab, ba = ks_statistic(tb, sa), ks_statistic(ta, sb)
            # Beyond the floor, allow what sampling noise gives at these sizes (1% KS level).
            noise = 1.63 * math.sqrt(1 / max(1, min(sa.finite, tb.finite)) * 2)
            if ab is None or ba is None or max(ab, ba) > max(cfg.max_residual, noise):
                continue
            p = chi2_pvalue(ta.histogram, sa.histogram)
            for me, other, t, s, k in ((a, b, ta, sa, ab), (b, a, tb, sb, ba)):
                found[me] = Measurement(
                    check=CheckName.SWAPPED,
                    value=1.0,
                    p_value=p,
                    n_training=t.finite,
                    n_serving=s.finite,
                    cause=f"swapped with {other}: served {me} matches training {other} "
                    f"(KS {k:.3g})",
                    params={"with": other, "ks_to_other": k},
                )
    return found


def add_signatures(
    comparisons: Sequence[FeatureComparison],
    training: dict[str, FeatureProfile],
    serving: dict[str, FeatureProfile],
    cfg: SignatureSettings,
) -> list[FeatureComparison]:
    """Each comparison with its signature measurements appended (swaps across features)."""
    numeric = [
        (c.name, training[c.name].profile, serving[c.name].profile)
        for c in comparisons
        if c.name in training
        and c.name in serving
        and isinstance(training[c.name].profile, NumericProfile)
        and isinstance(serving[c.name].profile, NumericProfile)
    ]
    swaps = _swaps(numeric, cfg)  # type: ignore[arg-type]
    out = []
    for c in comparisons:
        if c.name not in training or c.name not in serving:
            out.append(c)
            continue
        extra: list[Any] = feature_signatures(training[c.name], serving[c.name], cfg)
        if extra and isinstance(training[c.name].profile, NumericProfile):
            n_t, n_s = extra[0].n_training, extra[0].n_serving
            extra.append(swaps.get(c.name) or no_match(CheckName.SWAPPED, None, n_t, n_s))
        out.append(replace(c, measurements=(*c.measurements, *extra)))
    return out
