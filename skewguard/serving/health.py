"""`GET /health` (liveness, Feast's plus Redis) and `GET /ready` (can this server serve?).

Feast's `/health` answers 200 as long as the registry can be read, also while every
lookup fails because Redis does not answer. Here:

- `/health`: Feast's check first (503 with an empty body when the registry cannot be
  read, as Feast answers); then Redis is PINGed (within 0.5 s): 503 with
  `{"status": "unavailable", "online_store": {...}}` when it does not answer; otherwise
  Feast's own answer, 200 with an empty body.
- `/ready`: 200 or 503 with `{"ready": bool, "online_store": {...}, "serving_logs":
  {"ok": bool, "services": {name: {"ok", "detail"}}}}`; not ready when Redis does not
  answer, or when a log writer cannot keep rows (stopped, or its spool unwritable: the
  answered rows would be in memory only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from feast import FeatureStore

    from skewguard.serving.availability import OnlineStoreGuard
    from skewguard.serving.logs import ServingLogs

__all__ = ["HEALTH_PATH", "READY_PATH", "replace_health_route"]

HEALTH_PATH = "/health"
READY_PATH = "/ready"


def replace_health_route(
    app: FastAPI, store: FeatureStore, logs: ServingLogs, guard: OnlineStoreGuard
) -> None:
    """Swap Feast's `/health` for one that also asks Redis; add `/ready`."""
    from fastapi import Response, status
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

    from skewguard.serving.online_route import _remove_route

    _remove_route(app, HEALTH_PATH, "GET")

    # No return annotation: FastAPI would put it into the OpenAPI document, which then
    # would differ from Feast's.
    @app.get(HEALTH_PATH)
    async def health():  # type: ignore[no-untyped-def]
        try:
            await run_in_threadpool(store.registry.list_projects, allow_cache=True)
        except Exception:
            return Response(status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        state = await run_in_threadpool(guard.check)
        if not state.ok:
            return JSONResponse(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                content={"status": "unavailable", "online_store": state.to_dict()},
            )
        return Response(status_code=status.HTTP_200_OK)

    @app.get(READY_PATH)
    async def ready() -> Any:
        state = await run_in_threadpool(guard.check)
        writers = logs.readiness()
        writers_ok = all(entry["ok"] for entry in writers.values())
        ok = state.ok and writers_ok
        return JSONResponse(
            status_code=status.HTTP_200_OK if ok else status.HTTP_503_SERVICE_UNAVAILABLE,
            content={
                "ready": ok,
                "online_store": state.to_dict(),
                "serving_logs": {"ok": writers_ok, "services": writers},
            },
        )
