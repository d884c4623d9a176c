"""`skewguard demo`: the whole loop on generated data, on an embedded Redis if needed."""

from __future__ import annotations

import argparse
from pathlib import Path

from skewguard.commands._common import add_repo_args
from skewguard.demo.scenarios import Scenario


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the end-to-end demo (data, Redis, snapshot, lookups)")
    add_repo_args(p, service=False)
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="where outputs go")
    p.add_argument(
        "--scenario",
        default="clean",
        choices=[str(s) for s in Scenario],
        help="what to simulate (default clean); the exit code is the check's",
    )
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.demo.datagen import GeneratorConfig
    from skewguard.demo.run import DemoConfig, run_demo
    from skewguard.store.online import redis_for_demo
    from skewguard.vocabulary import exit_code_for

    print(f"skewguard demo: scenario {args.scenario}")
    with redis_for_demo():
        result = run_demo(
            DemoConfig(
                repo=args.repo,
                out=args.out,
                scenario=Scenario(args.scenario),
                generator=GeneratorConfig(seed=args.seed),
            )
        )
    return int(exit_code_for(result.report.verdict))
