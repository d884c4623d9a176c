"""`skewguard watch`: check each new serving-log window once; publish retrain/block events."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

from skewguard.commands._common import REPO_HELP, SERVICE_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="check each new serving-log window and publish retrain/block events",
        description=(
            "Check every serving-log window not checked before (one per __log_date "
            "partition, or one per --every minutes), against the champion model's "
            "snapshot (--model, from its lineage in MLflow) or --training, with a cooldown "
            "between events. "
            "Resumes from its state file after a restart."
        ),
        epilog="Exit codes with --once: the worst verdict of the windows checked in this run "
        "(0 pass, warn or nothing new; 1 block; 2 could not evaluate; 3 retrain).",
    )
    parser.add_argument(
        "--serving",
        required=True,
        type=Path,
        metavar="DIR",
        help="the log folder of one feature service",
    )
    parser.add_argument(
        "--training",
        type=Path,
        metavar="PATH",
        help="training snapshot to check against while no model is promoted",
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="registered model name (MLflow): once NAME@champion exists, its snapshot "
        "(from its lineage) is the reference; the registry is $MLFLOW_TRACKING_URI, else "
        "<repo>/data/mlflow.db",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="state file (default: .skewguard-watch-<name>/state.json beside the log folder)",
    )
    parser.add_argument(
        "--reports",
        type=Path,
        metavar="DIR",
        help="where the JSON report of each window goes (default: beside the state file)",
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy TOML")
    parser.add_argument(
        "--cooldown",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="after an event, the same verdict against the same snapshot "
        "publishes nothing for windows starting within HOURS of the end of the window that "
        "fired (default 24: the next day stays quiet; 0: off)",
    )
    parser.add_argument(
        "--every",
        type=float,
        default=None,
        metavar="MINUTES",
        help="windows of MINUTES over __log_timestamp instead of one per day",
    )
    parser.add_argument(
        "--include-open",
        action="store_true",
        help="also check the partition of the current (unfinished) day",
    )
    parser.add_argument(
        "--once", action="store_true", help="check what is due, then exit (for CI and cron)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="pause between passes when not --once (default 300)",
    )
    replay = parser.add_argument_group("replay (joined online/offline comparison; needs the repo)")
    replay.add_argument(
        "--replay",
        action="store_true",
        help="replay each window's requests through the offline store too",
    )
    replay.add_argument("--repo", default=None, metavar="DIR", help=REPO_HELP)
    replay.add_argument("--feature-service", default=None, metavar="NAME", help=SERVICE_HELP)
    replay.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help="replay a seeded sample of N rows per window",
    )
    replay.add_argument("--seed", type=int, default=0, help="seed of the sample")
    from skewguard.commands._events import add_publish_args

    add_publish_args(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.checking.policy import find_policy, load_policy
    from skewguard.commands._events import sinks_from_args
    from skewguard.errors import InputError
    from skewguard.loop.watch import WatchConfig, state_path_default, watch_once
    from skewguard.vocabulary import Verdict, exit_code_for

    if args.training is None and args.model is None:
        raise InputError(
            "nothing to check against",
            where="watch",
            hint="pass --training SNAPSHOT and/or --model NAME",
        )
    policy = load_policy(args.policy if args.policy is not None else find_policy(Path.cwd()))
    replayer = None
    if args.replay:
        replayer = _replayer(args)
    config = WatchConfig(
        serving=args.serving,
        state=args.state or state_path_default(args.serving),
        policy=policy,
        reports=args.reports,
        training=args.training,
        champion_snapshot=_champion_snapshot(args) if args.model else None,
        sinks=sinks_from_args(args),
        cooldown=timedelta(hours=args.cooldown),
        every=timedelta(minutes=args.every) if args.every else None,
        include_open=args.include_open,
        replayer=replayer,
    )
    while True:
        outcomes = watch_once(config, say=lambda line: print(line, flush=True))
        if args.once:
            verdicts = [
                Verdict.INSUFFICIENT_DATA if o.verdict == "error" else Verdict(o.verdict)
                for o in outcomes
            ]
            if not outcomes:
                print("skewguard watch: no new window", flush=True)
            return int(exit_code_for(Verdict.worst(verdicts)))
        sys.stdout.flush()
        time.sleep(args.interval)


def _champion_snapshot(args: argparse.Namespace):  # noqa: ANN202
    """Reads NAME@champion's snapshot from the registry before each window."""
    from skewguard.loop.registry import Registry

    registry = Registry.open(args.repo)

    def snapshot() -> Path | None:
        champion = registry.champion(args.model)
        if champion is None or not champion.lineage.snapshot_path:
            return None
        return Path(champion.lineage.snapshot_path)

    return snapshot


def _replayer(args: argparse.Namespace):  # noqa: ANN202
    from skewguard.store.replay import read_serving_logs, replay
    from skewguard.store.repo import choose_feature_service, open_store

    store = open_store(args.repo)
    service = choose_feature_service(store, args.feature_service)

    def run_replay(path: Path):  # noqa: ANN202
        return replay(
            store,
            service,
            read_serving_logs(path),
            sample=args.sample,
            seed=args.seed,
            where=str(path),
        )

    return run_replay
