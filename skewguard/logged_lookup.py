"""Online lookups that log every served feature in Feast's feature-logging schema.

`FeatureLogger.get_online_features` takes what `FeatureStore.get_online_features` takes
(a feature service, entity rows with any request data for on-demand features), returns
Feast's own `OnlineResponse`, and records one log row per entity row of a sampled request
(`LoggingConfig.sample_rate`, decided per request) into the feature service's
`FileLoggingDestination`, through a `ServingLogWriter`.

The request path only serializes Feast's response proto (tens of microseconds, in C) and
appends it to the writer's buffer. Reading the values out of the proto, the true
statuses, Arrow conversion and parquet writing all happen in the writer process
(`skewguard.log_process`), so logging costs serving almost nothing.

True statuses. Feast's Redis store reports a missing entity as PRESENT with a null value
and event timestamp 0, and ignores the TTL when reading. The log records, per value:

- NOT_FOUND when the event timestamp is 0 (nothing stored for the entity); its
  `__timestamp` is null;
- OUTSIDE_MAX_AGE when the value is older than its view's TTL at request time
  (event time < request time - TTL; the value is logged as served);
- NULL_VALUE when the entity exists but the value is null;
- PRESENT otherwise. Any non-PRESENT status Feast reports itself is kept.

On-demand feature values are computed at request time: status PRESENT, or NULL_VALUE when
the value is null, and `__timestamp` equal to the request time.

The caller receives Feast's statuses unless it passes `corrected_statuses=True`; then
the response carries the same statuses as the log (values and timestamps unchanged).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa

from skewguard.errors import FeatureRepoError, InputError, TimestampError
from skewguard.logschema import (
    LOG_DATE,
    LOG_TIMESTAMP,
    REQUEST_ID,
    FieldStatus,
    status_column,
    timestamp_column,
)
from skewguard.service_spec import FeatureSpec, describe_service
from skewguard.serving_log import ServingLogWriter, WriterConfig, WriterStats

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore
    from feast.online_response import OnlineResponse
    from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse

__all__ = [
    "LogLayout",
    "FeatureLogger",
    "describe_log",
    "true_status",
    "correct_statuses",
    "LoggedResponse",
]

EntityRows = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]

# Feast's get_schema declares event times as timestamp[s], a unit parquet cannot store
# (pyarrow writes and reads it back as ms). The log keeps microseconds for every time.
_TS_TYPE = pa.timestamp("us", tz="UTC")
_DUPLICATE_SEPARATOR = "#"


@dataclass(frozen=True)
class LogLayout:
    """The log table of one feature service: Feast's schema and where files go."""

    service: str
    schema: pa.Schema  # Feast's get_schema, with every timestamp in microseconds
    join_keys: tuple[str, ...]
    request_fields: tuple[str, ...]  # request data of on-demand views, logged as given
    features: tuple[FeatureSpec, ...]
    folder: Path | None  # None: the service declares no logging
    partitioned: bool
    sample_rate: float


def describe_log(
    store: FeatureStore, service_name: str, log_root: str | Path | None = None
) -> LogLayout:
    """Resolve a feature service's log layout from the registry (Feast's column order).

    `log_root` redirects a logged service's files to `<log_root>/<service>` (tests,
    benchmarks); by default they go to its `FileLoggingDestination`.
    """
    from feast.feature_view_utils import get_feature_view_from_registry
    from feast.type_map import feast_value_type_to_pa

    from skewguard.repo import get_feature_service

    service = get_feature_service(store, service_name)
    spec = describe_service(store, service_name)
    by_column = {f.column: f for f in spec.features}
    fields: dict[str, pa.DataType] = {}
    join_keys: list[str] = []
    request_fields: list[str] = []

    def arrow(field: Any) -> pa.DataType:
        return feast_value_type_to_pa(field.dtype.to_value_type())

    # Same walk and order as feast.feature_logging.FeatureServiceLoggingSource.get_schema.
    for projection in service.feature_view_projections:
        view = get_feature_view_from_registry(store.registry, projection.name, store.project)
        if hasattr(view, "source_request_sources"):
            for request_source in view.source_request_sources.values():
                for field in request_source.schema:
                    fields.setdefault(field.name, arrow(field))
                    if field.name not in request_fields:
                        request_fields.append(field.name)
        else:
            for column in view.entity_columns:
                if column.name == "__dummy_id":
                    continue
                key = projection.join_key_map.get(column.name, column.name)
                fields.setdefault(key, arrow(column))
                if key not in join_keys:
                    join_keys.append(key)
        for feature in projection.features:
            column = f"{projection.name_to_use()}__{feature.name}"
            fields[column] = by_column[column].arrow_type
            fields[timestamp_column(column)] = _TS_TYPE
            fields[status_column(column)] = pa.int32()
    fields[LOG_TIMESTAMP] = _TS_TYPE
    fields[LOG_DATE] = pa.date32()
    fields[REQUEST_ID] = pa.string()

    folder, partitioned, rate = _destination(store, service)
    if folder is not None and log_root is not None:
        folder = Path(log_root) / service.name
    return LogLayout(
        service=service.name,
        schema=pa.schema([pa.field(n, t) for n, t in fields.items()]),
        join_keys=tuple(join_keys),
        request_fields=tuple(request_fields),
        features=spec.features,
        folder=folder,
        partitioned=partitioned,
        sample_rate=rate,
    )


def _destination(store: FeatureStore, service: FeatureService) -> tuple[Path | None, bool, float]:
    from feast.infra.offline_stores.file_source import FileLoggingDestination

    config = service.logging_config
    if config is None:
        return None, False, 0.0
    where = f"feature service {service.name!r}"
    destination = config.destination
    if not isinstance(destination, FileLoggingDestination):
        raise FeatureRepoError(
            f"logging destination {type(destination).__name__} is not supported",
            where=where,
            hint="use FileLoggingDestination(path=..., partition_by=['__log_date'])",
        )
    partition_by = list(destination.partition_by or [])
    if partition_by not in ([], [LOG_DATE]):
        raise FeatureRepoError(
            f"cannot partition serving logs by {partition_by}",
            where=where,
            hint=f"use partition_by=[{LOG_DATE!r}] or none",
        )
    if not 0.0 <= config.sample_rate <= 1.0:
        raise FeatureRepoError(
            f"sample_rate {config.sample_rate} is outside [0, 1]",
            where=where,
            hint="set LoggingConfig(sample_rate=...) between 0 and 1",
        )
    folder = Path(destination.path)
    if not folder.is_absolute():
        folder = Path(store.repo_path) / folder
    # The registry keeps sample_rate as a float32: 0.1 comes back as 0.10000000149.
    return folder, bool(partition_by), round(float(config.sample_rate), 6)


# -- true statuses ---------------------------------------------------------------------


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
        _status(feast_status, has_value, event_seconds, request_seconds, ttl_seconds, on_demand)
    )


_PRESENT, _NULL_VALUE, _NOT_FOUND, _OUTSIDE_MAX_AGE = 1, 2, 3, 4


def _status(
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
    features_by_name: Mapping[str, FeatureSpec],
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
            statuses[i] = _status(
                statuses[i],
                _has_value(value),
                ts.seconds + ts.nanos / 1e9,
                now,
                ttl,
                spec.on_demand,
            )


# -- logged responses and their encoding (writer process) ------------------------------


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


class _Encoder:
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
                    _status(
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


def _target(spec: FeatureSpec) -> tuple[str, str, str, float | None, bool]:
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


def _micros(moment: datetime) -> int:
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


# -- the logging lookup ----------------------------------------------------------------


class _ServiceLog:
    def __init__(
        self, service: FeatureService, layout: LogLayout, writer_config: WriterConfig
    ) -> None:
        self.service = service
        self.layout = layout
        self.encoder = _Encoder(layout)
        self.full_names = self.encoder.full_names
        self.bare_names = self.encoder.bare_names
        self.writer: ServingLogWriter[tuple[Any, ...]] | None = None
        if layout.folder is not None:
            self.writer = ServingLogWriter(
                layout.folder,
                self.encoder,
                writer_config,
                partitioned=layout.partitioned,
                name=f"serving-log[{service.name}]",
            )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FeatureLogger:
    """Online lookups through a FeatureStore, every served feature logged.

    One writer per feature service, created on first use. `sample_rate` overrides the
    services' `LoggingConfig.sample_rate`; `seed` makes sampling repeatable; `clock`
    gives the request time when a call passes none; `log_root` sends each service's
    files to `<log_root>/<service>` instead of its declared destination.
    """

    def __init__(
        self,
        store: FeatureStore,
        *,
        writer_config: WriterConfig | None = None,
        sample_rate: float | None = None,
        seed: int | None = None,
        clock: Callable[[], datetime] = _utc_now,
        log_root: str | Path | None = None,
    ) -> None:
        if sample_rate is not None and not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be within [0, 1]")
        self.store = store
        self.writer_config = writer_config or WriterConfig()
        self.sample_rate = sample_rate
        self.clock = clock
        self.log_root = log_root
        self._rng = random.Random(seed)
        self._services: dict[str, _ServiceLog] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get_online_features(
        self,
        features: FeatureService | str,
        entity_rows: EntityRows,
        *,
        full_feature_names: bool = False,
        request_time: datetime | None = None,
        request_id: str | None = None,
        corrected_statuses: bool = False,
    ) -> OnlineResponse:
        """`FeatureStore.get_online_features` for a feature service, logged.

        `entity_rows` is a list of dicts or a dict of lists (join keys plus request
        data). `request_time` (UTC-aware; default: the clock) is the log's
        `__log_timestamp` and the time TTLs are judged at; `request_id` (default: a new
        uuid4 hex) is shared by the request's log rows.
        """
        moment = self._request_time(request_time)
        service_log = self._service_log(features)
        response = _call_feast(
            self.store.get_online_features,
            features=service_log.service,
            entity_rows=entity_rows,
            full_feature_names=full_feature_names,
        )
        proto = response.proto
        by_name = service_log.full_names if full_feature_names else service_log.bare_names
        if corrected_statuses:
            correct_statuses(proto, by_name, moment)
        writer = service_log.writer
        if writer is not None and self._sampled(service_log.layout.sample_rate):
            rows = len(proto.results[0].values) if proto.results else 0
            if rows:
                logged = (  # a LoggedResponse
                    proto.SerializeToString(),
                    full_feature_names,
                    _micros(moment),
                    request_id or uuid.uuid4().hex,
                    _request_data(entity_rows, service_log.layout.request_fields, rows),
                )
                writer.submit(logged, rows)
        return response

    def layout(self, features: FeatureService | str) -> LogLayout:
        return self._service_log(features).layout

    def writer(self, features: FeatureService | str) -> ServingLogWriter[Any] | None:
        return self._service_log(features).writer

    def stats(self) -> dict[str, WriterStats]:
        """Writer counters per feature service served so far."""
        with self._lock:
            logs = dict(self._services)
        return {name: log.writer.stats() for name, log in logs.items() if log.writer}

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write every accepted row to disk now; True when all writers finished in time."""
        with self._lock:
            writers = [log.writer for log in self._services.values() if log.writer]
        return all([w.flush(timeout) for w in writers])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            writers = [log.writer for log in self._services.values() if log.writer]
        for w in writers:
            w.close()

    def __enter__(self) -> FeatureLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request_time(self, request_time: datetime | None) -> datetime:
        moment = request_time if request_time is not None else self.clock()
        if moment.tzinfo is None:
            raise TimestampError(
                "request_time has no time zone",
                where="FeatureLogger.get_online_features",
                hint="pass an aware datetime, e.g. datetime.now(UTC)",
            )
        return moment.astimezone(UTC)

    def _sampled(self, declared: float) -> bool:
        rate = declared if self.sample_rate is None else self.sample_rate
        return rate >= 1.0 or (rate > 0.0 and self._rng.random() < rate)

    def _service_log(self, features: FeatureService | str) -> _ServiceLog:
        name = features if isinstance(features, str) else getattr(features, "name", None)
        if not isinstance(name, str):
            raise InputError(
                "serving logs need a feature service, not a list of feature references",
                where="FeatureLogger.get_online_features",
                hint="pass a FeatureService or its name; its LoggingConfig says where logs go",
            )
        found = self._services.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._services.get(name)
            if found is not None:
                return found
            if self._closed:
                raise InputError(
                    "this FeatureLogger is closed",
                    where=name,
                    hint="create a new one",
                )
            from skewguard.repo import get_feature_service

            service = get_feature_service(self.store, name)
            layout = describe_log(self.store, name, self.log_root)
            found = _ServiceLog(service, layout, self.writer_config)
            self._services[name] = found
            return found


def _request_data(
    entity_rows: EntityRows, fields: Sequence[str], rows: int
) -> Mapping[str, list[Any]] | None:
    if not fields:
        return None
    if isinstance(entity_rows, Mapping):
        return {f: list(entity_rows.get(f, [None] * rows)) for f in fields}
    return {f: [row.get(f) for row in entity_rows] for f in fields}


def _call_feast(fn: Callable[..., Any], **kwargs: Any) -> Any:
    import redis

    from skewguard.errors import OnlineStoreError
    from skewguard.repo import raise_redis_unreachable

    try:
        return fn(**kwargs)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as err:
        raise_redis_unreachable(err)
    except redis.exceptions.RedisError as err:
        raise OnlineStoreError(
            f"Redis refused to read features: {err}",
            where="get_online_features",
            hint="check the server log",
        ) from err
