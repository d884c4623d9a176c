"""The HTTP server: feast serve's request and response, logging, limits, clear 4xx."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.dataset as ds
import pytest

from skewguard.logged_lookup import FeatureLogger
from skewguard.server import ServerLimits, create_app
from skewguard.serving_log import WriterConfig

SERVICE = "recommender_v1"
ENTITIES = {"customer_id": [1, 2, 99_999], "product_id": [1, 5, 3]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    port: int
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start(app: Any) -> Running:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    return Running(port, server, thread)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    connection.request(
        method, path, body=payload, headers={"Content-Type": "application/json", **headers}
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw))


@pytest.fixture(scope="module")
def ours(served_repo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    logs = tmp_path_factory.mktemp("server_logs")
    logger = FeatureLogger(
        served_repo.store,
        writer_config=WriterConfig(flush_interval=60.0, handle_sigterm=False),
        log_root=logs,
    )
    running = start(create_app(logger, ServerLimits(max_body_bytes=4096, max_entities=10)))
    running.logger = logger  # type: ignore[attr-defined]
    running.logs = logs  # type: ignore[attr-defined]
    yield running
    running.stop()


@pytest.fixture(scope="module")
def feasts(served_repo: Any) -> Iterator[Running]:
    from feast.feature_server import get_app

    running = start(get_app(served_repo.store))
    yield running
    running.stop()


def request(**extra: Any) -> dict[str, Any]:
    return {"feature_service": SERVICE, "entities": ENTITIES, **extra}


@pytest.mark.parametrize("full_feature_names", [True, False])
def test_response_is_feast_serves_own(ours: Any, feasts: Running, full_feature_names: bool) -> None:
    body = request(full_feature_names=full_feature_names)
    mine = call(ours.port, "POST", "/get-online-features", body)
    theirs = call(feasts.port, "POST", "/get-online-features", body)
    assert (mine.status, theirs.status) == (200, 200)
    assert mine.body == theirs.body


@pytest.mark.parametrize("full_feature_names", [True, False])
def test_feast_serve_answers_every_feature_of_the_service(
    served_repo: Any, feasts: Running, full_feature_names: bool
) -> None:
    """The python-mode on-demand view too, under both name forms (docs/foundation.md)."""
    body = request(full_feature_names=full_feature_names)
    reply = call(feasts.port, "POST", "/get-online-features", body)
    values = dict(
        zip(
            reply.body["metadata"]["feature_names"],
            [r["values"] for r in reply.body["results"]],
            strict=True,
        )
    )
    sdk = served_repo.store.get_online_features(
        features=served_repo.store.get_feature_service(SERVICE),
        entity_rows=ENTITIES,
        full_feature_names=full_feature_names,
    ).to_dict()
    assert len(values) == 2 + 15
    prefix = "customer_product_fit__" if full_feature_names else ""
    for name in ("price_vs_aov", "category_match"):
        assert values[prefix + name] == sdk[prefix + name]
    assert values[prefix + "price_vs_aov"][0] is not None
    assert values[prefix + "price_vs_aov"][2] is None  # customer 99_999 does not exist


def test_served_values_are_logged(ours: Any) -> None:
    reply = call(ours.port, "POST", "/get-online-features", request(full_feature_names=True))
    rid = reply.headers["x-request-id"]
    ours.logger.flush()
    table = ds.dataset(ours.logs / SERVICE).to_table()
    log = table.filter(ds.field("__request_id") == rid).to_pydict()
    names = reply.body["metadata"]["feature_names"]
    assert len(log["__request_id"]) == 3
    for name, result in zip(names, reply.body["results"], strict=True):
        if name in log and not name.startswith("product_stats__"):
            assert log[name] == result["values"], name
    # JSON carries float32 values widened to double; the log keeps float32.
    assert (
        log["product_stats__price"]
        == reply.body["results"][names.index("product_stats__price")]["values"]
    )


def test_request_id_header_is_used(ours: Any) -> None:
    reply = call(ours.port, "POST", "/get-online-features", request(), **{"X-Request-Id": "abc-1"})
    assert reply.headers["x-request-id"] == "abc-1"


@pytest.mark.parametrize("how", ["field", "header"])
def test_corrected_statuses_on_request(ours: Any, how: str) -> None:
    plain = call(ours.port, "POST", "/get-online-features", request(full_feature_names=True))
    if how == "field":
        fixed = call(
            ours.port,
            "POST",
            "/get-online-features",
            request(full_feature_names=True, corrected_statuses=True),
        )
    else:
        fixed = call(
            ours.port,
            "POST",
            "/get-online-features",
            request(full_feature_names=True),
            **{"X-Skewguard-Corrected-Statuses": "true"},
        )
    names = plain.body["metadata"]["feature_names"]
    age = names.index("customer_profile__age")
    assert plain.body["results"][age]["statuses"][2] == "PRESENT"
    assert fixed.body["results"][age]["statuses"][2] == "NOT_FOUND"
    assert fixed.body["results"][age]["values"] == plain.body["results"][age]["values"]


def test_health_exposes_the_writer_counters(ours: Any) -> None:
    call(ours.port, "POST", "/get-online-features", request())
    reply = call(ours.port, "GET", "/health")
    assert reply.status == 200 and reply.body["status"] == "ok"
    counters = reply.body["serving_logs"][SERVICE]
    assert counters["accepted"] >= 3
    assert {"written", "dropped", "files", "pending"} <= set(counters)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not JSON"),
        ([1, 2], 400, "JSON object"),
        ({"feature_service": SERVICE}, 400, "entities"),
        ({**request(), "entitys": {}}, 400, "unknown field"),
        ({"features": ["product_stats:price"], "entities": ENTITIES}, 400, "feature service"),
        ({"feature_service": SERVICE, "entities": {"customer_id": [1, 2], "product_id": [1]}},
         400, "different lengths"),
        ({"feature_service": SERVICE, "entities": {"customer_id": 1}}, 400, "non-empty list"),
        (request(full_feature_names="yes"), 400, "true or false"),
        ({"feature_service": SERVICE, "entities": {"customer_id": [1]}}, 400, "join key"),
        ({"feature_service": "nope", "entities": ENTITIES}, 404, "no feature service"),
        ({"feature_service": SERVICE, "entities": {"customer_id": list(range(11)),
                                                  "product_id": list(range(11))}},
         413, "limit of 10"),
        ({"feature_service": SERVICE, "entities": {"customer_id": [1] * 2000}}, 413, "exceeds"),
    ],
)  # fmt: skip
def test_bad_requests_get_clear_4xx(ours: Any, body: Any, status: int, message: str) -> None:
    reply = call(ours.port, "POST", "/get-online-features", body)
    assert reply.status == status
    assert message in reply.body["error"]
    assert reply.body["hint"]


def test_server_survives_bad_requests(ours: Any) -> None:
    assert call(ours.port, "POST", "/get-online-features", request()).status == 200
