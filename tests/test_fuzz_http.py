"""Property-based fuzzing of `POST /get-online-features` bodies, against Feast's own app.

Both apps run in-process on the same store (a private Redis). Every fuzzed body goes to
both. Properties: skewguard serve answers every body with an HTTP response and a JSON
body; a 500 from it is one Feast's own app also answers (the additions bring no new
crash); an entity id Feast would silently convert (a float or a boolean for an integer
join key) is never answered 200; and the server stays healthy. Fixed budget,
derandomised (conftest.py's hypothesis profile).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard.serving.protocol import protocol_with_timeout
from skewguard.serving.server import LogOptions, create_app
from skewguard.serving.writer import WriterConfig

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INTEGER_KEYS = {"customer_id", "product_id"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(app: Any, header_timeout: float | None = None) -> tuple[int, Any, threading.Thread]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan="on",
        http=protocol_with_timeout(header_timeout),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    return port, server, thread


@pytest.fixture(scope="module")
def apps(served_repo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    from feast.feature_server import get_app

    logs = tmp_path_factory.mktemp("fuzz_http")
    ours = create_app(
        served_repo.store,
        log_options=LogOptions(
            writer=WriterConfig(flush_interval=5.0, handle_sigterm=False), log_root=logs
        ),
    )
    started = [serve(ours, header_timeout=10.0), serve(get_app(served_repo.store))]
    yield started[0][0], started[1][0]
    for _, server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)


def post(port: int, payload: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(
        "POST", "/get-online-features", payload, {"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, raw


scalars = st.one_of(
    st.integers(-5, 120),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
)
values = st.one_of(
    st.lists(scalars, max_size=5),
    scalars,
    st.lists(st.lists(scalars, max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "feature_service": st.sampled_from(
            ["recommender_v1", "batch_sampled", "unlogged", "nope", "", None]
        ),
        "features": st.lists(
            st.sampled_from(
                ["product_stats:price", "customer_profile:age", "nope:x", "product_stats", ""]
            ),
            max_size=3,
        ),
        "entities": st.dictionaries(
            st.sampled_from(["customer_id", "product_id", "request_id", "x"]), values, max_size=3
        ),
        "full_feature_names": st.one_of(st.booleans(), scalars),
        "extra": scalars,
    },
)


def _converted_id(body: Any) -> bool:
    """Does the body hold a float or a boolean for an integer join key?"""
    if not isinstance(body, dict) or not isinstance(body.get("entities"), dict):
        return False
    return any(
        isinstance(value, bool | float)
        for key, column in body["entities"].items()
        if key in INTEGER_KEYS and isinstance(column, list)
        for value in column
    )


@FUZZ
@given(body=bodies, raw=st.one_of(st.none(), st.binary(max_size=40)))
def test_fuzz_get_online_features(apps: tuple[int, int], body: Any, raw: bytes | None) -> None:
    ours, feasts = apps
    payload = raw if raw is not None else json.dumps(body).encode()
    status, answer = post(ours, payload)
    assert answer, "an empty body"
    json.loads(answer)  # every answer is JSON (Feast's error shape included)
    if status == 500:
        theirs, _ = post(feasts, payload)
        assert theirs == 500, (body, answer[:300])  # no crash of our own
    if raw is None and _converted_id(body):
        assert status != 200, body


def test_the_server_is_healthy_after_fuzzing(apps: tuple[int, int]) -> None:
    ours, _ = apps
    connection = http.client.HTTPConnection("127.0.0.1", ours, timeout=30)
    connection.request("GET", "/health")
    assert connection.getresponse().status == 200
