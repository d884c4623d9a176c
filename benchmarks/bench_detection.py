"""Detection benchmark: does the verdict catch what matters and stay quiet otherwise?

    python benchmarks/bench_detection.py [--sizes 1000,10000,100000,1000000] [--quick]
        [--clean-resamples 200] [--power-reps 20] [--no-evidently]
        [--markdown docs/detection_benchmark.md] [--json docs/detection_benchmark.json]

For each sample size (rows on each side) it builds a training snapshot (data, manifest and
reference profile, as `skewguard snapshot` writes them) from the generated world of
`benchmarks/detection_suite.py`, then:

1. runs every case of the suite (pipeline defects that must block, realistic drifts that
   must retrain) through `skewguard check` with the default policy, and through Evidently's
   `DataDriftPreset` (the `bench` extra) on the same rows, timing each;
2. runs clean resamples (fresh serving rows from the training world): a retrain or block is
   a false alarm (warn is not: it fails no gate); the false-alarm rate is printed with its
   exact (Clopper-Pearson) one-sided 95% upper bound;
3. measures power: the smallest mean shift (in training standard deviations) of one feature
   and the smallest rise of one feature's null share that are caught (retrain or block;
   for Evidently, a drifted column) in at least 95% of `--power-reps` repetitions,
   searched by bisection over a fixed grid.

Evidently has no block/retrain distinction, so "block-vs-retrain right" is skewguard's
only; "caught" for Evidently means at least one drifted column. Evidently runs at sizes up
to `--evidently-max-rows` (its 1M-row run takes minutes). Sizes of 1M and more use the
`--large-*` repetition counts. Figures under machine load are provisional: the load average
is recorded beside them, and both tools run in the same process, on the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import detection_suite as suite  # noqa: E402
from detection_render import render_markdown  # noqa: E402

from tests.check_fixtures import manifest_document  # noqa: E402

SHIFT_GRID = [0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0]
RISE_GRID = [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2]
CAUGHT = {"retrain", "block"}
POWER_TARGET = {"shift": "customer__avg_basket", "rise": "product__rating"}
LARGE = 1_000_000


# --------------------------------------------------------------------------- inputs


def write_snapshot(folder: Path, n: int, seed: int) -> Path:
    """A snapshot folder with data.parquet, manifest.json and reference_profile.json."""
    from skewguard.checking.reference import write_reference_profile

    rng = np.random.default_rng(seed)
    table = suite.training_table(suite.draw(n, rng), rng)
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "data.parquet")
    doc = manifest_document(
        table.schema,
        suite.FEAST_TYPES,
        rows=n,
        start=suite.START,
        end=suite.START + timedelta(days=suite.DAYS),
        content_hash=None,
    )
    doc["join_keys"], doc["label_columns"] = ["customer_id"], []
    (folder / "manifest.json").write_text(json.dumps(doc))
    doc["reference_profile"] = write_reference_profile(folder).name
    (folder / "manifest.json").write_text(json.dumps(doc))
    return folder


def write_serving(folder: Path, table: pa.Table) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    part = folder / "__log_date=2026-09-29"
    part.mkdir(parents=True)
    pq.write_table(table, part / "part-0.parquet")
    return folder


# --------------------------------------------------------------------------- the two tools


class Skewguard:
    """skewguard check with the shipped default policy.

    `joint=False` leaves the joint-drift classifier out. The repeated runs (clean
    resamples, power) use it: its default action is warn, which counts neither as caught
    nor as a false alarm, so leaving it out changes no figure, only the time.
    """

    def __init__(self, *, joint: bool = True) -> None:
        from dataclasses import replace

        from skewguard.checking.policy import load_policy

        policy = load_policy(None)
        self.policy = (
            policy if joint else replace(policy, joint=replace(policy.joint, enabled=False))
        )
        assert str(policy.joint.action) == "warn" or joint

    def run(self, snapshot: Path, serving: Path) -> dict[str, Any]:
        from skewguard.checking.pipeline import check

        start = time.perf_counter()
        report = check(snapshot, serving, self.policy)
        seconds = time.perf_counter() - start
        fired = [
            {
                "feature": f.name,
                "check": str(c.check),
                "verdict": str(c.verdict),
                "value": c.value,
                "threshold": c.threshold,
                "detail": c.detail,
                "cause": c.cause,
            }
            for f in report.features
            for c in f.checks
            if str(c.verdict) in CAUGHT
        ]
        warned = sorted({f.name for f in report.features if str(f.verdict) == "warn"})
        return {
            "verdict": str(report.verdict),
            "seconds": seconds,
            "fired": fired,
            "warned": warned,
        }


class Evidently:
    def __init__(self) -> None:
        from evidently import Report
        from evidently.presets import DataDriftPreset

        self.report, self.preset = Report, DataDriftPreset
        import evidently

        self.version = evidently.__version__

    def run(self, training: pa.Table, serving: pa.Table) -> dict[str, Any]:
        reference = training.select(suite.FEATURES).to_pandas()
        current = serving.select(suite.FEATURES).to_pandas()
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                snap = self.report([self.preset()]).run(
                    current_data=current, reference_data=reference
                )
            metrics = snap.dict()["metrics"]
        except Exception as err:  # noqa: BLE001  (a peer's crash is a result, recorded)
            return {
                "error": f"{type(err).__name__}: {err}"[:200],
                "seconds": time.perf_counter() - start,
            }
        seconds = time.perf_counter() - start
        count = next(m for m in metrics if "DriftedColumnsCount" in m["metric_name"])["value"]
        drifted = [
            m["metric_name"].split("column=")[1].split(",")[0].strip(")")
            for m in metrics
            if m["metric_name"].startswith("ValueDrift") and _drifted(m)
        ]
        return {
            "drifted_columns": int(count["count"]),
            "share": float(count["share"]),
            "columns": drifted,
            "seconds": seconds,
        }


def _drifted(metric: dict[str, Any]) -> bool:
    # ValueDrift's value is the test's p-value (or a distance); its config holds the
    # threshold. Evidently marks drift when the p-value is below (distance above) it.
    value, config = metric.get("value"), metric.get("config") or {}
    threshold = config.get("threshold")
    method = str(config.get("method", ""))
    if value is None or threshold is None:
        return False
    if "p_value" in method or "p-value" in method or "test" in method.lower():
        return float(value) < float(threshold)
    return float(value) >= float(threshold)


def evidently_caught(result: dict[str, Any]) -> bool | None:
    return None if "error" in result else result["drifted_columns"] > 0


# --------------------------------------------------------------------------- statistics


def upper_bound(failures: int, runs: int, level: float = 0.95) -> float:
    """Exact one-sided upper confidence bound of a rate (Clopper-Pearson)."""
    from scipy.stats import beta

    if failures >= runs:
        return 1.0
    return float(beta.ppf(level, failures + 1, runs - failures))


def smallest_caught(grid: list[float], rate_at: Callable[[float], float]) -> dict[str, Any]:
    """Bisection over a grid for the smallest value caught in >= 95% of runs (assumes
    detection grows with the effect). Returns it (None: not even the largest) and the
    rates measured on the way."""
    measured: dict[float, float] = {}
    lo, hi = 0, len(grid) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        measured[grid[mid]] = rate_at(grid[mid])
        if measured[grid[mid]] >= 0.95:
            hi = mid
        else:
            lo = mid + 1
    if grid[hi] not in measured:  # never probed: only the largest effect is left
        measured[grid[hi]] = rate_at(grid[hi])
    smallest = grid[hi] if measured[grid[hi]] >= 0.95 else None
    return {"smallest": smallest, "rates": dict(sorted(measured.items()))}


# --------------------------------------------------------------------------- one size


def run_size(
    n: int,
    args: argparse.Namespace,
    root: Path,
    ev: Evidently | None,
    save: Callable[[dict[str, Any]], None] = lambda partial: None,
) -> dict[str, Any]:
    """Every stage at n rows per side; `save` gets the size's result after each stage, so a
    run stopped early keeps what it measured."""
    sg, sg_repeated = Skewguard(), Skewguard(joint=False)
    large = n >= LARGE
    clean_runs = args.large_clean_resamples if large else args.clean_resamples
    power_reps = args.large_power_reps if large else args.power_reps
    with_ev = ev is not None and n <= args.evidently_max_rows
    say = lambda text: print(f"[{n:>10,}] {text}", flush=True)  # noqa: E731
    t0 = time.perf_counter()
    snapshot = write_snapshot(root / f"snapshot-{n}", n, seed=args.seed)
    training = pq.read_table(snapshot / "data.parquet")
    say(f"snapshot and reference profile in {time.perf_counter() - t0:.1f} s")
    serving_dir = root / f"serving-{n}"
    out: dict[str, Any] = {"rows": n, "cases": [], "clean": {}, "power": {}}

    for i, case in enumerate([] if args.no_cases else suite.CASES):
        table = suite.build_case(case, n, seed=args.seed + 1000 + i)
        sg_result = sg.run(snapshot, write_serving(serving_dir, table))
        row = {
            "case": case.name,
            "family": case.family,
            "expected": case.expected,
            "what": case.what,
            "skewguard": sg_result,
        }
        if with_ev:
            row["evidently"] = ev.run(training, table)
        out["cases"].append(row)
        ev_text = ""
        if with_ev:
            e = row["evidently"]
            ev_text = f"; Evidently {e.get('drifted_columns', e.get('error'))} drifted"
        say(
            f"{case.name:<22} expected {case.expected:<8} skewguard {sg_result['verdict']:<8} "
            f"{sg_result['seconds']:6.2f} s{ev_text}"
        )

    save(out)
    verdicts: dict[str, int] = {}
    sg_seconds: list[float] = []
    ev_clean = {"runs": 0, "alarms": 0, "errors": 0, "seconds": []}
    for r in range(args.clean_from, args.clean_from + clean_runs):
        table = suite.build_case(suite.CLEAN, n, seed=args.seed + 10_000 + r)
        result = sg_repeated.run(snapshot, write_serving(serving_dir, table))
        verdicts[result["verdict"]] = verdicts.get(result["verdict"], 0) + 1
        sg_seconds.append(result["seconds"])
        if with_ev and r - args.clean_from < args.evidently_resamples:
            e = ev.run(training, table)
            ev_clean["runs"] += 1
            ev_clean["errors"] += "error" in e
            ev_clean["alarms"] += bool(evidently_caught(e))
            ev_clean["seconds"].append(e["seconds"])
    alarms = sum(v for k, v in verdicts.items() if k in CAUGHT)
    out["clean"] = {}  # none asked (a run that measures power only): --combine adds others'
    if clean_runs:
        out["clean"]["skewguard"] = {
            "runs": clean_runs,
            "verdicts": verdicts,
            "false_alarms": alarms,
            "upper_95": upper_bound(alarms, clean_runs),
            "median_seconds": statistics.median(sg_seconds),
            "seconds": [round(x, 3) for x in sg_seconds],
            "first_resample": args.clean_from,
        }
    if with_ev and ev_clean["runs"]:
        out["clean"]["evidently"] = {
            "runs": ev_clean["runs"],
            "false_alarms": ev_clean["alarms"],
            "errors": ev_clean["errors"],
            "upper_95": upper_bound(ev_clean["alarms"], ev_clean["runs"]),
            "median_seconds": statistics.median(ev_clean["seconds"]),
        }
    say(
        f"clean resamples: {verdicts} over {clean_runs}; Evidently "
        f"{out['clean'].get('evidently', 'not run')}"
    )

    save(out)
    if power_reps and n <= args.power_max_rows:
        out["power"] = power(
            n,
            power_reps,
            args,
            snapshot,
            training,
            serving_dir,
            sg,
            ev if with_ev and n <= args.evidently_power_max_rows else None,
        )
        say(f"power: {json.dumps(out['power'], default=str)[:400]}")
    return out


def power(
    n: int,
    reps: int,
    args: argparse.Namespace,
    snapshot: Path,
    training: pa.Table,
    serving_dir: Path,
    sg: Skewguard,
    ev: Evidently | None,
) -> dict[str, Any]:
    def rate(tool: str, kind: str) -> Callable[[float], float]:
        # Caught means the changed feature itself fires (skewguard: retrain or block on it;
        # Evidently: that column drifted), so another column's noise cannot count as power.
        target = POWER_TARGET[kind]

        def at(effect: float) -> float:
            caught = 0
            for r in range(reps):
                seed = args.seed + 50_000 + r + int(effect * 1e6)
                if kind == "shift":
                    table = suite.shifted(n, seed, shift_sd=effect)
                else:
                    table = suite.shifted(n, seed, null_rise=effect)
                if tool == "skewguard":
                    result = sg.run(snapshot, write_serving(serving_dir, table))
                    caught += any(f["feature"] == target for f in result["fired"])
                else:
                    assert ev is not None
                    caught += target in ev.run(training, table).get("columns", [])
            return caught / reps

        return at

    out: dict[str, Any] = {"reps": reps}
    tools = ["skewguard"] + (["evidently"] if ev is not None else [])
    for tool in tools:
        out[tool] = {
            "mean_shift_sd": smallest_caught(SHIFT_GRID, rate(tool, "shift")),
            "null_rate_rise": smallest_caught(RISE_GRID, rate(tool, "rise")),
        }
    return out


# --------------------------------------------------------------------------- main


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "skewguard"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return head + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes",
        default="1000,10000,100000,1000000",
        help="rows per side, comma separated (10000000 works, for a long run)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="1k and 10k rows, 20 clean resamples, 10 power reps (minutes)",
    )
    p.add_argument("--clean-resamples", type=int, default=200)
    p.add_argument("--large-clean-resamples", type=int, default=50, help="at >= 1M rows")
    p.add_argument(
        "--clean-from",
        type=int,
        default=0,
        help="index of the first clean resample (its seed): several processes can share "
        "one size's resamples, then --combine adds them up",
    )
    p.add_argument("--no-cases", action="store_true", help="skip the defect and drift cases")
    p.add_argument("--power-reps", type=int, default=20)
    p.add_argument("--large-power-reps", type=int, default=20, help="at >= 1M rows")
    p.add_argument("--power-max-rows", type=int, default=1_000_000)
    p.add_argument("--no-evidently", action="store_true")
    p.add_argument("--evidently-max-rows", type=int, default=100_000)
    p.add_argument(
        "--evidently-resamples",
        type=int,
        default=50,
        help="clean resamples also given to Evidently, per size",
    )
    p.add_argument("--evidently-power-max-rows", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", type=Path, default=REPO / "docs" / "detection_benchmark.md")
    p.add_argument("--json", type=Path, default=REPO / "docs" / "detection_benchmark.json")
    p.add_argument("--keep", type=Path, help="generate data here and keep it")
    p.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="only merge the sizes of earlier runs' JSON files (run in parallel, "
        "one size each) into --json and --markdown",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.sizes = "1000,10000"
        args.clean_resamples = args.large_clean_resamples = 20
        args.power_reps = args.large_power_reps = 10
        args.evidently_resamples = 10
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    return args


def combine(paths: list[Path]) -> dict[str, Any]:
    """One result from several runs: the first run's header, every run's sizes in order."""
    runs = [json.loads(p.read_text()) for p in paths]
    result = dict(runs[0])
    result["command"] = " && ".join(r["command"] for r in runs)
    # a run may itself be a combination: its commits and settings are already lists
    result["commit"] = ", ".join(sorted({c for r in runs for c in r["commit"].split(", ")}))
    result["started"] = min(r["started"] for r in runs)
    result["finished"] = max(r.get("finished", "") for r in runs)
    result["load_average_end"] = max((r.get("load_average_end") for r in runs), default=None)
    result["load_average_start"] = max(r["load_average_start"] for r in runs)
    by_rows: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        for size in run["sizes"]:
            by_rows.setdefault(size["rows"], []).append(size)
    result["sizes"] = [_merge_size(parts) for _, parts in sorted(by_rows.items())]
    result["settings"] = [
        s
        for r in runs
        for s in (r["settings"] if isinstance(r["settings"], list) else [r["settings"]])
    ]
    return result


def _merge_size(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One size measured by several runs: the cases and power of whichever ran them, the
    clean resamples added up (runs that shared them used distinct --clean-from)."""
    if len(parts) == 1:
        return parts[0]
    cleans = [p["clean"]["skewguard"] for p in parts if "skewguard" in p.get("clean", {})]
    firsts = [clean.get("first_resample") for clean in cleans]
    if len(set(firsts)) != len(firsts) or None in firsts:
        raise SystemExit(
            f"{parts[0]['rows']:,} rows: several runs without distinct --clean-from; "
            "their clean resamples would repeat"
        )
    merged = dict(parts[0])
    merged["cases"] = [case for p in parts for case in p.get("cases", [])]
    merged["power"] = next((p["power"] for p in parts if p.get("power")), {})
    verdicts: dict[str, int] = {}
    for clean in cleans:
        for verdict, count in clean["verdicts"].items():
            verdicts[verdict] = verdicts.get(verdict, 0) + count
    runs = sum(c["runs"] for c in cleans)
    alarms = sum(c["false_alarms"] for c in cleans)
    seconds = [x for c in cleans for x in c["seconds"]]
    merged["clean"] = {
        **{k: v for p in parts for k, v in p.get("clean", {}).items() if k != "skewguard"},
        "skewguard": {
            "runs": runs,
            "verdicts": verdicts,
            "false_alarms": alarms,
            "upper_95": upper_bound(alarms, runs),
            "median_seconds": statistics.median(seconds),
            "seconds": seconds,
            "first_resample": min(firsts),
        },
    }
    return merged


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.combine:
        result = combine(args.combine)
        _write(args, result)
        print(render_markdown(result))
        return result
    ev: Evidently | None = None
    if not args.no_evidently:
        try:
            ev = Evidently()
        except ImportError:
            print("Evidently not installed (pip install -e '.[bench]'): skewguard only")
    import sklearn

    import skewguard

    command = "python benchmarks/bench_detection.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    result: dict[str, Any] = {
        "command": command.strip(),
        "commit": _commit(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_start": os.getloadavg(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "versions": {
            "skewguard": skewguard.__version__,
            "scikit-learn": sklearn.__version__,
            "evidently": ev.version if ev else None,
        },
        "settings": {k: v for k, v in vars(args).items() if k not in {"markdown", "json", "keep"}},
        "cases": [
            {"case": c.name, "family": c.family, "expected": c.expected, "what": c.what}
            for c in suite.CASES
        ],
        "sizes": [],
    }
    print(
        f"commit {result['commit']}, load {result['load_average_start']}, cores {result['cores']}"
    )
    root = args.keep or Path(tempfile.mkdtemp(prefix="skewguard-detection-"))
    try:
        for n in args.size_list:

            def save(partial: dict[str, Any]) -> None:
                sizes = [s for s in result["sizes"] if s["rows"] != partial["rows"]]
                result["sizes"] = [*sizes, partial]
                result["load_average_end"] = os.getloadavg()
                result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
                _write(args, result)

            done = run_size(n, args, root, ev, save)
            result["sizes"] = [s for s in result["sizes"] if s["rows"] != n]
            result["sizes"].append(done)
            result["load_average_end"] = os.getloadavg()
            result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
            _write(args, result)  # after every size: a long run keeps what it measured
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(render_markdown(result))
    return result


def _write(args: argparse.Namespace, result: dict[str, Any]) -> None:
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")
    args.markdown.write_text(render_markdown(result))


if __name__ == "__main__":
    main()
