"""The fast read path where users reach it: the logging lookup, `skewguard lookup
--fast-read` and `skewguard serve --fast-read` answer and log what Feast's path does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from test_server import Running, call, start

from skewguard import cli
from skewguard.serving.logger import FeatureLogger
from skewguard.serving.server import LogOptions, create_app
from skewguard.serving.writer import WriterConfig
from skewguard.store.fast_response import FastResponse

SERVICE = "recommender_v1"
QUIET = WriterConfig(flush_interval=60.0, handle_sigterm=False)
REQUESTS = [
    [{"customer_id": 1, "product_id": 1}],
    [{"customer_id": c, "product_id": p} for c, p in [(2, 5), (7, 12), (99_999, 3), (3, 99_999)]],
    {"customer_id": [33, 33, 60], "product_id": [40, 40, 1]},
]
MOMENT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def log_rows(logger: FeatureLogger) -> list[dict[str, Any]]:
    assert logger.flush(timeout=120)  # the first flush starts the writer process
    folder = logger.layout(SERVICE).folder
    assert folder is not None
    rows = ds.dataset(folder).to_table().to_pylist()
    return sorted(rows, key=lambda r: (r["__request_id"], r["customer_id"], r["product_id"]))


@pytest.mark.parametrize("corrected", [False, True])
@pytest.mark.parametrize("full_names", [True, False])
def test_logging_lookup_answers_and_logs_as_feasts(
    served_repo: Any, tmp_path: Path, full_names: bool, corrected: bool
) -> None:
    store = served_repo.store
    loggers = [
        FeatureLogger(store, writer_config=QUIET, log_root=tmp_path / name, fast_read=fast)
        for name, fast in (("feast", False), ("fast", True))
    ]
    with loggers[0] as feast_path, loggers[1] as fast_path:
        for i, rows in enumerate(REQUESTS):
            answers = [
                logger.get_online_features(
                    SERVICE,
                    rows,
                    full_feature_names=full_names,
                    request_time=MOMENT,
                    request_id=f"r{i}",
                    corrected_statuses=corrected,
                )
                for logger in (feast_path, fast_path)
            ]
            assert isinstance(answers[1], FastResponse)
            assert answers[1].to_dict() == answers[0].to_dict()
            assert answers[1].proto == answers[0].proto  # the corrected statuses too
        assert log_rows(fast_path) == log_rows(feast_path)


def test_lookup_command_fast_read(
    served_repo: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKEWGUARD_REDIS", served_repo.redis)
    outputs = []
    for extra in ([], ["--fast-read"]):
        argv = ["lookup", "--repo", str(served_repo.path), "--feature-service", SERVICE]
        argv += ["--entity", "customer_id=1,product_id=2", "--entity", "customer_id=999999,"]
        argv[-1] += "product_id=3"
        assert cli.main([*argv, "--json", *extra]) == 0
        captured = capsys.readouterr()
        assert "falls back" not in captured.err
        outputs.append(json.loads(captured.out))
    assert outputs[1] == outputs[0]
    assert outputs[0]["customer_product_fit__price_vs_aov"][1] is None


@pytest.fixture(scope="module")
def fast_server(served_repo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    logs = tmp_path_factory.mktemp("fast_server_logs")
    app = create_app(
        served_repo.store, log_options=LogOptions(writer=QUIET, log_root=logs), fast_read=True
    )
    running = start(app)
    running.serving_logs = app.state.serving_logs  # type: ignore[attr-defined]
    running.logs = logs  # type: ignore[attr-defined]
    yield running
    running.stop()


@pytest.fixture(scope="module")
def feasts(served_repo: Any) -> Iterator[Running]:
    """Feast's own app on a store of its own: Feast's route reads through the store's async
    Redis client, which stays bound to the event loop of the first app served from it."""
    from feast import FeatureStore
    from feast.feature_server import get_app

    store = FeatureStore(repo_path=str(served_repo.path))
    running = start(get_app(store))
    yield running
    running.stop()


@pytest.mark.parametrize("full_names", [True, False])
def test_serve_fast_read_answers_as_feast_serve(
    fast_server: Any, feasts: Running, full_names: bool
) -> None:
    body = {
        "feature_service": SERVICE,
        "entities": {"customer_id": [1, 2, 99_999], "product_id": [1, 5, 3]},
        "full_feature_names": full_names,
    }
    mine = call(fast_server.port, "POST", "/get-online-features", body)
    theirs = call(feasts.port, "POST", "/get-online-features", body)
    assert (mine.status, theirs.status) == (200, 200)
    assert mine.body == theirs.body
    fast_server.serving_logs.logger.flush()
    logged = ds.dataset(fast_server.logs / SERVICE).to_table()
    assert mine.headers["x-request-id"] in set(logged.column("__request_id").to_pylist())
