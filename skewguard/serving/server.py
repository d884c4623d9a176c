"""An HTTP feature server compatible with `feast serve`, every served feature logged.

`POST /get-online-features` takes `feast serve`'s request body
(`{"feature_service": ..., "entities": {key: [values]}, "full_feature_names": ...}`) and
answers with the same JSON (`metadata.feature_names`, `results[].values / statuses /
event_timestamps`), built by Feast's own `convert_response_to_dict`. Lookups go through a
`FeatureLogger`, so each entity row of a sampled request lands in the service's log.

Additions, all optional for the caller:
- `"corrected_statuses": true` in the body, or the header
  `X-Skewguard-Corrected-Statuses: true`, answers with the true statuses of the log;
- `X-Request-Id` (request header, up to 128 visible ASCII characters) becomes the log's
  `__request_id`; the response header `X-Request-Id` always carries the id used;
- `GET /health` returns `{"status": "ok", "serving_logs": {service: writer counters}}`.

Limits: bodies over `max_body_bytes` get 413, requests over `max_entities` entity rows
get 413; a body that is not the request above gets 400 with what is wrong and a hint;
an unknown feature service gets 404; an unreachable Redis gets 503.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from skewguard.errors import FeatureRepoError, InputError, OnlineStoreError, SkewguardError

if TYPE_CHECKING:
    from skewguard.serving.logger import FeatureLogger

__all__ = ["ServerLimits", "OnlineFeaturesRequest", "parse_request", "create_app"]

CORRECTED_HEADER = "x-skewguard-corrected-statuses"
REQUEST_ID_HEADER = "x-request-id"

_KNOWN_KEYS = {
    "feature_service",
    "features",
    "entities",
    "full_feature_names",
    "include_feature_view_version_metadata",
    "corrected_statuses",
}


@dataclass(frozen=True)
class ServerLimits:
    max_body_bytes: int = 1_048_576
    max_entities: int = 1_000


@dataclass(frozen=True)
class OnlineFeaturesRequest:
    feature_service: str
    entities: dict[str, list[Any]]
    full_feature_names: bool
    corrected_statuses: bool

    @property
    def rows(self) -> int:
        return len(next(iter(self.entities.values())))


class RequestError(Exception):
    """A request the server refuses; `status` is the HTTP code."""

    def __init__(self, status: int, what: str, hint: str) -> None:
        super().__init__(what)
        self.status = status
        self.what = what
        self.hint = hint

    def response(self) -> JSONResponse:
        return JSONResponse(
            status_code=self.status, content={"error": self.what, "hint": self.hint}
        )


def parse_request(body: Any, limits: ServerLimits) -> OnlineFeaturesRequest:
    """Validate a decoded JSON body; raises RequestError with a 4xx status."""
    example = 'e.g. {"feature_service": "recommender_v1", "entities": {"customer_id": [1]}}'
    if not isinstance(body, dict):
        raise RequestError(400, "the body must be a JSON object", example)
    unknown = sorted(set(body) - _KNOWN_KEYS)
    if unknown:
        raise RequestError(
            400,
            f"unknown field(s): {', '.join(unknown)}",
            f"known: {', '.join(sorted(_KNOWN_KEYS))}",
        )
    service = body.get("feature_service")
    if body.get("features"):
        raise RequestError(
            400,
            "feature lists are not served here: serving logs belong to a feature service",
            "send feature_service instead of features",
        )
    if not isinstance(service, str) or not service:
        raise RequestError(400, "feature_service must be a non-empty string", example)
    entities = body.get("entities")
    if not isinstance(entities, dict) or not entities:
        raise RequestError(400, "entities must be a non-empty object of lists", example)
    lengths = set()
    for key, values in entities.items():
        if not isinstance(values, list) or not values:
            raise RequestError(400, f"entities.{key} must be a non-empty list", example)
        lengths.add(len(values))
    if len(lengths) != 1:
        raise RequestError(
            400,
            "the entity lists have different lengths",
            "send one value per entity row in every list",
        )
    rows = lengths.pop()
    if rows > limits.max_entities:
        raise RequestError(
            413,
            f"{rows} entity rows exceed the limit of {limits.max_entities}",
            "split the request",
        )
    flags = {}
    for flag in ("full_feature_names", "corrected_statuses"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            raise RequestError(400, f"{flag} must be true or false", example)
        flags[flag] = value
    return OnlineFeaturesRequest(
        feature_service=service,
        entities=entities,
        full_feature_names=flags["full_feature_names"],
        corrected_statuses=flags["corrected_statuses"],
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise RequestError(
                400, "Content-Length is not a number", "send a valid header"
            ) from None
        if too_big:
            raise _too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RequestError:
    return RequestError(413, f"the body exceeds {limit} bytes", "send fewer entity rows")


def _request_id(headers: Mapping[str, str]) -> str | None:
    given = headers.get(REQUEST_ID_HEADER)
    if given and len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def create_app(logger: FeatureLogger, limits: ServerLimits | None = None) -> FastAPI:
    """The FastAPI app: lookups through `logger`; its writers are closed at shutdown."""
    from feast.feature_server_utils import convert_response_to_dict

    limits = limits or ServerLimits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            logger.close()  # flushes every accepted row

    app = FastAPI(title="skewguard feature server", lifespan=lifespan)

    def lookup(parsed: OnlineFeaturesRequest, request_id: str | None) -> Any:
        import uuid

        rid = request_id or uuid.uuid4().hex
        response = logger.get_online_features(
            parsed.feature_service,
            parsed.entities,
            full_feature_names=parsed.full_feature_names,
            request_id=rid,
            corrected_statuses=parsed.corrected_statuses,
        )
        return convert_response_to_dict(response.proto), rid

    @app.post("/get-online-features")
    async def get_online_features(request: Request) -> JSONResponse:
        try:
            raw = await _read_body(request, limits.max_body_bytes)
            try:
                body = json.loads(raw)
            except ValueError as err:
                raise RequestError(
                    400, f"the body is not JSON: {err}", "send a JSON object"
                ) from None
            parsed = parse_request(body, limits)
            if _truthy(request.headers.get(CORRECTED_HEADER)):
                parsed = OnlineFeaturesRequest(
                    parsed.feature_service, parsed.entities, parsed.full_feature_names, True
                )
            content, rid = await run_in_threadpool(lookup, parsed, _request_id(request.headers))
        except RequestError as err:
            return err.response()
        except FeatureRepoError as err:
            return RequestError(404, err.what, err.hint or "").response()
        except OnlineStoreError as err:
            return RequestError(503, err.what, err.hint or "").response()
        except (InputError, SkewguardError) as err:
            return RequestError(400, err.what, err.hint or "").response()
        except (KeyError, ValueError, TypeError) as err:  # Feast rejecting the entities
            return RequestError(
                400,
                f"Feast rejected the entities: {err}",
                "send every join key of the feature service, with values of its type",
            ).response()
        return JSONResponse(content=content, headers={REQUEST_ID_HEADER: rid})

    @app.get("/health")
    async def health() -> JSONResponse:
        logs = {name: stats.to_dict() for name, stats in logger.stats().items()}
        return JSONResponse(content={"status": "ok", "serving_logs": logs})

    return app
