"""Where and how a feature service's serving log is written: Feast's logging schema.

`describe_log` resolves, from the registry, the log table of one feature service in
Feast's own column order (`FeatureServiceLoggingSource.get_schema`): join keys and
request data, then per feature `<view>__<feature>`, `__timestamp` and `__status`, then
`__log_timestamp`, `__log_date` and `__request_id`; and its `FileLoggingDestination`
(folder, partitioning, sample rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from skewguard.errors import FeatureRepoError
from skewguard.logschema import LOG_DATE, LOG_TIMESTAMP, REQUEST_ID, status_column, timestamp_column
from skewguard.store.service import ServedFeature, describe_service

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

__all__ = ["LogLayout", "describe_log", "TS_TYPE"]

# Feast's get_schema declares event times as timestamp[s], a unit parquet cannot store
# (pyarrow writes and reads it back as ms). The log keeps microseconds for every time.
TS_TYPE = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class LogLayout:
    """The log table of one feature service: Feast's schema and where files go."""

    service: str
    schema: pa.Schema  # Feast's get_schema, with every timestamp in microseconds
    join_keys: tuple[str, ...]
    request_fields: tuple[str, ...]  # request data of on-demand views, logged as given
    features: tuple[ServedFeature, ...]
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

    from skewguard.store.repo import get_feature_service

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
            name = f"{projection.name_to_use()}__{feature.name}"
            fields[name] = by_column[name].arrow_type
            fields[timestamp_column(name)] = TS_TYPE
            fields[status_column(name)] = pa.int32()
    fields[LOG_TIMESTAMP] = TS_TYPE
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
