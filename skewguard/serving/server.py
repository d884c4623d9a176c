"""`skewguard serve`'s app: Feast's own feature server, with `get-online-features` logged.

`create_app` builds the app `feast serve` runs (`feast.feature_server.get_app`: every
endpoint, request model, status code and error shape is Feast's, registry refresh
included) and changes one thing: `POST /get-online-features` is answered by the logged
route of `skewguard.serving.online_route`, which serves exactly what Feast's route serves
and also hands each sampled request's response to the feature service's serving log.

Additions, all optional for a caller:
- `X-Request-Id` (request header, up to 128 visible ASCII characters) starts the log's
  `__request_id` (`<id>~<32 hex digits>`, unique per request); the response header
  `X-Request-Id` carries the id logged;
- the header `X-Skewguard-Corrected-Statuses: true` answers with the true statuses of
  the log (values and timestamps unchanged);
- `GET /serving-logs` returns the log writers' counters;
- `GET /health` is Feast's, and also 503 (with the reason) when Redis does not answer;
  `GET /ready` checks the online store and the serving-log writers;
- lookups while Redis does not answer are refused at once with 503 (`availability`);
- entity ids Feast would silently convert (`1.5`, `true` for an integer key) get 422;
- `RequestLimits` answers 413 to bodies (4 MiB by default) or entity lists over a limit,
  and 408 to bodies that do not arrive in time.

The serving logs open when the app starts (in each worker process, after the fork) and
close, flushing every accepted row, when it shuts down.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from skewguard.serving.availability import OnlineStoreGuard
from skewguard.serving.health import replace_health_route
from skewguard.serving.limits import RequestLimits, add_body_limit
from skewguard.serving.logs import LogOptions, ServingLogs
from skewguard.serving.online_route import replace_online_features_route

if TYPE_CHECKING:
    from fastapi import FastAPI
    from feast import FeatureStore

__all__ = ["create_app", "LogOptions", "RequestLimits", "SERVING_LOGS_PATH"]

SERVING_LOGS_PATH = "/serving-logs"


def create_app(
    store: FeatureStore,
    *,
    log_options: LogOptions | None = None,
    limits: RequestLimits | None = None,
    registry_ttl_sec: int | None = None,
    freeze_gc: bool = False,
    fast_read: bool = False,
) -> FastAPI:
    """Feast's feature-server app for `store`, with `get-online-features` logged.

    `freeze_gc` (for a server process, not a library caller): once started, move every
    object alive to the collector's permanent generation (`gc.freeze`). `fast_read`: look
    feature services up through the fast read path (`skewguard.store.redis_reader`).
    """
    from feast.constants import DEFAULT_FEATURE_SERVER_REGISTRY_TTL
    from feast.feature_server import get_app

    if registry_ttl_sec is None:
        registry_ttl_sec = DEFAULT_FEATURE_SERVER_REGISTRY_TTL
    app = get_app(store, registry_ttl_sec=registry_ttl_sec)
    logs = ServingLogs(store, log_options or LogOptions())
    limits = limits or RequestLimits()
    guard = OnlineStoreGuard(_redis_target(store))
    replace_online_features_route(app, store, logs, limits, guard, fast_read=fast_read)
    replace_health_route(app, store, logs, guard)
    _add_serving_logs_route(app, logs)

    def start() -> None:
        logs.open()
        if freeze_gc:
            # Start-up objects (Feast, pandas, the registry) live as long as the process:
            # keep the collector from scanning them again and again, a visible cost at p99.
            gc.collect()
            gc.freeze()

    _run_around_lifespan(app, start=start, stop=logs.close)
    add_body_limit(app, limits)
    app.state.serving_logs = logs
    app.state.online_store_guard = guard
    return app


def _redis_target(store: FeatureStore) -> Any:
    from skewguard.store.redis_online import store_target

    return store_target(store)


def _add_serving_logs_route(app: FastAPI, logs: ServingLogs) -> None:
    from fastapi.responses import JSONResponse

    @app.get(SERVING_LOGS_PATH, response_class=JSONResponse)
    async def serving_logs() -> Any:
        return JSONResponse(content=logs.counters())


def _run_around_lifespan(
    app: FastAPI, *, start: Callable[[], Any], stop: Callable[[], Any]
) -> None:
    """Run `start` after Feast's start-up and `stop` before Feast's shutdown."""
    feast_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with feast_lifespan(app) as state:
            start()
            try:
                yield state
            finally:
                stop()

    app.router.lifespan_context = lifespan
