"""`skewguard serve` stopped by SIGTERM mid-traffic keeps every acknowledged row."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def send_traffic(port: int, acknowledged: list[str], stop: threading.Event) -> None:
    """Requests one after another; an id counts once its 200 response has arrived."""
    n = 0
    while not stop.is_set():
        n += 1
        body = json.dumps(
            {
                "feature_service": "recommender_v1",
                "entities": {"customer_id": [n % 70 + 1, 3], "product_id": [n % 45 + 1, 4]},
            }
        )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(
                "POST", "/get-online-features", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                acknowledged.append(response.headers["x-request-id"])
            connection.close()
        except OSError:
            return  # the server went away


def test_sigterm_during_traffic_loses_no_acknowledged_row(served_repo: Any) -> None:
    logs = served_repo.path / "data" / "logs" / "recommender_v1"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SKEWGUARD_REDIS": served_repo.redis}
    process = subprocess.Popen(
        [sys.executable, "-m", "skewguard", "serve", "--repo", str(served_repo.path),
         "--port", str(port), "--flush-interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    acknowledged: list[str] = []
    stop = threading.Event()
    partial: list[str] = []

    def watch() -> None:
        while not stop.is_set():
            for path in logs.rglob("*.parquet") if logs.exists() else []:
                if not path.name.startswith("."):
                    try:
                        pq.read_table(path)
                    except FileNotFoundError:
                        pass
                    except Exception as err:
                        partial.append(f"{path.name}: {err}")

    clients = [threading.Thread(target=send_traffic, args=(port, acknowledged, stop))]
    watcher = threading.Thread(target=watch)
    try:
        wait_until_healthy(port, process, timeout=90)
        watcher.start()
        for client in clients:
            client.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
            process.wait()
        for thread in (*clients, watcher):
            if thread.is_alive() or thread.ident:
                thread.join(timeout=30)

    assert code in (0, 128 + signal.SIGTERM), process.stderr.read() if process.stderr else ""
    assert len(acknowledged) >= 150
    logged = set(ds.dataset(logs).to_table(columns=["__request_id"]).column(0).to_pylist())
    missing = set(acknowledged) - logged
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests not on disk"
    assert partial == []
    # No hidden temporary file is left, and the spool is empty after a clean shutdown.
    assert not [p for p in logs.rglob("*") if p.name.startswith(".") and p.name != ".spool"]
    assert not list((logs / ".spool").iterdir())
