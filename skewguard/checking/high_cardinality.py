"""New categories beyond the kept vocabulary, measured with theta sketches.

A categorical's bins are the training vocabulary's most frequent `MAX_CATEGORIES` labels
plus `other`. When training has more distinct values than that, `other` also holds the
rare training values, and `new_category_rate` (serving's `other` share minus
training's) cannot tell a rare training value from one training never had: a serving
vocabulary with nothing in common with training's could pass.

Both sides' profiles carry a theta sketch of their distinct values, and training's also
one of its even and one of its odd rows. When training's vocabulary was capped,
`refine_new_category_rate` replaces the measurement by

    |S \\ T| / |S|  -  |odd \\ even| / |odd|

the share of serving's distinct values that training never had, minus the same share
between two halves of training itself: a long tail sampled again always brings values
the first sample missed, and only what goes beyond that baseline is new (theta A-not-B
set operations, about 1% standard error at 2^13 retained hashes). The baseline uses a
reference half the size of training, so it errs towards fewer alarms. The detail names
the distinct counts and both shares; the `new_category_rate` rule of the policy judges
it. It is a share of distinct values, not of rows: in `other`, rows of unseen values
cannot be told apart from rows of rare training values. A training sample in which
nearly every value is rare (a million possible ids, twenty thousand rows) has a baseline
near 1: nothing can be said about new values there, and the measurement says so.
"""

from __future__ import annotations

from dataclasses import replace

import datasketches as ds

from skewguard.checking.comparing import FeatureComparison, Measurement
from skewguard.checking.profile import CategoricalProfile, FeatureProfile
from skewguard.vocabulary import CheckName, Subject

__all__ = ["unseen_distinct_share", "refine_new_category_rate"]


def unseen_distinct_share(sample: bytes, reference: bytes) -> tuple[float, float] | None:
    """(share of `sample`'s distinct values absent from `reference`, `sample`'s distinct
    count), from two serialised theta sketches; None when `sample` is empty."""
    s = ds.compact_theta_sketch.deserialize(sample)
    t = ds.compact_theta_sketch.deserialize(reference)
    distinct = s.get_estimate()
    if distinct <= 0:
        return None
    unseen = ds.theta_a_not_b().compute(s, t).get_estimate()
    return min(1.0, unseen / distinct), distinct


def refine_new_category_rate(
    comparison: FeatureComparison,
    training: FeatureProfile | None,
    serving: FeatureProfile | None,
) -> FeatureComparison:
    """`comparison` with `new_category_rate` measured on distinct values with sketches
    when training's vocabulary was capped (its `other` bucket holds training values)."""
    if training is None or serving is None:
        return comparison
    t, s = training.profile, serving.profile
    if not isinstance(t, CategoricalProfile) or not isinstance(s, CategoricalProfile):
        return comparison
    if t.other == 0:
        return comparison  # every training value has its own bin: the bins say it all
    if t.theta is None or s.theta is None or t.theta_halves is None:
        return comparison  # a profile written before the sketches existed
    found = unseen_distinct_share(s.theta, t.theta)
    baseline = unseen_distinct_share(t.theta_halves[1], t.theta_halves[0])
    if found is None:
        return comparison
    share, served = found
    expected = baseline[0] if baseline is not None else 0.0
    trained = ds.compact_theta_sketch.deserialize(t.theta).get_estimate()
    labels = len(t.counts) - 1
    detail = (
        f"training has about {trained:,.0f} distinct values, more than the {labels:,} kept: "
        f"{share:.1%} of serving's about {served:,.0f} distinct values were never in "
        f"training, against {expected:.1%} between two halves of training (theta sketches)"
    )
    value = share - expected
    measurements = tuple(
        _refined(m, value, share, expected, detail)
        if m.check is CheckName.NEW_CATEGORY_RATE and m.subject is Subject.VALUE
        else m
        for m in comparison.measurements
    )
    return replace(comparison, measurements=measurements)


def _refined(
    m: Measurement, value: float, share: float, expected: float, detail: str
) -> Measurement:
    return replace(m, value=value, training=expected, serving=share, detail=detail)
