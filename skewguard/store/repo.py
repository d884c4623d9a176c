"""Opening and applying the Feast feature repo, and choosing its feature service.

The repo is found by `skewguard.store.location.locate_repo` (as the `feast` CLI finds it).
`feature_store.yaml` names its Redis itself; `$SKEWGUARD_REDIS`, when set, replaces that
connection string for skewguard (the tests and the demo's embedded Redis use it).

Feast is imported inside functions only: importing it takes seconds, and most
skewguard commands (a check from parquet files, `--help`) never need it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import FeatureRepoError, OnlineStoreError
from skewguard.store.connection import DEFAULT_REDIS, REDIS_ENV, RedisTarget, resolve_target
from skewguard.store.location import REPO_ENV, RepoLocation, locate_repo
from skewguard.store.redaction import redact

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

__all__ = [
    "DEFAULT_REDIS",
    "REDIS_ENV",
    "REPO_ENV",
    "RepoLocation",
    "find_repo",
    "locate_repo",
    "open_store",
    "choose_feature_service",
    "apply_repo",
    "get_feature_service",
    "data_dir",
    "redis_failure",
    "store_redis_target",
]


def find_repo(repo: str | Path | None = None) -> Path:
    """The feature repo folder (`locate_repo`: the argument, the variables, the folders)."""
    return locate_repo(repo).folder


def data_dir(repo: Path) -> Path:
    """Where generated sources, the registry and serving logs live."""
    return repo / "data"


def open_store(repo: str | Path | None = None) -> FeatureStore:
    """A FeatureStore for the repo (`locate_repo`), its Redis reached through skewguard's
    connection helper (`skewguard.store.connection`: timeouts, TLS, URLs, masked passwords).

    feature_store.yaml names its Redis itself; `$SKEWGUARD_REDIS`, when set, replaces that
    connection string for skewguard (the tests and the demo's embedded Redis use it),
    unless the yaml's Redis is a cluster (`redis_type: redis_cluster`) or a sentinel."""
    location = locate_repo(repo)
    configured = resolve_target(env=(REDIS_ENV,)) if os.environ.get(REDIS_ENV) else None
    from feast import FeatureStore

    from skewguard.store.redis_online import use_skewguard_redis

    _quiet_known_feast_warnings()
    try:
        store = FeatureStore(
            repo_path=str(location.folder), config=_load_config(location, configured)
        )
    except FeatureRepoError:
        raise
    except Exception as err:  # Feast raises many types for a bad yaml
        raise FeatureRepoError(
            f"cannot load the feature repo: {redact(err)}",
            where=str(location.config),
            hint="fix the file; `feast plan` in that folder shows Feast's own diagnosis",
        ) from err
    use_skewguard_redis(store, configured)
    return store


def _load_config(location: RepoLocation, target: RedisTarget | None) -> Any:
    from feast.repo_config import load_repo_config

    config = load_repo_config(location.folder, location.config)
    online = config.online_store
    # A cluster or sentinel yaml names its own nodes: $SKEWGUARD_REDIS (one server) is
    # for the single-Redis yaml only.
    single = str(getattr(online, "redis_type", "redis")).rsplit(".", 1)[-1] == "redis"
    if target is not None and getattr(online, "type", None) == "redis" and single:
        online.connection_string = target.feast_string()
    return config


def _quiet_known_feast_warnings() -> None:
    # Importing Feast puts its own warning filters first ("once" for every runtime and
    # deprecation warning), so these go in after it: two warnings on every run that a
    # user cannot act on (on-demand views are "experimental"; ibis, under Feast's duckdb
    # code, calls a deprecated duckdb method).
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental")
    warnings.filterwarnings("ignore", message=r"fetch_arrow_table\(\) is deprecated")


@contextlib.contextmanager
def _inside_repo(path: Path) -> Iterator[None]:
    # Feast imports the repo's .py files by module name relative to the current
    # directory, so parsing must run from the repo with the repo on sys.path. The
    # modules have generic names (entities, feature_views): drop any cached copy from
    # another repo so paths computed from __file__ are this repo's.
    for py in path.glob("*.py"):
        sys.modules.pop(py.stem, None)
    previous_cwd = Path.cwd()
    sys.path.insert(0, str(path))
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(path))


def apply_repo(repo: str | Path | None = None) -> FeatureStore:
    """`feast apply` in-process: register the repo's objects and create online tables."""
    path = find_repo(repo)
    store = open_store(path)
    data_dir(path).mkdir(parents=True, exist_ok=True)
    from feast.repo_operations import parse_repo

    with _inside_repo(path):
        contents = parse_repo(path)
    objects: list[Any] = [
        *contents.entities,
        *contents.data_sources,
        *contents.feature_views,
        *contents.on_demand_feature_views,
        *contents.feature_services,
    ]
    try:
        store.apply(objects)
    except Exception as err:
        _raise_if_redis_error(err, store)
        raise
    return store


def get_feature_service(store: FeatureStore, name: str) -> FeatureService:
    """The named feature service, or an error listing the ones that exist."""
    services = {fs.name: fs for fs in store.list_feature_services()}
    if name not in services:
        known = ", ".join(sorted(services)) or "none (run `skewguard apply` first)"
        raise FeatureRepoError(
            f"no feature service named {name!r}",
            where=str(store.repo_path),
            hint=f"choose one of: {known}",
        )
    return services[name]


def choose_feature_service(store: FeatureStore, name: str | None = None) -> str:
    """`name` when given; else the repo's only feature service, else the only one with a
    `logging_config`; else FeatureRepoError listing the choices."""
    if name:
        return get_feature_service(store, name).name
    services = sorted(store.list_feature_services(), key=lambda s: s.name)
    logged = [s for s in services if s.logging_config is not None]
    for candidates in (services, logged):
        if len(candidates) == 1:
            return str(candidates[0].name)
    if not services:
        raise FeatureRepoError(
            "the feature repo has no feature service",
            where=str(store.repo_path),
            hint="define a FeatureService and run `skewguard apply` (or `feast apply`)",
        )
    described = ", ".join(
        s.name + (" (logged)" if s.logging_config is not None else "") for s in services
    )
    raise FeatureRepoError(
        f"which feature service? The repo has {len(services)}, "
        f"{len(logged)} of them with a logging_config",
        where=str(store.repo_path),
        hint=f"pass --feature-service NAME, one of: {described}",
    )


def _raise_if_redis_error(err: BaseException, store: FeatureStore) -> None:
    import redis

    if isinstance(err, redis.exceptions.RedisError):
        raise redis_failure(err, store, "apply the feature repo") from err


def store_redis_target(store: FeatureStore | None = None) -> RedisTarget:
    """The Redis `store` talks to (opened by `open_store`), else the configured one."""
    if store is not None:
        from skewguard.store.redis_online import store_target

        found = store_target(store)
        if found is not None:
            return found
    return resolve_target(env=(REDIS_ENV,))


def redis_failure(err: BaseException, store: FeatureStore | None, action: str) -> OnlineStoreError:
    """The package's error for a failed Redis call: rejected password, timeout, TLS or
    unreachable, said as such, the password masked."""
    from skewguard.store.redis_errors import online_store_error

    return online_store_error(err, store_redis_target(store), action)
