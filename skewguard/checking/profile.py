"""Feature profiles: mergeable, serialisable summaries of one side's values.

Per feature every profile keeps the row count and the nulls; numeric profiles add NaN,
+inf and -inf counts (each kept apart and never folded into the histogram), min, max,
mean, variance (over finite values), the count of integral values, a histogram on the
frozen edges (underflow and overflow buckets included) and a KLL quantile sketch
(Apache DataSketches, k=400, normalised rank error about 0.7%). Categorical and bool
profiles count over the frozen vocabulary plus an `other` bucket (nulls are counted
apart), with a frequent-items sketch for the top values and an HLL sketch for the distinct
count. Array profiles hold a numeric profile of list lengths and a profile of the elements.

Numeric profiles also keep what the defect signatures (`signatures`) need: the count of
negative values and a systematic sample of up to `SAMPLE_SIZE` finite values (stored as
float64 bytes), from which exact-value shares and the decimal lattice are read. Profiles
written before these existed read back with both unset; the signatures then say so.

Profiles of files, days and workers merge exactly (`merge`, `merge_datasets`): counts
add, sketches merge.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import datasketches as ds
import numpy as np

from skewguard.checking.specs import (
    DEFAULT_BINS,
    MAX_CATEGORIES,
    ArraySpec,
    Kind,
    ProfileSpec,
    spec_from_dict,
    spec_to_dict,
)

__all__ = [
    "PROFILE_SCHEMA_VERSION",
    "PROFILE_KIND",
    "KLL_K",
    "HLL_LG_K",
    "FREQUENT_LG_MAX",
    "TOP_VALUES",
    "SAMPLE_SIZE",
    "NumericProfile",
    "CategoricalProfile",
    "ArrayProfile",
    "Profile",
    "FeatureProfile",
    "DatasetProfile",
    "merge",
    "merge_samples",
    "merge_datasets",
]

PROFILE_SCHEMA_VERSION = 1
PROFILE_KIND = "skewguard.reference_profile"
KLL_K = 400
HLL_LG_K = 12
FREQUENT_LG_MAX = 12
TOP_VALUES = 20
# Finite values kept per numeric profile for the defect signatures: enough to read a
# value's share to about half a point and a lattice without doubt, small enough to store.
SAMPLE_SIZE = 8192


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


@dataclass(frozen=True)
class NumericProfile:
    count: int  # values seen, nulls included
    nulls: int
    nan: int
    pos_inf: int
    neg_inf: int
    min: float | None  # over finite values
    max: float | None
    mean: float
    m2: float  # sum of squared deviations from the mean (finite values)
    integral: int  # finite values with no fractional part
    histogram: tuple[int, ...]  # finite values in the frozen buckets
    sketch: bytes  # serialised KLL doubles sketch of the finite values
    negative: int | None = None  # finite values below zero (None: profile predates it)
    sample: bytes | None = field(default=None, compare=False)  # float64 finite values

    @property
    def finite(self) -> int:
        return self.count - self.nulls - self.nan - self.pos_inf - self.neg_inf

    @property
    def variance(self) -> float:
        return self.m2 / self.finite if self.finite else 0.0

    @property
    def std(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def kll(self) -> ds.kll_doubles_sketch:
        return ds.kll_doubles_sketch.deserialize(self.sketch)

    def quantiles(self, ranks: Sequence[float]) -> list[float] | None:
        if not self.finite:
            return None
        return [float(v) for v in self.kll().get_quantiles(list(ranks))]

    def values(self) -> np.ndarray | None:
        """The stored sample of finite values, or None for a profile that predates it."""
        if self.sample is None:
            return None
        return np.frombuffer(self.sample, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "nulls": self.nulls,
            "nan": self.nan,
            "pos_inf": self.pos_inf,
            "neg_inf": self.neg_inf,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "m2": self.m2,
            "integral": self.integral,
            "histogram": list(self.histogram),
            "sketch": _b64(self.sketch),
            "negative": self.negative,
            "sample": _b64(self.sample) if self.sample is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericProfile:
        negative, sample = d.get("negative"), d.get("sample")
        return cls(
            count=int(d["count"]),
            nulls=int(d["nulls"]),
            nan=int(d["nan"]),
            pos_inf=int(d["pos_inf"]),
            neg_inf=int(d["neg_inf"]),
            min=d["min"],
            max=d["max"],
            mean=float(d["mean"]),
            m2=float(d["m2"]),
            integral=int(d["integral"]),
            histogram=tuple(int(c) for c in d["histogram"]),
            sketch=_unb64(d["sketch"]),
            negative=int(negative) if negative is not None else None,
            sample=_unb64(sample) if sample is not None else None,
        )


@dataclass(frozen=True)
class CategoricalProfile:
    count: int  # values seen, nulls included
    nulls: int
    counts: tuple[int, ...]  # one per vocabulary label, then `other`
    frequent: bytes  # serialised frequent-strings sketch (top values)
    distinct_sketch: bytes  # serialised HLL sketch

    @property
    def other(self) -> int:
        return self.counts[-1]

    @property
    def distinct(self) -> float:
        return float(ds.hll_sketch.deserialize(self.distinct_sketch).get_estimate())

    def top(self, n: int = TOP_VALUES) -> list[tuple[str, int]]:
        sketch = ds.frequent_strings_sketch.deserialize(self.frequent)
        items = sketch.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
        ranked = sorted(((str(i[0]), int(i[1])) for i in items), key=lambda t: (-t[1], t[0]))
        return ranked[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "nulls": self.nulls,
            "counts": list(self.counts),
            "frequent": _b64(self.frequent),
            "distinct_sketch": _b64(self.distinct_sketch),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CategoricalProfile:
        return cls(
            count=int(d["count"]),
            nulls=int(d["nulls"]),
            counts=tuple(int(c) for c in d["counts"]),
            frequent=_unb64(d["frequent"]),
            distinct_sketch=_unb64(d["distinct_sketch"]),
        )


@dataclass(frozen=True)
class ArrayProfile:
    count: int  # lists seen, null lists included
    nulls: int
    length: NumericProfile  # lengths of the non-null lists
    element: NumericProfile | CategoricalProfile  # all elements of all lists

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "nulls": self.nulls,
            "length": self.length.to_dict(),
            "element": self.element.to_dict(),
        }


Profile = NumericProfile | CategoricalProfile | ArrayProfile


@dataclass(frozen=True)
class FeatureProfile:
    spec: ProfileSpec
    arrow_type: str  # this side's type (may differ from the spec's on a type change)
    profile: Profile
    statuses: tuple[int, ...] | None = None  # serving only: counts by FieldStatus value

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class DatasetProfile:
    source: str
    rows: int
    files: int
    features: tuple[FeatureProfile, ...]
    content_hash: str | None = None
    created_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def feature(self, name: str) -> FeatureProfile | None:
        for f in self.features:
            if f.name == name:
                return f
        return None

    @property
    def specs(self) -> dict[str, ProfileSpec]:
        return {f.name: f.spec for f in self.features}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": PROFILE_SCHEMA_VERSION,
            "kind": PROFILE_KIND,
            "source": self.source,
            "rows": self.rows,
            "files": self.files,
            "content_hash": self.content_hash,
            "created_at": self.created_at,
            "parameters": {"bins": DEFAULT_BINS, "max_categories": MAX_CATEGORIES, "kll_k": KLL_K},
            "features": [_feature_to_dict(f) for f in self.features],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetProfile:
        if d.get("kind") != PROFILE_KIND or d.get("schema_version") != PROFILE_SCHEMA_VERSION:
            raise ValueError("not a skewguard reference profile (schema_version 1)")
        return cls(
            source=str(d["source"]),
            rows=int(d["rows"]),
            files=int(d["files"]),
            features=tuple(_feature_from_dict(f) for f in d["features"]),
            content_hash=d.get("content_hash"),
            created_at=d.get("created_at"),
        )


def _profile_from_dict(spec: ProfileSpec | ArraySpec, kind: Kind, d: Mapping[str, Any]) -> Profile:
    if kind is Kind.NUMERIC:
        return NumericProfile.from_dict(d)
    if kind in (Kind.CATEGORICAL, Kind.BOOL):
        return CategoricalProfile.from_dict(d)
    assert isinstance(spec, ProfileSpec) and isinstance(spec.body, ArraySpec)
    element_kind = spec.body.element_kind
    element = (
        NumericProfile.from_dict(d["element"])
        if element_kind is Kind.NUMERIC
        else CategoricalProfile.from_dict(d["element"])
    )
    return ArrayProfile(
        count=int(d["count"]),
        nulls=int(d["nulls"]),
        length=NumericProfile.from_dict(d["length"]),
        element=element,
    )


def _feature_to_dict(f: FeatureProfile) -> dict[str, Any]:
    return {
        "name": f.name,
        "kind": str(f.spec.kind),
        "spec_arrow_type": f.spec.arrow_type,
        "arrow_type": f.arrow_type,
        "spec": spec_to_dict(f.spec.body),
        "profile": f.profile.to_dict(),
        "statuses": list(f.statuses) if f.statuses is not None else None,
    }


def _feature_from_dict(d: Mapping[str, Any]) -> FeatureProfile:
    kind = Kind(d["kind"])
    spec = ProfileSpec(
        name=str(d["name"]),
        kind=kind,
        arrow_type=str(d["spec_arrow_type"]),
        body=spec_from_dict(kind, d["spec"]),
    )
    statuses = d.get("statuses")
    return FeatureProfile(
        spec=spec,
        arrow_type=str(d["arrow_type"]),
        profile=_profile_from_dict(spec, kind, d["profile"]),
        statuses=tuple(int(s) for s in statuses) if statuses is not None else None,
    )


def _merge_kll(a: bytes, b: bytes) -> bytes:
    sa = ds.kll_doubles_sketch.deserialize(a)
    sa.merge(ds.kll_doubles_sketch.deserialize(b))
    return bytes(sa.serialize())


def merge_samples(a: bytes | None, b: bytes | None) -> bytes | None:
    """Both samples, thinned evenly back to `SAMPLE_SIZE` when together they exceed it."""
    if a is None or b is None:
        return None
    both = np.concatenate([np.frombuffer(a, np.float64), np.frombuffer(b, np.float64)])
    if both.size > SAMPLE_SIZE:
        both = both[np.linspace(0, both.size - 1, SAMPLE_SIZE).astype(np.int64)]
    return both.tobytes()


def _merge_numeric(a: NumericProfile, b: NumericProfile) -> NumericProfile:
    if len(a.histogram) != len(b.histogram):
        raise ValueError("cannot merge numeric profiles with different bins")
    na, nb = a.finite, b.finite
    n = na + nb
    if n:
        delta = b.mean - a.mean
        mean = a.mean + delta * nb / n
        m2 = a.m2 + b.m2 + delta * delta * na * nb / n
    else:
        mean, m2 = 0.0, 0.0
    mins = [v for v in (a.min, b.min) if v is not None]
    maxs = [v for v in (a.max, b.max) if v is not None]
    return NumericProfile(
        count=a.count + b.count,
        nulls=a.nulls + b.nulls,
        nan=a.nan + b.nan,
        pos_inf=a.pos_inf + b.pos_inf,
        neg_inf=a.neg_inf + b.neg_inf,
        min=min(mins) if mins else None,
        max=max(maxs) if maxs else None,
        mean=mean,
        m2=m2,
        integral=a.integral + b.integral,
        histogram=tuple(x + y for x, y in zip(a.histogram, b.histogram, strict=True)),
        sketch=_merge_kll(a.sketch, b.sketch),
        negative=a.negative + b.negative
        if a.negative is not None and b.negative is not None
        else None,
        sample=merge_samples(a.sample, b.sample),
    )


def _merge_categorical(a: CategoricalProfile, b: CategoricalProfile) -> CategoricalProfile:
    if len(a.counts) != len(b.counts):
        raise ValueError("cannot merge categorical profiles with different vocabularies")
    freq = ds.frequent_strings_sketch.deserialize(a.frequent)
    freq.merge(ds.frequent_strings_sketch.deserialize(b.frequent))
    union = ds.hll_union(HLL_LG_K)
    union.update(ds.hll_sketch.deserialize(a.distinct_sketch))
    union.update(ds.hll_sketch.deserialize(b.distinct_sketch))
    return CategoricalProfile(
        count=a.count + b.count,
        nulls=a.nulls + b.nulls,
        counts=tuple(x + y for x, y in zip(a.counts, b.counts, strict=True)),
        frequent=freq.serialize(),
        distinct_sketch=union.get_result().serialize_compact(),
    )


def merge(a: Profile, b: Profile) -> Profile:
    """Merge two profiles of the same feature counted into the same frozen bins."""
    if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
        return _merge_numeric(a, b)
    if isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
        return _merge_categorical(a, b)
    if isinstance(a, ArrayProfile) and isinstance(b, ArrayProfile):
        return ArrayProfile(
            count=a.count + b.count,
            nulls=a.nulls + b.nulls,
            length=_merge_numeric(a.length, b.length),
            element=merge(a.element, b.element),  # type: ignore[arg-type]
        )
    raise ValueError(f"cannot merge {type(a).__name__} with {type(b).__name__}")


def merge_datasets(a: DatasetProfile, b: DatasetProfile) -> DatasetProfile:
    """Merge profiles of two parts (files, days, workers) of one input."""
    names = [f.name for f in a.features]
    if names != [f.name for f in b.features]:
        raise ValueError("cannot merge dataset profiles with different features")
    merged = []
    for fa, fb in zip(a.features, b.features, strict=True):
        if fa.spec != fb.spec:
            raise ValueError(f"cannot merge {fa.name}: bins were frozen differently")
        statuses = None
        if fa.statuses is not None and fb.statuses is not None:
            statuses = tuple(x + y for x, y in zip(fa.statuses, fb.statuses, strict=True))
        merged.append(replace(fa, profile=merge(fa.profile, fb.profile), statuses=statuses))
    return replace(a, rows=a.rows + b.rows, files=a.files + b.files, features=tuple(merged))
