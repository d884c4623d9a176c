"""Optional request limits of `skewguard serve`: 413 for oversized bodies or entity lists.

`feast serve` has no such limits, and neither does `skewguard serve` unless told
(`--max-body-bytes`, `--max-entities`). A refused request gets 413 with Feast's error
shape: the JSON string of `{"module", "class", "message"}` that Feast's exception handler
writes for a `FeastError`. Only the server imports this module, so it imports Feast.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feast.errors import FeastError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["RequestLimits", "RequestTooLarge", "add_body_limit", "check_entity_rows"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class RequestLimits:
    max_body_bytes: int | None = None  # None: no limit (as feast serve)
    max_entities: int | None = None  # entity rows per get-online-features request


class RequestTooLarge(FeastError):
    """A request over a limit; Feast's exception handler answers it with 413."""

    def http_status_code(self) -> int:
        return 413


def check_entity_rows(rows: int, limits: RequestLimits) -> None:
    if limits.max_entities is not None and rows > limits.max_entities:
        raise RequestTooLarge(
            f"{rows} entity rows exceed the limit of {limits.max_entities} "
            "(skewguard serve --max-entities): split the request"
        )


def add_body_limit(app: FastAPI, limits: RequestLimits) -> None:
    """Refuse request bodies over `limits.max_body_bytes` with 413 (no-op without a limit)."""
    if limits.max_body_bytes is not None:
        app.add_middleware(_BodyLimit, limit=limits.max_body_bytes)


class _BodyLimit:
    """ASGI middleware: read the body up to the limit, then hand it on unchanged."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._refuse(send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        error = RequestTooLarge(
            f"the request body exceeds {self.limit} bytes (skewguard serve --max-body-bytes)"
        )
        payload = json.dumps(error.to_error_detail()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
