"""Benchmark `skewguard check` at 10M rows x 10 features, and Evidently on 1M of those rows.

    python benchmarks/bench_check.py [--rows 10000000] [--evidently-rows 1000000] [--keep DIR]

Generates (in a temporary folder, removed afterwards unless --keep) a 10M-row training
snapshot and 10M rows of serving logs in Feast's logging schema, both drawn from the same
distributions, then:

1. builds the snapshot's reference profile (`write_reference_profile`), timed;
2. runs `skewguard check` three times as a child process and reports the median wall time
   and the peak resident memory (the sum over the check's processes, sampled every 20 ms);
   the verdict must be `pass` (the 10M-row false-alarm case);
3. runs `skewguard check` on the first 1M serving rows;
4. runs Evidently's `DataDriftPreset` on the first 1M training rows against those 1M
   serving rows (pandas frames already in memory, so only Evidently's computation is timed)
   in a child process, when Evidently is installed (`pip install skewguard[bench]`).

It prints rows per second for both tools and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.check_fixtures import manifest_document  # noqa: E402  (the test suite's helper)

CHUNK = 1_000_000
FEATURES = [
    "customer_stats__avg_order_value",
    "customer_stats__orders_30d",
    "customer_stats__days_since_signup",
    "customer_stats__return_rate",
    "customer_stats__session_minutes",
    "product_stats__price",
    "product_stats__rating",
    "product_stats__views_7d",
    "product_stats__discount",
    "product_stats__weight_kg",
]


def _values(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    rating = np.clip(rng.normal(4.0, 0.5, n), 1.0, 5.0)
    return {
        "customer_stats__avg_order_value": pa.array(rng.normal(100.0, 15.0, n)),
        "customer_stats__orders_30d": pa.array(rng.poisson(3.0, n).astype(np.float64)),
        "customer_stats__days_since_signup": pa.array(rng.uniform(0, 2000, n)),
        "customer_stats__return_rate": pa.array(rng.beta(2, 20, n)),
        "customer_stats__session_minutes": pa.array(rng.exponential(8.0, n)),
        "product_stats__price": pa.array(rng.lognormal(3.0, 0.5, n)),
        "product_stats__rating": pa.array(rating, mask=rng.random(n) < 0.05),
        "product_stats__views_7d": pa.array(rng.negative_binomial(3, 0.05, n).astype(np.float64)),
        "product_stats__discount": pa.array(rng.uniform(0, 0.5, n)),
        "product_stats__weight_kg": pa.array(rng.gamma(2.0, 1.5, n)),
    }


def _timestamps(rng: np.random.Generator, n: int) -> pa.Array:
    base = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1e6)
    micros = base + np.sort(rng.integers(0, 20 * 86_400 * 10**6, n))
    return pa.array(micros, type=pa.timestamp("us", tz="UTC"))


def generate(root: Path, rows: int) -> tuple[Path, Path]:
    snapshot, logs = root / "snapshot", root / "logs"
    snapshot.mkdir(parents=True)
    rng = np.random.default_rng(1)
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        table = pa.table(
            {
                "customer_id": pa.array(rng.integers(1, 1_000_000, n)),
                "product_id": pa.array(rng.integers(1, 100_000, n)),
                "event_timestamp": _timestamps(rng, n),
                "purchased": pa.array(rng.random(n) < 0.1),
                **_values(rng, n),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(snapshot / "data.parquet", table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    manifest = manifest_document(
        table.schema,
        dict.fromkeys(FEATURES, "Float64"),
        rows=rows,
        start=start,
        end=start + timedelta(days=20),
        content_hash=None,
    )
    (snapshot / "manifest.json").write_text(json.dumps(manifest, indent=2))

    rng = np.random.default_rng(2)
    for i, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        logged = _timestamps(rng, n)
        columns: dict[str, pa.Array] = {
            "customer_id": pa.array(rng.integers(1, 1_000_000, n)),
            "product_id": pa.array(rng.integers(1, 100_000, n)),
        }
        for name, values in _values(rng, n).items():
            status = np.where(values.is_null().to_numpy(zero_copy_only=False), 2, 1)
            columns[name] = values
            columns[name + "__timestamp"] = logged
            columns[name + "__status"] = pa.array(status.astype(np.int32))
        columns["__log_timestamp"] = logged
        columns["__request_id"] = pa.array(np.arange(start, start + n)).cast(pa.string())
        part = logs / f"__log_date=2026-11-{i + 1:02d}"
        part.mkdir(parents=True)
        pq.write_table(pa.table(columns), part / "part-0.parquet")
    return snapshot, logs


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, pages = int(fields[1]), int(fields[21])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


CPU = {"last": 0.0}


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 1, 3)
) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS in bytes, and stdout of a child process. The child's
    CPU seconds (user + system, its workers included) are left in CPU["last"]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in ok:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return wall, peak, out


EVIDENTLY_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import pyarrow.parquet as pq
    features, ref_path, cur_path, rows = json.loads(sys.argv[1])
    ref = pq.ParquetFile(ref_path).iter_batches(batch_size=rows, columns=features)
    reference = next(ref).to_pandas()
    current = pq.read_table(cur_path, columns=features).slice(0, rows).to_pandas()
    from evidently import Report
    from evidently.presets import DataDriftPreset
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    elapsed = time.perf_counter() - start
    drifted = [m for m in snapshot.dict()["metrics"] if "DriftedColumnsCount" in m["metric_name"]]
    value = drifted[0]["value"] if drifted else None
    print(json.dumps({"seconds": elapsed, "drift": value}, default=float))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--evidently-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate here and keep the data")
    parser.add_argument("--no-evidently", action="store_true", help="skip the Evidently run")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="skewguard-bench-"))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    py = sys.executable
    print(f"cores available: {len(os.sched_getaffinity(0))}; data in {root}")
    try:
        t0 = time.perf_counter()
        if (root / "snapshot" / "manifest.json").exists():
            snapshot, logs = root / "snapshot", root / "logs"
        else:
            snapshot, logs = generate(root, args.rows)
        print(
            f"generated {args.rows:,} training + {args.rows:,} serving rows x {len(FEATURES)} "
            f"features in {time.perf_counter() - t0:.1f} s"
        )

        build = (
            "import json, sys; from pathlib import Path; "
            "from skewguard.checking.reference import write_reference_profile; "
            "snap = Path(sys.argv[1]); path = write_reference_profile(snap); "
            "m = json.loads((snap / 'manifest.json').read_text()); "
            "m['reference_profile'] = path.name; "
            "(snap / 'manifest.json').write_text(json.dumps(m, indent=2))"
        )
        wall, peak, _ = run_measured([py, "-c", build, str(snapshot)], env)
        print(
            f"reference profile of {args.rows:,} rows: {wall:.2f} s (CPU {CPU['last']:.2f} s), "
            f"peak RSS {peak / 2**20:.0f} MiB"
        )

        cmd = [py, "-m", "skewguard", "check", "--training", str(snapshot), "--serving", str(logs),
               "--json", str(root / "report.json")]  # fmt: skip
        walls, peaks, cpus = [], [], []
        for _ in range(args.repeats):
            wall, peak, out = run_measured(cmd, env)
            walls.append(wall)
            peaks.append(peak)
            cpus.append(CPU["last"])
        verdict = json.loads((root / "report.json").read_text())["verdict"]
        check_wall = statistics.median(walls)
        rate = args.rows / check_wall
        print(
            f"skewguard check {args.rows:,} serving rows x {len(FEATURES)} features: "
            f"median {check_wall:.2f} s of {[round(w, 2) for w in walls]}, "
            f"CPU {statistics.median(cpus):.2f} s, peak RSS {max(peaks) / 2**20:.0f} MiB, "
            f"verdict {verdict}, {rate:,.0f} rows/s"
        )
        if verdict != "pass":
            print(out)
            raise SystemExit("false alarm: same-distribution data did not pass")

        first = sorted(logs.rglob("*.parquet"))[0]
        small = [py, "-m", "skewguard", "check", "--training", str(snapshot), "--serving",
                 str(first)]  # fmt: skip
        wall_1m, peak_1m, _ = run_measured(small, env)
        print(
            f"skewguard check {CHUNK:,} serving rows: {wall_1m:.2f} s (CPU {CPU['last']:.2f} s), "
            f"peak RSS {peak_1m / 2**20:.0f} MiB, {CHUNK / wall_1m:,.0f} rows/s"
        )

        payload = json.dumps(
            [FEATURES, str(snapshot / "data.parquet"), str(first), args.evidently_rows]
        )
        try:
            if args.no_evidently:
                raise ImportError
            import evidently  # noqa: F401
        except ImportError:
            print("Evidently not installed (pip install 'skewguard[bench]'): skipped")
            return
        wall_ev, peak_ev, out = run_measured([py, "-c", EVIDENTLY_SCRIPT, payload], env, ok=(0,))
        result = json.loads(out.strip().splitlines()[-1])
        ev_rate = args.evidently_rows / result["seconds"]
        print(
            f"Evidently DataDriftPreset {args.evidently_rows:,} rows x {len(FEATURES)} features: "
            f"{result['seconds']:.2f} s computing ({wall_ev:.2f} s with load, "
            f"CPU {CPU['last']:.2f} s), "
            f"peak RSS {peak_ev / 2**20:.0f} MiB, drifted columns {result['drift']}, "
            f"{ev_rate:,.0f} rows/s"
        )
        print(
            f"rows/s ratio skewguard (10M, end to end) / Evidently (1M, compute only): "
            f"{rate / ev_rate:.1f}x"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
