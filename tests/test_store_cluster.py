"""Feast's redis_cluster online store, loaded by skewguard's engine (a real 3-master cluster).

The cluster is three redis-server processes on loopback ports, started by the session
fixture and stopped by pid. Writes are grouped by the node owning each key's hash slot;
the hashes must be byte for byte those Feast writes to the same cluster, and Feast's
get_online_features must read the latest offline values back.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow.parquet as pq
import pytest
import redis
from conftest import TEST_END, copy_feature_repo
from redis.cluster import ClusterNode, RedisCluster
from store_fixtures import project_hashes, random_rows, repo_config, typed_view, write_both

from skewguard.store.cluster import LocalRedisCluster, cluster_feature_store
from skewguard.store.online import lookup, redis_answers


def cluster_client(cluster: LocalRedisCluster) -> RedisCluster:
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in cluster.ports])


def test_the_cluster_is_three_masters_on_loopback(redis_cluster: LocalRedisCluster) -> None:
    nodes = cluster_client(redis_cluster).cluster_nodes()
    masters = [address for address, node in nodes.items() if "master" in node["flags"]]
    assert len(masters) == 3
    assert all(address.startswith("127.0.0.1:") for address in masters)
    assert all(process.poll() is None for process in redis_cluster.processes)


@pytest.mark.parametrize("online", [{}, {"key_ttl_seconds": 600}], ids=["default", "key_ttl"])
def test_writes_match_feasts_on_the_cluster(
    redis_cluster: LocalRedisCluster, tmp_path, online: dict
) -> None:
    tag = f"{os.getpid()}_{len(online)}"
    projects = {"feast": f"sgcw_feast_{tag}", "ours": f"sgcw_ours_{tag}"}
    connection = {"redis_type": "redis_cluster", **online}
    feast_config = repo_config(
        projects["feast"], redis_cluster.connection_string, tmp_path, **connection
    )
    ours_config = repo_config(
        projects["ours"], redis_cluster.connection_string, tmp_path, **connection
    )
    client = cluster_client(redis_cluster)
    rng = np.random.default_rng(5)
    for spread in (48, 6, 96):
        write_both(random_rows(rng, 500, 300, spread), typed_view(), feast_config, ours_config)
        feast, ours = (
            project_hashes(client, projects["feast"]),
            project_hashes(client, projects["ours"]),
        )
        assert len(ours) > 200
        assert ours == feast
    # The keys are spread over every master.
    for port in redis_cluster.ports:
        assert redis.Redis(port=port).dbsize() > 0


def test_feast_reads_back_the_latest_offline_values(cluster_repo) -> None:
    customers = pq.read_table(cluster_repo.data.customer_profile).to_pandas()
    latest = customers.sort_values("event_timestamp").groupby("customer_id").tail(1)
    latest = latest.set_index("customer_id")
    rows = [{"customer_id": int(c), "product_id": 1} for c in latest.index[:40]]
    response = lookup(cluster_repo.store, "recommender_v1", rows)
    for i, row in enumerate(rows):
        offline = latest.loc[row["customer_id"]]
        assert response["customer_profile__avg_order_value"][i] == offline["avg_order_value"]
        assert response["customer_profile__age"][i] == offline["age"]
        assert response["customer_profile__loyalty_tier"][i] == offline["loyalty_tier"]
        assert response["customer_profile__recent_categories"][i] == list(
            offline["recent_categories"]
        )
    assert response["customer_product_fit__price_vs_aov"][0] is not None


def test_engine_writes_what_feasts_engine_writes_to_the_cluster(
    cluster_repo, tmp_path, redis_connection: str
) -> None:
    """The same repo and data materialized by Feast's own engine into the same cluster."""
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir

    project = f"{cluster_repo.project}_feast"
    path = copy_feature_repo(tmp_path / "feature_repo", project)
    yaml = path / "feature_store.yaml"
    yaml.write_text(yaml.read_text().split("batch_engine:")[0] + "batch_engine: local\n")
    for name in ("customer_profile", "product_stats"):
        source = data_dir(cluster_repo.path) / f"{name}.parquet"
        data_dir(path).mkdir(parents=True, exist_ok=True)
        (data_dir(path) / source.name).write_bytes(source.read_bytes())
    apply_repo(path)
    store = cluster_feature_store(path, cluster_repo.cluster.connection_string)
    try:
        materialize(store, cluster_repo.data.start, cluster_repo.data.end)
        client = cluster_client(cluster_repo.cluster)
        ours = project_hashes(client, cluster_repo.project)
        assert len(ours) == 180  # 120 customers and 60 products
        assert ours == project_hashes(client, project)
    finally:
        store.teardown()


def test_a_local_cluster_is_stopped_by_pid() -> None:
    with LocalRedisCluster.start(masters=3) as cluster:
        addresses = cluster.connection_string.split(",")
        assert all(redis_answers(address) for address in addresses)
    assert all(process.poll() is not None for process in cluster.processes)
    assert not any(redis_answers(address, timeout=0.2) for address in addresses)
    assert not cluster.workdir.exists()


def test_cluster_store_keeps_the_repo_but_not_its_redis(cluster_repo) -> None:
    config = cluster_repo.store.config
    assert config.online_store.redis_type == "redis_cluster"
    assert config.online_store.connection_string == cluster_repo.cluster.connection_string
    assert config.project == cluster_repo.project
    assert {v.name for v in cluster_repo.store.list_feature_views()} == {
        "customer_profile",
        "product_stats",
    }
    assert cluster_repo.data.end == TEST_END
