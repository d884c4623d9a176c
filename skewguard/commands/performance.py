"""`skewguard performance`: the served model's measured performance once labels arrive."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from skewguard.commands._common import REPO_HELP, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "performance",
        help="join delayed labels to logged predictions: AUC, log loss, calibration per "
        "window vs training; retrain on a significant drop",
        description=(
            "Join labels to the prediction log (by __request_id, or by join keys and "
            "event_timestamp), and per window of prediction time measure AUC, log loss and "
            "calibration error with bootstrap intervals, the label delay and coverage, and "
            "an estimate from the scores alone (CBPE) for windows without enough labels. A "
            "significant AUC drop beyond --auc-floor against the AUC recorded at training "
            "is a retrain verdict (docs/performance.md)."
        ),
        epilog="Exit codes: 0 pass or warn, 2 could not evaluate (bad input, too few labels "
        "in every window), 3 retrain.",
    )
    parser.add_argument("--labels", required=True, type=Path, metavar="PATH", help="labels parquet")
    parser.add_argument(
        "--model",
        metavar="URI",
        help="the registered model (models:/NAME@champion): its training metrics, its "
        "version's predictions, and by default its service's prediction log",
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        metavar="PATH",
        help="prediction log folder (default with --model: <service log folder>__predictions)",
    )
    parser.add_argument(
        "--training-auc",
        type=float,
        metavar="AUC",
        help="the AUC to compare with when no --model is given",
    )
    parser.add_argument("--label", default="purchased", help="label column (default purchased)")
    parser.add_argument(
        "--every",
        type=positive_float,
        default=1440.0,
        metavar="MINUTES",
        help="window length over prediction time (default 1440: one day)",
    )
    parser.add_argument(
        "--auc-floor",
        type=positive_float,
        default=0.05,
        metavar="DROP",
        help="the smallest AUC drop that matters (default 0.05)",
    )
    parser.add_argument(
        "--min-labels",
        type=positive_int,
        default=200,
        metavar="N",
        help="labelled rows a window needs to be measured; below it, estimated (default 200)",
    )
    parser.add_argument(
        "--tolerance-hours",
        type=positive_float,
        default=24.0,
        metavar="HOURS",
        help="entity join: a label takes the latest prediction at most this long before it",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON document here")
    parser.add_argument("--repo", default=None, metavar="DIR", help=REPO_HELP)
    from skewguard.commands._events import add_publish_args

    add_publish_args(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.checking.performance import PerformanceRule
    from skewguard.commands._events import sinks_from_args
    from skewguard.errors import InputError
    from skewguard.loop.performance import PerformanceConfig, evaluate

    sinks = sinks_from_args(args)
    training: dict[str, Any] = {}
    model: dict[str, Any] = {}
    lineage = None
    predictions = args.predictions
    if args.model:
        from skewguard.loop.model_check import resolve_model
        from skewguard.serving.layout import describe_log
        from skewguard.serving.predictions import prediction_folder

        under = resolve_model(args.model, args.repo)
        lineage = under.model.lineage
        training = dict(lineage.metrics)
        model = under.model.describe()
        if predictions is None:
            predictions = prediction_folder(describe_log(under.store, under.feature_service))
    if args.training_auc is not None:
        training["auc"] = args.training_auc
    if predictions is None or "auc" not in training:
        raise InputError(
            "nothing to compare with",
            where="performance",
            hint="pass --model models:/NAME@champion, or --predictions PATH and --training-auc",
        )
    config = PerformanceConfig(
        predictions=Path(predictions),
        labels=args.labels,
        label=args.label,
        training=training,
        rule=PerformanceRule(auc_floor=args.auc_floor, min_labels=args.min_labels),
        every=timedelta(minutes=args.every),
        tolerance=timedelta(hours=args.tolerance_hours),
        seed=args.seed,
        model=model,
        model_version=model.get("version"),
    )
    document = evaluate(config)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    _print(document)
    _publish(document, sinks, lineage, args)
    return int(document["exit_code"])


def _print(document: dict[str, Any]) -> None:
    print(f"skewguard performance: {document['verdict'].upper()} (exit {document['exit_code']})")
    training = document["training"].get("auc")
    print(f"  training AUC {training}; labels joined by {document['join']}")
    for w in document["windows"]:
        realised = w["realised"].get("auc") or {}
        estimated = w["estimated"]["auc"]
        delay = w["label_delay"]
        print(
            f"  {w['id']}: {w['verdict']:<17} AUC "
            + (
                f"{realised['value']:.3f} [{realised['low']}, {realised['high']}]"
                if realised
                else "-"
            )
            + f", estimated {estimated['value']}"
            + f"; {w['labelled']}/{w['predictions']} labelled"
            + (f", label delay median {delay['median_hours']} h" if delay else "")
            + (f"  ({w['cause']})" if w["cause"] != "none" else "")
        )


def _publish(
    document: dict[str, Any], sinks: list[Any], lineage: Any, args: argparse.Namespace
) -> None:
    from skewguard.loop.events import publish
    from skewguard.loop.performance import performance_event

    event = performance_event(document, lineage, args.json)
    if not sinks or event is None:
        return
    outcome = publish(event, sinks)
    for sink, where in outcome.delivered:
        print(f"  retrain event {event.event_id} published ({sink}: {where})")
    for sink, error in outcome.failed:
        print(
            f"skewguard performance: warning: could not publish to {sink}: {error}", file=sys.stderr
        )
