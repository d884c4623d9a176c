"""`skewguard serve` SIGKILLed under HTTP load: every answered request is in the log.

The server (gunicorn master, its worker and the worker's log-writer process) runs in a
process group of its own, started here; four clients send lookups; once enough were
answered the whole group gets SIGKILL (by its id), so nothing flushes. Then a new writer
on the same log folder recovers the dead one's spool. Measured: requests answered (200
received) against request ids found in the log, before and after the recovery.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from server_processes import free_port

from skewguard.serving.logger import FeatureLogger
from skewguard.serving.writer import WriterConfig

pytestmark = pytest.mark.fault
ROOT = Path(__file__).resolve().parent.parent
SERVICE = "recommender_v1"
CLIENTS = 4
ANSWERED_BEFORE_KILL = 1500


def wait_until_healthy(port: int, process: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "skewguard serve exited early"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("skewguard serve did not become healthy")


def send(port: int, client: int, answered: list[str], stop: threading.Event) -> None:
    """Lookups on one kept-alive connection; an id counts once its 200 has arrived."""
    n = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        n += 1
        body = json.dumps(
            {
                "feature_service": SERVICE,
                "entities": {
                    "customer_id": [(n * 7 + client) % 60 + 1, 3],
                    "product_id": [(n * 3 + client) % 40 + 1, 4],
                },
            }
        )
        try:
            connection.request(
                "POST", "/get-online-features", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                answered.append(response.headers["x-request-id"])
        except (OSError, http.client.HTTPException):
            return  # the server is gone


def logged_ids(folder: Path) -> list[str]:
    files = [str(p) for p in folder.rglob("*.parquet") if not p.name.startswith(".")]
    if not files:
        return []
    return list(ds.dataset(files).to_table(columns=["__request_id"]).column(0).to_pylist())


def test_sigkill_under_http_load_loses_no_answered_row(served_repo: Any, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SKEWGUARD_REDIS": served_repo.redis}
    process = subprocess.Popen(
        [sys.executable, "-m", "skewguard", "serve", "--repo", str(served_repo.path),
         "--port", str(port), "--log-root", str(tmp_path), "--no-access-log",
         "--flush-interval", "0.2", "--max-requests", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: master, worker, writer process
    )  # fmt: skip
    answered: list[str] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=send, args=(port, i, answered, stop)) for i in range(CLIENTS)
    ]
    try:
        wait_until_healthy(port, process, timeout=90)
        for client in clients:
            client.start()
        deadline = time.monotonic() + 60
        while len(answered) < ANSWERED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        stop.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        for client in clients:
            if client.ident:
                client.join(timeout=30)

    folder = tmp_path / SERVICE
    answered_ids = set(answered)
    assert len(answered_ids) >= ANSWERED_BEFORE_KILL
    on_disk_at_kill = answered_ids & set(logged_ids(folder))

    # A new writer on the folder (as the restarted server's) writes the dead one's spool.
    logger = FeatureLogger(
        served_repo.store,
        writer_config=WriterConfig(handle_sigterm=False, flush_interval=0.2),
        log_root=tmp_path,
    )
    logger.layout(SERVICE)
    logger.flush()
    stats = logger.stats()[SERVICE]
    logger.close()

    after = logged_ids(folder)
    missing = answered_ids - set(after)
    rows = {i: after.count(i) for i in answered_ids}
    print(
        f"\nSIGKILL under load ({CLIENTS} clients): {len(answered_ids)} requests answered, "
        f"{len(on_disk_at_kill)} on disk at the kill, {stats.recovered} rows recovered from "
        f"the spool ({stats.recovery_lost} torn frames), {len(missing)} answered requests lost"
    )
    assert not missing, f"{len(missing)} of {len(answered_ids)} answered requests not logged"
    assert set(rows.values()) == {2}, "each answered request: its two rows, once"
