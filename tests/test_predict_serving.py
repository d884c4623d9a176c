"""`skewguard serve --model`: POST /predict looks up, scores and logs each prediction beside
its features under one request id; a SIGTERM mid-traffic loses no answered prediction."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from server_processes import call, skewguard_serve

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.fault]

SERVICE = "recommender_v1"


@pytest.fixture(scope="module")
def champion(served_repo: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import pyarrow.parquet as pq

    from skewguard.loop.registry import Registry
    from skewguard.loop.retrain import register_snapshot_model
    from skewguard.store.snapshot import build_snapshot

    root = tmp_path_factory.mktemp("predict")
    labels = pq.read_table(served_repo.data.interactions)
    snapshot = build_snapshot(served_repo.store, SERVICE, labels, root / "snapshot")
    registry = Registry.open(store=served_repo.store)
    name = f"sgtest-{uuid.uuid4().hex[:8]}"
    model = register_snapshot_model(
        registry, snapshot.path, root / "models", model_name=name, champion=True
    )
    return registry, model


def _traffic(port: int, answered: dict[str, list[float]], stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        request_id = f"p-{n}-{uuid.uuid4().hex[:6]}"
        body = {"entities": {"customer_id": [n % 50 + 1, 3], "product_id": [n % 35 + 1, 4]}}
        try:
            reply = call(port, "POST", "/predict", body, **{"X-Request-Id": request_id})
        except OSError:
            return  # the server went away
        if reply.status == 200:
            assert reply.headers["x-request-id"] == request_id
            answered[request_id] = reply.body["predictions"]


def test_predict_logs_every_prediction_beside_its_features(
    served_repo: Any, champion: Any, tmp_path: Path
) -> None:
    registry, model = champion
    log_root = tmp_path / "logs"
    server = skewguard_serve(
        served_repo.path,
        tmp_path / "server.log",
        "--model",
        f"models:/{model.name}@champion",
        "--log-root",
        str(log_root),
        "--flush-interval",
        "0.2",
        "--sample-rate",
        "1",
    )
    answered: dict[str, list[float]] = {}
    stop = threading.Event()
    client = threading.Thread(target=_traffic, args=(server.port, answered, stop))
    try:
        first = call(
            server.port, "POST", "/predict", {"entities": {"customer_id": [1], "product_id": [2]}}
        )
        assert first.status == 200, first.raw
        assert first.body["model"] == {
            "name": model.name,
            "version": model.version,
            "uri": f"models:/{model.name}/{model.version}",
        }
        assert first.body["feature_service"] == SERVICE
        assert len(first.body["predictions"]) == 1 and 0 < first.body["predictions"][0] < 1
        answered[first.headers["x-request-id"]] = first.body["predictions"]
        bad = call(
            server.port,
            "POST",
            "/predict",
            {"entities": {"customer_id": [1, 2], "product_id": [2]}},
        )
        assert bad.status == 422

        client.start()
        deadline = time.monotonic() + 60
        while len(answered) < 120 and time.monotonic() < deadline:
            time.sleep(0.05)
        code = server.stop()  # SIGTERM mid-traffic
    finally:
        stop.set()
        server.stop()
        if client.ident:
            client.join(timeout=30)
    assert code in (0, 143), server.output()[-3000:]
    assert len(answered) >= 120

    predictions = ds.dataset(log_root / f"{SERVICE}__predictions").to_table().to_pandas()
    features = ds.dataset(log_root / SERVICE).to_table().to_pandas()
    # Every answered prediction is on disk, with the model version, under its request id.
    base = predictions["__request_id"].str.split("#").str[0]
    missing = set(answered) - set(base)
    assert not missing, f"{len(missing)} of {len(answered)} answered predictions not on disk"
    assert set(predictions["__model_version"]) == {model.version}
    assert set(predictions["__model_name"]) == {model.name}
    for request_id, scores in answered.items():
        logged = predictions[base == request_id]["__prediction"].tolist()
        assert logged == pytest.approx(scores)
    # ... beside its features: the same ids, the same entities.
    # (request id, join keys) names one row in both logs.
    keys = ["__request_id", "customer_id", "product_id"]
    joined = predictions.merge(features, on=keys, suffixes=("", "_features"), validate="one_to_one")
    assert len(joined) == len(predictions)
    # The logged features, scored again by the same model, give the logged predictions.
    scorer = registry.load(model)
    rescored = scorer.predict_proba(joined)
    assert rescored == pytest.approx(joined["__prediction"].tolist(), abs=1e-6)
