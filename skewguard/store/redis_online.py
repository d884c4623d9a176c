"""Feast's Redis online store, connected through skewguard's connection helper.

Feast 0.67 builds its redis-py client from the connection string with no socket timeout
and redis-py's default retry policy (three retries with backoff of up to 10 s), reads
`ssl`/`password` only in its own `host:port,key=value` form, and cannot parse a
`redis://` URL. `RedisOnlineStore` is Feast's store with one change: its sync
and async clients come from `RedisTarget.client()` / `async_client()`, so every online
read and write has connect and read timeouts, honours TLS, accepts both connection-string
forms and retries only a dropped connection.

`use_skewguard_redis(store)` swaps it into an opened `FeatureStore` (the repo's
`feature_store.yaml` keeps `type: redis`, so the plain `feast` CLI works unchanged).
Redis Cluster, Sentinel and the GLIDE client keep Feast's own connection code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feast.infra.online_stores.redis import RedisClient, RedisType
from feast.infra.online_stores.redis import RedisOnlineStore as FeastRedisOnlineStore
from feast.infra.online_stores.redis import RedisOnlineStoreConfig as FeastRedisOnlineStoreConfig

from skewguard.store.connection import RedisTarget, parse_target

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = [
    "RedisOnlineStoreConfig",
    "RedisOnlineStore",
    "use_skewguard_redis",
    "store_target",
]

_SOURCE = "online_store.connection_string"


class RedisOnlineStoreConfig(FeastRedisOnlineStoreConfig):
    """Feast's Redis online store config. Feast finds the store class by this class's name,
    and names the store in its error messages: both keep Feast's names, so `skewguard serve`
    answers exactly as `feast serve` does."""

    source: str = _SOURCE  # where the connection string came from, for messages

    def target(self) -> RedisTarget:
        return parse_target(self.connection_string, source=self.source)


class RedisOnlineStore(FeastRedisOnlineStore):
    """Feast's Redis online store with clients from `skewguard.store.connection`."""

    def _get_client(self, online_store_config: Any) -> Any:
        if not self._client:
            self._client = _target(online_store_config).client()
        return self._client

    async def _get_client_async(self, online_store_config: Any) -> Any:
        if not self._client_async:
            self._client_async = _target(online_store_config).async_client()
        return self._client_async


def _target(config: Any) -> RedisTarget:
    if isinstance(config, RedisOnlineStoreConfig):
        return config.target()
    return parse_target(config.connection_string, source=_SOURCE)


def use_skewguard_redis(
    store: FeatureStore, configured: RedisTarget | None = None
) -> RedisTarget | None:
    """Make `store` use `RedisOnlineStore`; returns its target (None when the
    online store is not a single Redis: cluster, sentinel, GLIDE or another store).
    `configured`: the target feature_store.yaml was loaded with; when the file's
    connection string is that one, messages name where it came from ($SKEWGUARD_REDIS)."""
    config = store.config
    online = config.online_store
    if isinstance(online, RedisOnlineStoreConfig):
        return online.target()
    if not isinstance(online, FeastRedisOnlineStoreConfig):
        return None
    if online.redis_type != RedisType.redis or online.client != RedisClient.redis:
        return None
    source = _SOURCE
    if configured is not None and online.connection_string == configured.feast_string():
        source = configured.source
    swapped = RedisOnlineStoreConfig(**online.model_dump(), source=source)
    target = swapped.target()  # parse now: a bad string fails at open, not at first lookup
    config.online_config = swapped
    config._online_store = swapped  # type: ignore[assignment]  # Feast types it as None
    return target


def store_target(store: FeatureStore) -> RedisTarget | None:
    """The Redis target a store opened by `skewguard.store.repo.open_store` talks to."""
    online = store.config.online_store
    if isinstance(online, RedisOnlineStoreConfig):
        return online.target()
    return None
