"""`skewguard promote`: make a registered model version the champion, if its lineage holds."""

from __future__ import annotations

import argparse
import sys

from skewguard.commands._common import REPO_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="move the champion alias to a registered model version with complete lineage",
        description=(
            "Move an alias (default: champion) of a registered model to the version URI "
            "names, after checking its lineage: the training snapshot (content hash, and "
            "its folder still holding that content), the feature service and its version, "
            "the definition hash of every feature view, the features, the training metrics. "
            "A version with any gap is refused (docs/lineage.md)."
        ),
        epilog="Exit codes: 0 promoted; 1 refused (incomplete lineage: the deployment is "
        "blocked); 2 could not evaluate (no such model, registry unreachable).",
    )
    parser.add_argument("model", metavar="URI", help="models:/NAME/VERSION (or NAME@ALIAS)")
    parser.add_argument("--alias", default="champion", help="the alias to move (default champion)")
    parser.add_argument("--repo", default=None, metavar="DIR", help=REPO_HELP)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.loop.registry import LineageIncomplete, Registry

    registry = Registry.open(args.repo)
    model = registry.resolve(args.model)
    try:
        registry.set_champion(model, alias=args.alias)
    except LineageIncomplete as err:
        print(f"skewguard promote: REFUSED {model.uri}: {err.what}", file=sys.stderr)
        for gap in err.gaps:
            print(f"  - {gap}", file=sys.stderr)
        return 1
    lineage = model.lineage
    print(
        f"skewguard promote: {model.uri} is now {model.name}@{args.alias} (snapshot "
        f"{lineage.snapshot_id}, feature service {lineage.feature_service} "
        f"{lineage.feature_service_version}; recorded check: {lineage.check_verdict or 'none'})"
    )
    return 0
