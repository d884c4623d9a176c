"""RawPipeline: pipelined RESP buffers, replies counted or parsed, errors raised (real Redis)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import redis

from skewguard.store.resp import RawPipeline, _first_error, command
from skewguard.store.rowbytes import Ragged, join_ragged


@pytest.fixture
def client(redis_connection: str):
    client = redis.Redis.from_url(f"redis://{redis_connection}")
    prefix = f"sgresp:{os.getpid()}:"
    yield client, prefix
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)


def commands(name: bytes, keys: list[bytes], *rest: bytes) -> np.ndarray:
    pieces = command(name, [[Ragged.from_pylist(keys)], *rest], len(keys))
    return join_ragged(pieces, len(keys)).data


def test_counted_and_parsed_replies_stay_in_order(client) -> None:
    redis_client, prefix = client
    keys = [f"{prefix}{i}".encode() for i in range(20_000)]
    pipe = RawPipeline(redis_client, "test Redis")
    pipe.send(commands(b"INCRBY", keys, b"7"), replies=len(keys))
    pipe.send(commands(b"GET", keys[:5] + [f"{prefix}none".encode()]), replies=6)
    pipe.discard(len(keys))
    assert pipe.read(6) == [b"7"] * 5 + [None]
    pipe.close()
    assert redis_client.get(keys[-1]) == b"7"


def test_an_error_among_counted_replies_is_raised(client) -> None:
    redis_client, prefix = client
    redis_client.set(f"{prefix}text", b"not a number")
    keys = [f"{prefix}{i}".encode() for i in range(5)] + [f"{prefix}text".encode()]
    pipe = RawPipeline(redis_client, "test Redis")
    pipe.send(commands(b"INCR", keys), replies=len(keys))
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        pipe.discard(len(keys))
    pipe.close()
    assert redis_client.ping()


def test_first_error_finds_the_error_line() -> None:
    assert _first_error(b":1\r\n:0\r\n") == b""
    assert _first_error(b"-WRONGTYPE Operation\r\n:1\r\n") == b"WRONGTYPE Operation"
    assert _first_error(b":1\r\n-ERR bad\r\n") == b"ERR bad"


def test_a_closed_server_is_a_connection_error() -> None:
    from skewguard.store.online import EmbeddedRedis

    with EmbeddedRedis.start() as server:
        pipe = RawPipeline(redis.Redis(port=server.port), "private Redis")
    with pytest.raises(redis.exceptions.ConnectionError):
        pipe.send(commands(b"GET", [b"k"]), replies=1)
        pipe.read(1)
    pipe.abort()
