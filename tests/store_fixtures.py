"""Helpers of the online-store tests: Feast's Redis store and skewguard's writer side by side.

`write_both` writes the same rows once through Feast's own
`RedisOnlineStore.online_write_batch` (under one project) and once through skewguard's
`RedisWriter` (under another); `project_hashes` reads back every Redis hash of a project,
keyed by the entity part of the key, so the two can be compared byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from feast import Entity, FeatureView, Field, FileSource, RepoConfig
from feast.infra.online_stores.helpers import _mmh3
from feast.infra.online_stores.redis import RedisOnlineStore
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String
from feast.utils import _convert_arrow_to_proto
from feast.value_type import ValueType

from skewguard.store.feast_bytes import entity_key_pieces, event_micros, value_pieces
from skewguard.store.redis_writer import RedisWriter, ViewLayout

# A view with every type the feature repo uses.
SCHEMA = {
    "amount": Float64,
    "ratio": Float32,
    "count": Int64,
    "age": Int32,
    "tier": String,
    "flag": Bool,
    "tags": Array(String),
}


BASE = datetime(2026, 11, 1, tzinfo=UTC)


def random_rows(
    rng: np.random.Generator, n: int, entities: int, spread_hours: int
) -> pa.RecordBatch:
    """Rows with repeated keys, tied times, missing values of every type."""

    def holes(values: list) -> list:
        return [None if rng.random() < 0.15 else v for v in values]

    times = [BASE + timedelta(hours=int(h)) for h in rng.integers(0, spread_hours, n)]
    amount = rng.normal(100, 30, n).tolist()
    amount[0] = float("nan")
    return pa.record_batch(
        {
            "customer_id": pa.array(rng.integers(1, entities + 1, n), pa.int64()),
            "event_timestamp": pa.array(times, pa.timestamp("us", tz="UTC")),
            "amount": pa.array(holes(amount), pa.float64()),
            "ratio": pa.array(holes(rng.random(n).tolist()), pa.float32()),
            "count": pa.array(holes(rng.integers(-5, 10**6, n).tolist()), pa.int64()),
            "age": pa.array(holes(rng.integers(-3, 99, n).tolist()), pa.int32()),
            "tier": pa.array(holes(rng.choice(["gold", "", "é"], n).tolist()), pa.string()),
            "flag": pa.array(holes((rng.random(n) < 0.5).tolist()), pa.bool_()),
            "tags": pa.array(
                holes(
                    [rng.choice(["a", "b", "c"], int(k)).tolist() for k in rng.integers(0, 3, n)]
                ),
                pa.list_(pa.string()),
            ),
        }
    )


def typed_view(name: str = "typed") -> FeatureView:
    return FeatureView(
        name=name,
        entities=[Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)],
        schema=[Field(name="customer_id", dtype=Int64)]
        + [Field(name=k, dtype=v) for k, v in SCHEMA.items()],
        source=FileSource(path="unused.parquet", timestamp_field="event_timestamp"),
        online=True,
    )


def repo_config(project: str, connection: str, tmp: Path, **online: Any) -> RepoConfig:
    return RepoConfig(
        project=project,
        provider="local",
        registry=str(tmp / f"{project}.db"),
        online_store={"type": "redis", "connection_string": connection, **online},
        entity_key_serialization_version=3,
    )


def project_hashes(client: Any, project: str) -> dict[bytes, dict[bytes, bytes]]:
    """Every hash under the project, keyed by the serialized entity key (no project)."""
    suffix = project.encode()
    out = {}
    for key in client.scan_iter(match=b"*" + suffix, count=1000):
        if key.endswith(suffix):
            out[key[: -len(suffix)]] = client.hgetall(key)
    return out


def write_both(
    rows: pa.RecordBatch,
    view: FeatureView,
    feast_config: RepoConfig,
    ours_config: RepoConfig,
    *,
    unique_keys: bool = False,
) -> RedisWriter:
    """Feast's online_write_batch under feast_config's project, RedisWriter under ours."""
    join_keys = {"customer_id": ValueType.INT64}
    feast_store = RedisOnlineStore()
    feast_store.online_write_batch(
        feast_config, view, _convert_arrow_to_proto(rows, view, join_keys), None
    )
    online = ours_config.online_store
    writer = RedisWriter(
        RedisOnlineStore()._get_client(online),
        ViewLayout(
            feature_fields=tuple(_mmh3(f"{view.name}:{f.name}") for f in view.features),
            timestamp_field=f"_ts:{view.name}".encode(),
            key_ttl_seconds=online.key_ttl_seconds,
            skip_dedup=online.skip_dedup,
        ),
    )
    try:
        writer.write(
            entity_key_pieces(rows, join_keys, 3, ours_config.project),
            event_micros(rows.column("event_timestamp")),
            [value_pieces(rows.column(f.name), f.dtype.to_value_type()) for f in view.features],
            unique_keys=unique_keys,
        )
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer
