"""What a profile counts into: bins frozen from training, one spec per feature.

Numeric features get quantile bin edges (plus underflow and overflow buckets), categorical
and bool features a vocabulary (plus an `other` bucket), array features one spec for
their lengths and one for their elements. Specs are frozen once from training and reused
for serving, so both sides always share buckets and their profiles merge by adding counts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = [
    "DEFAULT_BINS",
    "MAX_CATEGORIES",
    "OTHER",
    "NULL",
    "BOOL_LABELS",
    "Kind",
    "NumericSpec",
    "CategoricalSpec",
    "ArraySpec",
    "Spec",
    "ProfileSpec",
    "kind_of",
    "element_kind",
    "spec_to_dict",
    "spec_from_dict",
]

DEFAULT_BINS = 10
MAX_CATEGORIES = 1000
OTHER = "other"
NULL = "null"
BOOL_LABELS = ("false", "true")


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


def element_kind(arrow_type: pa.DataType) -> Kind:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    kind = kind_of(arrow_type.value_type)
    assert kind is not None
    return kind


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
class ProfileSpec:
    """The frozen bins of one feature, by name, kind and training Arrow type."""

    name: str
    kind: Kind
    arrow_type: str
    body: Spec


def spec_to_dict(spec: Spec) -> dict[str, Any]:
    if isinstance(spec, NumericSpec):
        return {"edges": list(spec.edges), "integral": spec.integral}
    if isinstance(spec, CategoricalSpec):
        return {"labels": list(spec.labels)}
    return {
        "length": spec_to_dict(spec.length),
        "element": spec_to_dict(spec.element),
        "element_kind": str(spec.element_kind),
    }


def spec_from_dict(kind: Kind, d: Mapping[str, Any]) -> Spec:
    if kind is Kind.NUMERIC:
        return NumericSpec(edges=tuple(float(e) for e in d["edges"]), integral=bool(d["integral"]))
    if kind in (Kind.CATEGORICAL, Kind.BOOL):
        return CategoricalSpec(labels=tuple(str(x) for x in d["labels"]))
    element_kind = Kind(d["element_kind"])
    element = spec_from_dict(element_kind, d["element"])
    length = spec_from_dict(Kind.NUMERIC, d["length"])
    assert isinstance(length, NumericSpec)
    assert not isinstance(element, ArraySpec)
    return ArraySpec(length=length, element=element, element_kind=element_kind)
