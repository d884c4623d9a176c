"""Shared fixtures: private copies of the feature repo with their own small data sets.

`small_repo` runs on the shared Redis under its own Feast project name, so its keys never
collide with the demo's or another test session's. `served_repo` is applied and
materialized into a private redis-server (never the shared one), with two extra feature
services for the logging tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# Redis Cluster fixtures (redis_cluster, cluster_repo) for any test that needs them.
pytest_plugins = ["cluster_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
REPO_SOURCE = ROOT / "feature_repo"
TEST_END = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass(frozen=True)
class RepoCopy:
    path: Path
    project: str
    data: object  # skewguard.datagen.GeneratedData


def copy_feature_repo(dest: Path, project: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for item in REPO_SOURCE.iterdir():
        if item.suffix in {".py", ".yaml"}:
            shutil.copy(item, dest / item.name)
    yaml = dest / "feature_store.yaml"
    yaml.write_text(yaml.read_text().replace("project: skewguard_demo", f"project: {project}"))
    return dest


@pytest.fixture(scope="session")
def redis_connection() -> str:
    from skewguard.online import redis_answers, redis_target

    os.environ.setdefault("SKEWGUARD_REDIS", "127.0.0.1:6379")
    target = redis_target()
    if not redis_answers(target):
        pytest.fail(f"no Redis answers at {target}: start redis-server (see README)")
    return target


@pytest.fixture(scope="session")
def small_repo(
    tmp_path_factory: pytest.TempPathFactory, redis_connection: str
) -> Iterator[RepoCopy]:
    """A generated, applied and materialized repo copy (small: a few thousand rows)."""
    from skewguard.datagen import GeneratorConfig, generate
    from skewguard.online import materialize
    from skewguard.repo import apply_repo, data_dir

    project = f"sgtest_{os.getpid()}"
    path = copy_feature_repo(tmp_path_factory.mktemp("repo") / "feature_repo", project)
    config = GeneratorConfig(customers=120, products=60, days=21, events_per_day=80, end=TEST_END)
    data = generate(data_dir(path), config)
    store = apply_repo(path)
    materialize(store, data.start, data.end)
    yield RepoCopy(path=path, project=project, data=data)
    store.teardown()  # drops this project's keys from Redis


# Extra services for tests only: a batch-only service sampled at 10% (fast lookups, no
# on-demand transform) and a service that declares no logging.
_EXTRA_SERVICES = """
from pathlib import Path

from feast import FeatureService
from feast.feature_logging import LoggingConfig
from feast.infra.offline_stores.file_source import FileLoggingDestination
from feature_views import customer_profile, product_stats

batch_sampled = FeatureService(
    name="batch_sampled",
    features=[customer_profile, product_stats],
    logging_config=LoggingConfig(
        destination=FileLoggingDestination(
            path=str(Path(__file__).resolve().parent / "data" / "logs" / "batch_sampled"),
            partition_by=["__log_date"],
        ),
        sample_rate=0.1,
    ),
)

unlogged = FeatureService(name="unlogged", features=[product_stats])
"""


@dataclass(frozen=True)
class ServedRepo:
    path: Path
    store: Any  # feast.FeatureStore
    data: Any  # skewguard.datagen.GeneratedData
    redis: str  # connection string of the private redis-server


@pytest.fixture(scope="session")
def served_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRepo]:
    from skewguard.datagen import GeneratorConfig, generate
    from skewguard.online import EmbeddedRedis, materialize
    from skewguard.repo import REDIS_ENV, apply_repo, data_dir

    repo = tmp_path_factory.mktemp("served") / "feature_repo"
    repo.mkdir()
    for source in (ROOT / "feature_repo").iterdir():
        if source.suffix == ".py" or source.name == "feature_store.yaml":
            shutil.copy(source, repo / source.name)
    (repo / "extra_services.py").write_text(_EXTRA_SERVICES)

    with EmbeddedRedis.start() as redis:
        # The store reads the connection string once, when it is built: point the
        # environment at the private server only for that, so tests of the shared server
        # that run later in the session are not redirected.
        previous = os.environ.get(REDIS_ENV)
        os.environ[REDIS_ENV] = redis.connection_string
        try:
            data = generate(
                data_dir(repo),
                GeneratorConfig(customers=60, products=40, days=21, events_per_day=10),
            )
            store = apply_repo(repo)
            materialize(store, data.start, data.end)
        finally:
            if previous is None:
                os.environ.pop(REDIS_ENV, None)
            else:
                os.environ[REDIS_ENV] = previous
        yield ServedRepo(repo, store, data, redis.connection_string)
