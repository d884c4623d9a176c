"""What a feature service serves, resolved once from the Feast registry.

Snapshots, serving logs and replay all need the same facts: each feature's column name
(`<view>__<feature>`), its declared Feast type and Arrow type, its view's TTL, and the
join keys. `describe_service` reads them from the registry into frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import pyarrow as pa

from skewguard.logschema import feature_column

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = ["ServedFeature", "ServiceSpec", "describe_service"]


@dataclass(frozen=True)
class ServedFeature:
    """One feature a service serves: its log column, Feast type, TTL and inputs."""

    column: str  # "<view>__<feature>"
    view: str
    feature: str
    feast_type: str  # e.g. "Float32", "Array(String)"
    arrow_type: pa.DataType
    on_demand: bool
    ttl: timedelta | None  # None: on-demand, or a view without TTL
    inputs: tuple[str, ...] = ()  # on-demand only: the feature columns it is computed from

    def to_manifest(self) -> dict[str, str]:
        return {
            "name": self.column,
            "view": self.view,
            "feature": self.feature,
            "feast_type": self.feast_type,
            "arrow_type": str(self.arrow_type),
        }


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    project: str
    join_keys: tuple[str, ...]
    features: tuple[ServedFeature, ...]

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.features]

    def feature(self, column: str) -> ServedFeature:
        for spec in self.features:
            if spec.column == column:
                return spec
        raise KeyError(column)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(f.column, f.arrow_type) for f in self.features])


def describe_service(store: FeatureStore, name: str) -> ServiceSpec:
    """Resolve the feature service `name` (errors list the services that exist)."""
    from feast.type_map import feast_value_type_to_pa

    from skewguard.store.repo import get_feature_service

    service = get_feature_service(store, name)
    batch_views = {fv.name: fv for fv in store.list_feature_views()}
    on_demand = {v.name: v for v in store.list_on_demand_feature_views()}
    features: list[ServedFeature] = []
    join_keys: list[str] = []
    for projection in service.feature_view_projections:
        view_name = projection.name_to_use()
        batch = batch_views.get(projection.name)
        if batch is not None:
            for key in batch.join_keys:
                if key not in join_keys:
                    join_keys.append(key)
        ttl = batch.ttl if batch is not None and batch.ttl else None
        inputs: tuple[str, ...] = ()
        if projection.name in on_demand:
            sources = on_demand[projection.name].source_feature_view_projections.values()
            inputs = tuple(
                feature_column(source.name_to_use(), f.name)
                for source in sources
                for f in source.features
            )
        for field in projection.features:
            features.append(
                ServedFeature(
                    column=feature_column(view_name, field.name),
                    view=view_name,
                    feature=field.name,
                    feast_type=str(field.dtype),
                    arrow_type=feast_value_type_to_pa(field.dtype.to_value_type()),
                    on_demand=batch is None,
                    ttl=ttl,
                    inputs=inputs,
                )
            )
    return ServiceSpec(
        name=service.name,
        project=store.project,
        join_keys=tuple(join_keys),
        features=tuple(features),
    )
