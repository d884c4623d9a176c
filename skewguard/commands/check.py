"""`skewguard check`: compare a training snapshot with serving logs and decide.

Runs from parquet files alone (no Feast repo, no Redis) when both paths are given. When
the feature repo is found, the logged requests are also replayed through the offline
store by default (`--no-replay` turns that off; docs/replay.md). Without
`--serving`, the serving logs are the log destination of the feature service (found in the
feature repo: Feast is loaded for that). Serving logs may be a folder, a file, or a URI
pyarrow's filesystems read (s3://, gs://, file://). Exit codes: 0 pass or warn,
1 block, 2 could not evaluate (bad input or insufficient data), 3 retrain.
`--fail-on` moves the line between passing and failing (see `gate_exit_code`);
`--json`, `--markdown`, `--junit` and `--html` write the reports (docs/reports.md).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.checking.pipeline import Progress, check
from skewguard.vocabulary import gate_exit_code

__all__ = ["register", "run", "gate_exit_code", "FAIL_ON_CHOICES"]

if TYPE_CHECKING:
    from skewguard.loop.events import Sink
    from skewguard.report.model import Report

FAIL_ON_CHOICES = ("warn", "retrain", "block")

EXIT_HELP = (
    "Exit codes: 0 pass or warn, 1 block, 2 could not evaluate (bad input or insufficient "
    "data), 3 retrain. --fail-on block: retrain and warn exit 0. --fail-on warn: warn exits "
    "1 (retrain still 3, block 1). Insufficient data exits 2 whatever --fail-on says."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="compare training data with serving logs and decide pass/warn/retrain/block",
        description=(
            "Profile serving logs against a training snapshot and decide: pass, warn, "
            "retrain, block or insufficient data. Needs only parquet files; where the "
            "feature repo is found, the logged requests are also replayed through its "
            "offline store (--no-replay: never)."
        ),
        epilog=EXIT_HELP,
    )
    parser.add_argument(
        "--training",
        type=Path,
        metavar="PATH",
        help="training snapshot folder (with manifest.json), parquet file, or folder of them",
    )
    parser.add_argument(
        "--model",
        metavar="URI",
        help="a registered model (models:/NAME@champion or models:/NAME/VERSION): its "
        "snapshot and feature service come from its lineage in MLflow (no --training), and "
        "the lineage checks block logs of another feature service, features the model "
        "never saw and feature views changed since the snapshot (docs/lineage.md)",
    )
    parser.add_argument(
        "--serving",
        default=None,
        metavar="PATH_OR_URI",
        help="serving log parquet file or folder (searched recursively, hive folders too), or "
        "a URI such as s3://bucket/logs or gs://bucket/logs (default: the logging destination "
        "of the feature service, from the feature repo)",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="policy TOML (default: ./skewguard.toml, then [tool.skewguard] in "
        "./pyproject.toml, then the shipped default)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write the Markdown report here (for a CI job summary or a pull-request comment)",
    )
    parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="write JUnit XML here: one test per check"
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="write the self-contained HTML report (plots inline, no network) here",
    )
    parser.add_argument(
        "--history",
        type=Path,
        metavar="STATE_OR_DIR",
        help="add a History section to the HTML report: the watch windows of this state file "
        "(or of the watched log folder), this check as the newest (docs/history.md). Default: "
        "the watch state of --serving when `skewguard watch` keeps one",
    )
    parser.add_argument(
        "--history-performance",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a `skewguard performance --json` document for the History section (repeatable)",
    )
    parser.add_argument(
        "--no-history", action="store_true", help="no History section, even when a state exists"
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        default="retrain",
        help="the lowest verdict that makes the command exit non-zero (default: retrain, "
        "the exit codes below). block: retrain and warn exit 0; warn: warn exits 1. The JUnit "
        "report marks as failures the checks at or above this verdict",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars and no summary; errors still go to stderr",
    )
    from skewguard.commands.replay import add_replay_args

    add_replay_args(parser, for_check=True)
    from skewguard.commands._events import add_publish_args

    add_publish_args(parser)
    from skewguard.commands._engine import add_engine_args

    add_engine_args(parser, "the training and serving profiles")
    parser.set_defaults(run=run)


class _StepBar:
    """A tqdm bar over the check's steps on stderr. Off with --quiet; tqdm turns it off by
    itself when stderr is not a terminal (CI logs), so logs stay clean."""

    def __init__(self, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=1,
            desc="skewguard check",
            unit="step",
            file=sys.stderr,
            disable=True if quiet else None,
            leave=False,
            dynamic_ncols=True,
            bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}]",
        )

    def __call__(self, what: str, done: int, total: int) -> None:
        self.bar.total = max(total, done)
        self.bar.n = done
        self.bar.set_description_str(what, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def run(args: argparse.Namespace) -> int:
    from skewguard.checking.policy import find_policy, load_policy
    from skewguard.commands._events import sinks_from_args
    from skewguard.report.replay_note import replay_note
    from skewguard.report.summary import render_summary
    from skewguard.vocabulary import Verdict, exit_code_for

    quiet = bool(getattr(args, "quiet", False))
    fail_on = getattr(args, "fail_on", "retrain")
    policy_path = args.policy if args.policy is not None else find_policy(Path.cwd())
    policy = load_policy(policy_path)
    # Event sinks are built (their settings parsed) before the check: a malformed
    # --events-redis is bad input, not a publishing failure after the verdict.
    sinks = sinks_from_args(args)
    under_check = _model_under_check(args)
    from skewguard.commands._engine import engine_from_args

    engine = engine_from_args(args)
    if args.serving is None:
        args.serving = default_serving_logs(args, quiet)
    history_state = _history_state(args)
    bar = _StepBar(quiet)
    try:
        from skewguard.commands.replay import replay_for_check

        replayed, replay_status = replay_for_check(args, lambda what: bar(what, 0, 1))
        with engine if engine is not None else contextlib.nullcontext():
            report = check(
                args.training,
                args.serving,
                policy,
                progress=bar,
                replayed=replayed,
                engine=engine,
            )
        report = replace(report, replay=replay_status.to_dict())
        if under_check is not None:
            from skewguard.loop.model_check import lineage_report

            report = lineage_report(report, under_check, args.serving, policy)
        history = _history(history_state, args, report)
        written = _write_reports(report, args, fail_on, bar, history)
    finally:
        bar.close()
    code = gate_exit_code(report.verdict, fail_on)
    if not quiet:
        head, _, rest = render_summary(report).partition("\n")
        if code != int(exit_code_for(report.verdict)):
            head = (
                f"skewguard check: {str(report.verdict).upper()} (exit {code} with "
                f"--fail-on {fail_on})"
            )
        print(head + ("\n" + rest if rest else ""))
        print(f"  {replay_note(report.to_dict())}")
        for what, path in written:
            print(f"  {what} report: {path}")
    _publish_events(report, args, quiet, sinks)
    if report.verdict is Verdict.INSUFFICIENT_DATA:
        names = sorted({f.name for f in report.features if f.verdict is Verdict.INSUFFICIENT_DATA})
        print(
            "skewguard check: could not evaluate: insufficient data for "
            f"{', '.join(names)} (fewer rows than min_rows). Hint: collect more serving "
            "logs, or lower min_rows for these features in the policy",
            file=sys.stderr,
        )
    return code


def _model_under_check(args: argparse.Namespace):  # noqa: ANN202
    """With --model: the model's snapshot becomes --training and its service the default."""
    from skewguard.errors import InputError

    model = getattr(args, "model", None)
    if model is None:
        if args.training is None:
            raise InputError(
                "nothing to check against",
                where="check",
                hint="pass --training SNAPSHOT or --model models:/NAME@champion",
            )
        return None
    if args.training is not None:
        raise InputError(
            "--training and --model both name the training data",
            where="check",
            hint="pass one: --model takes the snapshot from the model's lineage",
        )
    from skewguard.loop.model_check import resolve_model

    under_check = resolve_model(model, args.repo)
    args.training = under_check.snapshot
    if args.feature_service is None:
        args.feature_service = under_check.feature_service
    if not getattr(args, "quiet", False):
        lineage = under_check.model.lineage
        print(
            f"skewguard check: model {under_check.model.uri}: snapshot {lineage.snapshot_id} "
            f"({under_check.snapshot}), feature service {under_check.feature_service}",
            file=sys.stderr,
        )
    return under_check


def default_serving_logs(args: argparse.Namespace, quiet: bool) -> str:
    """The logging destination of the feature service the check is about."""
    from skewguard.checking.reading import open_training
    from skewguard.errors import FeatureRepoError
    from skewguard.serving.layout import describe_log
    from skewguard.store.repo import choose_feature_service, open_store

    store = open_store(args.repo)
    service = args.feature_service
    if service is None:
        manifest = open_training(args.training).manifest
        service = manifest.feature_service if manifest else None
    service = choose_feature_service(store, service)
    folder = describe_log(store, service).folder
    if folder is None:
        raise FeatureRepoError(
            f"feature service {service!r} declares no logging_config, so it has no log folder",
            where=str(store.repo_path),
            hint="pass --serving PATH (or a URI) with the serving logs",
        )
    args.feature_service = service
    if not quiet:
        print(f"skewguard check: serving logs of {service}: {folder}", file=sys.stderr)
    return str(folder)


def _history_state(args: argparse.Namespace) -> Path | None:
    """The watch state whose windows the HTML report draws, or None. Checked before the
    check runs: a --history that names nothing is bad input, not a late surprise."""
    from skewguard.errors import InputError
    from skewguard.loop.watch import state_path_default

    given = getattr(args, "history", None)
    if getattr(args, "no_history", False):
        return None
    asked = given is not None or getattr(args, "history_performance", [])
    if asked and getattr(args, "html", None) is None:
        raise InputError(
            "--history and --history-performance feed the HTML report, and none is written",
            where="--history" if given is not None else "--history-performance",
            hint="add --html FILE, or leave them out",
        )
    if given is not None:
        state = state_path_default(given) if given.is_dir() else given
        if not state.exists():
            raise InputError(
                "no watch state file for --history",
                where=str(state),
                hint="pass the state file of `skewguard watch` or the folder it watches",
            )
        return state
    serving = str(args.serving or "")
    if getattr(args, "html", None) is None or "://" in serving or not serving:
        return None
    # the watched folder itself, or one window (a day folder) inside it
    for folder in (Path(serving), Path(serving).parent):
        default = state_path_default(folder)
        if default.exists():
            return default
    return None


def _history(state: Path | None, args: argparse.Namespace, report: Report) -> dict[str, Any] | None:
    if state is None or getattr(args, "html", None) is None:
        return None
    from skewguard.loop.history import collect_history, with_current_check

    gathered = collect_history(state, getattr(args, "history_performance", []))
    return with_current_check(gathered, report.to_dict())


def _write_reports(
    report: Report,
    args: argparse.Namespace,
    fail_on: str,
    progress: Progress,
    history: dict[str, Any] | None = None,
) -> list[tuple[str, Path]]:
    """Write every report the flags ask for; return (format, path) for each one written."""
    from skewguard.report.files import ReportPaths, write_reports

    paths = ReportPaths(
        json=getattr(args, "json", None),
        markdown=getattr(args, "markdown", None),
        junit=getattr(args, "junit", None),
        html=getattr(args, "html", None),
    )
    return write_reports(report, paths, fail_on=fail_on, progress=progress, history=history)


# -- events (--publish, --events-file, --webhook) -----------------------------------------
# Publishing never changes the verdict or the exit code: a sink that fails is reported on
# stderr. docs/loop.md describes the event.


def _publish_events(
    report: Report, args: argparse.Namespace, quiet: bool, sinks: list[Sink]
) -> None:
    from skewguard.loop.events import event_from_report, publish

    if not sinks:
        return
    event = event_from_report(
        report,
        serving_path=args.serving,
        log_window=_log_window(args.serving),
        report_path=getattr(args, "json", None),
    )
    if event is None:
        return
    outcome = publish(event, sinks)
    if not quiet:
        for sink, where in outcome.delivered:
            print(f"  {event.verdict} event {event.event_id} published ({sink}: {where})")
    for sink, error in outcome.failed:
        print(
            f"skewguard check: warning: could not publish the {event.verdict} event to "
            f"{sink}: {error}",
            file=sys.stderr,
        )


def _log_window(serving: str) -> dict[str, str | None]:
    """The span of request times in the serving logs (the log window an event names)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from skewguard.checking.reading import open_parquet
    from skewguard.logschema import LOG_TIMESTAMP

    source = open_parquet(serving)
    # A list of files: pyarrow's discovery skips folders such as `__log_date=...`.
    dataset = ds.dataset(
        [str(f) for f in source.files], format="parquet", filesystem=source.filesystem
    )
    low = high = None
    if LOG_TIMESTAMP in dataset.schema.names:
        column = dataset.to_table(columns=[LOG_TIMESTAMP]).column(LOG_TIMESTAMP)
        low, high = pc.min(column).as_py(), pc.max(column).as_py()
    return {
        "id": str(serving).rstrip("/").rsplit("/", 1)[-1],
        "start": low.isoformat() if low else None,
        "end": high.isoformat() if high else None,
    }
