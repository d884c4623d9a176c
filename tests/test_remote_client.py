"""Feast's own `remote` online store client reads through `skewguard serve`, logged.

A second repo config (`online_store: type: remote`) points at the server; reading a
feature service through it returns what the store returns directly, and the rows land in
the service's serving log. A `features` list is served as well, without logging.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from server_processes import ServerProcess, call, skewguard_serve

pytestmark = pytest.mark.slow

SERVICE = "recommender_v1"
ROWS = [{"customer_id": 3, "product_id": 7}, {"customer_id": 4, "product_id": 8}]


@pytest.fixture(scope="module")
def server(served_repo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("remote")
    running = skewguard_serve(
        served_repo.path,
        folder / "server.log",
        "--log-root",
        str(folder / "serving"),
        "--flush-interval",
        "0.2",
    )
    try:
        yield running, folder
    finally:
        running.stop()


def remote_store(served_repo: Any, server: ServerProcess, folder: Path) -> Any:
    from feast import FeatureStore

    client = folder / "client_repo"
    client.mkdir(exist_ok=True)
    (client / "feature_store.yaml").write_text(
        f"""project: {served_repo.store.project}
provider: local
registry: {served_repo.path / "data" / "registry.db"}
online_store:
  type: remote
  path: http://127.0.0.1:{server.port}
entity_key_serialization_version: 3
"""
    )
    return FeatureStore(repo_path=str(client))


def logged_rows(folder: Path) -> list[dict[str, Any]]:
    files = [str(f) for f in (folder / "serving" / SERVICE).rglob("*.parquet")]
    if not files:  # the date folder can exist before its first file is renamed into place
        return []
    return ds.dataset(files).to_table(columns=["customer_id", "product_id"]).to_pylist()


def test_remote_client_reads_a_feature_service_through_skewguard_serve(
    served_repo: Any, server: Any
) -> None:
    running, folder = server
    client = remote_store(served_repo, running, folder)
    service = client.get_feature_service(SERVICE)
    through_server = client.get_online_features(
        features=service, entity_rows=ROWS, full_feature_names=True
    ).to_dict()
    direct = served_repo.store.get_online_features(
        features=served_repo.store.get_feature_service(SERVICE),
        entity_rows=ROWS,
        full_feature_names=True,
    ).to_dict()
    assert through_server == direct

    deadline = time.monotonic() + 30  # the server writes its log every 0.2 s
    while time.monotonic() < deadline and len(logged_rows(folder)) < len(ROWS):
        time.sleep(0.2)
    assert sorted(map(tuple, (r.values() for r in logged_rows(folder)))) == [(3, 7), (4, 8)]


def test_remote_client_feature_lists_are_served_unlogged(served_repo: Any, server: Any) -> None:
    running, folder = server
    client = remote_store(served_repo, running, folder)
    refs = ["product_stats:price", "customer_profile:age"]
    before = call(running.port, "GET", "/serving-logs").body["requests_not_logged"]
    through_server = client.get_online_features(features=refs, entity_rows=ROWS).to_dict()
    direct = served_repo.store.get_online_features(features=refs, entity_rows=ROWS).to_dict()
    assert through_server == direct
    after = call(running.port, "GET", "/serving-logs").body["requests_not_logged"]
    assert after["features_list"] == before["features_list"] + 1
