"""Joined skew: for the same request, did online serve what offline computes?

Pure functions over aligned columns: row i of the served side and row i of the offline
side belong to the same logged request and entity. Counts follow TFDV's FeatureSkew:

    base_count      rows where offline (the base) has a value
    test_count      rows where serving (the test) has a value
    match_count     both have a value and the values match
    mismatch_count  both have a value and they differ
    base_only       offline has a value, serving has none
    test_only       serving has a value, offline has none
    diff_count      mismatch_count + base_only + test_only

Match rules by type: exact for integers, strings and booleans; for floats
|served - offline| <= atol + rtol * |offline| with rtol 1e-6 for Float32 (float32 keeps
about 7 significant digits) and 1e-9 for Float64; NaN matches NaN; arrays element by
element with the element type's rule and equal lengths.

Every differing row gets exactly one cause, tried in this order:

    missing_online            offline has a value, serving served null / NOT_FOUND
    ttl_exceeded              serving has a value older than the view's TTL at request time
    missing_offline           serving has a value, offline has none, inside the TTL
    stale_online              served event time is older than offline's point-in-time row
    type_coercion             served equals offline rounded to float32, or truncated to int
    scale                     one ratio served/offline explains at least half the mismatches
    offset                    one difference served - offline explains at least half of them
    default_fill              one served constant stands for several different offline values
    on_demand_transformation  an on-demand feature differs while all its inputs matched
    upstream_input            an on-demand feature differs because an input differed
    unexplained               none of the above
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewguard.logschema import FieldStatus

__all__ = [
    "Cause",
    "CauseCount",
    "JoinedFeature",
    "ReplayResult",
    "FeatureSides",
    "compare_feature",
    "match_mask",
    "all_inputs_matched",
]

MAX_EXAMPLES = 3
PATTERN_SHARE = 0.5  # a ratio/difference/constant must explain this share of mismatches
DEFAULT_FILL_MIN_DISTINCT = 3


class Cause(enum.StrEnum):
    MISSING_ONLINE = "missing_online"
    TTL_EXCEEDED = "ttl_exceeded"
    MISSING_OFFLINE = "missing_offline"
    STALE_ONLINE = "stale_online"
    TYPE_COERCION = "type_coercion"
    SCALE = "scale"
    OFFSET = "offset"
    DEFAULT_FILL = "default_fill"
    ON_DEMAND_TRANSFORMATION = "on_demand_transformation"
    UPSTREAM_INPUT = "upstream_input"
    UNEXPLAINED = "unexplained"


@dataclass(frozen=True)
class CauseCount:
    cause: Cause
    count: int
    detail: str | None = None
    examples: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": str(self.cause),
            "count": self.count,
            "detail": self.detail,
            "examples": [dict(e) for e in self.examples],
        }


@dataclass(frozen=True)
class JoinedFeature:
    name: str
    rows: int
    base_count: int
    test_count: int
    match_count: int
    mismatch_count: int
    base_only: int
    test_only: int
    causes: tuple[CauseCount, ...] = ()

    @property
    def diff_count(self) -> int:
        return self.mismatch_count + self.base_only + self.test_only

    @property
    def compared(self) -> int:
        """Rows where at least one side has a value."""
        return self.match_count + self.diff_count

    @property
    def mismatch_rate(self) -> float | None:
        return self.diff_count / self.compared if self.compared else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "base_count": self.base_count,
            "test_count": self.test_count,
            "match_count": self.match_count,
            "mismatch_count": self.mismatch_count,
            "base_only": self.base_only,
            "test_only": self.test_only,
            "diff_count": self.diff_count,
            "mismatch_rate": self.mismatch_rate,
            "causes": [c.to_dict() for c in self.causes],
        }


@dataclass(frozen=True)
class ReplayResult:
    """A replay of logged requests through the offline store: one joined result per feature."""

    feature_service: str
    logged_rows: int
    replayed_rows: int
    sample: int | None
    seed: int
    seconds: float
    features: tuple[JoinedFeature, ...]

    def feature(self, name: str) -> JoinedFeature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_service": self.feature_service,
            "logged_rows": self.logged_rows,
            "replayed_rows": self.replayed_rows,
            "sample": self.sample,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "features": {f.name: f.to_dict() for f in self.features},
        }


@dataclass(frozen=True)
class FeatureSides:
    """Everything known about one feature for the replayed rows, aligned by row."""

    name: str
    served: pa.Array
    offline: pa.Array
    request_time: np.ndarray  # int64 microseconds since epoch, UTC
    served_time: np.ndarray | None = None  # int64 µs; NaT-free: -1 where unknown
    served_status: np.ndarray | None = None  # int32 FieldStatus
    offline_time: np.ndarray | None = None  # int64 µs; -1 where no offline row
    ttl: timedelta | None = None
    float32: bool = False
    on_demand: bool = False
    inputs_matched: np.ndarray | None = None  # on-demand: all inputs matched, per row
    context: Mapping[str, pa.Array] = field(default_factory=dict)  # keys, request id


def _combine(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _valid(array: pa.Array) -> np.ndarray:
    return np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _scalar_match(a: pa.Array, b: pa.Array, float32: bool) -> np.ndarray:
    """Element-wise match of two same-length non-list arrays (nulls give False)."""
    if pa.types.is_floating(a.type) or pa.types.is_floating(b.type):
        x = np.asarray(pc.cast(a, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        y = np.asarray(pc.cast(b, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        rtol = 1e-6 if float32 else 1e-9
        with np.errstate(invalid="ignore"):
            close = np.abs(x - y) <= 1e-12 + rtol * np.abs(y)
        same = close | (np.isnan(x) & np.isnan(y)) | (x == y)  # x == y covers equal infinities
        matched: np.ndarray = same & _valid(a) & _valid(b)
        return matched
    if pa.types.is_timestamp(a.type) and pa.types.is_timestamp(b.type):
        a, b = pc.cast(a, pa.timestamp("us", tz="UTC")), pc.cast(b, pa.timestamp("us", tz="UTC"))
    elif a.type != b.type:
        try:
            b = pc.cast(b, a.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return np.zeros(len(a), dtype=bool)
    eq = pc.equal(a, b)
    equal: np.ndarray = np.asarray(pc.fill_null(eq, False).to_numpy(zero_copy_only=False), bool)
    return equal


def match_mask(served: pa.Array, offline: pa.Array, *, float32: bool = False) -> np.ndarray:
    """Per row: both sides have a value and the values match under the type's rule."""
    served, offline = _combine(served), _combine(offline)
    both = _valid(served) & _valid(offline)
    if not (pa.types.is_list(served.type) or pa.types.is_large_list(served.type)):
        scalar: np.ndarray = _scalar_match(served, offline, float32) & both
        return scalar
    n = len(served)
    len_s = np.asarray(pc.fill_null(pc.list_value_length(served), -1).to_numpy(), dtype=np.int64)
    len_o = np.asarray(pc.fill_null(pc.list_value_length(offline), -2).to_numpy(), dtype=np.int64)
    same_length = both & (len_s == len_o)
    rows = np.flatnonzero(same_length)
    if rows.size == 0:
        return np.zeros(n, dtype=bool)
    s_sel, o_sel = served.take(pa.array(rows)), offline.take(pa.array(rows))
    s_flat, o_flat = pc.list_flatten(s_sel), pc.list_flatten(o_sel)
    element_ok = _scalar_match(s_flat, o_flat, float32) | (~_valid(s_flat) & ~_valid(o_flat))
    parents = np.asarray(pc.list_parent_indices(s_sel).to_numpy(), dtype=np.int64)
    bad = np.zeros(rows.size, dtype=np.int64)
    np.add.at(bad, parents, ~element_ok)
    out = np.zeros(n, dtype=bool)
    out[rows] = bad == 0
    return out


def _numeric(array: pa.Array) -> np.ndarray | None:
    t = array.type
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    if pa.types.is_timestamp(t):
        micros = pc.cast(pc.cast(array, pa.timestamp("us", tz="UTC")), pa.int64())
        return np.asarray(micros.to_numpy(zero_copy_only=False), dtype=float)
    return None


def _modal(values: np.ndarray) -> tuple[float | None, np.ndarray]:
    """The most frequent finite value (to 8 significant digits) and the rows near it."""
    finite = np.isfinite(values)
    if not finite.any():
        return None, np.zeros(values.shape, dtype=bool)
    v = values[finite]
    with np.errstate(divide="ignore"):
        magnitude = np.where(v == 0, 1.0, 10.0 ** (np.floor(np.log10(np.abs(v))) - 7))
    uniques, counts = np.unique(np.round(v / magnitude) * magnitude, return_counts=True)
    mode = float(uniques[np.argmax(counts)])
    return mode, finite & np.isclose(values, mode, rtol=1e-7, atol=1e-12)


def _pattern_causes(
    sides: FeatureSides, rows: np.ndarray
) -> list[tuple[Cause, np.ndarray, str | None]]:
    """Value-based causes for mismatching rows where both sides have a value."""
    found: list[tuple[Cause, np.ndarray, str | None]] = []
    served = _combine(sides.served).take(pa.array(rows))
    offline = _combine(sides.offline).take(pa.array(rows))
    s, o = _numeric(served), _numeric(offline)
    left = np.ones(rows.size, dtype=bool)
    if s is not None and o is not None:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            as_f32 = o.astype(np.float32).astype(np.float64)
            coerced = (s == as_f32) | (s == np.trunc(o)) | (s == np.round(o))
        coerced &= left
        if coerced.any():
            found.append((Cause.TYPE_COERCION, coerced, "float32 rounding or int truncation"))
            left &= ~coerced
        for cause, values, fmt in (
            (Cause.SCALE, s / np.where(o == 0, np.nan, o), "served = offline x {:g}"),
            (Cause.OFFSET, s - o, "served = offline {:+g}"),
        ):
            if left.sum() == 0:
                break
            with np.errstate(invalid="ignore"):
                candidate = np.where(left, values, np.nan)
            mode, hit = _modal(candidate)
            # A ratio of 1 is no scale and a ratio of 0 is a constant: default_fill below.
            if mode is None or (cause is Cause.SCALE and (np.isclose(mode, 1.0) or mode == 0)):
                continue
            if cause is Cause.OFFSET and mode == 0:
                continue
            if hit.sum() >= PATTERN_SHARE * left.sum() and hit.sum() >= 2:
                found.append((cause, hit, fmt.format(mode)))
                left &= ~hit
    if left.sum() >= 2 and not pa.types.is_nested(served.type):
        remaining = served.filter(pa.array(left))
        counts = pc.value_counts(remaining)
        if len(counts):
            top = max(counts.to_pylist(), key=lambda c: c["counts"])
            same = (
                np.asarray(
                    pc.fill_null(
                        pc.equal(served, pa.scalar(top["values"], served.type)), False
                    ).to_numpy(zero_copy_only=False),
                    dtype=bool,
                )
                & left
            )
            distinct_offline = len(pc.unique(offline.filter(pa.array(same))))
            if (
                same.sum() >= PATTERN_SHARE * left.sum()
                and distinct_offline >= DEFAULT_FILL_MIN_DISTINCT
            ):
                found.append((Cause.DEFAULT_FILL, same, f"served {top['values']!r} for all"))
                left &= ~same
    if left.any():
        found.append((Cause.UNEXPLAINED, left, None))
    return found


def _as_text(value: Any) -> Any:
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_as_text(v) for v in value]
    return str(value)


def _examples(sides: FeatureSides, rows: np.ndarray) -> tuple[dict[str, Any], ...]:
    picked = rows[:MAX_EXAMPLES]
    out = []
    for i in picked:
        example: dict[str, Any] = {k: _as_text(v[int(i)].as_py()) for k, v in sides.context.items()}
        example["served"] = _as_text(_combine(sides.served)[int(i)].as_py())
        example["offline"] = _as_text(_combine(sides.offline)[int(i)].as_py())
        for label, times in (
            ("served_time", sides.served_time),
            ("offline_time", sides.offline_time),
        ):
            if times is not None and times[i] >= 0:
                example[label] = str(np.datetime64(int(times[i]), "us")) + "Z"
        out.append(example)
    return tuple(out)


def compare_feature(sides: FeatureSides, *, matched: np.ndarray | None = None) -> JoinedFeature:
    """Counts and causes for one feature; `matched` is `match_mask(...)` if already known."""
    served, offline = _combine(sides.served), _combine(sides.offline)
    n = len(served)
    has_s, has_o = _valid(served), _valid(offline)
    if sides.served_status is not None:
        # A NOT_FOUND row carries no served value whatever the value column holds.
        has_s &= sides.served_status != FieldStatus.NOT_FOUND
    if matched is None:
        matched = match_mask(served, offline, float32=sides.float32)
    matched = matched & has_s & has_o
    both = has_s & has_o
    mismatch = both & ~matched
    base_only = has_o & ~has_s
    test_only = has_s & ~has_o

    assigned: list[tuple[Cause, np.ndarray, str | None]] = []
    if base_only.any():
        assigned.append((Cause.MISSING_ONLINE, base_only, None))
    expired = np.zeros(n, dtype=bool)
    if sides.served_status is not None:
        expired |= sides.served_status == FieldStatus.OUTSIDE_MAX_AGE
    if sides.ttl is not None and sides.served_time is not None:
        ttl_us = int(sides.ttl.total_seconds() * 1_000_000)
        known = sides.served_time >= 0
        expired |= known & (sides.request_time - sides.served_time > ttl_us)
    # A served value past its TTL explains the difference whatever offline holds: Feast
    # should not have served it (offline respects the TTL and picks a fresher row or none).
    ttl_rows = (test_only | mismatch) & expired
    if ttl_rows.any():
        assigned.append(
            (Cause.TTL_EXCEEDED, ttl_rows, f"served value older than the TTL {sides.ttl}")
        )
    if (test_only & ~expired).any():
        assigned.append((Cause.MISSING_OFFLINE, test_only & ~expired, None))
    remaining = mismatch & ~expired
    if remaining.any() and sides.served_time is not None and sides.offline_time is not None:
        stale = remaining & (sides.served_time >= 0) & (sides.served_time < sides.offline_time)
        if stale.any():
            assigned.append((Cause.STALE_ONLINE, stale, "served an older row than offline had"))
            remaining &= ~stale
    if remaining.any() and sides.on_demand and sides.inputs_matched is not None:
        own = remaining & sides.inputs_matched
        upstream = remaining & ~sides.inputs_matched
        if own.any():
            assigned.append((Cause.ON_DEMAND_TRANSFORMATION, own, "inputs matched"))
        if upstream.any():
            assigned.append((Cause.UPSTREAM_INPUT, upstream, "an input feature differed"))
        remaining[:] = False
    if remaining.any():
        rows = np.flatnonzero(remaining)
        for cause, local, detail in _pattern_causes(sides, rows):
            mask = np.zeros(n, dtype=bool)
            mask[rows[local]] = True
            assigned.append((cause, mask, detail))

    causes = tuple(
        CauseCount(cause, int(mask.sum()), detail, _examples(sides, np.flatnonzero(mask)))
        for cause, mask, detail in assigned
    )
    return JoinedFeature(
        name=sides.name,
        rows=n,
        base_count=int(has_o.sum()),
        test_count=int(has_s.sum()),
        match_count=int(matched.sum()),
        mismatch_count=int(mismatch.sum()),
        base_only=int(base_only.sum()),
        test_only=int(test_only.sum()),
        causes=tuple(sorted(causes, key=lambda c: -c.count)),
    )


def all_inputs_matched(
    agreements: Mapping[str, np.ndarray], inputs: Sequence[str], n: int
) -> np.ndarray:
    """Per row: every input feature agreed (matched, or was absent on both sides)."""
    out = np.ones(n, dtype=bool)
    for name in inputs:
        if name in agreements:
            out &= agreements[name]
    return out
