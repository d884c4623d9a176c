"""Benchmark: training snapshot retrieval (point-in-time join) with skewguard's ASOF store
and with Feast's own DuckDB offline store, on the same repo and label frame.

    python benchmarks/bench_snapshot.py [--rows 1000000] [--runs 3] [--feast-runs 1]
        [--json FILE]

Builds a repo copy in a temp folder with a generated world of at least N interactions
(the label frame: customer, product, event time), applied. Each run is a fresh child
process that opens the store and times the retrieval of `skewguard snapshot`
(`point_in_time_features`: Feast's `get_historical_features(full_feature_names=True)` for
`recommender_v1`, rows put back in label order, the on-demand view computed): rows/s is
label rows over that wall time, peak RSS the child's. Then the same with the repo's
offline store switched to Feast's `duckdb` type. Medians of the runs are printed.
"""

from __future__ import annotations

import argparse
import json
import os
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
import pyarrow.parquet as pq
from skewguard.store.repo import open_store
from skewguard.store.service import describe_service
from skewguard.store.snapshot import point_in_time_features
store = open_store({repo!r})
spec = describe_service(store, "recommender_v1")
labels = pq.read_table({labels!r})
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
table = point_in_time_features(store, spec, labels)
wall = time.perf_counter() - t0
print(json.dumps({{
    "wall": wall,
    "rows": table.num_rows,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rss_before_mib": rss_before,
    "nulls": sum(c.null_count for c in table.columns),
}}))
"""

OURS = "type: skewguard.store.offline_store.AsofDuckDBOfflineStore"


def make_world(repo: Path, rows: int) -> Path:
    import pyarrow.parquet as pq

    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.repo import apply_repo, data_dir

    days = 42
    config = GeneratorConfig(
        customers=max(400, rows // 20),
        products=max(150, rows // 200),
        days=days,
        events_per_day=-(-rows // days),
        end=datetime(2026, 11, 20, tzinfo=UTC),
    )
    data = generate(data_dir(repo), config)
    apply_repo(repo)
    interactions = pq.read_table(data.interactions)
    labels = interactions.select(["customer_id", "product_id", "event_timestamp"]).slice(0, rows)
    path = repo.parent / "labels.parquet"
    pq.write_table(labels, path)
    return path


def run_child(repo: Path, labels: Path) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), repo=str(repo), labels=str(labels))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"snapshot retrieval failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(label: str, runs: list[dict[str, float]]) -> dict[str, float]:
    wall = statistics.median(r["wall"] for r in runs)
    rows = runs[0]["rows"]
    peak = max(r["peak_mib"] for r in runs)
    print(
        f"{label:<28} rows {rows:>9,}  median {wall:6.2f} s of "
        f"{[round(r['wall'], 2) for r in runs]}  {rows / wall:>9,.0f} rows/s  "
        f"peak {peak:,.0f} MiB",
        flush=True,
    )
    return {
        "rows": rows,
        "runs": len(runs),
        "median_s": wall,
        "rows_per_s": rows / wall,
        "peak_mib": peak,
        "rss_before_mib": statistics.median(r["rss_before_mib"] for r in runs),
        "null_values": runs[0]["nulls"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--feast-runs", type=int, default=1, help="0: skip Feast's store")
    parser.add_argument("--json", type=Path, help="write the medians here too")
    args = parser.parse_args()

    from tests.conftest import copy_feature_repo

    workdir = Path(tempfile.mkdtemp(prefix="sg-bench-snapshot-"))
    results: dict[str, object] = {}
    try:
        repo = copy_feature_repo(workdir / "repo", f"sgbench_snapshot_{os.getpid()}")
        started = time.perf_counter()
        labels = make_world(repo, args.rows)
        print(f"built world and {args.rows:,} label rows in {time.perf_counter() - started:.1f} s")
        results["skewguard"] = summarise(
            "skewguard ASOF store", [run_child(repo, labels) for _ in range(args.runs)]
        )
        if args.feast_runs:
            yaml = repo / "feature_store.yaml"
            yaml.write_text(yaml.read_text().replace(OURS, "type: duckdb"))
            feast = [run_child(repo, labels) for _ in range(args.feast_runs)]
            results["feast_duckdb"] = summarise("Feast duckdb store (peer)", feast)
            if feast[0]["nulls"] != results["skewguard"]["null_values"]:  # type: ignore[index]
                print("  note: the two stores returned different numbers of missing values")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if args.json is not None:
            results["load_average"] = list(os.getloadavg())
            args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
