"""Shared fixtures. `served_repo`: a small copy of the feature repo, applied and
materialized once per session into a private redis-server (never the shared one)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

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

    previous = os.environ.get(REDIS_ENV)
    with EmbeddedRedis.start() as redis:
        os.environ[REDIS_ENV] = redis.connection_string
        try:
            data = generate(
                data_dir(repo),
                GeneratorConfig(customers=60, products=40, days=21, events_per_day=10),
            )
            store = apply_repo(repo)
            materialize(store, data.start, data.end)
            yield ServedRepo(repo, store, data, redis.connection_string)
        finally:
            if previous is None:
                os.environ.pop(REDIS_ENV, None)
            else:
                os.environ[REDIS_ENV] = previous
