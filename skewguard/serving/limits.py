"""Request limits of `skewguard serve`: 413 for oversized bodies or entity lists, 408 for
bodies that do not arrive in time.

`feast serve` has no such limits. `skewguard serve` bounds request bodies by default
(`--max-body-bytes`, 4 MiB) and the time a body may take to arrive once its headers are
in (`--body-timeout`, 30 s); `--max-entities` is off unless set. The time the headers
themselves may take is bounded by the server's protocol (`skewguard.serving.protocol`,
`--header-timeout`). A refused request gets Feast's error shape: the JSON string of
`{"module", "class", "message"}` that Feast's exception handler writes for a
`FeastError`. Only the server imports this module, so it imports Feast.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feast.errors import FeastError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "RequestLimits",
    "RequestTooLarge",
    "RequestTimeout",
    "add_body_limit",
    "check_entity_rows",
]

DEFAULT_MAX_BODY_BYTES = 4 << 20  # 4 MiB: about 200,000 entity rows of two integer keys
DEFAULT_BODY_TIMEOUT = 30.0  # seconds for a whole body to arrive after its headers
DEFAULT_HEADER_TIMEOUT = 10.0  # seconds for a request's headers to arrive

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class RequestLimits:
    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES  # None: no limit (as feast serve)
    max_entities: int | None = None  # entity rows per get-online-features request
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT  # None: wait forever (as feast serve)
    header_timeout: float | None = DEFAULT_HEADER_TIMEOUT  # applied by the server protocol


class RequestTooLarge(FeastError):
    """A request over a limit; Feast's exception handler answers it with 413."""

    def http_status_code(self) -> int:
        return 413


class RequestTimeout(FeastError):
    """A request body that did not arrive in time; answered with 408."""

    def http_status_code(self) -> int:
        return 408


def check_entity_rows(rows: int, limits: RequestLimits) -> None:
    if limits.max_entities is not None and rows > limits.max_entities:
        raise RequestTooLarge(
            f"{rows} entity rows exceed the limit of {limits.max_entities} "
            "(skewguard serve --max-entities): split the request"
        )


def add_body_limit(app: FastAPI, limits: RequestLimits) -> None:
    """Refuse request bodies over `limits.max_body_bytes` with 413 and bodies slower than
    `limits.body_timeout` with 408 (no-op without either)."""
    if limits.max_body_bytes is not None or limits.body_timeout is not None:
        app.add_middleware(_BodyLimit, limit=limits.max_body_bytes, timeout=limits.body_timeout)


class _BodyLimit:
    """ASGI middleware: read the body up to the limit and the deadline, then hand it on
    unchanged."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        limit: int | None,
        timeout: float | None = None,
    ):
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if (
            limit is not None
            and declared is not None
            and declared.isdigit()
            and int(declared) > limit
        ):
            await self._refuse(send, self._too_large())
            return
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        body = bytearray()
        more = True
        while more:
            try:
                if deadline is None:
                    message = await receive()
                else:
                    message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except TimeoutError:
                await self._refuse(send, self._too_slow(len(body)))
                return
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if limit is not None and len(body) > limit:
                await self._refuse(send, self._too_large())
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> FeastError:
        return RequestTooLarge(
            f"the request body exceeds {self.limit} bytes (skewguard serve --max-body-bytes)"
        )

    def _too_slow(self, received: int) -> FeastError:
        return RequestTimeout(
            f"the request body did not arrive within {self.timeout:g} s ({received} bytes "
            "received; skewguard serve --body-timeout)"
        )

    async def _refuse(self, send: Send, error: FeastError) -> None:
        payload = json.dumps(error.to_error_detail()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if isinstance(error, RequestTimeout):
            headers.append((b"connection", b"close"))
        await send(
            {"type": "http.response.start", "status": error.http_status_code(), "headers": headers}
        )
        await send({"type": "http.response.body", "body": payload})
