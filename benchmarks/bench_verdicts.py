"""Verdicts on a generated suite: each pipeline defect must block (with the signature or
check that explains it), each drift must retrain, each clean resample must pass or warn.

    python benchmarks/bench_verdicts.py [--sizes 1000 10000 100000] [--seeds 3] [--clean 20]
                                        [--world suite|holdout]

Prints one line per case and the totals: missed defects, false alarms, block-vs-retrain
confusions. The data come from tests/defect_fixtures.py (its own distributions) or, with
--world holdout, from tests/holdout_fixtures.py (written after the defaults were set).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import defect_fixtures  # noqa: E402
import holdout_fixtures  # noqa: E402

from skewguard.checking.pipeline import check  # noqa: E402
from skewguard.checking.policy import load_policy  # noqa: E402
from skewguard.report.model import Report  # noqa: E402


def fired(report: Report) -> list[str]:
    return [
        f"{f.name}:{c.check}={c.verdict}"
        for f in report.features
        for c in f.checks
        if str(c.verdict) in ("block", "retrain")
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--clean", type=int, default=20, help="clean resamples per size")
    p.add_argument("--verbose", action="store_true")
    p.add_argument(
        "--world",
        choices=["suite", "holdout"],
        default="suite",
        help="tests/defect_fixtures.py (suite) or tests/holdout_fixtures.py (held out)",
    )
    args = p.parse_args(argv)
    world = holdout_fixtures if args.world == "holdout" else defect_fixtures
    DEFECTS, DRIFTS, make_pair = world.DEFECTS, world.DRIFTS, world.make_pair
    policy = load_policy(None)
    totals = {"defects": 0, "missed": 0, "wrong_check": 0, "drifts": 0, "confused": 0,
              "clean": 0, "false_alarms": 0, "clean_warn": 0}  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in args.sizes:
            for seed in range(args.seeds):
                for case in DEFECTS:
                    where = root / f"{case.name}-{n}-{seed}"
                    report = check(*make_pair(where, n, 1000 + seed, defect=case), policy)
                    totals["defects"] += 1
                    feature = report.feature(case.feature)
                    hit = feature is not None and any(
                        c.check == case.check and str(c.verdict) == "block" for c in feature.checks
                    )
                    if str(report.verdict) != "block":
                        totals["missed"] += 1
                        got = f"{report.verdict} {fired(report)}"
                        print(f"MISSED  n={n} seed={seed} {case.name}: {got}")
                    elif not hit:
                        totals["wrong_check"] += 1
                        print(
                            f"BLOCKED BY OTHER CHECK n={n} seed={seed} {case.name}: {fired(report)}"
                        )
                    elif args.verbose:
                        print(f"ok      n={n} seed={seed} {case.name}")
                for name, drift in DRIFTS.items():
                    where = root / f"{name}-{n}-{seed}"
                    report = check(*make_pair(where, n, 2000 + seed, drift=drift), policy)
                    totals["drifts"] += 1
                    if str(report.verdict) != "retrain":
                        totals["confused"] += 1
                        print(f"DRIFT   n={n} seed={seed} {name}: {report.verdict} {fired(report)}")
                    elif args.verbose:
                        print(f"ok      n={n} seed={seed} drift {name}")
            for seed in range(args.clean):
                where = root / f"clean-{n}-{seed}"
                report = check(*make_pair(where, n, 5000 + seed), policy)
                totals["clean"] += 1
                totals["clean_warn"] += str(report.verdict) == "warn"
                if str(report.verdict) not in ("pass", "warn"):
                    totals["false_alarms"] += 1
                    print(f"FALSE   n={n} seed={seed}: {report.verdict} {fired(report)}")
    elapsed = time.perf_counter() - started
    print(
        f"defects {totals['defects']}: missed {totals['missed']}, blocked by another check "
        f"{totals['wrong_check']}; drifts {totals['drifts']}: not retrain {totals['confused']}; "
        f"clean {totals['clean']}: false alarms {totals['false_alarms']} "
        f"(warn {totals['clean_warn']}); "
        f"{elapsed:.0f} s, load {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
