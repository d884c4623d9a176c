"""The app of `skewguard serve` in-process: Feast's answers, logged; the additions."""

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

from skewguard.serving.server import LogOptions, RequestLimits, create_app
from skewguard.serving.writer import WriterConfig

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
    body = json.loads(raw) if raw else None
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


@pytest.fixture(scope="module")
def ours(served_repo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    logs = tmp_path_factory.mktemp("server_logs")
    options = LogOptions(
        writer=WriterConfig(flush_interval=60.0, handle_sigterm=False), log_root=logs, seed=3
    )
    app = create_app(
        served_repo.store,
        log_options=options,
        limits=RequestLimits(max_body_bytes=4096, max_entities=10),
    )
    running = start(app)
    running.logs = logs  # type: ignore[attr-defined]
    running.serving_logs = app.state.serving_logs  # type: ignore[attr-defined]
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


def logged(ours: Any, service: str = SERVICE) -> dict[str, list[Any]]:
    ours.serving_logs.logger.flush()
    folder = ours.logs / service
    return ds.dataset(folder).to_table().to_pydict() if folder.exists() else {}


@pytest.mark.parametrize("full_feature_names", [True, False])
def test_response_is_feast_serves_own(ours: Any, feasts: Running, full_feature_names: bool) -> None:
    body = request(full_feature_names=full_feature_names)
    mine = call(ours.port, "POST", "/get-online-features", body)
    theirs = call(feasts.port, "POST", "/get-online-features", body)
    assert (mine.status, theirs.status) == (200, 200)
    by_name = [
        dict(zip(reply.body["metadata"]["feature_names"], reply.body["results"], strict=True))
        for reply in (mine, theirs)
    ]  # one process: Feast's own order of a view's features may vary between its paths
    assert by_name[0] == by_name[1]


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
    table = logged(ours)
    rows = [i for i, r in enumerate(table["__request_id"]) if r == rid]
    assert len(rows) == 3
    names = reply.body["metadata"]["feature_names"]
    for name, result in zip(names, reply.body["results"], strict=True):
        if name in table:
            assert [table[name][i] for i in rows] == result["values"], name


def test_request_id_header_is_used(ours: Any) -> None:
    reply = call(ours.port, "POST", "/get-online-features", request(), **{"X-Request-Id": "abc-1"})
    used = reply.headers["x-request-id"]
    assert used.startswith("abc-1~") and len(used) == len("abc-1~") + 32
    assert logged(ours)["__request_id"].count(used) == 3


def test_corrected_statuses_on_request(ours: Any) -> None:
    plain = call(ours.port, "POST", "/get-online-features", request(full_feature_names=True))
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


def test_feature_lists_and_unlogged_services_are_served_and_counted(ours: Any) -> None:
    before = call(ours.port, "GET", "/serving-logs").body["requests_not_logged"]
    listed = {"features": ["product_stats:price"], "entities": ENTITIES}
    assert call(ours.port, "POST", "/get-online-features", listed).status == 200
    unlogged = {"feature_service": "unlogged", "entities": {"product_id": [1, 2]}}
    assert call(ours.port, "POST", "/get-online-features", unlogged).status == 200
    after = call(ours.port, "GET", "/serving-logs").body["requests_not_logged"]
    assert after["features_list"] == before["features_list"] + 1
    assert after["service_without_logging"] == before["service_without_logging"] + 1
    assert not (ours.logs / "unlogged").exists()


def test_serving_logs_exposes_the_writer_counters(ours: Any) -> None:
    call(ours.port, "POST", "/get-online-features", request())
    reply = call(ours.port, "GET", "/serving-logs")
    assert reply.status == 200
    counters = reply.body["serving_logs"][SERVICE]
    assert counters["accepted"] >= 3
    assert {"written", "dropped", "files", "pending"} <= set(counters)
    assert call(ours.port, "GET", "/health").status == 200  # Feast's own health check


def test_sampled_service_logs_about_its_rate(ours: Any) -> None:
    for i in range(200):
        entities = {"customer_id": [i % 50 + 1], "product_id": [i % 30 + 1]}
        body = {"feature_service": "batch_sampled", "entities": entities}
        assert call(ours.port, "POST", "/get-online-features", body).status == 200
    rows = len(logged(ours, "batch_sampled").get("__request_id", []))
    assert 5 <= rows <= 40  # LoggingConfig(sample_rate=0.1): Binomial(200, 0.1), seeded


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"feature_service": SERVICE, "entities": {"customer_id": list(range(11)),
                                                  "product_id": list(range(11))}},
         "limit of 10"),
        ({"feature_service": SERVICE, "entities": {"customer_id": [1] * 2000}}, "exceeds 4096"),
    ],
)  # fmt: skip
def test_limits_answer_413_in_feasts_error_shape(ours: Any, body: Any, message: str) -> None:
    reply = call(ours.port, "POST", "/get-online-features", body)
    assert reply.status == 413
    detail = json.loads(reply.body)  # Feast's error body: a JSON string holding a JSON object
    assert detail["class"] == "RequestTooLarge" and message in detail["message"]
    assert detail["module"] == "skewguard.serving.limits"


def test_server_survives_bad_requests(ours: Any) -> None:
    assert call(ours.port, "POST", "/get-online-features", b"{not json").status == 422
    assert call(ours.port, "POST", "/get-online-features", request()).status == 200
