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
        help="what to simulate (default clean); the exit code is the check's, except for "
        "decay: 0 when its story holds (the AUC drops, the loop retrains, it recovers), 2 when not",
    )
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.demo.datagen import GeneratorConfig
    from skewguard.demo.run import DemoConfig, run_demo
    from skewguard.store.online import redis_for_demo
    from skewguard.vocabulary import exit_code_for

    print(f"skewguard demo: scenario {args.scenario}")
    if args.scenario == Scenario.DECAY:
        return _decay(args)
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


def _decay(args: argparse.Namespace) -> int:
    import sys

    from skewguard.demo.decay import DecayConfig, run_decay
    from skewguard.store.online import redis_for_demo

    with redis_for_demo():
        result = run_decay(DecayConfig(repo=args.repo, out=args.out, seed=args.seed))
    if result.holds:
        return 0
    print(
        "skewguard demo: the decay story did not hold: " + "; ".join(result.problems),
        file=sys.stderr,
    )
    return 2
