"""Latency of one online lookup (1 entity x all features of a feature service), p50/p99.

Measured in one run, on the demo repo (run `make demo` first so Redis holds its values):

1. in-process: `FeatureStore.get_online_features` alone, and through `FeatureLogger`
   (logging to a temporary folder);
2. over HTTP, one request at a time on a kept-alive connection: `feast serve` and
   `skewguard serve` (Feast's app with the logged route), both with the same options: one
   gunicorn worker on loopback, `--max-requests 0` (no worker restarts), no access log.

Latency on a shared 2-core machine drifts: slow spells of a few hundred milliseconds
come and go. So the two variants of a pair run in short alternating blocks (`--block`
requests each, `--rounds` rounds), every spell hits both alike, and each percentile is
taken over all of a variant's requests. A block's p99 would rest on its 3 slowest
requests: far too noisy to compare.

The log writer flushes every `--flush-rows` rows (about a second of this traffic, as
the default 1 s interval would), with the interval trigger off: so every flush, and
whatever it costs the serving process, happens while logged requests run. The default
173 shares no factor with the default block of 10, so a flush almost never falls at a
block's end, where its work would spill into the other variant's block. `--trials`
repeats the whole measurement and prints each trial and their median.

    PYTHONPATH=. python benchmarks/bench_serving.py [--rounds 300] [--block 10] [--trials 5]
        [--entities 1] [--json FILE]

`--build-repo` measures instead on a generated, applied and materialized copy of the repo
under its own Feast project (removed from Redis at the end), so no `make demo` is needed.
`--entities N` puts N entity pairs in every request; `--json FILE` also writes the
medians over trials (and each trial) there, for benchmarks/run_all.py.

`--after-flush` measures instead what a flush costs the requests that follow it: logged
requests only, with the encoding in the writer process and on a thread of the serving
process, p50 latency by position after the flush.

    PYTHONPATH=. python benchmarks/bench_serving.py --after-flush [--flushes 30]
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
from dataclasses import dataclass, field
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


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, all threads) of this process, or of process `pid` and
    its live descendants (a server's workers and log writer)."""
    if pid is None:
        return time.process_time()
    ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:  # exited meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Variant:
    """One side of a comparison: a call, and what its requests cost."""

    name: str
    call: Callable[[int], object]
    cpu_pid: int | None = None  # whose CPU time a block costs (None: this process)
    samples: list[float] = field(default_factory=list)  # ms per request
    cpu: float = 0.0  # seconds over all its blocks

    def run_block(self, n: int, offset: int) -> None:
        cpu = cpu_seconds(self.cpu_pid)
        self.samples.extend(block(self.call, n, offset))
        self.cpu += cpu_seconds(self.cpu_pid) - cpu

    def figures(self) -> tuple[float, float, float]:
        """p50 and p99 (ms), and CPU ms per request."""
        return (
            percentile(self.samples, 0.50),
            percentile(self.samples, 0.99),
            1e3 * self.cpu / len(self.samples),
        )


def trial(a: Variant, b: Variant, rounds: int, n: int) -> list[tuple[float, float, float]]:
    """`rounds` rounds of one block each, the order flipped every round."""
    for variant in (a, b):
        variant.samples, variant.cpu = [], 0.0
    for r in range(rounds):
        for variant in (a, b) if r % 2 == 0 else (b, a):
            variant.run_block(n, r * n)
    return [a.figures(), b.figures()]


def report(
    title: str, names: tuple[str, str], trials: list[list[tuple[float, float, float]]]
) -> dict[str, dict[str, float]]:
    """Each trial's figures for both variants, then the medians over trials (returned)."""
    print(title)
    for i, ((a50, a99, acpu), (b50, b99, bcpu)) in enumerate(trials, 1):
        print(
            f"  trial {i}: p50 {a50:5.2f} / {b50:5.2f} ms, p99 {a99:6.2f} / {b99:6.2f} ms "
            f"({100 * (b99 / a99 - 1):+6.1f}%), CPU {acpu:5.2f} / {bcpu:5.2f} ms per request"
        )
    medians: dict[str, dict[str, float]] = {}
    for k, name in enumerate(names):
        p50, p99, cpu = (statistics.median(t[k][m] for t in trials) for m in range(3))
        print(f"  {name:<40} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  CPU {cpu:5.2f} ms per request")
        medians[name] = {"p50_ms": p50, "p99_ms": p99, "cpu_ms": cpu, "trials": len(trials)}
    ratio = statistics.median(t[1][1] / t[0][1] - 1 for t in trials)
    cpu_ratio = statistics.median(t[1][2] / max(t[0][2], 1e-9) - 1 for t in trials)
    print(
        f"  {names[1]} vs {names[0]}, median over {len(trials)} trials: "
        f"p99 {100 * ratio:+.1f}%, CPU per request {100 * cpu_ratio:+.1f}%"
    )
    return medians


def entity(i: int, customers: int, products: int) -> dict[str, int]:
    return {"customer_id": i % customers + 1, "product_id": (i * 7) % products + 1}


ENTITIES = {"n": 1}  # entity pairs per request (--entities)


def entity_rows(i: int, customers: int, products: int) -> list[dict[str, int]]:
    n = ENTITIES["n"]
    return [entity(i * n + k, customers, products) for k in range(n)]


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
        rows = entity_rows(i, customers, products)
        body = json.dumps(
            {
                "feature_service": service,
                "entities": {k: [r[k] for r in rows] for k in rows[0]},
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


def after_flush(store: object, service: str, args: argparse.Namespace) -> None:
    """p50 latency of logged requests by position after the flush that precedes them."""
    from skewguard.serving.logger import FeatureLogger
    from skewguard.serving.writer import WriterConfig

    every, c, p = args.flush_rows, args.customers, args.products
    spans = [("1st-2nd", 0, 2), ("3rd-11th", 2, 11), ("40th on", 39, every)]
    print(f"logged requests after a flush (one flush every {every} rows, {args.flushes} flushes):")
    for separate in (True, False):
        config = WriterConfig(flush_rows=every, flush_interval=3600.0, separate_process=separate)
        with tempfile.TemporaryDirectory() as logs:
            logger = FeatureLogger(store, log_root=logs, writer_config=config)  # type: ignore[arg-type]

            def logged(i: int, logger: FeatureLogger = logger) -> object:
                return logger.get_online_features(
                    service, [entity(i, c, p)], full_feature_names=True
                )

            block(logged, 2 * every, 0)
            logger.flush()  # the buffer starts empty: request i follows flush i // every
            gc.freeze()
            samples = block(logged, every * args.flushes, 0)
            logger.close()
        where = "writer process" if separate else "writer thread "
        figures = []
        for name, start, stop in spans:
            span = [ms for i, ms in enumerate(samples) if i >= every and start <= i % every < stop]
            figures.append(f"{name} p50 {percentile(span, 0.5):5.2f} ms")
        print(f"  encoding in the {where}: " + ", ".join(figures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT / "feature_repo")
    parser.add_argument("--feature-service", default="recommender_v1")
    parser.add_argument("--rounds", type=int, default=300, help="alternating rounds per trial")
    parser.add_argument("--block", type=int, default=10, help="requests per block")
    parser.add_argument("--trials", type=int, default=5, help="whole measurements repeated")
    parser.add_argument("--flush-rows", type=int, default=173, help="log rows per flush")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--products", type=int, default=150)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--after-flush", action="store_true", help="see the module docstring")
    parser.add_argument("--flushes", type=int, default=30, help="flushes for --after-flush")
    parser.add_argument("--entities", type=int, default=1, help="entity pairs per request")
    parser.add_argument("--json", type=Path, help="write the medians here too")
    parser.add_argument("--build-repo", action="store_true", help="see the module docstring")
    args = parser.parse_args()
    ENTITIES["n"] = args.entities
    if not args.build_repo:
        return measure(args)
    from bench_lookup import build_repo

    os.environ.setdefault("SKEWGUARD_REDIS", "127.0.0.1:6379")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        store, _ = build_repo(Path(folder), args.customers, args.products)
        try:
            args.repo = Path(store.repo_path)
            return measure(args)
        finally:
            store.teardown()  # this project's keys leave Redis


def measure(args: argparse.Namespace) -> int:
    from skewguard.serving.logger import FeatureLogger
    from skewguard.serving.writer import WriterConfig
    from skewguard.store.repo import open_store, store_redis_target

    service_name = args.feature_service
    store = open_store(args.repo)
    service = store.get_feature_service(service_name)
    if args.after_flush:
        after_flush(store, service_name, args)
        return 0
    n, rounds, c, p = args.block, args.rounds, args.customers, args.products
    features = sum(len(projection.features) for projection in service.feature_view_projections)
    print(
        f"{service_name}: {args.entities} entity pair(s) x {features} features; per trial "
        f"{rounds} rounds of {n}-request blocks per variant; log flush every "
        f"{args.flush_rows} rows; Redis {store_redis_target(store)}"
    )
    writer_config = WriterConfig(flush_rows=args.flush_rows, flush_interval=3600.0)

    in_process = []
    logged_rows = dropped = 0
    with tempfile.TemporaryDirectory() as logs:
        logger = FeatureLogger(store, log_root=logs, writer_config=writer_config)

        def plain(i: int) -> object:
            return store.get_online_features(
                features=service, entity_rows=entity_rows(i, c, p), full_feature_names=True
            )

        def logged(i: int) -> object:
            return logger.get_online_features(
                service_name, entity_rows(i, c, p), full_feature_names=True
            )

        warmup = max(5, args.warmup // args.entities)
        block(plain, warmup, 0)
        block(logged, warmup, 0)
        logger.flush()
        gc.freeze()  # what a server does after start-up (skewguard serve does)
        writer = logger.writer(service_name)
        writer_pid = writer.writer_pid if writer else None
        writer_cpu = cpu_seconds(writer_pid) if writer_pid else 0.0
        rows_before = logger.stats()[service_name].written
        a = Variant("FeatureStore.get_online_features", plain)
        b = Variant("FeatureLogger.get_online_features", logged)
        for _ in range(args.trials):
            in_process.append(trial(a, b, rounds, n))
        logger.flush()
        stats = logger.stats()[service_name]
        logged_rows, dropped = stats.written - rows_before, stats.dropped
        if writer_pid:
            writer_cpu = cpu_seconds(writer_pid) - writer_cpu
        logger.close()
    results: dict[str, object] = {
        "feature_service": service_name,
        "entities": args.entities,
        "features": features,
        "requests_per_variant_per_trial": rounds * n,
    }
    results["in_process"] = report("in-process (first / second):", (a.name, b.name), in_process)
    results["logged_rows"], results["dropped_rows"] = logged_rows, dropped
    print(
        f"  {logged_rows} rows logged, {dropped} dropped; the writer process spent "
        f"{1e6 * writer_cpu / max(logged_rows, 1):.0f} us of CPU per row, outside serving"
    )

    if args.skip_http:
        write_json(args.json, results)
        return 0
    os.environ.setdefault("SKEWGUARD_REDIS", "127.0.0.1:6379")
    feast_port, our_port = free_port(), free_port()
    feast_cmd = [
        str(Path(sys.executable).with_name("feast")), "serve", "--host", "127.0.0.1",
        "--port", str(feast_port), "--max-requests", "0", "--no-access-log", "--workers", "1",
    ]  # fmt: skip
    over_http = []
    with tempfile.TemporaryDirectory() as logs:
        ours_cmd = [
            sys.executable, "-m", "skewguard", "serve", "--repo", str(args.repo.resolve()),
            "--port", str(our_port), "--max-requests", "0", "--no-access-log",
            "--workers", "1", "--log-root", logs,
            "--flush-rows", str(args.flush_rows), "--flush-interval", "3600",
        ]  # fmt: skip
        servers = [start_server(feast_cmd, feast_port, args.repo.resolve())]
        try:
            servers.append(start_server(ours_cmd, our_port, Path(logs)))
            theirs = Variant(
                "feast serve --max-requests 0",
                http_caller(feast_port, service_name, c, p),
                servers[0].pid,
            )
            ours = Variant(
                "skewguard serve (logging)",
                http_caller(our_port, service_name, c, p),
                servers[1].pid,
            )
            block(theirs.call, warmup, 0)
            block(ours.call, warmup, 0)
            for _ in range(args.trials):
                over_http.append(trial(theirs, ours, rounds, n))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=60)
    results["http"] = report(
        "over HTTP (POST /get-online-features, one connection, sequential; "
        "CPU is the server's, workers and log writer included):",
        (theirs.name, ours.name),
        over_http,
    )
    write_json(args.json, results)
    return 0


def write_json(path: Path | None, results: dict[str, object]) -> None:
    if path is not None:
        results["load_average"] = list(os.getloadavg())
        path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
