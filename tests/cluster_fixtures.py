"""Redis Cluster fixtures (registered in conftest.py, usable by any test).

`redis_cluster`: three masters on free loopback ports, started once per session and
stopped by pid at the end (skewguard.store.cluster.LocalRedisCluster).

`cluster_repo`: a copy of the feature repo with its own small data set, applied, and
materialized into that cluster with skewguard's batch engine through a FeatureStore
configured for the cluster (skewguard.store.cluster.cluster_feature_store). Tests of
lookups, serving logs or replay on a cluster use `cluster_repo.store`, or build their
own store with `cluster_feature_store(cluster_repo.path, redis_cluster.connection_string)`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import TEST_END, copy_feature_repo

from skewguard.store.cluster import LocalRedisCluster, cluster_feature_store


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster.start(masters=3) as cluster:
        yield cluster


@dataclass(frozen=True)
class ClusterRepo:
    path: Any  # pathlib.Path of the repo copy
    project: str
    store: Any  # feast.FeatureStore whose online store is the cluster
    data: Any  # skewguard.demo.datagen.GeneratedData
    cluster: LocalRedisCluster


@pytest.fixture(scope="session")
def cluster_repo(
    tmp_path_factory: pytest.TempPathFactory, redis_cluster: LocalRedisCluster
) -> Iterator[ClusterRepo]:
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir

    project = f"sgcluster_{os.getpid()}"
    path = copy_feature_repo(tmp_path_factory.mktemp("cluster") / "feature_repo", project)
    data = generate(
        data_dir(path),
        GeneratorConfig(customers=120, products=60, days=21, events_per_day=80, end=TEST_END),
    )
    apply_repo(path)  # the registry (a first apply deletes nothing online)
    store = cluster_feature_store(path, redis_cluster.connection_string)
    materialize(store, data.start, data.end)
    yield ClusterRepo(path, project, store, data, redis_cluster)
    store.teardown()
