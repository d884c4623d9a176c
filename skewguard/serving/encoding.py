"""Encoding logged responses into log tables, in the writer process.

The request path hands over each sampled response as a `LoggedResponse` (Feast's response
proto, serialized). `LogEncoder` turns a batch of them into one Arrow table in Feast's
logging schema, with true statuses (`skewguard.serving.statuses`) and request ids that
are unique per (request, entity row). It runs in the writer process, which never imports
Feast (importing it takes seconds): the response message class is rebuilt there from the
proto file descriptors captured when the encoder is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pyarrow as pa

from skewguard.logschema import LOG_DATE, LOG_TIMESTAMP, REQUEST_ID, status_column, timestamp_column
from skewguard.serving.layout import LogLayout
from skewguard.serving.statuses import status_code
from skewguard.store.service import ServedFeature

__all__ = ["LoggedResponse", "LogEncoder", "request_micros"]

_DUPLICATE_SEPARATOR = "#"


class LoggedResponse(NamedTuple):
    """One sampled response as the request path hands it to the writer.

    Submitted as a plain tuple in this order: pickling a named tuple calls back into
    Python for every item, holding the GIL ten times longer while a batch is sent.
    """

    proto: bytes  # GetOnlineFeaturesResponse, serialized
    full_feature_names: bool
    request_micros: int  # request time, microseconds since the epoch (UTC)
    request_id: str
    request_data: Mapping[str, list[Any]] | None  # request fields of on-demand views


class LogEncoder:
    """Turns `LoggedResponse`s of one feature service into one log table.

    It runs in the writer process, which never imports Feast (importing it takes
    seconds): the response message class is rebuilt there from the proto file
    descriptors captured here.
    """

    def __init__(self, layout: LogLayout) -> None:
        from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse

        self.layout = layout
        self.full_names = {f.column: f for f in layout.features}
        self.bare_names = {f.feature: f for f in layout.features}
        self._full_targets = {f.column: _target(f) for f in layout.features}
        self._bare_targets = {f.feature: _target(f) for f in layout.features}
        descriptor = GetOnlineFeaturesResponse.DESCRIPTOR
        self._message_name = descriptor.full_name
        self._proto_files = _proto_files(descriptor.file)
        self._message: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_message": None}

    def __call__(self, items: Sequence[tuple[Any, ...]]) -> pa.Table:
        if self._message is None:
            self._message = _message_class(self._proto_files, self._message_name)
        columns: dict[str, list[Any]] = {name: [] for name in self.layout.schema.names}
        for item in items:
            logged = LoggedResponse._make(item)
            self.extract(self._message.FromString(logged.proto), logged, columns)
        arrays = {
            field.name: _array(columns[field.name], field.type) for field in self.layout.schema
        }
        return pa.table(arrays, schema=self.layout.schema)

    def extract(self, proto: Any, item: LoggedResponse, columns: dict[str, list[Any]]) -> None:
        """Append the log rows of one response, with true statuses, to `columns`."""
        layout = self.layout
        targets = self._full_targets if item.full_feature_names else self._bare_targets
        vectors = dict(zip(proto.metadata.feature_names.val, proto.results, strict=True))
        rows = len(proto.results[0].values) if proto.results else 0
        now_us = item.request_micros
        now_s = now_us / 1e6
        keys: list[list[Any]] = []
        for key in layout.join_keys:
            vector = vectors.get(key)
            values = [_python_value(v) for v in vector.values] if vector else [None] * rows
            keys.append(values)
            columns[key].extend(values)
        request_data = item.request_data or {}
        for field in layout.request_fields:
            values = list(request_data.get(field, [None] * rows))
            keys.append(values)
            columns[field].extend(values)
        served = []
        for name, vector in vectors.items():
            target = targets.get(name)
            if target is None:  # join keys and request data
                continue
            column, stamp_column, status_col, ttl, on_demand = target
            values = [_python_value(v) for v in vector.values]
            feast_statuses = vector.statuses
            if on_demand:
                stamps: list[int | None] = [now_us] * rows
                seconds = [0.0] * rows
            else:
                stamps = [_event_micros(ts) for ts in vector.event_timestamps]
                seconds = [ts.seconds + ts.nanos / 1e9 for ts in vector.event_timestamps]
            columns[column].extend(values)
            columns[stamp_column].extend(stamps)
            columns[status_col].extend(
                [
                    status_code(
                        feast_statuses[i], values[i] is not None, seconds[i], now_s, ttl, on_demand
                    )
                    for i in range(rows)
                ]
            )
            served.append(column)
        if len(served) != len(targets):  # a feature the response lacks: nulls
            for column in set(self.full_names) - set(served):
                for name in (column, timestamp_column(column), status_column(column)):
                    columns[name].extend([None] * rows)
        log_date = datetime.fromtimestamp(now_s, UTC).date()
        columns[LOG_TIMESTAMP].extend([now_us] * rows)
        columns[LOG_DATE].extend([log_date] * rows)
        columns[REQUEST_ID].extend(_request_ids(item.request_id, keys, rows))


def _target(spec: ServedFeature) -> tuple[str, str, str, float | None, bool]:
    """Where a served feature's values, timestamps and statuses go; its TTL; on-demand?"""
    ttl = spec.ttl.total_seconds() if spec.ttl is not None else None
    column = spec.column
    return column, timestamp_column(column), status_column(column), ttl, spec.on_demand


def _python_value(value: Any) -> Any:
    kind = value.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    inner = getattr(value, kind)
    if kind.endswith("_list_val") or kind.endswith("_set_val"):
        return list(inner.val)
    return inner


def _event_micros(ts: Any) -> int | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _proto_files(file: Any) -> tuple[bytes, ...]:
    """Serialized descriptors of `file` and everything it imports, dependencies first."""
    ordered: list[bytes] = []
    seen: set[str] = set()

    def visit(current: Any) -> None:
        if current.name in seen:
            return
        seen.add(current.name)
        for dependency in current.dependencies:
            visit(dependency)
        ordered.append(current.serialized_pb)

    visit(file)
    return tuple(ordered)


def _message_class(files: Sequence[bytes], full_name: str) -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    for data in files:
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(data))
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


def request_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _request_ids(request_id: str, keys: list[list[Any]], rows: int) -> list[str]:
    """One id per request; a repeated entity row gets `<id>#<n>` so (id, keys) is unique."""
    seen: dict[tuple[Any, ...], int] = {}
    ids = []
    for i in range(rows):
        key = tuple(_hashable(column[i]) for column in keys)
        n = seen.get(key, 0)
        seen[key] = n + 1
        ids.append(request_id if n == 0 else f"{request_id}{_DUPLICATE_SEPARATOR}{n}")
    return ids


def _array(values: list[Any], type_: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(type_):
        return pa.array(values, pa.int64()).cast(type_)
    return pa.array(values, type_)
