"""Run every benchmark once and write one table: docs/benchmarks.md and docs/benchmarks.json.

    python benchmarks/run_all.py [--quick] [--md FILE] [--json FILE] [--only NAME,...]

`make bench` runs it. Each benchmark is its own script in this folder, run as a child
process with `--json`, and every figure stands beside its peer measured in the same run:
Feast's own SDK path, `feast serve`, Feast's materialization engine, Feast's DuckDB
offline store, Evidently. Latencies are medians over trials of alternating blocks;
throughputs are medians of several runs; peak memory is the highest of the runs. The
load average is recorded before and after every benchmark: on a shared machine the wall
times move with it, so compare figures only with their peers of the same row.

`--quick` runs the same benchmarks on tiny sizes (a smoke test of the whole pipeline in a
few minutes; its figures mean nothing). benchmarks/bench_detection.py (detection power
and time, beside Evidently), when present, is run by path and its own report linked;
when missing, its row says so. A benchmark that fails leaves its row marked failed with
the error's last line, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DETECTION = HERE / "bench_detection.py"


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    full: str  # its arguments for `make bench`
    quick: str  # and for --quick
    needs: str = ""  # what the benchmark needs, for the docs


BENCHES = [
    Bench(
        "serving_1",
        "bench_serving.py",
        "--build-repo --entities 1 --trials 3 --rounds 100",
        (
            "--build-repo --entities 1 --trials 1 --rounds 3 --block 2 --warmup 4 "
            "--customers 60 --products 30"
        ),
        needs="Redis ($SKEWGUARD_REDIS, else 127.0.0.1:6379)",
    ),
    Bench(
        "serving_100",
        "bench_serving.py",
        "--build-repo --entities 100 --trials 3 --rounds 20 --block 5 --flush-rows 5000 "
        "--warmup 400",
        (
            "--build-repo --entities 100 --trials 1 --rounds 2 --block 2 --warmup "
            "200 --flush-rows 500 --customers 60 --products 30"
        ),
        needs="Redis",
    ),
    Bench(
        "lookup",
        "bench_lookup.py",
        "--trials 3 --rounds 100 --batch-rounds 10",
        (
            "--trials 1 --rounds 3 --batch-rounds 1 --block 2 --warmup 4 "
            "--customers 60 --products 30"
        ),
        needs="Redis",
    ),
    Bench(
        "materialize",
        "bench_materialize.py",
        "--rows 100000,1000000 --runs 3 --feast-rows 100000,1000000 --feast-runs 3",
        "--rows 2000 --runs 1 --feast-rows 2000 --feast-runs 1",
        needs="a private redis-server it starts",
    ),
    Bench(
        "snapshot",
        "bench_snapshot.py",
        "--rows 1000000 --runs 3 --feast-runs 1",
        "--rows 3000 --runs 1 --feast-runs 1",
    ),
    Bench(
        "check",
        "bench_check.py",
        (
            "--rows 10000000 --chunk 1000000 --repeats 3 --engines local,dask "
            "--evidently-rows 1000000"
        ),
        ("--rows 40000 --chunk 20000 --repeats 1 --engines local,dask --evidently-rows 20000"),
    ),
    Bench(
        "replay",
        "bench_replay.py",
        "--rows 1000000 --runs 3 --with-feast-duckdb --feast-runs 1",
        "--rows 3000 --runs 1 --with-feast-duckdb --feast-runs 1",
    ),
]


@dataclass
class Outcome:
    name: str
    status: str  # ok, failed, skipped
    command: str
    seconds: float = 0.0
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    result: Any = None
    reason: str | None = None


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_bench(bench: Bench, quick: bool, logs: Path, scratch: Path) -> Outcome:
    out = scratch / f"{bench.name}.json"
    argv = [
        sys.executable,
        str(HERE / bench.script),
        *(bench.quick if quick else bench.full).split(),
    ]
    argv += ["--json", str(out)]
    shown = " ".join(["python", f"benchmarks/{bench.script}", *argv[2:-2]])
    return _run(bench.name, argv, shown, out, logs)


def _run(name: str, argv: list[str], shown: str, out: Path | None, logs: Path) -> Outcome:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    load_before = _load()
    started = time.perf_counter()
    print(f"[{datetime.now(UTC):%H:%M:%S}] {name}: {shown}", flush=True)
    log = logs / f"{name}.log"
    with log.open("w") as handle:
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    outcome = Outcome(name, "ok", shown, seconds, load_before, _load())
    if proc.returncode != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        outcome.status = "failed"
        outcome.reason = f"exit {proc.returncode}: {lines[-1] if lines else 'no output'}"
    elif out is not None:
        outcome.result = json.loads(out.read_text())
    print(f"    {outcome.status} in {seconds:.0f} s (load {outcome.load_after[0]})", flush=True)
    return outcome


def run_detection(quick: bool, logs: Path, scratch: Path) -> Outcome:
    """benchmarks/bench_detection.py by path, with --quick / --json when it takes them."""
    if not DETECTION.exists():
        return Outcome(
            "detection",
            "skipped",
            "python benchmarks/bench_detection.py",
            load_before=_load(),
            load_after=_load(),
            reason="benchmarks/bench_detection.py is not in this checkout",
        )
    usage = subprocess.run(
        [sys.executable, str(DETECTION), "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    argv = [sys.executable, str(DETECTION)]
    if quick and "--quick" in usage:
        argv.append("--quick")
    out = scratch / "detection.json" if "--json" in usage else None
    shown = " ".join(["python", "benchmarks/bench_detection.py", *argv[2:]])
    if out is not None:
        argv += ["--json", str(out)]
    if quick and "--markdown" in usage:  # a smoke test must not replace the real report
        argv += ["--markdown", str(scratch / "detection.md")]
    return _run("detection", argv, shown, out, logs)


# -- the table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    what: str
    bench: str
    ours: Callable[[Any], str]
    peer: Callable[[Any], str]
    peer_name: str


def _ms(d: dict[str, float]) -> str:
    return f"p50 {d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms"


def _rate(d: dict[str, Any], key: str = "rows_per_s", peak: str = "peak_mib") -> str:
    text = f"{d[key]:,.0f} rows/s"
    return text + (f", peak {d[peak]:,.0f} MiB" if d.get(peak) is not None else "")


def _pick(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    for item in items:
        if all(item.get(k) == v for k, v in match.items()):
            return item
    raise KeyError(match)


def _serving(part: str, which: int) -> Callable[[Any], str]:
    return lambda r: _ms(list(r[part].values())[which])


def _lookup(entities: int, variant: str) -> Callable[[Any], str]:
    return lambda r: _ms(r[f"entities_{entities}"][variant])


def _materialize(engine: str, largest: bool = False) -> Callable[[Any], str]:
    """The smallest size both engines ran, or (`largest`) skewguard's largest size and
    Feast at that size when it ran it (else Feast's largest)."""

    def cell(r: list[dict[str, Any]]) -> str:
        ran = {e: sorted(x["size"] for x in r if x["engine"] == e) for e in ("feast", "skewguard")}
        both = [size for size in ran["feast"] if size in ran["skewguard"]]
        top = ran["skewguard"][-1]
        if not largest:
            size = both[0] if both else ran[engine][0]
        elif engine == "skewguard" or top in ran["feast"]:
            size = top
        else:
            size = ran["feast"][-1]
        x = _pick(r, engine=engine, size=size)
        return f"{size:,} rows: {x['rows_per_s']:,.0f} rows/s, peak {x['peak_mb']:,} MiB"

    return cell


def _check(engine: str, largest: bool) -> Callable[[Any], str]:
    def cell(r: dict[str, Any]) -> str:
        rows = sorted({x["rows"] for x in r["check"]})
        size = rows[-1] if largest else rows[0]
        x = _pick(r["check"], engine=engine, rows=size)
        return f"{size:,} rows: {x['median_s']:.2f} s, {_rate(x)}"

    return cell


def _evidently(r: dict[str, Any]) -> str:
    ev = r.get("evidently")
    if not ev:
        return "not run (Evidently not installed: pip install 'skewguard[bench]')"
    return f"{ev['rows']:,} rows: {ev['compute_s']:.2f} s computing, {_rate(ev)}"


def _reference(engine: str) -> Callable[[Any], str]:
    def cell(r: dict[str, Any]) -> str:
        x = r["reference_profile"][engine]
        return f"{r['rows']:,} rows: {x['median_s']:.2f} s, {_rate(x)}"

    return cell


def _detection(r: Any) -> str:
    if isinstance(r, dict):
        shown = {k: v for k, v in r.items() if isinstance(v, int | float | str)}
        return ", ".join(f"{k} {v}" for k, v in list(shown.items())[:6]) or "see its report"
    return "see docs/detection_benchmark.md"


ROWS = [
    Row(
        "lookup_1_in_process",
        "online lookup, 1 entity, in-process, with logging (FeatureLogger) vs without (Feast SDK)",
        "serving_1",
        _serving("in_process", 1),
        _serving("in_process", 0),
        "Feast `get_online_features`",
    ),  # fmt: skip
    Row(
        "lookup_1_http",
        "online lookup, 1 entity, HTTP: `skewguard serve` (logging) vs `feast serve`",
        "serving_1",
        _serving("http", 1),
        _serving("http", 0),
        "`feast serve`",
    ),  # fmt: skip
    Row(
        "lookup_100_in_process",
        "online lookup, 100 entities, in-process, with logging vs without",
        "serving_100",
        _serving("in_process", 1),
        _serving("in_process", 0),
        "Feast `get_online_features`",
    ),  # fmt: skip
    Row(
        "lookup_100_http",
        "online lookup, 100 entities, HTTP: `skewguard serve` (logging) vs `feast serve`",
        "serving_100",
        _serving("http", 1),
        _serving("http", 0),
        "`feast serve`",
    ),  # fmt: skip
    Row(
        "ondemand_1",
        "lookup with the on-demand view, fast read path (`--fast-read`), 1 entity, in-process",
        "lookup",
        _lookup(1, "fast"),
        _lookup(1, "plain"),
        "Feast's plain lookup, no on-demand view",
    ),  # fmt: skip
    Row(
        "ondemand_100",
        "lookup with the on-demand view, fast read path (`--fast-read`), 100 entities",
        "lookup",
        _lookup(100, "fast"),
        _lookup(100, "plain"),
        "Feast's plain lookup, no on-demand view",
    ),  # fmt: skip
    Row(
        "ondemand_feast_1",
        "lookup with the on-demand view through Feast's SDK (python mode), 1 entity",
        "lookup",
        _lookup(1, "python"),
        _lookup(1, "plain"),
        "Feast's plain lookup, no on-demand view",
    ),  # fmt: skip
    Row(
        "ondemand_feast_100",
        "lookup with the on-demand view through Feast's SDK (python mode), 100 entities",
        "lookup",
        _lookup(100, "python"),
        _lookup(100, "plain"),
        "Feast's plain lookup, no on-demand view",
    ),  # fmt: skip
    Row(
        "materialize",
        "materialization into Redis, 10 scalar features (same rows)",
        "materialize",
        _materialize("skewguard"),
        _materialize("feast"),
        "Feast's local engine",
    ),  # fmt: skip
    Row(
        "materialize_large",
        "materialization into Redis, largest size run",
        "materialize",
        _materialize("skewguard", largest=True),
        _materialize("feast", largest=True),
        "Feast's local engine (the same size when it ran it)",
    ),  # fmt: skip
    Row(
        "snapshot",
        "snapshot retrieval (point-in-time join, `recommender_v1`)",
        "snapshot",
        lambda r: f"{r['skewguard']['rows']:,} rows: {_rate(r['skewguard'])}",
        lambda r: f"{r['feast_duckdb']['rows']:,} rows: {_rate(r['feast_duckdb'])}",
        "Feast's DuckDB offline store",
    ),  # fmt: skip
    Row(
        "reference_profile",
        "reference profile of the snapshot, one process vs Dask",
        "check",
        _reference("local"),
        _reference("dask"),
        "the same on a 2-worker Dask cluster",
    ),  # fmt: skip
    Row(
        "check_small_local",
        "check, smaller size, 10 features, one process",
        "check",
        _check("local", False),
        _evidently,
        "Evidently DataDriftPreset",
    ),  # fmt: skip
    Row(
        "check_small_dask",
        "check, smaller size, on Dask (2 workers)",
        "check",
        _check("dask", False),
        _evidently,
        "Evidently DataDriftPreset",
    ),  # fmt: skip
    Row(
        "check_large_local",
        "check, larger size, one process",
        "check",
        _check("local", True),
        _evidently,
        "Evidently DataDriftPreset (smaller size)",
    ),  # fmt: skip
    Row(
        "check_large_dask",
        "check, larger size, on Dask (2 workers)",
        "check",
        _check("dask", True),
        _evidently,
        "Evidently DataDriftPreset (smaller size)",
    ),  # fmt: skip
    Row(
        "replay",
        "replay of logged rows (point-in-time join + compare + classify)",
        "replay",
        lambda r: f"{r['skewguard']['rows']:,} rows: {_rate(r['skewguard'])}",
        lambda r: f"{r['feast_duckdb']['rows']:,} rows: {_rate(r['feast_duckdb'])}",
        "the same through Feast's DuckDB store",
    ),  # fmt: skip
    Row(
        "detection",
        "detection: power, false alarms and time (benchmarks/bench_detection.py)",
        "detection",
        _detection,
        lambda r: "Evidently, in its report",
        "Evidently",
    ),  # fmt: skip
]


def _cell(fn: Callable[[Any], str], outcome: Outcome | None) -> str:
    if outcome is None:
        return "not run (--only)"
    if outcome.status != "ok":
        return f"{outcome.status}: {outcome.reason}"
    try:
        return fn(outcome.result)
    except (KeyError, IndexError, TypeError, ValueError) as err:
        return f"missing from the results ({type(err).__name__}: {err})"


def table_rows(outcomes: dict[str, Outcome]) -> list[dict[str, str]]:
    return [
        {
            "key": row.key,
            "measurement": row.what,
            "skewguard": _cell(row.ours, outcomes.get(row.bench)),
            "peer": _cell(row.peer, outcomes.get(row.bench)),
            "peer_is": row.peer_name,
            "benchmark": row.bench,
        }
        for row in ROWS
    ]


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python benchmarks/run_all.py"
        + (" --quick" if doc["quick"] else "")
        + "`): every benchmark in one run, each figure beside its peer measured in the "
        "same run. Latencies: medians over trials of alternating blocks (p50 and p99 per "
        "trial); throughputs: medians of several runs; peak memory: the highest resident "
        "set of the runs (processes of a Dask cluster included). The figures come from a "
        "shared machine: read the load average beside each benchmark, and compare a "
        "figure only with its peer in the same row.",
        "",
    ]
    if doc["quick"]:
        lines += ["**Quick mode: tiny sizes, a smoke test. These figures mean nothing.**", ""]
    lines += [
        f"Run {doc['started']} to {doc['finished']} on {doc['machine']}, commit "
        f"`{doc['commit']}`; load average (1, 5, 15 min) at the start "
        f"{doc['load_start']}, at the end {doc['load_end']}.",
        "",
        "| measurement | skewguard | peer, same run | peer |",
        "|---|---|---|---|",
    ]
    for row in doc["rows"]:
        lines.append(
            f"| {row['measurement']} | {row['skewguard']} | {row['peer']} | {row['peer_is']} |"
        )
    lines += [
        "",
        "## Each benchmark",
        "",
        "| benchmark | command | status | wall | load before | load after | needs |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, b in doc["benchmarks"].items():
        status = b["status"] + (f": {b['reason']}" if b.get("reason") else "")
        lines.append(
            f"| {name} | `{b['command']}` | {status} | {b['seconds']:.0f} s | "
            f"{b['load_before']} | {b['load_after']} | {b.get('needs') or '-'} |"
        )
    lines += [
        "",
        "What each measures, its data and method: the docstring of its script in "
        "`benchmarks/`. The full figures (every run, CPU seconds, trials) are in "
        f"`{doc['json_name']}`. Detection power and false-alarm rates: "
        "[detection_benchmark.md](detection_benchmark.md) when bench_detection ran.",
        "",
    ]
    return "\n".join(lines)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--md", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks.json")
    parser.add_argument("--logs", type=Path, help="keep each benchmark's output here")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    args = parser.parse_args(argv)
    names = [b.name for b in BENCHES] + ["detection"]
    only = [n for n in args.only.split(",") if n]
    unknown = set(only) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {names}")

    started = datetime.now(UTC)
    load_start = _load()
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="sg-bench-all-") as scratch_dir:
        scratch = Path(scratch_dir)
        logs = args.logs or scratch / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for bench in BENCHES:
            if not only or bench.name in only:
                outcomes[bench.name] = run_bench(bench, args.quick, logs, scratch)
        if not only or "detection" in only:
            outcomes["detection"] = run_detection(args.quick, logs, scratch)
    doc: dict[str, Any] = {
        "quick": args.quick,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores available, "
        f"Python {platform.python_version()}",
        "commit": _commit(),
        "load_start": load_start,
        "load_end": _load(),
        "json_name": args.json.name,
    }
    doc["rows"] = table_rows(outcomes)
    doc["benchmarks"] = {
        name: {
            "status": o.status,
            "reason": o.reason,
            "command": o.command,
            "seconds": round(o.seconds, 1),
            "load_before": o.load_before,
            "load_after": o.load_after,
            "needs": next((b.needs for b in BENCHES if b.name == name), ""),
            "result": o.result,
        }
        for name, o in outcomes.items()
    }
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    args.md.write_text(render_markdown(doc))
    print(f"wrote {args.md} and {args.json}")
    failed = [name for name, o in outcomes.items() if o.status == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)} (see the table)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
