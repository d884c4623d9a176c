"""`skewguard check`: compare a training snapshot with serving logs and decide.

Runs from parquet files alone (no Feast repo, no Redis). Exit codes: 0 pass or warn,
1 block, 2 could not evaluate (bad input or insufficient data), 3 retrain.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = ["register", "run", "check"]

if TYPE_CHECKING:
    from skewguard.comparing import Measurement
    from skewguard.policy import Policy
    from skewguard.replay import ReplayResult
    from skewguard.report import Report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="compare training data with serving logs and decide pass/warn/retrain/block",
        description=(
            "Profile serving logs against a training snapshot and decide: pass, warn, "
            "retrain, block or insufficient data. Needs only parquet files."
        ),
        epilog="Exit codes: 0 pass or warn, 1 block, 2 could not evaluate "
        "(bad input or insufficient data), 3 retrain.",
    )
    parser.add_argument(
        "--training",
        required=True,
        type=Path,
        metavar="PATH",
        help="training snapshot folder (with manifest.json), parquet file, or folder of them",
    )
    parser.add_argument(
        "--serving",
        required=True,
        type=Path,
        metavar="PATH",
        help="serving log parquet file or folder (searched recursively, hive folders too)",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="policy TOML (default: ./skewguard.toml, then [tool.skewguard] in "
        "./pyproject.toml, then the shipped default)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    from skewguard.commands.replay import add_replay_args

    add_replay_args(parser, for_check=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.policy import find_policy, load_policy
    from skewguard.report import render_summary, write_json
    from skewguard.verdict import Verdict, exit_code_for

    policy_path = args.policy if args.policy is not None else find_policy(Path.cwd())
    policy = load_policy(policy_path)
    replayed = None
    if args.replay:
        from skewguard.commands.replay import replay_from_args

        replayed = replay_from_args(args, training=args.training)
    report = check(args.training, args.serving, policy, replayed=replayed)
    if args.json is not None:
        write_json(report, args.json)
    print(render_summary(report))
    if report.verdict is Verdict.INSUFFICIENT_DATA:
        names = sorted({f.name for f in report.features if f.verdict is Verdict.INSUFFICIENT_DATA})
        print(
            "skewguard check: could not evaluate: insufficient data for "
            f"{', '.join(names)} (fewer rows than min_rows). Hint: collect more serving "
            "logs, or lower min_rows for these features in the policy",
            file=sys.stderr,
        )
    return int(exit_code_for(report.verdict))


def check(
    training_path: Path,
    serving_path: Path,
    policy: Policy,
    *,
    replayed: ReplayResult | None = None,
) -> Report:
    """Read, profile, compare and decide: the whole check as one call, returning the report.

    Uses the snapshot's stored reference profile when it has one, so the raw training data
    is read only when it has to be profiled here.
    """
    from skewguard import __version__
    from skewguard.comparing import compare_feature
    from skewguard.deciding import decide
    from skewguard.errors import InputError
    from skewguard.profiling import profile_serving, profile_training, read_reference_profile
    from skewguard.reading import open_serving, open_training, type_name
    from skewguard.report import build_report

    training = open_training(training_path)
    serving = open_serving(serving_path)
    if training.reference_profile is not None:
        reference = read_reference_profile(training.reference_profile)
    else:
        reference = profile_training(training)
    if reference.rows == 0:
        raise InputError(
            "the training data has no rows",
            where=str(training_path),
            hint="point --training at a non-empty snapshot",
        )
    observed = profile_serving(serving, reference.specs)

    training_names = training.features if training.data is not None or training.manifest else []
    if not training_names:
        training_names = [f.name for f in reference.features]
    serving_names = serving.features
    names = training_names + [n for n in serving_names if n not in set(training_names)]
    comparisons = []
    for name in names:
        t_profile = reference.feature(name)
        s_profile = observed.feature(name)
        t_type = training.declared_type(name) if name in training_names else None
        if t_type is None and t_profile is not None:
            t_type = t_profile.spec.arrow_type
        s_type = type_name(serving.data.schema.field(name).type) if name in serving_names else None
        comparisons.append(
            compare_feature(
                name,
                t_profile,
                s_profile,
                training_type=t_type,
                serving_type=s_type,
                rows_training=reference.rows,
                rows_serving=observed.rows,
            )
        )
    extra, joined = _joined_checks(replayed)
    decision = decide(comparisons, policy, extra=extra, joined=joined)
    manifest = training.manifest
    inputs: dict[str, Any] = {
        "training": {
            "path": str(training_path),
            "rows": reference.rows,
            "content_hash": manifest.content_hash if manifest else reference.content_hash,
            "feature_service": manifest.feature_service if manifest else None,
            "from_reference_profile": training.reference_profile is not None,
        },
        "serving": {
            "path": str(serving_path),
            "rows": observed.rows,
            "files": len(serving.data.files),
        },
    }
    return build_report(
        decision, inputs=inputs, policy=policy.to_dict(), skewguard_version=__version__
    )


def _joined_checks(
    replayed: ReplayResult | None,
) -> tuple[dict[str, list[Measurement]], dict[str, dict[str, Any]]]:
    """Replay results as `joined_mismatch_rate` measurements plus per-feature sections."""
    if replayed is None:
        return {}, {}
    from skewguard.comparing import CheckName, Measurement

    extra: dict[str, list[Measurement]] = {}
    joined: dict[str, dict[str, Any]] = {}
    for feature in replayed.features:
        worst = feature.causes[0] if feature.causes else None
        extra[feature.name] = [
            Measurement(
                check=CheckName.JOINED_MISMATCH_RATE,
                value=feature.mismatch_rate,
                n_training=feature.compared,
                n_serving=feature.compared,
                detail=f"mostly {worst.cause} ({worst.count})" if worst else None,
            )
        ]
        joined[feature.name] = feature.to_dict()
    return extra, joined
