"""The `skewguard` command line: parse, call, render, exit.

Each subcommand lives in `skewguard.commands.<name>` and exposes `register(subparsers)`
and `run(args) -> int`. Command modules import nothing heavy at module level (Feast takes
seconds to import), so `skewguard --help` and a parquet-only `check` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from skewguard.errors import SkewguardError
from skewguard.vocabulary import ExitCode

__all__ = ["main", "build_parser"]

# Order here is the order in `--help`.
COMMANDS: tuple[str, ...] = (
    "demo",
    "check",
    "replay",
    "watch",
    "retrain",
    "generate",
    "apply",
    "materialize",
    "snapshot",
    "lookup",
    "serve",
    "traffic",
)


def build_parser() -> argparse.ArgumentParser:
    from skewguard import __version__

    parser = argparse.ArgumentParser(
        prog="skewguard",
        description="Feature store plus training-serving skew detector.",
        epilog="Exit codes: 0 pass or warn, 1 block, 2 could not evaluate, 3 retrain. "
        "The feature repo is found as `feast` finds it: -c/--chdir DIR, $SKEWGUARD_REPO, "
        "the current folder, ./feature_repo, then the parent folders.",
    )
    parser.add_argument(
        "--version", action="version", version=f"skewguard {__version__}", help="print the version"
    )
    parser.add_argument(
        "-c",
        "--chdir",
        default=None,
        metavar="DIR",
        help="the feature repo folder, as `feast -c DIR` (a subcommand's --repo wins)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"skewguard.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Feast warns on every on-demand view use; the CLI's users cannot act on it.
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.chdir and getattr(args, "repo", None) is None:
        args.repo = args.chdir
    try:
        return int(args.run(args))
    except SkewguardError as err:
        print(f"skewguard {args.command}: error: {err}", file=sys.stderr)
        return int(ExitCode.CANNOT_EVALUATE)
    except KeyboardInterrupt:
        print(f"skewguard {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
