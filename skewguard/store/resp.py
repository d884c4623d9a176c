"""Redis commands for every row of a batch, and one connection to pipeline them over.

Commands are written in RESP (the Redis protocol) directly: an array of bulk strings,
`*<count>\\r\\n` then `$<length>\\r\\n<bytes>\\r\\n` per argument, built with `rowbytes`
for all rows at once. `RawPipeline` sends such buffers on a connection taken from a
redis-py client's pool (so host, port, password, TLS and database are the client's) and
reads the replies back, without a Python call per command on the sending side.
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
from collections.abc import Sequence
from typing import Any

import hiredis
import numpy as np
import redis

from skewguard.store.rowbytes import Const, Piece, decimal, piece_lengths

__all__ = ["RawPipeline", "bulk", "command", "const_bulk"]

_CRLF = b"\r\n"


def const_bulk(value: bytes) -> bytes:
    """One bulk string argument that is the same on every row."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def bulk(pieces: Sequence[Piece], n: int) -> list[Piece]:
    """One bulk string argument per row whose bytes are the concatenated pieces."""
    lengths = piece_lengths(pieces, n)
    if n and (lengths == lengths[0]).all():
        header: list[Piece] = [Const(b"$%d\r\n" % lengths[0])]
    else:
        header = [Const(b"$"), decimal(lengths), Const(_CRLF)]
    return [*header, *pieces, Const(_CRLF)]


def command(name: bytes, arguments: Sequence[Sequence[Piece] | bytes], n: int) -> list[Piece]:
    """A command per row: each argument is a constant or the pieces of a per-row value."""
    out: list[Piece] = [Const(b"*%d\r\n" % (1 + len(arguments)) + const_bulk(name))]
    for argument in arguments:
        if isinstance(argument, bytes):
            out.append(Const(const_bulk(argument)))
        else:
            out.extend(bulk(argument, n))
    return out


class RawPipeline:
    """A connection from a redis-py client's pool used for pipelined RESP buffers.

    `send` queues a buffer for a sender thread (so the caller encodes the next batch
    while the bytes go out and Redis works through them; TLS sockets send inline);
    replies come back in the order commands were sent. `read` returns replies parsed by
    hiredis; `discard` checks and drops integer replies (HSET, EXPIRE) by counting lines,
    without a Python call per reply. Error replies are raised as
    redis.exceptions.ResponseError and socket errors as redis.exceptions.ConnectionError,
    like redis-py's own.
    """

    def __init__(self, client: redis.Redis, where: str) -> None:
        self.where = where
        self._pool = client.connection_pool
        self._connection: Any = self._pool.get_connection()
        self._broken = False
        try:
            self._connection.connect()  # no-op when already connected
            sock: socket.socket | None = self._connection._sock
            if sock is None:
                raise redis.exceptions.ConnectionError(f"no socket to {where}")
        except BaseException:
            self._release(broken=True)
            raise
        self._sock: socket.socket = sock
        self._reader: Any = hiredis.Reader()
        self._buffer = bytearray(1 << 20)
        self._leftover: bytes = b""  # received by discard beyond its replies; starts a reply
        self.unread: int = 0  # replies of sent commands not read yet
        self._send_error: BaseException | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        if not isinstance(self._sock, ssl.SSLSocket):  # an SSL socket is one thread's
            self._thread = threading.Thread(
                target=self._send_loop, name=f"skewguard send to {where}", daemon=True
            )
            self._thread.start()

    def _send_loop(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            if self._send_error is None:
                try:
                    self._sock.sendall(payload)
                except OSError as err:
                    self._send_error = err

    def _raise_send_error(self) -> None:
        if self._send_error is not None:
            self._broken = True
            err = self._send_error
            raise redis.exceptions.ConnectionError(f"writing to {self.where}: {err}") from err

    def send(self, payload: np.ndarray, replies: int) -> None:
        """Queue commands expecting `replies` replies; payload must not change afterwards."""
        self._raise_send_error()
        view = memoryview(payload.data).cast("B")
        if self._thread is None:
            try:
                self._sock.sendall(view)
            except OSError as err:
                self._broken = True
                raise redis.exceptions.ConnectionError(f"writing to {self.where}: {err}") from err
        else:
            self._queue.put(view)
        self.unread += replies

    def _recv(self) -> bytes:
        try:
            received = self._sock.recv_into(self._buffer)
        except OSError as err:
            self._broken = True
            self._raise_send_error()
            raise redis.exceptions.ConnectionError(f"reading from {self.where}: {err}") from err
        if not received:
            self._broken = True
            self._raise_send_error()
            raise redis.exceptions.ConnectionError(f"{self.where} closed the connection")
        return bytes(self._buffer[:received])

    def _due(self, count: int) -> None:
        if count > self.unread:
            raise ValueError(f"reading {count} replies, only {self.unread} are due")

    def read(self, count: int) -> list[Any]:
        """The next `count` replies; the first error reply is raised (after reading all)."""
        self._due(count)
        if self._leftover:
            self._reader.feed(self._leftover)
            self._leftover = b""
        out: list[Any] = []
        gets = self._reader.gets
        append = out.append
        while len(out) < count:
            reply = gets()
            if reply is False:
                self._reader.feed(self._recv())
                continue
            append(reply)
        self.unread -= count
        for reply in out:
            if isinstance(reply, hiredis.ReplyError):
                raise redis.exceptions.ResponseError(f"{reply} ({self.where})")
        return out

    def discard(self, count: int) -> None:
        """Read and drop `count` integer or error replies, raising the first error."""
        self._due(count)
        if not count:
            return
        if self._reader.has_data():  # parsing had started: finish with hiredis
            self.read(count)
            return
        left, data, error = count, self._leftover, b""
        while True:
            lines = data.count(b"\n")
            if lines >= left:
                newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
                end = int(newlines[left - 1]) + 1
                error = error or _first_error(data[:end])
                self._leftover = data[end:]
                break
            end = data.rfind(b"\n") + 1
            error = error or _first_error(data[:end])
            left -= lines
            data = data[end:] + self._recv()
        self.unread -= count
        if error:
            raise redis.exceptions.ResponseError(f"{error.decode(errors='replace')} ({self.where})")

    def _stop_sender(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Read what is still due (raising a pending error) and give the connection back."""
        try:
            self._stop_sender()
            self._raise_send_error()
            if self.unread and not self._broken:
                self.discard(self.unread)
        finally:
            self._release(broken=self._broken or bool(self.unread))

    def abort(self) -> None:
        """Give the connection back without reading: it is disconnected, not reused."""
        if self._connection is not None:
            self._connection.disconnect()  # also unblocks a sender stuck in sendall
        self._stop_sender()
        self._release(broken=True)

    def _release(self, broken: bool) -> None:
        if self._connection is None:
            return
        if broken:
            self._connection.disconnect()
        self._pool.release(self._connection)
        self._connection = None


def _first_error(replies: bytes) -> bytes:
    """The first error reply ("-...") among whole reply lines, or b""."""
    if replies.startswith(b"-"):
        start = 1
    else:
        start = replies.find(b"\n-") + 2
        if start == 1:
            return b""
    return replies[start : replies.find(b"\r\n", start)]
