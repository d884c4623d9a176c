"""Mergeable, serialisable feature profiles over streamed Arrow record batches.

A profile is built in bounded memory from record batches. Training data is read twice:
the first pass freezes the bins (quantile bin edges for numbers, the vocabulary for
categories), the second counts into them. Serving data is read once, into the bins frozen
from training, so the two sides always share buckets and profiles of files, days and
workers merge exactly by adding counts.

Per feature every profile keeps the row count and the nulls; numeric profiles add NaN,
+inf and -inf counts (each kept apart and never folded into the histogram), min, max,
mean, variance (over finite values), the count of integral values, a histogram on the
frozen edges (underflow and overflow buckets included) and a KLL quantile sketch
(Apache DataSketches, k=400, normalised rank error about 0.7%). Categorical and bool
profiles count over the frozen vocabulary plus an `other` bucket (nulls are counted
apart), with a frequent-items sketch for the top values and an HLL sketch for the distinct
count. Array profiles hold a numeric profile of list lengths and a profile of the elements.

The training reference profile is written next to the snapshot (`write_reference_profile`)
so a check can run without reading the raw training data.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewguard.errors import InputError
from skewguard.logschema import FieldStatus
from skewguard.reading import (
    MANIFEST_NAME,
    REFERENCE_PROFILE_NAME,
    ParquetSource,
    ServingInput,
    TrainingInput,
    iter_batches,
    open_training,
    type_name,
)

__all__ = [
    "PROFILE_SCHEMA_VERSION",
    "DEFAULT_BINS",
    "MAX_CATEGORIES",
    "KLL_K",
    "OTHER",
    "NULL",
    "Kind",
    "NumericSpec",
    "CategoricalSpec",
    "ArraySpec",
    "FeatureSpec",
    "NumericProfile",
    "CategoricalProfile",
    "ArrayProfile",
    "FeatureProfile",
    "DatasetProfile",
    "kind_of",
    "freeze_specs",
    "profile_batches",
    "profile_source",
    "profile_training",
    "profile_serving",
    "merge",
    "merge_datasets",
    "write_reference_profile",
    "read_reference_profile",
]

PROFILE_SCHEMA_VERSION = 1
PROFILE_KIND = "skewguard.reference_profile"
DEFAULT_BINS = 10
MAX_CATEGORIES = 1000
KLL_K = 400
HLL_LG_K = 12
FREQUENT_LG_MAX = 12
TOP_VALUES = 20
OTHER = "other"
NULL = "null"
# Above this many cells (rows x features) profiling fans out over worker processes.
PARALLEL_MIN_CELLS = 20_000_000
# The KLL sketch costs about 90 ns per update. Inputs above this many rows feed it every
# s-th finite value (s = ceil(rows / KLL_FEED)), a systematic sample whose rank error
# (about 0.07% at 2M values) is a tenth of the sketch's own. Counts are always exact.
KLL_FEED = 2_000_000


def kll_stride(rows: int) -> int:
    return max(1, -(-rows // KLL_FEED))


class Kind(enum.StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOL = "bool"
    ARRAY = "array"


def kind_of(arrow_type: pa.DataType) -> Kind | None:
    """The profile kind for an Arrow type, or None when skewguard cannot profile it."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_boolean(arrow_type):
        return Kind.BOOL
    if (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_temporal(arrow_type)
    ):
        return Kind.NUMERIC
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return Kind.CATEGORICAL
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return Kind.CATEGORICAL
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
    ):
        inner = kind_of(arrow_type.value_type)
        return Kind.ARRAY if inner in (Kind.NUMERIC, Kind.CATEGORICAL, Kind.BOOL) else None
    return None


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class NumericSpec:
    """Frozen histogram edges. Bucket 0 is underflow (< edges[0]); bucket i holds
    [edges[i-1], edges[i]); the last bucket is overflow (>= edges[-1]). The top edge sits
    just above the training maximum, so training values never land in overflow."""

    edges: tuple[float, ...]
    integral: bool = False  # the source type holds integers only

    @property
    def buckets(self) -> int:
        return len(self.edges) + 1


@dataclass(frozen=True)
class CategoricalSpec:
    """Frozen vocabulary, most frequent first; anything else counts as `other`."""

    labels: tuple[str, ...]

    @property
    def buckets(self) -> int:
        return len(self.labels) + 1


@dataclass(frozen=True)
class ArraySpec:
    length: NumericSpec
    element: NumericSpec | CategoricalSpec
    element_kind: Kind


Spec = NumericSpec | CategoricalSpec | ArraySpec


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: Kind
    arrow_type: str
    body: Spec


# --------------------------------------------------------------------------- profiles


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
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericProfile:
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
    spec: FeatureSpec
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
    def specs(self) -> dict[str, FeatureSpec]:
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


def _spec_to_dict(spec: Spec) -> dict[str, Any]:
    if isinstance(spec, NumericSpec):
        return {"edges": list(spec.edges), "integral": spec.integral}
    if isinstance(spec, CategoricalSpec):
        return {"labels": list(spec.labels)}
    return {
        "length": _spec_to_dict(spec.length),
        "element": _spec_to_dict(spec.element),
        "element_kind": str(spec.element_kind),
    }


def _spec_from_dict(kind: Kind, d: Mapping[str, Any]) -> Spec:
    if kind is Kind.NUMERIC:
        return NumericSpec(edges=tuple(float(e) for e in d["edges"]), integral=bool(d["integral"]))
    if kind in (Kind.CATEGORICAL, Kind.BOOL):
        return CategoricalSpec(labels=tuple(str(x) for x in d["labels"]))
    element_kind = Kind(d["element_kind"])
    element = _spec_from_dict(element_kind, d["element"])
    length = _spec_from_dict(Kind.NUMERIC, d["length"])
    assert isinstance(length, NumericSpec)
    assert not isinstance(element, ArraySpec)
    return ArraySpec(length=length, element=element, element_kind=element_kind)


def _profile_from_dict(spec: FeatureSpec | ArraySpec, kind: Kind, d: Mapping[str, Any]) -> Profile:
    if kind is Kind.NUMERIC:
        return NumericProfile.from_dict(d)
    if kind in (Kind.CATEGORICAL, Kind.BOOL):
        return CategoricalProfile.from_dict(d)
    assert isinstance(spec, FeatureSpec) and isinstance(spec.body, ArraySpec)
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
        "spec": _spec_to_dict(f.spec.body),
        "profile": f.profile.to_dict(),
        "statuses": list(f.statuses) if f.statuses is not None else None,
    }


def _feature_from_dict(d: Mapping[str, Any]) -> FeatureProfile:
    kind = Kind(d["kind"])
    spec = FeatureSpec(
        name=str(d["name"]),
        kind=kind,
        arrow_type=str(d["spec_arrow_type"]),
        body=_spec_from_dict(kind, d["spec"]),
    )
    statuses = d.get("statuses")
    return FeatureProfile(
        spec=spec,
        arrow_type=str(d["arrow_type"]),
        profile=_profile_from_dict(spec, kind, d["profile"]),
        statuses=tuple(int(s) for s in statuses) if statuses is not None else None,
    )


# --------------------------------------------------------------------------- merging


def _merge_kll(a: bytes, b: bytes) -> bytes:
    sa = ds.kll_doubles_sketch.deserialize(a)
    sa.merge(ds.kll_doubles_sketch.deserialize(b))
    return sa.serialize()


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


# --------------------------------------------------------------------------- freezing


def _as_float(arr: pa.Array) -> np.ndarray:
    """Non-null values of a numeric Arrow array as float64 (nulls must be dropped first)."""
    t = arr.type
    if pa.types.is_temporal(t):
        arr = arr.cast(pa.int64()) if t.bit_width == 64 else arr.cast(pa.int32())
    elif pa.types.is_decimal(t):
        arr = arr.cast(pa.float64())
    values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    # The KLL sketch takes writable float64 arrays only; zero-copy views are read-only.
    return values if values.flags.writeable else values.copy()


def _decode(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _strings(arr: pa.Array) -> pa.Array:
    """Categorical values as strings (bools as 'false'/'true', binary as hex-free UTF-8)."""
    t = arr.type
    if pa.types.is_boolean(t):
        return pc.if_else(arr, "true", "false")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return arr.cast(pa.large_string(), safe=False)
    return arr


class _Sampler:
    """Every `stride`-th value across consecutive batches, for the KLL sketch."""

    def __init__(self, stride: int) -> None:
        self.stride = stride
        self.position = 0

    def take(self, x: np.ndarray) -> np.ndarray:
        if self.stride == 1:
            return x
        start = (-self.position) % self.stride
        self.position += x.size
        return np.ascontiguousarray(x[start :: self.stride])


class _NumericFreezer:
    def __init__(self, stride: int = 1) -> None:
        self.sketch = ds.kll_doubles_sketch(KLL_K)
        self.sampler = _Sampler(stride)

    def update(self, arr: pa.Array) -> None:
        x = _as_float(arr.drop_null())
        finite = self.sampler.take(x[np.isfinite(x)])
        if finite.size:
            self.sketch.update(finite)

    def freeze(self, integral: bool, bins: int = DEFAULT_BINS) -> NumericSpec:
        if self.sketch.is_empty():
            return NumericSpec(edges=(), integral=integral)
        ranks = np.linspace(0.0, 1.0, bins + 1).tolist()
        qs = np.unique(np.asarray(self.sketch.get_quantiles(ranks), dtype=np.float64))
        lowest = float(self.sketch.get_min_value())
        top = float(np.nextafter(self.sketch.get_max_value(), np.inf))
        inner = [float(q) for q in qs[1:-1]]
        edges = [lowest, *inner, top]
        return NumericSpec(edges=tuple(sorted(set(edges))), integral=integral)


class _CategoricalFreezer:
    def __init__(self) -> None:
        self.sketch = ds.frequent_strings_sketch(FREQUENT_LG_MAX)

    def update(self, arr: pa.Array) -> None:
        values = _strings(arr).drop_null()
        if len(values) == 0:
            return
        vc = pc.value_counts(values)
        for value, n in zip(
            vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
        ):
            self.sketch.update(str(value), int(n))

    def freeze(self, fixed: Sequence[str] | None = None) -> CategoricalSpec:
        if fixed is not None:
            return CategoricalSpec(labels=tuple(fixed))
        items = self.sketch.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
        ranked = sorted(((str(i[0]), int(i[1])) for i in items), key=lambda t: (-t[1], t[0]))
        return CategoricalSpec(labels=tuple(label for label, _ in ranked[:MAX_CATEGORIES]))


class _ArrayFreezer:
    def __init__(self, element_kind: Kind, stride: int = 1) -> None:
        self.element_kind = element_kind
        self.length = _NumericFreezer(stride)
        self.element: _NumericFreezer | _CategoricalFreezer = (
            _NumericFreezer(stride) if element_kind is Kind.NUMERIC else _CategoricalFreezer()
        )

    def update(self, arr: pa.Array) -> None:
        self.length.update(pc.list_value_length(arr))
        self.element.update(pc.list_flatten(arr))


BOOL_LABELS = ("false", "true")


def _element_kind(arrow_type: pa.DataType) -> Kind:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    kind = kind_of(arrow_type.value_type)
    assert kind is not None
    return kind


def freeze_specs(
    source: ParquetSource, features: Sequence[str], *, bins: int = DEFAULT_BINS
) -> dict[str, FeatureSpec]:
    """First pass over training data: freeze bin edges and vocabularies per feature."""
    kinds: dict[str, Kind] = {}
    freezers: dict[str, Any] = {}
    stride = kll_stride(source.rows)
    for name in features:
        arrow_type = source.schema.field(name).type
        kind = kind_of(arrow_type)
        if kind is None:
            raise InputError(
                f"feature {name!r} has type {arrow_type}, which skewguard cannot profile",
                where=str(source.path),
                hint="profile numbers, strings, bools or lists of those",
            )
        kinds[name] = kind
        if kind is Kind.NUMERIC:
            freezers[name] = _NumericFreezer(stride)
        elif kind is Kind.CATEGORICAL:
            freezers[name] = _CategoricalFreezer()
        elif kind is Kind.ARRAY:
            freezers[name] = _ArrayFreezer(_element_kind(arrow_type), stride)
    needed = [n for n in features if n in freezers]
    if needed:
        for batch in iter_batches(source, needed):
            for name in needed:
                freezers[name].update(_decode(batch.column(name)))
    specs: dict[str, FeatureSpec] = {}
    for name in features:
        arrow_type = source.schema.field(name).type
        kind = kinds[name]
        body: Spec
        if kind is Kind.BOOL:
            body = CategoricalSpec(labels=BOOL_LABELS)
        elif kind is Kind.NUMERIC:
            body = freezers[name].freeze(_is_integral_type(arrow_type), bins)
        elif kind is Kind.CATEGORICAL:
            body = freezers[name].freeze()
        else:
            fz: _ArrayFreezer = freezers[name]
            element_type = arrow_type.value_type
            if fz.element_kind is Kind.NUMERIC:
                assert isinstance(fz.element, _NumericFreezer)
                element: NumericSpec | CategoricalSpec = fz.element.freeze(
                    _is_integral_type(element_type), bins
                )
            elif fz.element_kind is Kind.BOOL:
                element = CategoricalSpec(labels=BOOL_LABELS)
            else:
                assert isinstance(fz.element, _CategoricalFreezer)
                element = fz.element.freeze()
            body = ArraySpec(
                length=fz.length.freeze(True, bins), element=element, element_kind=fz.element_kind
            )
        specs[name] = FeatureSpec(name=name, kind=kind, arrow_type=type_name(arrow_type), body=body)
    return specs


def _is_integral_type(arrow_type: pa.DataType) -> bool:
    return not (pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type))


# --------------------------------------------------------------------------- counting


class _NumericCounter:
    def __init__(self, spec: NumericSpec, stride: int = 1) -> None:
        self.sampler = _Sampler(stride)
        self.edges = [float(e) for e in spec.edges]
        self.count = self.nulls = self.nan = self.pos_inf = self.neg_inf = self.integral = 0
        self.finite = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.histogram = np.zeros(spec.buckets, dtype=np.int64)
        self.sketch = ds.kll_doubles_sketch(KLL_K)

    def update(self, arr: pa.Array) -> None:
        self.count += len(arr)
        if arr.null_count:
            self.nulls += arr.null_count
            arr = arr.drop_null()
        x = _as_float(arr)
        if x.size == 0:
            return
        finite_mask = np.isfinite(x)
        n_finite = int(np.count_nonzero(finite_mask))
        if n_finite != x.size:
            self.nan += int(np.count_nonzero(np.isnan(x)))
            self.pos_inf += int(np.count_nonzero(x == np.inf))
            self.neg_inf += int(np.count_nonzero(x == -np.inf))
            x = x[finite_mask]
        if n_finite == 0:
            return
        lo, hi = float(x.min()), float(x.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        batch_mean = float(x.mean())
        dev = x - batch_mean
        batch_m2 = float(np.sum(dev * dev))  # not np.dot: BLAS threads spin under load
        total = self.finite + n_finite
        delta = batch_mean - self.mean
        self.mean += delta * n_finite / total
        self.m2 += batch_m2 + delta * delta * self.finite * n_finite / total
        self.finite = total
        self.integral += int(np.count_nonzero(np.floor(x) == x))
        # Bucket counts from "how many below each edge": one cheap pass per edge beats a
        # binary search per value for the dozen edges used here.
        below = [0, *(int(np.count_nonzero(x < e)) for e in self.edges), n_finite]
        self.histogram += np.diff(np.asarray(below, dtype=np.int64))
        sample = self.sampler.take(x)
        if sample.size:
            self.sketch.update(sample)

    def finish(self) -> NumericProfile:
        return NumericProfile(
            count=self.count,
            nulls=self.nulls,
            nan=self.nan,
            pos_inf=self.pos_inf,
            neg_inf=self.neg_inf,
            min=self.min,
            max=self.max,
            mean=self.mean,
            m2=self.m2,
            integral=self.integral,
            histogram=tuple(int(c) for c in self.histogram),
            sketch=self.sketch.serialize(),
        )


class _CategoricalCounter:
    def __init__(self, spec: CategoricalSpec) -> None:
        self.vocab = pa.array(spec.labels, type=pa.string())
        self.count = self.nulls = 0
        self.counts = np.zeros(spec.buckets, dtype=np.int64)
        self.frequent = ds.frequent_strings_sketch(FREQUENT_LG_MAX)
        self.distinct = ds.hll_sketch(HLL_LG_K)

    def update(self, arr: pa.Array) -> None:
        self.count += len(arr)
        self.nulls += arr.null_count
        values = _strings(arr).drop_null()
        if len(values) == 0:
            return
        vc = pc.value_counts(values)
        uniques = vc.field("values").cast(pa.string())
        counts = vc.field("counts").to_numpy(zero_copy_only=False).astype(np.int64)
        index = pc.index_in(uniques, value_set=self.vocab)
        idx = index.fill_null(len(self.vocab)).to_numpy(zero_copy_only=False)
        self.counts += np.bincount(idx, weights=counts, minlength=self.counts.size).astype(np.int64)
        for value, n in zip(uniques.to_pylist(), counts.tolist(), strict=True):
            self.frequent.update(value, n)
            self.distinct.update(value)

    def finish(self) -> CategoricalProfile:
        return CategoricalProfile(
            count=self.count,
            nulls=self.nulls,
            counts=tuple(int(c) for c in self.counts),
            frequent=self.frequent.serialize(),
            distinct_sketch=self.distinct.serialize_compact(),
        )


class _ArrayCounter:
    def __init__(self, spec: ArraySpec, stride: int = 1) -> None:
        self.count = self.nulls = 0
        self.length = _NumericCounter(spec.length, stride)
        self.element: _NumericCounter | _CategoricalCounter = (
            _NumericCounter(spec.element, stride)
            if isinstance(spec.element, NumericSpec)
            else _CategoricalCounter(spec.element)
        )

    def update(self, arr: pa.Array) -> None:
        self.count += len(arr)
        self.nulls += arr.null_count
        self.length.update(pc.list_value_length(arr).drop_null())
        self.element.update(pc.list_flatten(arr))

    def finish(self) -> ArrayProfile:
        return ArrayProfile(
            count=self.count,
            nulls=self.nulls,
            length=self.length.finish(),
            element=self.element.finish(),
        )


def _counter(
    spec: FeatureSpec, stride: int
) -> _NumericCounter | _CategoricalCounter | _ArrayCounter:
    body = spec.body
    if isinstance(body, NumericSpec):
        return _NumericCounter(body, stride)
    if isinstance(body, CategoricalSpec):
        return _CategoricalCounter(body)
    return _ArrayCounter(body, stride)


def _compatible(spec: FeatureSpec, arrow_type: pa.DataType) -> bool:
    """Can a column of `arrow_type` be counted into bins frozen for `spec`?"""
    kind = kind_of(arrow_type)
    if kind is None:
        return False
    if spec.kind is Kind.ARRAY:
        if kind is not Kind.ARRAY:
            return False
        assert isinstance(spec.body, ArraySpec)
        return _element_kind(arrow_type) == spec.body.element_kind
    return kind == spec.kind


def profile_batches(
    batches: Iterable[pa.RecordBatch],
    specs: Sequence[FeatureSpec],
    *,
    statuses: Mapping[str, str] | None = None,
    stride: int = 1,
) -> tuple[int, dict[str, Profile], dict[str, tuple[int, ...]]]:
    """Count batches into frozen specs: (rows, profile per feature, status counts per feature).

    `statuses` maps a feature to its `__status` column, whose FieldStatus values are counted.
    `stride` thins what the KLL sketches see (see `KLL_FEED`); counts stay exact.
    """
    statuses = statuses or {}
    counters = {s.name: _counter(s, stride) for s in specs}
    status_counts = {name: np.zeros(len(FieldStatus), dtype=np.int64) for name in statuses}
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        for name, counter in counters.items():
            counter.update(_decode(batch.column(name)))
        for name, column in statuses.items():
            codes = batch.column(column).drop_null().to_numpy(zero_copy_only=False)
            found = [int(np.count_nonzero(codes == status)) for status in FieldStatus]
            # Codes outside FieldStatus count as INVALID rather than disappear.
            found[FieldStatus.INVALID] += codes.size - sum(found)
            status_counts[name] += np.asarray(found, dtype=np.int64)
    return (
        rows,
        {name: c.finish() for name, c in counters.items()},
        {name: tuple(int(x) for x in c) for name, c in status_counts.items()},
    )


def _profile_columns(
    source: ParquetSource, specs: Sequence[FeatureSpec], statuses: Mapping[str, str]
) -> tuple[int, dict[str, Profile], dict[str, tuple[int, ...]]]:
    columns = [s.name for s in specs] + list(statuses.values())
    return profile_batches(
        iter_batches(source, columns), specs, statuses=statuses, stride=kll_stride(source.rows)
    )


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def profile_source(
    source: ParquetSource,
    specs: Sequence[FeatureSpec],
    *,
    statuses: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> DatasetProfile:
    """Second pass: count `source` into frozen `specs`, fanning columns out over processes
    when the input is large. Columns whose type cannot use the frozen bins are skipped."""
    statuses = dict(statuses or {})
    usable = [s for s in specs if _compatible(s, source.schema.field(s.name).type)]
    workers = workers if workers is not None else _workers()
    cells = source.rows * max(1, len(usable))
    groups: list[list[FeatureSpec]] = [[] for _ in range(max(1, min(workers, len(usable))))]
    for i, spec in enumerate(usable):
        groups[i % len(groups)].append(spec)
    if len(groups) > 1 and cells >= PARALLEL_MIN_CELLS:
        results = []
        with ProcessPoolExecutor(len(groups), mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(
                    _profile_columns,
                    source,
                    group,
                    {n: c for n, c in statuses.items() if n in {s.name for s in group}},
                )
                for group in groups
            ]
            results = [f.result() for f in futures]
    else:
        results = [_profile_columns(source, usable, statuses)]
    profiles: dict[str, Profile] = {}
    status_counts: dict[str, tuple[int, ...]] = {}
    for _, p, s in results:
        profiles.update(p)
        status_counts.update(s)
    features = tuple(
        FeatureProfile(
            spec=spec,
            arrow_type=type_name(source.schema.field(spec.name).type),
            profile=profiles[spec.name],
            statuses=status_counts.get(spec.name),
        )
        for spec in usable
    )
    return DatasetProfile(
        source=str(source.path), rows=source.rows, files=len(source.files), features=features
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def profile_training(training: TrainingInput, *, bins: int = DEFAULT_BINS) -> DatasetProfile:
    """Profile a training snapshot from its data (two passes: freeze, then count)."""
    if training.data is None:
        raise InputError(
            "the training snapshot has no data file to profile",
            where=str(training.path),
            hint="restore data.parquet or its reference profile",
        )
    features = training.features
    specs = freeze_specs(training.data, features, bins=bins)
    profile = profile_source(training.data, [specs[n] for n in features])
    content_hash = training.manifest.content_hash if training.manifest else None
    return replace(profile, content_hash=content_hash, created_at=_now())


def profile_serving(serving: ServingInput, specs: Mapping[str, FeatureSpec]) -> DatasetProfile:
    """Profile serving logs into the bins frozen from training, counting statuses."""
    names = [n for n in serving.features if n in specs]
    statuses = {n: c for n in names if (c := serving.status_column(n)) is not None}
    return profile_source(serving.data, [specs[n] for n in names], statuses=statuses)


def write_reference_profile(snapshot_dir: Path, *, bins: int = DEFAULT_BINS) -> Path:
    """Profile a snapshot folder's data and write `reference_profile.json` next to it.

    Reads `manifest.json` and its data file in a streaming pass, freezes bin edges and
    vocabularies, and writes the profile. Returns the path written. The caller records
    the file name in the manifest (`"reference_profile": "reference_profile.json"`).
    """
    snapshot_dir = Path(snapshot_dir)
    if not (snapshot_dir / MANIFEST_NAME).is_file():
        raise InputError(
            "no manifest.json in the snapshot folder",
            where=str(snapshot_dir),
            hint="write the snapshot manifest before its reference profile",
        )
    training = open_training(snapshot_dir)
    if training.data is None:
        raise InputError(
            "the snapshot's data file is missing",
            where=str(snapshot_dir),
            hint="a reference profile is built from data.parquet",
        )
    profile = profile_training(training, bins=bins)
    profile = replace(profile, source=training.data.files[0].name)
    out = snapshot_dir / REFERENCE_PROFILE_NAME
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(profile.to_dict(), separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)
    return out


def read_reference_profile(path: Path) -> DatasetProfile:
    """Load a reference profile; raise `InputError` naming the file when unusable."""
    try:
        return DatasetProfile.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"cannot read reference profile: {err}",
            where=str(path),
            hint="rebuild it with skewguard.profiling.write_reference_profile",
        ) from err
