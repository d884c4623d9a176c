"""`skewguard history`: drift, missing values and performance over the watch windows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "history",
        help="one self-contained HTML page: drift, missing values and model performance "
        "over the watch windows, events marked",
        description=(
            "Read the watcher's state file and each window's report (and any `skewguard "
            "performance` documents) and draw, per feature, PSI, Jensen-Shannon distance and "
            "missing-value rates over the windows, the model's realised and estimated AUC, "
            "and mark the windows whose check fired an event (docs/history.md)."
        ),
        epilog="Exit codes: 0 written; 2 could not read the state, a report or a document.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--state", type=Path, metavar="FILE", help="the watch state file")
    where.add_argument(
        "--serving",
        type=Path,
        metavar="DIR",
        help="the watched log folder (its state file is where `watch` puts it by default)",
    )
    parser.add_argument(
        "--performance",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a `skewguard performance --json` document (repeatable)",
    )
    parser.add_argument("--html", type=Path, required=True, metavar="FILE", help="the page")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also the history document")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.loop.history import collect_history
    from skewguard.loop.watch import state_path_default
    from skewguard.report.history import render_history_html

    state = args.state or state_path_default(args.serving)
    history = collect_history(state, args.performance)
    args.html.parent.mkdir(parents=True, exist_ok=True)
    args.html.write_text(render_history_html(history), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(history, indent=2) + "\n")
    fired = sum(1 for w in history["windows"] if w["action"] == "published")
    print(
        f"skewguard history: {len(history['windows'])} window(s), {fired} event(s), "
        f"{len(history['features'])} feature(s), {len(history['performance'])} performance "
        f"window(s) -> {args.html}"
    )
    return 0
