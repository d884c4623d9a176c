"""RedisWriter leaves Redis exactly as Feast's own online_write_batch does (real Redis).

Each round writes the same rows through both (under two projects) and compares every
hash byte for byte: keys, murmur3 field names, protobuf values, the "_ts:<view>" field,
after rounds whose rows are older, equally old or newer than what is stored, and batches
in which keys repeat.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
import redis
from feast.infra.online_stores.redis import RedisOnlineStore
from feast.value_type import ValueType
from store_fixtures import BASE, project_hashes, random_rows, repo_config, typed_view, write_both

from skewguard.store.feast_bytes import entity_key_pieces, event_micros, value_pieces
from skewguard.store.redis_writer import RedisWriter, ViewLayout
from skewguard.store.rowbytes import join_ragged


@pytest.fixture
def projects(redis_connection: str):
    tag = f"{os.getpid()}_{np.random.default_rng().integers(10**9)}"
    names = {"feast": f"sgw_feast_{tag}", "ours": f"sgw_ours_{tag}"}
    yield names
    client = redis.Redis.from_url(f"redis://{redis_connection}")
    for name in names.values():
        for key in client.scan_iter(match=b"*" + name.encode(), count=1000):
            client.delete(key)


@pytest.mark.parametrize(
    "online",
    [{}, {"key_ttl_seconds": 3600}, {"skip_dedup": True}],
    ids=["default", "key_ttl", "skip_dedup"],
)
def test_rounds_of_writes_match_feasts_byte_for_byte(
    projects: dict[str, str], redis_connection: str, tmp_path, online: dict
) -> None:
    rng = np.random.default_rng(11)
    view = typed_view()
    feast_config = repo_config(projects["feast"], redis_connection, tmp_path, **online)
    ours_config = repo_config(projects["ours"], redis_connection, tmp_path, **online)
    client = redis.Redis.from_url(f"redis://{redis_connection}")
    # Newer rows, then older ones, then a mix with many ties on the hour.
    for spread in (48, 12, 72, 3):
        write_both(random_rows(rng, 400, 150, spread), view, feast_config, ours_config)
        feast, ours = (
            project_hashes(client, projects["feast"]),
            project_hashes(client, projects["ours"]),
        )
        assert len(ours) > 100
        assert ours == feast
    if online.get("key_ttl_seconds"):
        key = next(client.scan_iter(match=b"*" + projects["ours"].encode()))
        assert 3500 < client.ttl(key) <= 3600


def test_an_older_or_equal_time_never_overwrites(
    projects: dict[str, str], redis_connection: str, tmp_path
) -> None:
    view = typed_view()
    config = repo_config(projects["ours"], redis_connection, tmp_path)
    feast_config = repo_config(projects["feast"], redis_connection, tmp_path)
    client = redis.Redis.from_url(f"redis://{redis_connection}")

    def rows(amount: float, when: datetime) -> pa.RecordBatch:
        batch = random_rows(np.random.default_rng(0), 1, 1, 1)
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        columns["amount"] = pa.array([amount])
        columns["event_timestamp"] = pa.array([when], pa.timestamp("us", tz="UTC"))
        return pa.record_batch(columns)

    def stored_amount() -> bytes:
        (fields,) = project_hashes(client, projects["ours"]).values()
        return fields

    noon = BASE + timedelta(hours=12)
    write_both(rows(1.0, noon), view, feast_config, config)
    first = stored_amount()
    writer = write_both(rows(2.0, noon), view, feast_config, config)  # equal time
    assert (writer.counts.written, stored_amount()) == (0, first)
    writer = write_both(rows(3.0, noon - timedelta(microseconds=1)), view, feast_config, config)
    assert (writer.counts.written, stored_amount()) == (0, first)
    writer = write_both(rows(4.0, noon + timedelta(microseconds=1)), view, feast_config, config)
    assert writer.counts.written == 1 and stored_amount() != first
    assert project_hashes(client, projects["ours"]) == project_hashes(client, projects["feast"])


def test_a_refused_write_is_raised_and_the_connection_not_reused(
    projects: dict[str, str], redis_connection: str, tmp_path
) -> None:
    view = typed_view()
    config = repo_config(projects["ours"], redis_connection, tmp_path)
    client = RedisOnlineStore()._get_client(config.online_store)
    batch = random_rows(np.random.default_rng(1), 5, 3, 2)
    keys = entity_key_pieces(batch, {"customer_id": ValueType.INT64}, 3, projects["ours"])
    for key in set(join_ragged(keys, batch.num_rows).to_pylist()):
        client.set(key, b"not a hash")  # Redis answers WRONGTYPE to an HSET on it
    layout = ViewLayout(feature_fields=(b"abcd",) * 7, timestamp_field=b"_ts:typed")
    writer = RedisWriter(client, replace(layout, skip_dedup=True))
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        writer.write(
            keys,
            event_micros(batch.column("event_timestamp")),
            [value_pieces(batch.column(f.name), f.dtype.to_value_type()) for f in view.features],
        )
        writer.close()
    writer.abort()
    assert client.ping()  # the pool hands out a clean connection afterwards
