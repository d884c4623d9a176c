"""Online lookups that log every served feature in Feast's feature-logging schema.

`FeatureLogger.get_online_features` takes what `FeatureStore.get_online_features` takes
(a feature service, entity rows with any request data for on-demand features), returns
Feast's own `OnlineResponse`, and records one log row per entity row of a sampled request
(`LoggingConfig.sample_rate`, decided per request) into the feature service's
`FileLoggingDestination`, through a `ServingLogWriter`.

The request path only serializes Feast's response proto (tens of microseconds, in C) and
appends it to the writer's buffer. Reading the values out of the proto, the true
statuses (`skewguard.serving.statuses`), Arrow conversion and parquet writing all happen
in the writer process (`skewguard.serving.process`), so logging costs serving almost
nothing.

The caller receives Feast's statuses unless it passes `corrected_statuses=True`; then
the response carries the same statuses as the log (values and timestamps unchanged).

`fast_read=True` reads through skewguard's fast read path
(`skewguard.store.redis_reader.FastReader`): the same answer as Feast's, straight from
Redis, as a `FastResponse` (Feast's `to_dict()` and `proto`), whose serialized proto goes
to the log as it is. Lookups it does not support are Feast's, as without it.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError, TimestampError
from skewguard.serving.encoding import LogEncoder, request_micros
from skewguard.serving.layout import LogLayout, describe_log
from skewguard.serving.statuses import correct_statuses
from skewguard.serving.writer import ServingLogWriter, WriterConfig, WriterStats
from skewguard.store.fast_response import FastResponse

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore
    from feast.online_response import OnlineResponse

__all__ = ["FeatureLogger", "EntityRows"]

EntityRows = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]


class _ServiceLog:
    def __init__(
        self, service: FeatureService, layout: LogLayout, writer_config: WriterConfig
    ) -> None:
        self.service = service
        self.layout = layout
        self.encoder = LogEncoder(layout)
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
    files to `<log_root>/<service>` instead of its declared destination; `only_services`
    logs only the services named (the others are served as if they declared no logging);
    `fast_read` reads through the fast read path (module docstring).
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
        only_services: Sequence[str] | None = None,
        fast_read: bool = False,
    ) -> None:
        if sample_rate is not None and not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be within [0, 1]")
        self.store = store
        self.writer_config = writer_config or WriterConfig()
        self.sample_rate = sample_rate
        self.clock = clock
        self.log_root = log_root
        self.only_services = None if only_services is None else frozenset(only_services)
        self._rng = random.Random(seed)
        self._services: dict[str, _ServiceLog] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._lookup: Callable[..., Any] = store.get_online_features
        if fast_read:
            from skewguard.store.redis_reader import FastReader

            self._lookup = FastReader(store).get_online_features

    def get_online_features(
        self,
        features: FeatureService | str,
        entity_rows: EntityRows,
        *,
        full_feature_names: bool = False,
        request_time: datetime | None = None,
        request_id: str | None = None,
        corrected_statuses: bool = False,
    ) -> OnlineResponse | FastResponse:
        """`FeatureStore.get_online_features` for a feature service, logged.

        `entity_rows` is a list of dicts or a dict of lists (join keys plus request
        data). `request_time` (UTC-aware; default: the clock) is the log's
        `__log_timestamp` and the time TTLs are judged at; `request_id` (default: a new
        uuid4 hex) is shared by the request's log rows.
        """
        moment = self._request_time(request_time)
        service_log = self._service_log(features)
        response = _call_feast(
            self.store,
            self._lookup,
            features=service_log.service,
            entity_rows=entity_rows,
            full_feature_names=full_feature_names,
        )
        self._record(
            service_log,
            response,
            entity_rows,
            full_feature_names=full_feature_names,
            request_time=moment,
            request_id=request_id,
            corrected_statuses=corrected_statuses,
        )
        return response

    def record(
        self,
        features: FeatureService | str,
        response: OnlineResponse | FastResponse,
        entity_rows: EntityRows,
        *,
        full_feature_names: bool,
        request_time: datetime,
        request_id: str | None = None,
        corrected_statuses: bool = False,
    ) -> bool:
        """Log a response Feast already served for the feature service `features`.

        For a caller that made the lookup itself (the HTTP server calls Feast as `feast
        serve` does). Takes the arguments of `get_online_features`; `request_time` is the
        time the lookup started. Returns True when the request was sampled into the log.
        """
        return self._record(
            self._service_log(features),
            response,
            entity_rows,
            full_feature_names=full_feature_names,
            request_time=self._request_time(request_time),
            request_id=request_id,
            corrected_statuses=corrected_statuses,
        )

    def _record(
        self,
        service_log: _ServiceLog,
        response: OnlineResponse | FastResponse,
        entity_rows: EntityRows,
        *,
        full_feature_names: bool,
        request_time: datetime,
        request_id: str | None,
        corrected_statuses: bool,
    ) -> bool:
        if corrected_statuses:
            by_name = service_log.full_names if full_feature_names else service_log.bare_names
            correct_statuses(response.proto, by_name, request_time)
        writer = service_log.writer
        if writer is None or not self._sampled(service_log.layout.sample_rate):
            return False
        if isinstance(response, FastResponse):
            rows, serialized = response.rows, response.serialized
        else:
            proto = response.proto
            rows = len(proto.results[0].values) if proto.results else 0
            serialized = proto.SerializeToString
        if not rows:
            return False
        logged = (  # a LoggedResponse
            serialized(),
            full_feature_names,
            request_micros(request_time),
            request_id or uuid.uuid4().hex,
            _request_data(entity_rows, service_log.layout.request_fields, rows),
        )
        writer.submit(logged, rows)
        return True

    def layout(self, features: FeatureService | str) -> LogLayout:
        return self._service_log(features).layout

    def writer(self, features: FeatureService | str) -> ServingLogWriter[Any] | None:
        return self._service_log(features).writer

    def stats(self) -> dict[str, WriterStats]:
        """Writer counters per feature service served so far."""
        with self._lock:
            logs = dict(self._services)
        return {name: log.writer.stats() for name, log in logs.items() if log.writer}

    def problems(self) -> dict[str, str | None]:
        """Per feature service served so far: why its writer cannot keep rows, or None."""
        with self._lock:
            logs = dict(self._services)
        return {name: log.writer.problem() for name, log in logs.items() if log.writer}

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
            from skewguard.store.repo import get_feature_service

            service = get_feature_service(self.store, name)
            layout = describe_log(self.store, name, self.log_root)
            if self.only_services is not None and name not in self.only_services:
                layout = replace(layout, folder=None)
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


def _call_feast(store: FeatureStore, fn: Callable[..., Any], **kwargs: Any) -> Any:
    import redis

    from skewguard.store.repo import redis_failure

    try:
        return fn(**kwargs)
    except redis.exceptions.RedisError as err:
        raise redis_failure(err, store, "read features") from err
