"""A reference profile's numbers checked before a comparison uses them.

`DatasetProfile.from_dict` turns JSON into profiles; it checks shapes, not meaning. A
profile edited by hand or damaged on disk could hold NaN bin edges, negative counts, a
histogram with the wrong number of buckets or a sketch that does not decode, and each
used to surface as a traceback (or a nonsense distance) in the middle of a comparison.
`validate_profile` raises `InputError` naming the file and the feature instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import datasketches as ds

from skewguard.checking.profile import (
    ArrayProfile,
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    Profile,
)
from skewguard.checking.specs import ArraySpec, CategoricalSpec, NumericSpec
from skewguard.errors import InputError

__all__ = ["validate_profile"]

_HINT = "rebuild the reference profile from the snapshot's data (skewguard snapshot)"


class _Invalid(Exception):
    """One violation, named; turned into an InputError by `validate_profile`."""


def validate_profile(profile: DatasetProfile, where: str) -> None:
    """Raise `InputError` at the first value of `profile` that cannot be right."""
    try:
        _count("rows", profile.rows)
        _count("files", profile.files)
    except _Invalid as err:
        raise InputError(f"reference profile: {err}", where=where, hint=_HINT) from None
    for feature in profile.features:
        try:
            _check(feature.spec.body, feature.profile)
            if feature.statuses is not None:
                for n in feature.statuses:
                    _count("status count", n)
        except _Invalid as err:
            raise InputError(
                f"reference profile entry {feature.name!r}: {err}", where=where, hint=_HINT
            ) from None
        except (RuntimeError, ValueError, TypeError, MemoryError) as err:  # a sketch's decoder
            raise InputError(
                f"reference profile entry {feature.name!r}: a sketch does not decode ({err})",
                where=where,
                hint=_HINT,
            ) from None


def _check(spec: object, profile: Profile) -> None:
    if isinstance(spec, NumericSpec):
        if not isinstance(profile, NumericProfile):
            raise _Invalid("a numeric spec holds a non-numeric profile")
        _numeric(spec, profile)
    elif isinstance(spec, CategoricalSpec):
        if not isinstance(profile, CategoricalProfile):
            raise _Invalid("a categorical spec holds a non-categorical profile")
        _categorical(spec, profile)
    elif isinstance(spec, ArraySpec):
        if not isinstance(profile, ArrayProfile):
            raise _Invalid("an array spec holds a non-array profile")
        _count("count", profile.count)
        _count("nulls", profile.nulls, most=profile.count)
        _check(spec.length, profile.length)
        _check(spec.element, profile.element)
    else:
        raise _Invalid(f"unknown spec {type(spec).__name__}")


def _numeric(spec: NumericSpec, p: NumericProfile) -> None:
    edges = spec.edges
    if not all(isinstance(e, float | int) and math.isfinite(e) for e in edges):
        raise _Invalid("bin edges must be finite numbers")
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise _Invalid("bin edges must increase")
    _count("count", p.count)
    for name in ("nulls", "nan", "pos_inf", "neg_inf", "integral"):
        _count(name, getattr(p, name), most=p.count)
    finite = p.finite
    if finite < 0:
        raise _Invalid("nulls, NaN and inf exceed the count")
    _counts("histogram", p.histogram, spec.buckets, total=finite)
    for name in ("mean", "m2"):
        if not math.isfinite(getattr(p, name)):
            raise _Invalid(f"{name} must be finite")
    for name in ("min", "max"):
        value = getattr(p, name)
        if value is not None and not math.isfinite(value):
            raise _Invalid(f"{name} must be finite")
    if finite:
        ds.kll_doubles_sketch.deserialize(p.sketch)


def _categorical(spec: CategoricalSpec, p: CategoricalProfile) -> None:
    _count("count", p.count)
    _count("nulls", p.nulls, most=p.count)
    _counts("counts", p.counts, spec.buckets, total=p.count - p.nulls)
    ds.frequent_strings_sketch.deserialize(p.frequent)
    ds.hll_sketch.deserialize(p.distinct_sketch)
    for sketch in (p.theta, *(p.theta_halves or ())):
        if sketch is not None:
            ds.compact_theta_sketch.deserialize(sketch)


def _count(name: str, value: object, *, most: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Invalid(f"{name} must be a whole number >= 0, not {value!r}")
    if most is not None and value > most:
        raise _Invalid(f"{name} {value} exceeds the count {most}")


def _counts(name: str, values: Sequence[int], buckets: int, *, total: int) -> None:
    if len(values) != buckets:
        raise _Invalid(f"{name} has {len(values)} buckets, its spec {buckets}")
    for value in values:
        _count(name, value)
    if sum(values) != total:
        raise _Invalid(f"{name} add up to {sum(values)}, not {total}")
