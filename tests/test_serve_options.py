"""`skewguard serve` with feast serve's options: TLS, several workers, a bad TLS pair."""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from server_processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def _self_signed(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


def _https(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context)
    payload = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    status, raw = response.status, response.read()
    connection.close()
    return status, raw


@pytest.mark.slow
def test_tls_and_two_workers_serve_and_log(served_repo: Any, tmp_path: Path) -> None:
    key, cert = _self_signed(tmp_path)
    port = free_port()
    logs = tmp_path / "logs"
    argv = [
        sys.executable, "-m", "skewguard", "serve", "--repo", str(served_repo.path),
        "--port", str(port), "--workers", "2", "--key", str(key), "--cert", str(cert),
        "--no-access-log", "--log-root", str(logs), "--flush-interval", "0.2",
    ]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SKEWGUARD_REDIS": served_repo.redis}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if _https(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "no TLS answer"
                time.sleep(0.25)
        body = {"feature_service": "recommender_v1", "entities": {"customer_id": [1],
                                                                  "product_id": [2]}}  # fmt: skip
        for _ in range(20):
            status, _ = _https(port, "POST", "/get-online-features", body)
            assert status == 200
    finally:
        process.terminate()
        process.wait(timeout=60)
    rows = ds.dataset(logs / "recommender_v1").to_table().num_rows
    assert rows == 20  # every request logged, whichever worker served it, flushed at stop


def test_a_key_without_a_certificate_exits_2(served_repo: Any, capsys: Any) -> None:
    from skewguard import cli

    code = cli.main(["serve", "--repo", str(served_repo.path), "--key", "key.pem"])
    assert code == 2
    assert "a TLS server needs both the key and the certificate" in capsys.readouterr().err
