"""Benchmark: replay N logged rows through the offline store and compare them.

    python benchmarks/bench_replay.py [--rows 1000000] [--runs 3] [--with-feast-duckdb]
        [--json FILE]

Builds a repo copy in a temp folder with a generated world big enough for N labelled
interactions, then writes N serving-log rows in Feast's log schema: the request times and
entities of the interactions, and the values a healthy online store would have served
(the offline point-in-time values, their event times, status PRESENT or NOT_FOUND), with
discount served x100 on 1% of rows so the mismatch path is exercised too. Serving N
requests through Feast for real would take hours; the replay's work does not depend on
how the log rows were made.

Each run is a fresh child process (`replay()` on the whole log folder: read, point-in-time
join through Feast's get_historical_features, event times, compare, classify), so its
wall time and peak RSS are its own. Prints the median of the runs. With
--with-feast-duckdb it also replays through Feast's own duckdb offline store in the same
run, for comparison.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from skewguard.store.repo import open_store
from skewguard.store.replay import read_serving_logs, replay
t0 = time.perf_counter()
store = open_store({repo!r})
logs = read_serving_logs({logs!r})
result = replay(store, "recommender_v1", logs)
wall = time.perf_counter() - t0
print(json.dumps({{
    "wall": wall,
    "replay": result.seconds,
    "rows": result.replayed_rows,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "discount_diff": result.feature("product_stats__discount").diff_count,
    "price_diff": result.feature("product_stats__price").diff_count,
}}))
"""


def _make_world(repo: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.logschema import FieldStatus, status_column, timestamp_column
    from skewguard.serving.layout import describe_log
    from skewguard.store.offline_store import point_in_time_event_times
    from skewguard.store.repo import apply_repo, data_dir
    from skewguard.store.service import describe_service
    from skewguard.store.snapshot import point_in_time_features

    days = 42
    config = GeneratorConfig(
        customers=max(400, rows // 20),
        products=max(150, rows // 200),
        days=days,
        events_per_day=-(-rows // days),
        end=datetime(2026, 11, 20, tzinfo=UTC),
    )
    data = generate(data_dir(repo), config)
    store = apply_repo(repo)
    spec = describe_service(store, "recommender_v1")
    layout = describe_log(store, "recommender_v1")
    labels = pq.read_table(data.interactions).slice(0, rows)
    offline = point_in_time_features(store, spec, labels)
    views = [store.get_feature_view(v) for v in ("customer_profile", "product_stats")]
    times = point_in_time_event_times(store.config, views, labels, "event_timestamp")

    rng = np.random.default_rng(0)
    n = labels.num_rows
    request_time = labels.column("event_timestamp")
    columns: dict[str, pa.Array] = {}
    for name in layout.schema.names:
        if name in spec.join_keys:
            columns[name] = labels.column(name)
    for feature in spec.features:
        value = offline.column(feature.column)
        if feature.column == "product_stats__discount":
            bug = rng.random(n) < 0.01
            percent = pc.multiply(value, pa.scalar(100.0, pa.float32()))
            value = pc.if_else(pa.array(bug), percent, value)
        columns[feature.column] = value
        if feature.on_demand:
            ts = request_time
        else:
            micros = times[feature.view]
            ts = pa.array(micros, pa.int64(), mask=micros < 0).cast(pa.timestamp("us", tz="UTC"))
        columns[timestamp_column(feature.column)] = ts
        present = np.asarray(value.is_valid())
        status = np.where(present, FieldStatus.PRESENT, FieldStatus.NOT_FOUND).astype(np.int32)
        columns[status_column(feature.column)] = pa.array(status)
    columns["__log_timestamp"] = request_time.cast(pa.timestamp("us", tz="UTC"))
    columns["__log_date"] = pc.cast(request_time, pa.date32())
    columns["__request_id"] = pa.array([f"r{i}" for i in range(n)])
    table = pa.table({name: columns[name] for name in layout.schema.names})
    table = table.cast(layout.schema)
    folder = repo / "data" / "logs" / "recommender_v1"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-bench.parquet", row_group_size=256_000)


def _run_child(repo: Path) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), repo=str(repo), logs=str(repo / "data/logs/recommender_v1"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(label: str, runs: list[dict[str, float]]) -> dict[str, float]:
    wall = statistics.median(r["wall"] for r in runs)
    replay_s = statistics.median(r["replay"] for r in runs)
    peak = max(r["peak_mb"] for r in runs)
    rows = runs[0]["rows"]
    print(
        f"{label:<34} rows {rows:>9,}  replay {replay_s:6.2f} s ({rows / replay_s:>9,.0f} rows/s)"
        f"  process {wall:6.2f} s ({rows / wall:>9,.0f} rows/s)  peak {peak:,.0f} MB"
    )
    print(
        f"{'':<34} discount mismatches {runs[0]['discount_diff']:,} (1% injected), "
        f"price mismatches {runs[0]['price_diff']:,}"
    )
    return {
        "rows": rows,
        "runs": len(runs),
        "replay_seconds": replay_s,
        "process_seconds": wall,
        "rows_per_s": rows / replay_s,
        "process_rows_per_s": rows / wall,
        "peak_mib": peak,  # ru_maxrss is KiB: / 1024 is MiB
        "discount_mismatches": runs[0]["discount_diff"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--with-feast-duckdb", action="store_true")
    parser.add_argument("--feast-runs", type=int, default=1, help="runs of the Feast peer")
    parser.add_argument("--json", type=Path, help="write the medians here too")
    args = parser.parse_args()
    results: dict[str, object] = {}

    from tests.conftest import copy_feature_repo

    workdir = Path(tempfile.mkdtemp(prefix="sg-bench-replay-"))
    try:
        repo = copy_feature_repo(workdir / "repo", "sgbench_replay")
        started = time.perf_counter()
        _make_world(repo, args.rows)
        print(f"built world and {args.rows:,} log rows in {time.perf_counter() - started:.1f} s")
        results["skewguard"] = _report(
            "skewguard ASOF store", [_run_child(repo) for _ in range(args.runs)]
        )
        if args.with_feast_duckdb:
            yaml = repo / "feature_store.yaml"
            ours = "type: skewguard.store.offline_store.AsofDuckDBOfflineStore"
            yaml.write_text(yaml.read_text().replace(ours, "type: duckdb"))
            results["feast_duckdb"] = _report(
                "Feast duckdb store (peer)", [_run_child(repo) for _ in range(args.feast_runs)]
            )
        if args.json is not None:
            import os

            results["load_average"] = list(os.getloadavg())
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
