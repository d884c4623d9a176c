"""Definition hashes: what a feature service and its views were when a snapshot was built.

A model is only as good as the definitions its training data came from. `service_definitions`
reads, from the Feast registry, a sha256 of each view's specification (Feast's protobuf
`spec`, serialized deterministically: features, types, entities, TTL, source, transformation
source text) and of the service's own specification (its "version": which views and features
it selects). Registry bookkeeping (`meta`, creation and update times, also inside nested
data sources) is left out, so applying the same files again keeps every hash; editing a
view changes its hash.

On-demand views carry their transformation twice: as source text (`body_text`) and as a
pickled function (`body`). Only the source text is hashed: pickles of the same function
differ between Python processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = ["ServiceDefinitions", "service_definitions", "spec_hash"]


@dataclass(frozen=True)
class ServiceDefinitions:
    service: str
    service_hash: str  # "sha256:<hex>" of the service's spec: its version
    views: dict[str, str]  # view name -> "sha256:<hex>" of its spec
    view_versions: dict[str, int | None]  # Feast's current_version_number, when it keeps one

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.service,
            "version": self.service_hash,
            "feature_views": {
                name: {"definition_hash": digest, "version_number": self.view_versions.get(name)}
                for name, digest in sorted(self.views.items())
            },
        }


def spec_hash(spec: Any) -> str:
    """sha256 of a Feast protobuf spec, without pickled function bodies."""
    copy = type(spec)()
    copy.CopyFrom(spec)
    _drop_pickles(copy)
    return "sha256:" + hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


_BOOKKEEPING = ("meta", "created_timestamp", "last_updated_timestamp")


def _drop_pickles(message: Any) -> None:
    """Clear pickled bodies and registry bookkeeping, at any depth (a view's data source
    carries its own `meta` with creation and update times)."""
    names = {f.name for f in message.DESCRIPTOR.fields}
    if "body" in names and "body_text" in names:
        message.ClearField("body")
    for name in _BOOKKEEPING:
        if name in names:
            message.ClearField(name)
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if _repeated(field):
            if field.message_type.GetOptions().map_entry:
                entries = value.values() if hasattr(value, "values") else []
                for entry in entries:
                    if hasattr(entry, "DESCRIPTOR"):
                        _drop_pickles(entry)
            else:
                for item in value:
                    _drop_pickles(item)
        else:
            _drop_pickles(value)


def _repeated(field: Any) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 6; `label` is gone in 7
    if repeated is not None:
        return bool(repeated)
    return bool(field.label == field.LABEL_REPEATED)


def service_definitions(store: FeatureStore, service_name: str) -> ServiceDefinitions:
    """The definition hashes of a service and of every view it selects, from the registry."""
    from feast.feature_view_utils import get_feature_view_from_registry

    from skewguard.store.repo import get_feature_service

    service = get_feature_service(store, service_name)
    views: dict[str, str] = {}
    versions: dict[str, int | None] = {}
    for projection in service.feature_view_projections:
        view = get_feature_view_from_registry(store.registry, projection.name, store.project)
        proto = view.to_proto()
        views[projection.name] = spec_hash(proto.spec)
        number = getattr(view, "current_version_number", None)
        versions[projection.name] = int(number) if number is not None else None
    return ServiceDefinitions(
        service=service.name,
        service_hash=spec_hash(service.to_proto().spec),
        views=views,
        view_versions=versions,
    )
