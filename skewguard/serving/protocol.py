"""uvicorn's HTTP protocol with a deadline on request headers, and its gunicorn worker.

uvicorn times only idle keep-alive connections: a client that opens a connection and
sends nothing, or half a request line, or headers one byte a minute, holds a connection
(and a slot of `--worker-connections`) for as long as it likes. `HeaderTimeoutProtocol`
gives every request `header_timeout` seconds from the connection's start (or, on a
kept-alive connection, from the request's first byte) until its headers are complete;
after that it answers 408 and closes the connection. The body has its own deadline
(`skewguard.serving.limits`, `--body-timeout`).

`GuardedUvicornWorker` is `uvicorn_worker.UvicornWorker` with that protocol; the header
timeout is a class attribute set in the gunicorn master before it forks its workers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from skewguard.serving.limits import DEFAULT_HEADER_TIMEOUT

__all__ = ["HeaderTimeoutProtocol", "GuardedUvicornWorker", "protocol_with_timeout"]

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 33\r\n"
    b"connection: close\r\n\r\n"
    b"request headers did not arrive.\r\n"
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that closes connections whose headers do not arrive in time."""

    header_timeout: float | None = DEFAULT_HEADER_TIMEOUT

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self.header_timeout is None or self._header_timer is not None:
            return  # already timing this request's headers: the clock is not reset
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its headers did arrive
        self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def protocol_with_timeout(header_timeout: float | None) -> type[HeaderTimeoutProtocol]:
    """A protocol class with its own header timeout (for an in-process uvicorn.Config)."""
    attributes = {"header_timeout": header_timeout}
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), attributes)


class GuardedUvicornWorker(UvicornWorker):  # type: ignore[misc]
    """gunicorn's uvicorn worker speaking `HeaderTimeoutProtocol`."""

    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": HeaderTimeoutProtocol}
