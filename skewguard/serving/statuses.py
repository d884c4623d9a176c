"""True statuses of served values: what Feast's Redis store does not say.

Feast's Redis store reports a missing entity as PRESENT with a null value and event
timestamp 0, and ignores the TTL when reading. The log records, per value:

- NOT_FOUND when the event timestamp is 0 (nothing stored for the entity); its
  `__timestamp` is null;
- OUTSIDE_MAX_AGE when the value is older than its view's TTL at request time
  (event time < request time - TTL; the value is logged as served);
- NULL_VALUE when the entity exists but the value is null;
- PRESENT otherwise. Any non-PRESENT status Feast reports itself is kept.

On-demand feature values are computed at request time: status PRESENT, or NULL_VALUE when
the value is null.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from skewguard.logschema import FieldStatus
from skewguard.store.service import ServedFeature

if TYPE_CHECKING:
    from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse

__all__ = ["true_status", "status_code", "correct_statuses"]


def true_status(
    feast_status: int,
    has_value: bool,
    event_seconds: float,
    request_seconds: float,
    ttl_seconds: float | None,
    on_demand: bool,
) -> FieldStatus:
    """The status a served value really has (module docstring: the rules)."""
    return FieldStatus(
        status_code(feast_status, has_value, event_seconds, request_seconds, ttl_seconds, on_demand)
    )


_PRESENT, _NULL_VALUE, _NOT_FOUND, _OUTSIDE_MAX_AGE = 1, 2, 3, 4


def status_code(
    feast_status: int,
    has_value: bool,
    event_seconds: float,
    request_seconds: float,
    ttl_seconds: float | None,
    on_demand: bool,
) -> int:
    # Plain ints on the request path: building enum members costs more than the rules.
    if feast_status != _PRESENT:
        return feast_status
    if on_demand:
        return _PRESENT if has_value else _NULL_VALUE
    if event_seconds == 0:
        return _NOT_FOUND
    if ttl_seconds is not None and event_seconds < request_seconds - ttl_seconds:
        return _OUTSIDE_MAX_AGE
    return _PRESENT if has_value else _NULL_VALUE


def _has_value(value: Any) -> bool:
    kind = value.WhichOneof("val")
    return kind is not None and kind != "null_val"


def correct_statuses(
    proto: GetOnlineFeaturesResponse,
    features_by_name: Mapping[str, ServedFeature],
    request_time: datetime,
) -> None:
    """Rewrite the statuses of `proto` in place to the true ones."""
    now = request_time.timestamp()
    for name, vector in zip(proto.metadata.feature_names.val, proto.results, strict=True):
        spec = features_by_name.get(name)
        if spec is None:  # join keys and request data
            continue
        ttl = spec.ttl.total_seconds() if spec.ttl is not None else None
        statuses = vector.statuses
        timestamps = vector.event_timestamps
        for i, value in enumerate(vector.values):
            ts = timestamps[i]
            statuses[i] = status_code(
                statuses[i],
                _has_value(value),
                ts.seconds + ts.nanos / 1e9,
                now,
                ttl,
                spec.on_demand,
            )
