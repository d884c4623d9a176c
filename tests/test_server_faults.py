"""`skewguard serve`'s app under a Redis outage, hostile clients and odd entity ids.

The app runs in-process under uvicorn with the server's own protocol (header deadline),
its online store on a private redis-server that the tests pause (SIGSTOP: a partition)
and resume, by its pid. Numbers are printed (`-s`) for docs/reliability.md.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.dataset as ds
import pytest
from fault_fixtures import PrivateRedis, paused

from skewguard.serving.protocol import protocol_with_timeout
from skewguard.serving.server import LogOptions, RequestLimits, create_app
from skewguard.serving.writer import WriterConfig
from skewguard.store.online import materialize
from skewguard.store.repo import open_store

SERVICE = "recommender_v1"
ENTITIES = {"customer_id": [1, 2], "product_id": [1, 5]}
FAST = ",socket_connect_timeout=1,socket_timeout=1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    port: int
    server: Any
    thread: threading.Thread
    app: Any
    logs: Any

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start(app: Any, logs: Any, header_timeout: float | None) -> Running:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        http=protocol_with_timeout(header_timeout),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    return Running(port, server, thread, app, logs)


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Any:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    connection.request(
        method, path, body=payload, headers={"Content-Type": "application/json", **headers}
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed


def lookup(port: int, entities: Any = None, **headers: str) -> Any:
    body = {"feature_service": SERVICE, "entities": entities or ENTITIES}
    return call(port, "POST", "/get-online-features", body, **headers)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    with PrivateRedis.start() as server:
        yield server


@pytest.fixture(scope="module")
def server(
    served_repo: Any, redis_server: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SKEWGUARD_REDIS", redis_server.connection_string + FAST)
    try:
        store = open_store(served_repo.path)
        materialize(store, served_repo.data.start, served_repo.data.end)
    finally:
        mp.undo()
    logs = tmp_path_factory.mktemp("fault_logs")
    options = LogOptions(
        writer=WriterConfig(flush_interval=60.0, handle_sigterm=False), log_root=logs
    )
    limits = RequestLimits(max_body_bytes=64 * 1024, body_timeout=1.0, header_timeout=1.0)
    app = create_app(store, log_options=options, limits=limits)
    running = start(app, logs, header_timeout=1.0)
    yield running
    running.stop()


def logged_ids(running: Running) -> list[str]:
    running.app.state.serving_logs.logger.flush()
    folder = running.logs / SERVICE
    if not folder.exists():
        return []
    return list(ds.dataset(folder).to_table(columns=["__request_id"]).column(0).to_pylist())


# -- health, readiness, and a partition -----------------------------------------------


@pytest.mark.fault
def test_health_and_ready_report_a_paused_redis_and_lookups_fail_fast_then_recover(
    server: Running, redis_server: PrivateRedis
) -> None:
    assert call(server.port, "GET", "/health")[:1] == (200,)
    status, _, ready = call(server.port, "GET", "/ready")
    assert status == 200 and ready["ready"] is True, ready
    assert ready["serving_logs"]["ok"] is True
    assert lookup(server.port)[0] == 200

    with paused(redis_server):
        started = time.monotonic()
        status, _, body = call(server.port, "GET", "/health")
        health_took = time.monotonic() - started
        assert status == 503, body
        assert body["online_store"]["ok"] is False
        assert "did not answer" in body["online_store"]["detail"]
        status, _, body = call(server.port, "GET", "/ready")
        assert status == 503 and body["ready"] is False

        took = []
        for _ in range(20):
            started = time.monotonic()
            status, _, body = lookup(server.port)
            took.append(time.monotonic() - started)
            assert status == 503, body
            assert "unavailable" in json.loads(body)["message"]
        # At most one request per cooldown (1 s) probes Redis (0.5 s); the rest are
        # refused without waiting for a socket timeout.
        assert max(took) < 1.0, took
        assert sorted(took)[10] < 0.1, took

    deadline = time.monotonic() + 5
    while lookup(server.port)[0] != 200:
        assert time.monotonic() < deadline, "lookups did not recover after SIGCONT"
        time.sleep(0.1)
    recovered = deadline - 5
    assert call(server.port, "GET", "/health")[0] == 200
    assert call(server.port, "GET", "/ready")[0] == 200
    print(
        f"\npaused Redis: /health 503 after {health_took:.2f} s; 20 lookups 503, "
        f"median {sorted(took)[10] * 1000:.1f} ms, max {max(took) * 1000:.0f} ms; "
        f"served again {time.monotonic() - recovered:.2f} s after SIGCONT"
    )


@pytest.mark.fault
def test_ready_reports_a_log_writer_that_cannot_spool(server: Running) -> None:
    writer = server.app.state.serving_logs.logger.writer(SERVICE)
    assert lookup(server.port)[0] == 200
    spool = writer._spool
    original = spool.append

    def full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    spool.append = full  # the disk fills up under the spool
    try:
        assert lookup(server.port)[0] == 200  # serving goes on
        status, _, body = call(server.port, "GET", "/ready")
        assert status == 503, body
        detail = body["serving_logs"]["services"][SERVICE]["detail"]
        assert "No space left" in detail
    finally:
        spool.append = original
    assert lookup(server.port)[0] == 200
    assert call(server.port, "GET", "/ready")[0] == 200


# -- entity ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entities", "shown"),
    [
        ({"customer_id": [1.5, 2], "product_id": [1, 5]}, "'customer_id'[0] = 1.5"),
        ({"customer_id": [1, 2], "product_id": [1, 5.0]}, "'product_id'[1] = 5.0"),
        ({"customer_id": [True, 2], "product_id": [1, 5]}, "'customer_id'[0] = True"),
        ({"customer_id": [1, 2], "product_id": [False, 5]}, "'product_id'[0] = False"),
        ({"customer_id": [1, 2e0], "product_id": [1, 5]}, "'customer_id'[1] = 2.0"),
    ],
)
def test_float_and_bool_entity_ids_are_refused_not_truncated(
    server: Running, entities: Any, shown: str
) -> None:
    before = len(logged_ids(server))
    status, _, body = lookup(server.port, entities)
    assert status == 422, body
    detail = json.loads(body)
    assert detail["class"] == "InvalidEntityValue" and shown in detail["message"]
    assert len(logged_ids(server)) == before  # nothing served, nothing logged


def test_integer_ids_and_feast_own_errors_are_unchanged(server: Running) -> None:
    assert lookup(server.port, {"customer_id": [1, 2], "product_id": [1, 5]})[0] == 200
    # A string for an integer key: Feast's own answer, not ours.
    status, _, body = lookup(server.port, {"customer_id": ["a"], "product_id": [1]})
    assert status != 422 or "InvalidEntityValue" not in str(body)


# -- request ids --------------------------------------------------------------------


def test_a_reused_request_id_never_repeats_in_the_log(server: Running) -> None:
    ids = [lookup(server.port, **{"X-Request-Id": "same-id"})[1]["x-request-id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(i.startswith("same-id~") and len(i) == len("same-id~") + 32 for i in ids)
    logged = logged_ids(server)
    for i in ids:
        assert logged.count(i) == 2  # the request's two entity rows, no other request's
    # A caller cannot forge another request's id either: every id ends in new digits.
    forged = lookup(server.port, **{"X-Request-Id": ids[0]})[1]["x-request-id"]
    assert forged != ids[0] and forged.startswith(ids[0] + "~")


# -- request limits and slow clients ------------------------------------------------


def test_a_large_body_is_refused_with_413(server: Running) -> None:
    body = {"feature_service": SERVICE, "entities": {"customer_id": [1] * 30_000}}
    status, _, detail = call(server.port, "POST", "/get-online-features", body)
    assert status == 413 and "exceeds 65536 bytes" in json.loads(detail)["message"]


def _raw(port: int, data: bytes, wait: float) -> tuple[bytes, float]:
    """Send `data`, then read until the server closes; return what came and when."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    started = time.monotonic()
    try:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                return received, float("inf")
            if not chunk:
                return received, time.monotonic() - started
            received += chunk
    finally:
        sock.close()


@pytest.mark.fault
@pytest.mark.parametrize(
    "partial",
    [b"", b"POST /get-online-features HTTP/1.1\r\n", b"GET /health HTTP/1.1\r\nHost: x\r\n"],
    ids=["nothing", "request-line-only", "headers-unfinished"],
)
def test_slow_headers_are_cut_off(server: Running, partial: bytes) -> None:
    received, took = _raw(server.port, partial, wait=10)
    assert took < 5, "the connection was held open"
    assert received.startswith(b"HTTP/1.1 408")
    print(f"\nheaders {partial[:20]!r}...: 408 and closed after {took:.2f} s")


@pytest.mark.fault
def test_a_slow_body_is_cut_off_with_408(server: Running) -> None:
    head = (
        b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"feature_service": '
    )
    received, took = _raw(server.port, head, wait=10)
    assert took < 5, "the connection was held open"
    assert b" 408 " in received.split(b"\r\n", 1)[0]
    assert b"RequestTimeout" in received
    assert lookup(server.port)[0] == 200
    print(f"\nbody stalled after 20 of 100 bytes: 408 after {took:.2f} s")
