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
from hypothesis import settings

# Every fuzzer runs the same examples on every run (CI included): derandomised, no
# example database. Each test fixes its own budget (max_examples).
settings.register_profile("skewguard", derandomize=True, database=None)
settings.load_profile("skewguard")

# Redis Cluster fixtures (redis_cluster, cluster_repo) for any test that needs them.
pytest_plugins = ["cluster_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
REPO_SOURCE = ROOT / "feature_repo"
TEST_END = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass(frozen=True)
class RepoCopy:
    path: Path
    project: str
    data: object  # skewguard.demo.datagen.GeneratedData


def copy_feature_repo(dest: Path, project: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for item in REPO_SOURCE.iterdir():
        if item.suffix in {".py", ".yaml"}:
            shutil.copy(item, dest / item.name)
    yaml = dest / "feature_store.yaml"
    yaml.write_text(yaml.read_text().replace("project: skewguard_demo", f"project: {project}"))
    return dest


# Fixtures that need a Redis server: the tests that use them (directly or through other
# fixtures) are marked `redis`, so `make test-fast` (-m "not redis and not browser") skips
# them and never needs a server.
REDIS_FIXTURES = {"redis_connection", "small_repo", "served_repo", "private_redis"}
_embedded: list[Any] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if REDIS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)
        if item.path.name == "test_html_chromium.py":
            item.add_marker(pytest.mark.browser)


def pytest_collection_finish(session: pytest.Session) -> None:
    """With Redis tests selected and no Redis answering, start the embedded redis-server
    (the one the demo uses) for this session, on a free loopback port."""
    if not any(item.get_closest_marker("redis") for item in session.items):
        return
    from skewguard.store.online import EmbeddedRedis, redis_answers, redis_target

    os.environ.setdefault("SKEWGUARD_REDIS", "127.0.0.1:6379")
    if redis_answers(redis_target()):
        return
    server = EmbeddedRedis.start()
    _embedded.append(server)
    os.environ["SKEWGUARD_REDIS"] = server.connection_string
    print(f"\nno Redis answered: started an embedded redis-server at {server.connection_string}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    while _embedded:
        _embedded.pop().stop()


@pytest.fixture()
def private_redis() -> Iterator[Any]:
    """A redis-server of this test's own (to pause, kill or restart), stopped by its pid at
    the end (resumed first in case the test left it paused)."""
    from fault_fixtures import PrivateRedis

    with PrivateRedis.start() as server:
        yield server


@pytest.fixture(scope="session")
def redis_connection() -> str:
    from skewguard.store.online import redis_answers, redis_target

    target = redis_target()
    if not redis_answers(target):
        pytest.fail(f"no Redis answers at {target}, and no embedded redis-server started")
    return target


@pytest.fixture(scope="session")
def small_repo(
    tmp_path_factory: pytest.TempPathFactory, redis_connection: str
) -> Iterator[RepoCopy]:
    """A generated, applied and materialized repo copy (small: a few thousand rows)."""
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir

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
    data: Any  # skewguard.demo.datagen.GeneratedData
    redis: str  # connection string of the private redis-server


@pytest.fixture(scope="session")
def served_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRepo]:
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.online import EmbeddedRedis, materialize
    from skewguard.store.repo import REDIS_ENV, apply_repo, data_dir

    repo = tmp_path_factory.mktemp("served") / "feature_repo"
    repo.mkdir()
    for source in (ROOT / "feature_repo").iterdir():
        if source.suffix == ".py" or source.name == "feature_store.yaml":
            shutil.copy(source, repo / source.name)
    (repo / "extra_services.py").write_text(_EXTRA_SERVICES)

    with EmbeddedRedis.start() as redis:
        # The yaml names the private server, for plain `feast` commands on this repo. The
        # store reads $SKEWGUARD_REDIS (which overrides the yaml) once, when it is built:
        # point it at the private server only for that, so tests of the shared server
        # that run later in the session are not redirected.
        yaml = repo / "feature_store.yaml"
        yaml.write_text(
            yaml.read_text().replace(
                "connection_string: 127.0.0.1:6379",
                f"connection_string: {redis.connection_string}",
            )
        )
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
