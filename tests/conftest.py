"""Shared fixtures: a private copy of the feature repo with its own small data set.

The copy gets its own Feast project name, so its Redis keys never collide with the
demo's or another test session's on the shared server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

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
