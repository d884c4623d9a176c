"""A Feast batch engine that materializes feature views into Redis in vectorised batches.

Enable it in feature_store.yaml:

    batch_engine:
      type: skewguard.store.batch_engine.RedisBatchEngine
      batch_size: 50000         # rows per pipelined round trip (optional)
      rows_per_pass: 1000000    # bound on the rows deduplicated at once (optional)

Feast then calls it for `feast materialize`, `feast materialize-incremental`,
`FeatureStore.materialize` and so `skewguard materialize`; Feast itself still records
the materialization intervals in the registry after each view succeeds. For a plain
feature view (a batch source, entities, online, no transformation, aggregation,
validation or offline write) and Feast's Redis online store (single server, Sentinel or
`redis_type: redis_cluster`) it reads the latest row per entity in the window from the
offline store (`offline_batches`), encodes exactly the bytes Feast's Redis store writes
(`feast_bytes`) and writes them with Feast's rule of never replacing a newer or equal
event time (`redis_writer`). Every other view, or any other online store, goes to Feast's
local engine, which this class extends.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from feast import FeatureView
from feast.entity import Entity
from feast.infra.common.materialization_job import MaterializationJobStatus, MaterializationTask
from feast.infra.compute_engines.local.compute import LocalComputeEngine
from feast.infra.compute_engines.local.job import LocalMaterializationJob
from feast.infra.online_stores.helpers import _mmh3, compute_versioned_name
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from feast.infra.registry.base_registry import BaseRegistry
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from feast.utils import _get_column_names
from pydantic import Field

from skewguard.store.feast_bytes import (
    entity_key_pieces,
    event_micros,
    value_pieces,
)
from skewguard.store.offline_batches import latest_rows, prefetched
from skewguard.store.redis_writer import RedisWriter, ViewLayout, WriteCounts

__all__ = ["RedisBatchEngine", "RedisBatchEngineConfig", "fallback_reason"]

logger = logging.getLogger(__name__)

ENGINE_TYPE = "skewguard.store.batch_engine.RedisBatchEngine"


class RedisBatchEngineConfig(FeastConfigBaseModel):
    """feature_store.yaml `batch_engine:` block of RedisBatchEngine."""

    type: Literal["skewguard.store.batch_engine.RedisBatchEngine"] = (
        "skewguard.store.batch_engine.RedisBatchEngine"
    )
    batch_size: int = Field(default=50_000, gt=0)
    """Rows read from the offline store and written to Redis per pipelined round trip."""
    rows_per_pass: int = Field(default=1_000_000, gt=0)
    """Most rows deduplicated at once; larger windows are split into entity buckets."""


def fallback_reason(view: Any, task: MaterializationTask, config: RepoConfig) -> str | None:
    """Why Feast's local engine must materialize this view (None: this engine does)."""
    if not isinstance(config.online_store, RedisOnlineStoreConfig):
        return f"the online store is {config.online_store.type}, not Redis"
    if not isinstance(view, FeatureView) or view.batch_source is None:
        return "it is not a feature view with a batch source"
    if getattr(view, "feature_transformation", None) or getattr(view, "aggregations", None):
        return "it has a transformation or aggregations"
    if getattr(view, "source_views", None):
        return "it is derived from other feature views"
    if getattr(view, "enable_validation", False):
        return "it validates its schema on materialization"
    if getattr(view, "offline", False):
        return "it also writes to the offline store"
    if not view.online:
        return "it is not served online"
    if not view.entity_columns:
        return "it has no entities"
    if not task.only_latest:
        return "every row, not the latest per entity, was asked for"
    return None


class RedisBatchEngine(LocalComputeEngine):
    """Feast's local engine, with plain feature views materialized into Redis in batches."""

    def __init__(
        self,
        *,
        repo_config: RepoConfig,
        offline_store: Any,
        online_store: Any,
        batch_size: int = 50_000,
        rows_per_pass: int = 1_000_000,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("type", None)
        super().__init__(
            repo_config=repo_config, offline_store=offline_store, online_store=online_store
        )
        checked = RedisBatchEngineConfig(batch_size=batch_size, rows_per_pass=rows_per_pass)
        self.batch_size = checked.batch_size
        self.rows_per_pass = checked.rows_per_pass

    def _materialize_one(
        self, registry: BaseRegistry, task: MaterializationTask, **kwargs: Any
    ) -> LocalMaterializationJob:
        view = task.feature_view
        reason = fallback_reason(view, task, self.repo_config)
        if reason is not None:
            logger.info("materializing %s with Feast's local engine: %s", view.name, reason)
            return super()._materialize_one(registry, task, **kwargs)
        job_id = f"{view.name}-{task.start_time}-{task.end_time}"
        try:
            counts = self.materialize_view(registry, task)
        except Exception as err:  # Feast raises the job's error after the job returns
            return LocalMaterializationJob(job_id, MaterializationJobStatus.ERROR, error=err)
        logger.info(
            "materialized %s: %d latest rows, %d written (the others had an equal or newer "
            "event time in Redis)",
            view.name,
            counts.rows,
            counts.written,
        )
        return LocalMaterializationJob(job_id, MaterializationJobStatus.SUCCEEDED)

    def materialize_view(self, registry: BaseRegistry, task: MaterializationTask) -> WriteCounts:
        """Load the latest row per entity of task's window into Redis; the row counts."""
        config = self.repo_config
        view: FeatureView = task.feature_view
        online = config.online_store
        assert isinstance(online, RedisOnlineStoreConfig)
        assert isinstance(self.online_store, RedisOnlineStore)
        entities: list[Entity] = [registry.get_entity(name, task.project) for name in view.entities]
        join_keys, features, timestamp_field, created_field = _get_column_names(view, entities)
        key_types = {field.name: field.dtype.to_value_type() for field in view.entity_columns}
        name = compute_versioned_name(view, config.registry.enable_online_feature_view_versioning)
        layout = ViewLayout(
            feature_fields=tuple(_mmh3(f"{name}:{feature.name}") for feature in view.features),
            timestamp_field=f"_ts:{name}".encode(),
            key_ttl_seconds=online.key_ttl_seconds,
            skip_dedup=online.skip_dedup,
        )
        source = view.batch_source
        if source is None:
            raise TypeError(f"feature view {view.name!r} has no batch source to materialize")
        mapping = source.field_mapping or {}
        writer = RedisWriter(self.online_store._get_client(online), layout)
        try:
            batches = latest_rows(
                self.offline_store,
                config,
                source,
                join_keys,
                features,
                timestamp_field,
                created_field,
                task.start_time,
                task.end_time,
                batch_size=self.batch_size,
                rows_per_pass=self.rows_per_pass,
            )
            for batch in prefetched(batches):
                micros = event_micros(batch.column(timestamp_field))
                batch = batch.rename_columns([mapping.get(c, c) for c in batch.column_names])
                writer.write(
                    entity_key_pieces(
                        batch, key_types, config.entity_key_serialization_version, config.project
                    ),
                    micros,
                    [
                        value_pieces(batch.column(feature.name), feature.dtype.to_value_type())
                        for feature in view.features
                    ],
                    unique_keys=True,  # latest_rows keeps one row per entity key
                )
            writer.close()
        except BaseException:
            writer.abort()
            raise
        return writer.counts
