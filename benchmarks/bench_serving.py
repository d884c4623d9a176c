"""Latency of one online lookup (1 entity x all features of a feature service), p50/p99.

Measured in one run, on the demo repo (run `make demo` first so Redis holds its values):

1. in-process: `FeatureStore.get_online_features` alone, and through `FeatureLogger`
   (logging to a temporary folder), in alternating blocks so drift hits both alike;
2. over HTTP, one request at a time on a kept-alive connection: `feast serve
   --max-requests 0` and `skewguard serve`, both one worker on loopback, in alternating
   blocks.

Each figure is the median over `--runs` blocks of that block's percentile.

    PYTHONPATH=. python benchmarks/bench_serving.py [--repo feature_repo] [--runs 7]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def block(fn: Callable[[int], object], n: int, offset: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        fn(offset + i)
        out.append((time.perf_counter() - started) * 1e3)
    return out


def summarize(name: str, runs: list[list[float]]) -> tuple[float, float]:
    p50 = statistics.median(percentile(r, 0.50) for r in runs)
    p99 = statistics.median(percentile(r, 0.99) for r in runs)
    print(f"  {name:<44} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
    return p50, p99


def entity(i: int, customers: int, products: int) -> dict[str, int]:
    return {"customer_id": i % customers + 1, "product_id": (i * 7) % products + 1}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(command: list[str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited early: {' '.join(command)}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.25)
    process.terminate()
    raise SystemExit(f"no answer on port {port}: {' '.join(command)}")


def http_caller(port: int, service: str, customers: int, products: int) -> Callable[[int], object]:
    headers = {"Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(i: int) -> object:
        nonlocal connection
        row = entity(i, customers, products)
        body = json.dumps(
            {
                "feature_service": service,
                "entities": {k: [v] for k, v in row.items()},
                "full_feature_names": True,
            }
        )
        try:
            connection.request("POST", "/get-online-features", body, headers)
            response = connection.getresponse()
        except (http.client.HTTPException, ConnectionError):
            # The server closed the idle kept-alive connection while the other was measured.
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", "/get-online-features", body, headers)
            response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {payload[:200]!r}")
        return payload

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT / "feature_repo")
    parser.add_argument("--feature-service", default="recommender_v1")
    parser.add_argument("--runs", type=int, default=7, help="alternating blocks per variant")
    parser.add_argument("--requests", type=int, default=300, help="requests per block")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--products", type=int, default=150)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    from skewguard.logged_lookup import FeatureLogger
    from skewguard.repo import open_store

    service_name = args.feature_service
    store = open_store(args.repo)
    service = store.get_feature_service(service_name)
    n, runs, c, p = args.requests, args.runs, args.customers, args.products
    features = sum(len(projection.features) for projection in service.feature_view_projections)
    print(
        f"{service_name}: 1 entity x {features} features; {runs} blocks x {n} requests "
        f"per variant; Redis {os.environ.get('SKEWGUARD_REDIS')}"
    )

    with tempfile.TemporaryDirectory() as logs:
        logger = FeatureLogger(store, log_root=logs)

        def plain(i: int) -> object:
            return store.get_online_features(
                features=service, entity_rows=[entity(i, c, p)], full_feature_names=True
            )

        def logged(i: int) -> object:
            return logger.get_online_features(
                service_name, [entity(i, c, p)], full_feature_names=True
            )

        block(plain, args.warmup, 0)
        block(logged, args.warmup, 0)
        gc.freeze()  # what a server does after start-up (skewguard serve does)
        plain_runs, logged_runs = [], []
        for r in range(runs):
            order = [(plain, plain_runs), (logged, logged_runs)]
            for fn, sink in order if r % 2 == 0 else reversed(order):
                sink.append(block(fn, n, r * n))
        logger.flush()
        stats = logger.stats()[service_name]
        logger.close()
        print("in-process:")
        _, base_p99 = summarize("FeatureStore.get_online_features", plain_runs)
        _, log_p99 = summarize("FeatureLogger.get_online_features (logging)", logged_runs)
        print(
            f"  logging adds {100 * (log_p99 / base_p99 - 1):+.1f}% to p99 "
            f"({stats.written} rows logged, {stats.dropped} dropped)"
        )

    if args.skip_http:
        return 0
    os.environ.setdefault("SKEWGUARD_REDIS", "127.0.0.1:6379")
    feast_port, our_port = free_port(), free_port()
    feast_cmd = [
        str(Path(sys.executable).with_name("feast")), "serve", "--host", "127.0.0.1",
        "--port", str(feast_port), "--max-requests", "0", "--no-access-log", "--workers", "1",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as logs:
        ours_cmd = [
            sys.executable, "-m", "skewguard", "serve", "--repo", str(args.repo.resolve()),
            "--port", str(our_port), "--log-root", logs,
        ]  # fmt: skip
        servers = [start_server(feast_cmd, feast_port, args.repo.resolve())]
        try:
            servers.append(start_server(ours_cmd, our_port, Path(logs)))
            theirs = http_caller(feast_port, service_name, c, p)
            ours = http_caller(our_port, service_name, c, p)
            block(theirs, args.warmup, 0)
            block(ours, args.warmup, 0)
            feast_runs, our_runs = [], []
            for r in range(runs):
                order = [(theirs, feast_runs), (ours, our_runs)]
                for fn, sink in order if r % 2 == 0 else reversed(order):
                    sink.append(block(fn, n, r * n))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=60)
    print("over HTTP (POST /get-online-features, one connection, sequential):")
    _, feast_p99 = summarize("feast serve --max-requests 0", feast_runs)
    _, our_p99 = summarize("skewguard serve (logging)", our_runs)
    print(f"  skewguard serve p99 vs feast serve: {100 * (our_p99 / feast_p99 - 1):+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
