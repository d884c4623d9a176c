"""Serving logs and replay with the online store on a Redis Cluster (three real masters).

The cluster and the materialized repo are the session fixtures of cluster_fixtures.py
(loopback ports, stopped by pid). What must hold on a cluster as on one Redis:

- the logging lookup logs exactly what Feast read from the cluster, with true statuses;
- `skewguard serve`, started on a repo whose feature_store.yaml says `redis_cluster`,
  serves Feast's answers from the cluster and logs them (even with $SKEWGUARD_REDIS set:
  that names a single server, and the cluster yaml names its own nodes);
- replaying those logs through the offline store finds no mismatch, and finds the one
  entity whose online value was changed behind the offline store's back.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from server_processes import call, skewguard_serve

from skewguard.logschema import FieldStatus
from skewguard.serving.logger import FeatureLogger
from skewguard.serving.writer import WriterConfig
from skewguard.store.online import lookup
from skewguard.store.replay import read_serving_logs, replay

pytestmark = pytest.mark.slow
SERVICE = "recommender_v1"
QUIET = WriterConfig(flush_interval=60.0, handle_sigterm=False)


def entity_rows(cluster_repo: Any, n: int) -> list[dict[str, int]]:
    import pyarrow.parquet as pq

    customers = pq.read_table(cluster_repo.data.customer_profile, columns=["customer_id"])
    products = pq.read_table(cluster_repo.data.product_stats, columns=["product_id"])
    c = sorted(set(customers.column(0).to_pylist()))
    p = sorted(set(products.column(0).to_pylist()))
    rows = [{"customer_id": c[i % len(c)], "product_id": p[(7 * i) % len(p)]} for i in range(n)]
    return [*rows, {"customer_id": 99_999, "product_id": p[0]}]


def log_through_cluster(cluster_repo: Any, folder: Path, rows: list[dict[str, int]]) -> Any:
    """Logged lookups on the cluster at a moment just after the materialized window."""
    moment = cluster_repo.data.end + timedelta(minutes=5)
    with FeatureLogger(cluster_repo.store, writer_config=QUIET, log_root=folder, seed=1) as fl:
        responses = [
            fl.get_online_features(
                SERVICE, rows[i : i + 10], request_time=moment, full_feature_names=True
            )
            for i in range(0, len(rows), 10)
        ]
        assert fl.flush()
        layout = fl.layout(SERVICE)
    return responses, layout


def test_logged_lookups_on_the_cluster_log_what_feast_read(
    cluster_repo: Any, tmp_path: Path
) -> None:
    rows = entity_rows(cluster_repo, 30)
    responses, layout = log_through_cluster(cluster_repo, tmp_path, rows)
    log = ds.dataset(tmp_path / SERVICE).to_table().to_pydict()
    received: dict[str, list[Any]] = {}
    for response in responses:
        for name, values in response.to_dict().items():
            received.setdefault(name, []).extend(values)
    assert len(log["__request_id"]) == len(rows)
    direct = lookup(cluster_repo.store, SERVICE, rows)
    for spec in layout.features:
        assert log[spec.column] == received[spec.column] == direct[spec.column], spec.column
    # the unknown customer is logged NOT_FOUND (Feast says PRESENT with a null)
    status = log["customer_profile__age__status"]
    assert status[-1] == FieldStatus.NOT_FOUND
    assert status[:-1] == [FieldStatus.PRESENT] * (len(rows) - 1)


def test_replay_of_cluster_logs_agrees_then_finds_a_changed_value(
    cluster_repo: Any, tmp_path: Path
) -> None:
    rows = entity_rows(cluster_repo, 40)
    log_through_cluster(cluster_repo, tmp_path / "clean", rows)
    clean = replay(cluster_repo.store, SERVICE, read_serving_logs(tmp_path / "clean" / SERVICE))
    assert clean.replayed_rows == len(rows)
    for feature in clean.features:
        assert feature.diff_count == 0, (feature.name, feature.causes)

    # One customer's hash on its master gets a different age, newer than offline's row:
    # what a second writer (a transformation written twice) would leave online.
    import pandas as pd

    victim = rows[0]["customer_id"]
    store = cluster_repo.store
    view = store.get_feature_view("customer_profile")
    current = lookup(store, SERVICE, [{"customer_id": victim, "product_id": rows[0]["product_id"]}])
    frame = pd.DataFrame(
        {
            "customer_id": [victim],
            "event_timestamp": [pd.Timestamp(cluster_repo.data.end + timedelta(minutes=1))],
            "created_timestamp": [pd.Timestamp(cluster_repo.data.end)],
            **{
                f.name: [current[f"customer_profile__{f.name}"][0]]
                for f in view.features
                if f.name != "age"
            },
            "age": [int(current["customer_profile__age"][0]) + 40],
        }
    )
    store.write_to_online_store("customer_profile", frame)
    try:
        log_through_cluster(cluster_repo, tmp_path / "changed", rows)
        logs = read_serving_logs(tmp_path / "changed" / SERVICE)
        changed = {f.name: f for f in replay(store, SERVICE, logs).features}
        age = changed["customer_profile__age"]
        assert age.mismatch_count == sum(r["customer_id"] == victim for r in rows) >= 1
        assert changed["customer_profile__avg_order_value"].mismatch_count == 0
    finally:
        restore(cluster_repo, victim)
    again = lookup(store, SERVICE, [{"customer_id": victim, "product_id": rows[0]["product_id"]}])
    assert again["customer_profile__age"] == current["customer_profile__age"]


def restore(cluster_repo: Any, customer: int) -> None:
    """Put the session's cluster back as materialized: the changed hash is newer than any
    offline row, so it is deleted and the repo materialized again."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from redis.cluster import ClusterNode, RedisCluster

    entity = EntityKey(join_keys=["customer_id"], entity_values=[Value(int64_val=customer)])
    key = serialize_entity_key(entity, entity_key_serialization_version=3)
    nodes = [ClusterNode("127.0.0.1", port) for port in cluster_repo.cluster.ports]
    client = RedisCluster(startup_nodes=nodes)
    try:
        assert client.delete(key + cluster_repo.project.encode()) == 1
    finally:
        client.close()
    cluster_repo.store.materialize(cluster_repo.data.start, cluster_repo.data.end)


def cluster_repo_copy(cluster_repo: Any, dest: Path) -> Path:
    """The materialized repo with its yaml pointing at the cluster, as a user writes it."""
    shutil.copytree(cluster_repo.path, dest, ignore=shutil.ignore_patterns("__pycache__"))
    yaml = dest / "feature_store.yaml"
    text = yaml.read_text()
    single = "  type: redis\n  connection_string: 127.0.0.1:6379\n"
    assert single in text
    cluster = (
        "  type: redis\n  redis_type: redis_cluster\n"
        f'  connection_string: "{cluster_repo.cluster.connection_string}"\n'
    )
    yaml.write_text(text.replace(single, cluster))
    return dest


def test_skewguard_serve_on_a_cluster_yaml_logs_the_served_values(
    cluster_repo: Any, tmp_path: Path
) -> None:
    repo = cluster_repo_copy(cluster_repo, tmp_path / "repo")
    logs = tmp_path / "logs"
    rows = entity_rows(cluster_repo, 12)
    entities = {k: [r[k] for r in rows] for k in ("customer_id", "product_id")}
    server = skewguard_serve(
        repo,
        tmp_path / "serve.log",
        "--log-root",
        str(logs),
        "--max-requests",
        "0",
        # a single-server address that must not replace the cluster's nodes
        env={"SKEWGUARD_REDIS": "127.0.0.1:6379"},
    )
    try:
        body = {"feature_service": SERVICE, "entities": entities, "full_feature_names": True}
        reply = call(server.port, "POST", "/get-online-features", body)
        assert reply.status == 200, reply.raw[:500]
    finally:
        assert server.stop() == 0, server.output()[-2000:]
    names = reply.body["metadata"]["feature_names"]
    served = {n: r["values"] for n, r in zip(names, reply.body["results"], strict=True)}
    direct = lookup(cluster_repo.store, SERVICE, rows)
    assert served["customer_profile__loyalty_tier"] == direct["customer_profile__loyalty_tier"]
    assert served["product_stats__price"] == direct["product_stats__price"]
    log = ds.dataset(logs / SERVICE).to_table().to_pydict()
    assert log["customer_id"] == entities["customer_id"]
    for name in ("customer_profile__loyalty_tier", "product_stats__price"):
        assert log[name] == served[name], name
