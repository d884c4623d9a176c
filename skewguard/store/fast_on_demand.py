"""Python-mode on-demand views on the fast read path, run as Feast runs them online.

`plan_on_demand` reads, once per feature service, what Feast's
`_augment_response_with_on_demand_transforms` works out per request: the output names
asked for (under full feature names "<view>__<feature>"), the response columns a view
must not see (Feast's rule: features of views it does not declare as sources) and the
type each output is encoded with. `transform` then does Feast's per-request step: the
response so far as columns, minus those hidden, through the view's own `transform_dict`;
the outputs asked for, in the order the transformation returns them, encoded by Feast's
`python_values_to_proto_values` and read back as `OnlineResponse.to_dict` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skewguard.store.fast_response import Column, Unsupported

__all__ = ["OnDemand", "plan_on_demand", "transform"]


@dataclass(frozen=True)
class OnDemand:
    view: Any  # feast OnDemandFeatureView, python mode
    refs: frozenset[str]  # output names asked for
    undeclared: frozenset[str]  # response columns the view must not see
    schema: Mapping[str, Any]  # output name -> the ValueType Feast encodes it with
    sources: tuple[tuple[str, str], ...]  # ("<source>__<feature>", "<feature>") per input


def _alias(odfv: Any) -> str:
    return (odfv.projection.name_alias if odfv.projection else None) or odfv.name


def plan_on_demand(
    odfvs: Sequence[Any], feature_refs: Sequence[str], full_names: bool
) -> tuple[OnDemand, ...]:
    """The on-demand views of a request, in the order Feast runs them; Unsupported when
    one is not a plain python-mode transformation."""
    from feast.types import ComplexFeastType, PrimitiveFeastType
    from feast.utils import _parse_feature_ref
    from feast.value_type import ValueType

    by_alias = {_alias(o): o for o in odfvs}
    refs: dict[str, list[str]] = {}  # Feast runs the views in the order refs name them
    for ref in feature_refs:
        view_name, _, feature = _parse_feature_ref(ref)
        if view_name in by_alias:
            name = by_alias[view_name].projection.name_to_use()
            refs.setdefault(view_name, []).append(f"{name}__{feature}" if full_names else feature)
    planned = []
    for alias, names in refs.items():
        odfv = by_alias[alias]
        if odfv.mode != "python":
            raise Unsupported(f"on-demand view {odfv.name!r} runs in {odfv.mode} mode")
        if odfv.write_to_online_store:
            raise Unsupported(f"on-demand view {odfv.name!r} is written to the online store")
        if odfv.aggregations:
            raise Unsupported(f"on-demand view {odfv.name!r} aggregates")
        if getattr(odfv, "track_metrics", False):
            raise Unsupported(f"on-demand view {odfv.name!r} tracks metrics")
        declared = {p.name for p in odfv.source_feature_view_projections.values()}
        undeclared: set[str] = set()
        for ref in feature_refs:  # Feast's rule (#6158), as in its augment step
            view_name, _, feature = _parse_feature_ref(ref)
            if view_name not in by_alias and view_name not in declared:
                undeclared |= {feature, f"{view_name}__{feature}"}
        for other in odfvs:
            for projection in other.source_feature_view_projections.values():
                if projection.name not in declared:
                    for field in projection.features:
                        undeclared |= {field.name, f"{projection.name}__{field.name}"}
        schema = {}
        for field in odfv.schema:  # Feast encodes with the declared type of a Feast type,
            dtype = field.dtype  # and UNKNOWN (inferred from the values) for a ValueType
            if isinstance(dtype, ComplexFeastType | PrimitiveFeastType):
                schema[field.name] = dtype.to_value_type()
            elif isinstance(dtype, ValueType):
                schema[field.name] = ValueType.UNKNOWN
            else:
                raise Unsupported(f"on-demand output {field.name!r} has type {dtype!r}")
        sources = tuple(
            (f"{projection.name}__{field.name}", field.name)
            for projection in odfv.source_feature_view_projections.values()
            for field in projection.features
        )
        planned.append(OnDemand(odfv, frozenset(names), frozenset(undeclared), schema, sources))
    return tuple(planned)


def _transform_dict(odfv: OnDemand, inputs: dict[str, list[Any]]) -> dict[str, Any]:
    """`OnDemandFeatureView.transform_dict`, step for step, without its run-time type
    checks (typeguard instruments the whole class: a third of a millisecond per call):
    each source feature under both its full and its short name, the transformation
    (per row for a singleton view), then the names added for it removed again."""
    preprocessed = dict(inputs)
    added = []
    for full, short in odfv.sources:
        if full in inputs:
            preprocessed[short] = inputs[full]
            added.append(short)
        elif short in inputs:
            preprocessed[full] = inputs[short]
            added.append(full)
    view = odfv.view
    transformation = view.feature_transformation
    if view.singleton and view.mode == "python":
        output = transformation.transform_singleton(preprocessed)
    else:
        output = transformation.transform(preprocessed)
    for name in added:
        output.pop(name, None)
    return output


def transform(
    odfv: OnDemand, columns: Sequence[Column], feature_types: Mapping[str, Any]
) -> list[Column]:
    """The view's output columns for the response columns so far."""
    from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
    from feast.value_type import ValueType

    inputs = {c.name: list(c.values) for c in columns if c.name not in odfv.undeclared}
    transformed = _transform_dict(odfv, inputs)
    out = []
    for name in [f for f in transformed if f in odfv.refs]:
        vector = transformed[name]
        protos = python_values_to_proto_values(
            vector if isinstance(vector, list) else [vector],
            odfv.schema.get(name, ValueType.UNKNOWN),
        )
        values = [feast_value_type_to_python_type(p, feature_types.get(name)) for p in protos]
        out.append(Column(name, values, [p.SerializeToString() for p in protos]))
    return out
