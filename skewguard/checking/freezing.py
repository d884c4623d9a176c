"""First pass over training data: freeze bin edges and vocabularies per feature.

Numeric bins are training deciles from a KLL sketch (deduplicated for discrete data); the
lowest edge is the training minimum and the top edge sits just above the maximum, so
training values never land in underflow or overflow. Vocabularies keep the
`MAX_CATEGORIES` most frequent training values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewguard.checking.profile import FREQUENT_LG_MAX, KLL_K
from skewguard.checking.reading import ParquetSource, iter_batches, type_name
from skewguard.checking.specs import (
    BOOL_LABELS,
    DEFAULT_BINS,
    MAX_CATEGORIES,
    ArraySpec,
    CategoricalSpec,
    Kind,
    NumericSpec,
    ProfileSpec,
    Spec,
    element_kind,
    kind_of,
)
from skewguard.checking.values import (
    Sampler,
    as_float,
    decode,
    is_integral_type,
    kll_stride,
    strings,
)
from skewguard.errors import InputError

__all__ = ["freeze_specs", "new_freezers", "feed_freezers", "merge_freezers", "finish_specs"]

Freezers = dict[str, Any]  # feature -> its freezer (picklable, mergeable)


class _NumericFreezer:
    def __init__(self, stride: int = 1) -> None:
        self.sketch = ds.kll_doubles_sketch(KLL_K)
        self.sampler = Sampler(stride)

    def update(self, arr: pa.Array) -> None:
        x = as_float(arr.drop_null())
        finite = self.sampler.take(x[np.isfinite(x)])
        if finite.size:
            self.sketch.update(finite)

    def merge(self, other: _NumericFreezer) -> None:
        self.sketch.merge(other.sketch)

    # Sketches travel between processes (Dask workers) as their serialised bytes.
    def __getstate__(self) -> dict[str, Any]:
        return {"sketch": self.sketch.serialize(), "stride": self.sampler.stride}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sketch = ds.kll_doubles_sketch.deserialize(state["sketch"])
        self.sampler = Sampler(state["stride"])

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
        values = strings(arr).drop_null()
        if len(values) == 0:
            return
        vc = pc.value_counts(values)
        for value, n in zip(
            vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
        ):
            self.sketch.update(str(value), int(n))

    def merge(self, other: _CategoricalFreezer) -> None:
        self.sketch.merge(other.sketch)

    def __getstate__(self) -> dict[str, Any]:
        return {"sketch": self.sketch.serialize()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sketch = ds.frequent_strings_sketch.deserialize(state["sketch"])

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

    def merge(self, other: _ArrayFreezer) -> None:
        self.length.merge(other.length)
        self.element.merge(other.element)  # type: ignore[arg-type]


def freeze_specs(
    source: ParquetSource, features: Sequence[str], *, bins: int = DEFAULT_BINS
) -> dict[str, ProfileSpec]:
    """First pass over training data: freeze bin edges and vocabularies per feature."""
    freezers = new_freezers(source, features)
    feed_freezers(freezers, iter_batches(source, list(freezers)) if freezers else iter(()))
    return finish_specs(source, features, freezers, bins=bins)


def new_freezers(source: ParquetSource, features: Sequence[str]) -> Freezers:
    """Empty freezers for the features that need a first pass (bools need none).

    Raises `InputError` for a feature whose type cannot be profiled."""
    freezers: Freezers = {}
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
        if kind is Kind.NUMERIC:
            freezers[name] = _NumericFreezer(stride)
        elif kind is Kind.CATEGORICAL:
            freezers[name] = _CategoricalFreezer()
        elif kind is Kind.ARRAY:
            freezers[name] = _ArrayFreezer(element_kind(arrow_type), stride)
    return freezers


def feed_freezers(freezers: Freezers, batches: Iterable[pa.RecordBatch]) -> Freezers:
    """Feed record batches (holding every freezer's column) to the freezers."""
    for batch in batches:
        for name, freezer in freezers.items():
            freezer.update(decode(batch.column(name)))
    return freezers


def merge_freezers(a: Freezers, b: Freezers) -> Freezers:
    """Fold `b` (freezers of another part of the same input) into `a`."""
    for name, freezer in a.items():
        freezer.merge(b[name])
    return a


def finish_specs(
    source: ParquetSource,
    features: Sequence[str],
    freezers: Freezers,
    *,
    bins: int = DEFAULT_BINS,
) -> dict[str, ProfileSpec]:
    """Frozen specs from fed freezers (of the whole input, or merged from its parts)."""
    specs: dict[str, ProfileSpec] = {}
    for name in features:
        arrow_type = source.schema.field(name).type
        kind = kind_of(arrow_type)
        body: Spec
        if kind is Kind.BOOL:
            body = CategoricalSpec(labels=BOOL_LABELS)
        elif kind is Kind.NUMERIC:
            body = freezers[name].freeze(is_integral_type(arrow_type), bins)
        elif kind is Kind.CATEGORICAL:
            body = freezers[name].freeze()
        else:
            assert kind is Kind.ARRAY
            fz: _ArrayFreezer = freezers[name]
            element_type = arrow_type.value_type
            if fz.element_kind is Kind.NUMERIC:
                assert isinstance(fz.element, _NumericFreezer)
                element: NumericSpec | CategoricalSpec = fz.element.freeze(
                    is_integral_type(element_type), bins
                )
            elif fz.element_kind is Kind.BOOL:
                element = CategoricalSpec(labels=BOOL_LABELS)
            else:
                assert isinstance(fz.element, _CategoricalFreezer)
                element = fz.element.freeze()
            body = ArraySpec(
                length=fz.length.freeze(True, bins), element=element, element_kind=fz.element_kind
            )
        specs[name] = ProfileSpec(name=name, kind=kind, arrow_type=type_name(arrow_type), body=body)
    return specs
