"""`POST /get-online-features` as `feast serve` answers it, with the response logged.

`replace_online_features_route` swaps the route in Feast's app for one that takes Feast's
request model (`GetOnlineFeaturesRequest`), resolves the features and checks permissions
with Feast's own function, records Feast's request metrics and audit log, reads through
`FeatureStore.get_online_features` and answers with Feast's `convert_response_to_dict`:
the same body, status codes and errors (raised exceptions go to Feast's exception
handler). Then the response goes to the service's serving log (`ServingLogs.record`).

The lookup, the logging and the conversion run in one worker thread (Feast's route
reads Redis on the event loop and converts in a second thread), so a request costs one
thread hand-over.

With `fast_read`, feature services are read through skewguard's fast read path, which
answers what Feast answers (the body is built from its proto the same way).

Three checks Feast does not make: entity ids that Feast would silently convert (`1.5` or
`true` for an integer join key) are refused with 422 (`skewguard.serving.entity_values`);
while Redis does not answer, lookups are refused at once with 503
(`skewguard.serving.availability`); and a caller's `X-Request-Id` is kept as the prefix of
the logged id, never as the whole id, so no caller can make two requests share an id.

No `from __future__ import annotations` here: FastAPI reads the route's annotations to
know that `request` is the JSON body and `http` the request itself.
"""

import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from skewguard.serving.limits import RequestLimits, check_entity_rows

if TYPE_CHECKING:
    from fastapi import FastAPI
    from feast import FeatureStore

    from skewguard.serving.availability import OnlineStoreGuard
    from skewguard.serving.logs import ServingLogs

__all__ = [
    "ONLINE_FEATURES_PATH",
    "REQUEST_ID_HEADER",
    "CORRECTED_HEADER",
    "replace_online_features_route",
    "given_request_id",
    "log_request_id",
]

ONLINE_FEATURES_PATH = "/get-online-features"
REQUEST_ID_HEADER = "x-request-id"
CORRECTED_HEADER = "x-skewguard-corrected-statuses"


def replace_online_features_route(
    app: "FastAPI",
    store: "FeatureStore",
    logs: "ServingLogs",
    limits: RequestLimits,
    guard: "OnlineStoreGuard",
    fast_read: bool = False,
) -> None:
    """Replace Feast's `get-online-features` route in `app` with the logged one.

    fast_read: look feature services up through skewguard's fast read path
    (`skewguard.store.redis_reader.FastReader`: Feast's answer, straight from Redis)."""
    from fastapi import Depends, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse
    from feast import metrics as feast_metrics
    from feast.feature_server import (
        GetOnlineFeaturesRequest,
        OnlineFeaturesResponse,
        _emit_online_audit,
        _get_features,
        _resolve_feature_counts,
        bin_feature_count,
    )
    from feast.feature_server_utils import convert_response_to_dict
    from feast.infra.feature_servers.base_config import MetricsConfig
    from feast.permissions.server.rest import inject_user_details

    from skewguard.serving.entity_values import JoinKeyTypes, check_entity_values

    _remove_route(app, ONLINE_FEATURES_PATH, "POST")
    metrics_config = getattr(getattr(store.config, "feature_server", None), "metrics", None)
    bins = getattr(metrics_config, "feature_count_bins", MetricsConfig().feature_count_bins)
    join_keys = JoinKeyTypes(store)
    lookup = store.get_online_features
    if fast_read:
        from skewguard.store.redis_reader import FastReader

        lookup = FastReader(store).get_online_features

    def serve(request: Any, features: Any, request_id: str, corrected: bool) -> Any:
        check_entity_values(request.entities, join_keys.of(features))
        guard.admit()
        started = logs.now()
        try:
            response = lookup(
                features=features,
                entity_rows=request.entities,
                full_feature_names=request.full_feature_names,
                include_feature_view_version_metadata=request.include_feature_view_version_metadata,
            )
        except Exception as err:
            unavailable = guard.failed(err)
            if unavailable is not None:
                raise unavailable from err
            raise
        logs.record(
            features,
            response,
            request.entities,
            full_feature_names=request.full_feature_names,
            request_time=started,
            request_id=request_id,
            corrected_statuses=corrected,
        )
        return convert_response_to_dict(response.proto)

    @app.post(
        ONLINE_FEATURES_PATH,
        dependencies=[Depends(inject_user_details)],
        response_model=OnlineFeaturesResponse,
    )
    async def get_online_features(request: GetOnlineFeaturesRequest, http: Request) -> Any:
        with feast_metrics.track_request_latency(ONLINE_FEATURES_PATH) as metrics_ctx:
            features = await _get_features(request, store)
            feature_count, view_count = _resolve_feature_counts(features)
            metrics_ctx.feature_count = bin_feature_count(int(feature_count), bins)
            metrics_ctx.feature_view_count = view_count
            entity_count = len(next(iter(request.entities.values()), []))
            feast_metrics.track_online_features_entities(entity_count)
            check_entity_rows(entity_count, limits)

            request_id = log_request_id(http.headers)
            corrected = _truthy(http.headers.get(CORRECTED_HEADER))
            audit = feast_metrics._config.audit_logging
            started_ms = time.monotonic() * 1000 if audit else 0.0
            status = "success"
            try:
                content = await run_in_threadpool(serve, request, features, request_id, corrected)
            except Exception:
                status = "error"
                raise
            finally:
                if audit:
                    latency_ms = time.monotonic() * 1000 - started_ms
                    _emit_online_audit(request, features, entity_count, status, latency_ms)
            return JSONResponse(content=content, headers={REQUEST_ID_HEADER: request_id})


def given_request_id(headers: Mapping[str, str]) -> str | None:
    """The caller's `X-Request-Id`, when it is 1-128 visible ASCII characters."""
    given = headers.get(REQUEST_ID_HEADER)
    if given and len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return None


def log_request_id(headers: Mapping[str, str]) -> str:
    """The `__request_id` of a request: a new uuid4 hex, after the caller's `X-Request-Id`
    and `~` when it gave one. The last 32 characters are always new, so a caller reusing
    an id cannot make two requests share one."""
    new = uuid.uuid4().hex
    given = given_request_id(headers)
    return f"{given}~{new}" if given else new


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _remove_route(app: "FastAPI", path: str, method: str) -> None:
    from fastapi.routing import APIRoute

    kept = [
        route
        for route in app.router.routes
        if not (
            isinstance(route, APIRoute) and route.path == path and method in (route.methods or ())
        )
    ]
    if len(kept) != len(app.router.routes) - 1:
        raise RuntimeError(f"Feast's app has no single {method} {path} route to replace")
    app.router.routes[:] = kept
