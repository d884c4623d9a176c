"""`skewguard replay`: logged requests through the offline store, compared value by value.

Also provides the `--replay` / `--no-replay` options of `skewguard check`: the joined
comparison runs by default when the feature repo is found and lands in the check's
report and verdict (`skewguard.store.replay_status`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from skewguard.commands._common import REPO_HELP

if TYPE_CHECKING:
    from skewguard.checking.joined import ReplayResult
    from skewguard.store.replay_status import ReplayStatus


def add_replay_args(parser: argparse.ArgumentParser, *, for_check: bool) -> None:
    group = parser.add_argument_group("replay (joined online/offline comparison; needs the repo)")
    if for_check:
        group.add_argument(
            "--replay",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="replay the logged requests through the offline store and block on "
            "online/offline disagreement (joined_mismatch_rate). Default: on when the "
            "feature repo is found (-c/--chdir, --repo, $FEAST_FS_YAML_FILE_PATH, the current "
            "folder and its parents); when it cannot run, the check goes on with the "
            "distribution checks and the report says why. --replay: it must run (exit 2 if "
            "it cannot). --no-replay: never (no Feast import)",
        )
    group.add_argument("--repo", default=None, metavar="DIR", help=REPO_HELP)
    group.add_argument(
        "--feature-service",
        default=None,
        metavar="NAME",
        help="feature service the logs belong to (default: the snapshot's, else the repo's "
        "only feature service, or its only one with a logging_config)",
    )
    group.add_argument(
        "--sample", type=int, default=None, metavar="N", help="replay a seeded sample of N rows"
    )
    group.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")


def replay_from_args(args: argparse.Namespace, training: Path | None = None) -> ReplayResult:
    """Run the replay the arguments describe (used by both `replay` and `check --replay`)."""
    from skewguard.store.replay import read_serving_logs, replay
    from skewguard.store.repo import choose_feature_service, open_store

    service = args.feature_service
    if service is None and training is not None:
        from skewguard.checking.reading import open_training

        manifest = open_training(training).manifest
        service = manifest.feature_service if manifest else None
    logs = read_serving_logs(args.serving)
    store = open_store(args.repo)
    return replay(
        store,
        choose_feature_service(store, service),
        logs,
        sample=args.sample,
        seed=args.seed,
        where=str(args.serving),
    )


def replay_for_check(
    args: argparse.Namespace, announce: Callable[[str], None] | None = None
) -> tuple[ReplayResult | None, ReplayStatus]:
    """The replay of `skewguard check` (on by default, see `--replay`) and its status."""
    from skewguard.store.replay_status import ReplayRequest, replay_if_possible

    wanted = getattr(args, "replay", None)
    requested = {None: ReplayRequest.DEFAULT, True: ReplayRequest.EXPLICIT}.get(
        wanted, ReplayRequest.OFF
    )
    return replay_if_possible(
        requested=requested,
        repo=args.repo,
        feature_service=args.feature_service,
        serving=args.serving,
        training=args.training,
        sample=args.sample,
        seed=args.seed,
        announce=announce,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay logged requests offline and compare with what was served",
        epilog="Exit codes: 0 online and offline agree (or warn), 1 block (disagreement "
        "above the policy's joined_mismatch_rate threshold), 2 could not evaluate.",
    )
    p.add_argument("--serving", required=True, type=Path, help="serving log file or folder")
    p.add_argument("--policy", type=Path, default=None, help="policy TOML (thresholds)")
    p.add_argument("--json", type=Path, default=None, help="write the replay result as JSON")
    add_replay_args(p, for_check=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from skewguard.checking.comparing import Measurement
    from skewguard.checking.deciding import judge
    from skewguard.checking.policy import find_policy, load_policy
    from skewguard.vocabulary import CheckName, Verdict, exit_code_for

    policy = load_policy(args.policy if args.policy is not None else find_policy(Path.cwd()))
    result = replay_from_args(args)
    verdicts = []
    print(
        f"skewguard replay: {result.replayed_rows:,} of {result.logged_rows:,} logged rows "
        f"of {result.feature_service} in {result.seconds:.1f}s"
    )
    print(
        f"  {'feature':<40} {'match':>8} {'mismatch':>8} {'base_only':>9} {'test_only':>9}"
        f" {'rate':>7}  verdict  cause"
    )
    for feature in result.features:
        rules = policy.rules_for(feature.name)
        outcome = judge(
            Measurement(
                CheckName.JOINED_MISMATCH_RATE,
                feature.mismatch_rate,
                n_training=feature.compared,
                n_serving=feature.compared,
            ),
            rules.rule(CheckName.JOINED_MISMATCH_RATE),
            rules.min_rows,
        )
        verdicts.append(outcome.verdict)
        rate = "-" if feature.mismatch_rate is None else f"{feature.mismatch_rate:.4f}"
        causes = ", ".join(f"{c.cause} {c.count}" for c in feature.causes[:2])
        print(
            f"  {feature.name:<40} {feature.match_count:>8} {feature.mismatch_count:>8} "
            f"{feature.base_only:>9} {feature.test_only:>9} {rate:>7}  "
            f"{outcome.verdict!s:<7}  {causes}"
        )
    verdict = Verdict.worst(verdicts)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**result.to_dict(), "verdict": str(verdict)}, indent=2))
    print(f"verdict: {verdict}")
    return int(exit_code_for(verdict))
