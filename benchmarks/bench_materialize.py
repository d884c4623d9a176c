"""Benchmark: materialize into Redis with Feast's own engine and with skewguard's.

    python benchmarks/bench_materialize.py [--rows 1000000[,4000000]] [--runs 3]
        [--feast-rows 100000] [--feast-runs 3] [--views scalar,repo] [--json FILE]

Data (one repo per row count, in a temp folder):
- the `scalar` view: a parquet source of N rows, one per entity, so every row is written:
  10 scalar features (3 Float64, 2 Float32, 2 Int64, 1 Int32, 1 Bool, 1 String), about
  5% of each missing;
- the `repo` views (with --views repo): the repo's own customer_profile (with its
  Array(String)) and product_stats on a generated world of about N source rows; the
  latest row of each customer and product is written.

Redis is a private redis-server (the binary skewguard ships) on a free loopback port,
emptied before every run and stopped at the end. Each run is a fresh child process that
opens the store and warms the imports Feast's DuckDB store makes on its first query (a
few seconds, the same for both engines), then times `FeatureStore.materialize` over the
whole window: rows/s is source rows over that wall time, peak RSS is the child's VmHWM
(Feast and the registry loaded included; "RSS0" is the same just before materializing),
client CPU is the child's user+sys seconds over all its threads (DuckDB's included) and
Redis CPU the server's, during the run. Medians of the runs are printed. On a machine
shared with other work, wall times vary with the load; the CPU seconds much less.

Feast's engine is slow and memory-hungry (1M scalar rows: about 9 minutes and 9 GB
here), so by default it runs on the first --feast-rows rows of the same data; pass
--feast-rows 1000000 to compare at a million.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

END = datetime(2026, 11, 20, tzinfo=UTC)
ENGINES = {
    "feast": "batch_engine: local\n",
    "skewguard": "batch_engine:\n  type: skewguard.store.batch_engine.RedisBatchEngine\n",
}

SCALAR_VIEW = """
from pathlib import Path

from entities import customer
from feast import FeatureView, Field, FileSource
from feast.types import Bool, Float32, Float64, Int32, Int64, String

# Benchmark only: ten scalar features, one row per customer.
scalar_source = FileSource(
    name="scalar_source",
    path=str(Path(__file__).resolve().parent / "data" / "scalar.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

scalar = FeatureView(
    name="scalar",
    entities=[customer],
    ttl=None,
    schema=[
        Field(name="f64_a", dtype=Float64),
        Field(name="f64_b", dtype=Float64),
        Field(name="f64_c", dtype=Float64),
        Field(name="f32_a", dtype=Float32),
        Field(name="f32_b", dtype=Float32),
        Field(name="i64_a", dtype=Int64),
        Field(name="i64_b", dtype=Int64),
        Field(name="i32", dtype=Int32),
        Field(name="flag", dtype=Bool),
        Field(name="tier", dtype=String),
    ],
    source=scalar_source,
    online=True,
)
"""

CHILD = r"""
import contextlib, io, json, os, resource, sys, time
from datetime import datetime
sys.path.insert(0, {root!r})
import redis
from skewguard.store.repo import open_store
store = open_store({repo!r})
views = {views!r}
store.list_feature_views()
# Warm the imports Feast's DuckDB offline store makes on its first query (the ibis
# backend, sqlglot, Feast's data source modules): the same seconds for both engines.
import ibis
ibis.get_backend()
with contextlib.suppress(ImportError):
    import feast.infra.data_sources.mlflow.mlflow_dataset_source
server = redis.Redis(port={port})
def cpu():
    info = server.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]
def peak_mib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
def own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before = peak_mib()
cpu0, own0 = cpu(), own_cpu()
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    store.materialize(datetime.fromisoformat({start!r}), datetime.fromisoformat({end!r}),
                      feature_views=views)
wall = time.perf_counter() - t0
# A file, not stdout: DuckDB prints its progress bar there on long queries.
with open({result!r}, "w") as out:
    out.write(json.dumps({{
    "wall": wall,
    "redis_cpu": cpu() - cpu0,
    "client_cpu": own_cpu() - own0,
    "rss_before_mb": before,
    "peak_mb": peak_mib(),
    "keys": server.dbsize(),
}}))
"""


def write_scalar_source(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    writer = None
    step = 500_000
    for start in range(0, rows, step):
        n = min(step, rows - start)

        def holes(array: pa.Array, n: int = n) -> pa.Array:
            return pa.compute.if_else(pa.array(rng.random(n) < 0.05), None, array)

        seconds = rng.integers(0, 30 * 86400, n)
        event = pa.array((END - timedelta(days=30)).timestamp() * 1e6 + seconds * 1e6)
        event = event.cast(pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        created = pa.compute.add(event, pa.scalar(timedelta(hours=1)))
        tiers = np.array(["bronze", "silver", "gold", "platinum"], dtype=object)
        batch = pa.table(
            {
                "customer_id": pa.array(np.arange(start, start + n, dtype=np.int64) + 1),
                "event_timestamp": event,
                "created_timestamp": created,
                "f64_a": holes(pa.array(rng.normal(100, 30, n))),
                "f64_b": holes(pa.array(rng.random(n))),
                "f64_c": holes(pa.array(np.round(rng.lognormal(4, 1, n), 2))),
                "f32_a": holes(pa.array(rng.random(n).astype(np.float32))),
                "f32_b": holes(pa.array(rng.normal(0, 1, n).astype(np.float32))),
                "i64_a": holes(pa.array(rng.integers(0, 10**6, n))),
                "i64_b": holes(pa.array(rng.integers(-(10**12), 10**12, n))),
                "i32": holes(pa.array(rng.integers(-100, 10**4, n).astype(np.int32))),
                "flag": holes(pa.array(rng.random(n) < 0.3)),
                "tier": holes(pa.array(tiers[rng.integers(0, 4, n)].tolist())),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, batch.schema)
        writer.write_table(batch, row_group_size=250_000)
    assert writer is not None
    writer.close()


def set_engine(repo: Path, engine: str) -> None:
    yaml = repo / "feature_store.yaml"
    text = re.sub(r"(?ms)^batch_engine:.*?(?=^\S|\Z)", "", yaml.read_text())
    yaml.write_text(text.rstrip("\n") + "\n" + ENGINES[engine])


def build_repo(workdir: Path, kind: str, rows: int, redis: str) -> dict:
    """A repo copy with about `rows` source rows; returns what the runs need."""
    import os

    import pyarrow.parquet as pq

    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.repo import apply_repo, data_dir
    from tests.conftest import copy_feature_repo

    os.environ["SKEWGUARD_REDIS"] = redis
    repo = copy_feature_repo(workdir / f"{kind}_{rows}" / "feature_repo", "sgbench_mat")
    if kind == "scalar":
        data_dir(repo).mkdir(parents=True, exist_ok=True)
        (repo / "scalar_view.py").write_text(SCALAR_VIEW)
        write_scalar_source(data_dir(repo) / "scalar.parquet", rows)
        start, views, source_rows = END - timedelta(days=31), ["scalar"], rows
    else:
        days = 42
        config = GeneratorConfig(
            customers=max(50, rows // 12), products=max(20, rows // 84), days=days, end=END
        )
        data = generate(data_dir(repo), config)
        start, views = data.start, ["customer_profile", "product_stats"]
        source_rows = sum(
            pq.ParquetFile(p).metadata.num_rows for p in (data.customer_profile, data.product_stats)
        )
    apply_repo(repo)
    return {"repo": repo, "start": start, "views": views, "source_rows": source_rows}


def run_child(world: dict, port: int) -> dict:
    result = world["repo"].parent / "result.json"
    code = CHILD.format(
        result=str(result),
        root=str(ROOT),
        repo=str(world["repo"]),
        views=world["views"],
        port=port,
        start=world["start"].isoformat(),
        end=END.isoformat(),
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"materialization failed:\n{out.stderr[-3000:]}")
    return json.loads(result.read_text())


def measure(world: dict, engine: str, runs: int, server) -> dict:  # noqa: ANN001
    import redis

    set_engine(world["repo"], engine)
    results = []
    for _ in range(runs):
        redis.Redis(port=server.port).flushall()
        results.append(run_child(world, server.port))
    wall = statistics.median(r["wall"] for r in results)
    return {
        "engine": engine,
        "rows": world["source_rows"],
        "keys": results[0]["keys"],
        "runs": runs,
        "wall_s": [round(r["wall"], 3) for r in results],
        "median_s": round(wall, 3),
        "rows_per_s": round(world["source_rows"] / wall),
        "peak_mb": round(max(r["peak_mb"] for r in results)),
        "rss_before_mb": round(statistics.median(r["rss_before_mb"] for r in results)),
        "redis_cpu_s": round(statistics.median(r["redis_cpu"] for r in results), 2),
        "client_cpu_s": round(statistics.median(r["client_cpu"] for r in results), 2),
    }


def print_row(view: str, r: dict) -> None:
    print(
        f"{r['engine']:<10} {view:<7} {r['rows']:>10,} {r['keys']:>10,} {r['runs']:>4}"
        f" {r['median_s']:>9.2f} {r['rows_per_s']:>10,} {r['peak_mb']:>9,}"
        f" {r['rss_before_mb']:>9,} {r['client_cpu_s']:>10.2f} {r['redis_cpu_s']:>9.2f}",
        flush=True,
    )


def counts(text: str) -> list[int]:
    return [int(v.replace("_", "")) for v in text.split(",") if v.strip() and int(v) > 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=counts, default=[1_000_000], help="comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--feast-rows", type=counts, default=[100_000], help="0: skip Feast")
    parser.add_argument("--feast-runs", type=int, default=3)
    parser.add_argument(
        "--views",
        type=lambda text: [v for v in text.split(",") if v],
        default=["scalar"],
        help="comma-separated: scalar (10 scalar features), repo (the repo's own views)",
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    from skewguard.store.online import EmbeddedRedis

    kinds = [v for v in ("scalar", "repo") if v in args.views]
    workdir = Path(tempfile.mkdtemp(prefix="sg-bench-mat-"))
    results = []
    try:
        with EmbeddedRedis.start() as server:
            print(f"private redis-server on {server.connection_string}")
            print(
                f"{'engine':<10} {'view':<7} {'rows':>10} {'keys':>10} {'runs':>4}"
                f" {'median s':>9} {'rows/s':>10} {'peak MiB':>9} {'RSS0 MiB':>9}"
                f" {'client CPU':>10} {'Redis CPU':>9}"
            )
            for kind in kinds:
                for rows in sorted(set(args.rows) | set(args.feast_rows)):
                    started = time.perf_counter()
                    world = build_repo(workdir, kind, rows, server.connection_string)
                    print(
                        f"  ({kind}, {rows:,} rows built in {time.perf_counter() - started:.0f} s)"
                    )
                    for engine, sizes, runs in (
                        ("feast", args.feast_rows, args.feast_runs),
                        ("skewguard", args.rows, args.runs),
                    ):
                        if rows in sizes:
                            result = {
                                "view": kind,
                                "size": rows,
                                **measure(world, engine, runs, server),
                            }
                            results.append(result)
                            print_row(kind, result)
                    shutil.rmtree(world["repo"].parent, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for kind in kinds:
        for rows in sorted(set(args.rows) & set(args.feast_rows)):
            pair = {r["engine"]: r for r in results if r["view"] == kind and r["size"] == rows}
            speedup = pair["skewguard"]["rows_per_s"] / pair["feast"]["rows_per_s"]
            print(f"{kind}, {rows:,} rows: skewguard {speedup:.1f}x Feast's rows/s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
