"""`skewguard retrain`: the training pipeline, consuming retrain and block events."""

from __future__ import annotations

import argparse
import socket
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skewguard.loop.retrain import RetrainOutcome

from skewguard.commands._common import REPO_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retrain",
        help="consume retrain events: fresh snapshot, train, check, promote, acknowledge",
        description=(
            "Consume events from the stream's consumer group. A retrain event builds a "
            "fresh snapshot of recent labels through Feast, trains the model, checks the "
            "new snapshot against the event's serving logs, logs the run and registers the "
            "model version in MLflow with its lineage, and moves the champion alias to it "
            "only if that check passes; the event is acknowledged only then. A block event "
            "is acknowledged without training. The registry is $MLFLOW_TRACKING_URI, else "
            "an embedded SQLite store at <repo>/data/mlflow.db."
        ),
        epilog="Exit codes with --once: 0 every event handled (promoted, or a block skipped); "
        "a new model not promoted because its check did not pass exits with that check's "
        "code (1 block, 3 retrain, 2 insufficient data); 2 a step failed (the event stays "
        "pending, or went to the dead-letter stream).",
    )
    parser.add_argument(
        "--models",
        required=True,
        type=Path,
        metavar="DIR",
        help="working folder: snapshots, local model copies with their check reports, "
        "retrain.jsonl",
    )
    parser.add_argument(
        "--model-name",
        default=None,
        metavar="NAME",
        help="registered model name in MLflow (default: <feature service>-<label>)",
    )
    parser.add_argument("--repo", default=None, metavar="DIR", help=REPO_HELP)
    parser.add_argument(
        "--feature-service",
        default=None,
        metavar="NAME",
        help="feature service to train on (default: the event's, else the repo's only one, "
        "or its only one with a logging_config)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=None,
        metavar="FILE",
        help="label frame (default: <repo>/data/interactions.parquet)",
    )
    parser.add_argument(
        "--label-days",
        type=float,
        default=14.0,
        metavar="DAYS",
        help="train on the labels of the last DAYS before the end of the "
        "event's log window (default 14)",
    )
    parser.add_argument("--label", default="purchased", help="label column (default purchased)")
    parser.add_argument("--policy", type=Path, metavar="FILE", help="policy TOML")
    parser.add_argument(
        "--no-replay", action="store_true", help="check the new snapshot without the joined replay"
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help="replay a seeded sample of N logged rows",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and the model")
    parser.add_argument(
        "--consumer",
        default=f"trainer-{socket.gethostname()}",
        help="consumer name; a restart under the same name resumes its own "
        "pending events (default: trainer-<hostname>)",
    )
    parser.add_argument(
        "--claim-idle",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="take over events another consumer left pending this long (default 300)",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=3,
        help="deliveries before an event goes to <stream>:dead (default 3)",
    )
    parser.add_argument("--once", action="store_true", help="handle what is waiting, then exit")
    parser.add_argument(
        "--block",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long one read waits for new events when not --once",
    )
    from skewguard.commands._events import add_stream_args

    add_stream_args(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.checking.policy import find_policy, load_policy
    from skewguard.commands._events import stream_from_args
    from skewguard.loop.retrain import RetrainConfig, Trainer, consume

    policy = load_policy(args.policy if args.policy is not None else find_policy(Path.cwd()))
    config = RetrainConfig(
        models=args.models,
        policy=policy,
        repo=args.repo,
        labels=args.labels,
        label_days=args.label_days,
        feature_service=args.feature_service,
        label=args.label,
        replay=not args.no_replay,
        sample=args.sample,
        seed=args.seed,
        max_attempts=args.max_attempts,
        claim_idle=timedelta(seconds=args.claim_idle),
        model_name=args.model_name,
    )
    trainer = Trainer(config, stream_from_args(args), say=lambda line: print(line, flush=True))
    print(
        f"skewguard retrain: consumer {args.consumer} of group {args.group} on {args.stream}",
        flush=True,
    )
    outcomes = consume(trainer, args.consumer, once=args.once, block_ms=int(args.block * 1000))
    if not outcomes:
        print("skewguard retrain: no event waiting", flush=True)
    return exit_code(outcomes)


def exit_code(outcomes: list[RetrainOutcome]) -> int:
    """2 when a step failed or an event was dead-lettered; else the exit code of the worst
    check that kept a new model from promotion (exit 1 means block and nothing else)."""
    from skewguard.loop.retrain import Outcome
    from skewguard.vocabulary import Verdict, exit_code_for

    kinds = {o.outcome for o in outcomes}
    if kinds & {Outcome.FAILED, Outcome.DEAD_LETTER}:
        return 2
    rejected = [
        Verdict(o.check_verdict)
        for o in outcomes
        if o.outcome is Outcome.REJECTED and o.check_verdict in {str(v) for v in Verdict}
    ]
    return int(exit_code_for(Verdict.worst(rejected))) if rejected else 0
