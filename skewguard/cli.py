"""The `skewguard` command line: parse, call, render, exit.

Each subcommand lives in `skewguard.commands.<name>` and exposes `register(subparsers)`
and `run(args) -> int`. Command modules import nothing heavy at module level (Feast takes
seconds to import), so `skewguard --help` and a parquet-only `check` start fast.

Fail closed: exit code 1 means block and nothing else. Every exception a command raises
is caught here and reported in one line with a hint, passwords masked, exit code 2 (the
traceback too with `--debug`). A reader that stops early (`skewguard check ... | head -1`)
does not turn the verdict into an error: the rest of the output is dropped and the
command exits with its own code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from skewguard.errors import SkewguardError
from skewguard.store.redaction import install_log_redaction, redact
from skewguard.vocabulary import ExitCode

__all__ = ["main", "build_parser"]

# Order here is the order in `--help`.
COMMANDS: tuple[str, ...] = (
    "demo",
    "check",
    "replay",
    "parity",
    "watch",
    "retrain",
    "promote",
    "performance",
    "history",
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
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, also print the traceback (passwords masked)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"skewguard.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Feast warns on every on-demand view use; the CLI's users cannot act on it.
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental")
    install_log_redaction()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "chdir", None) and getattr(args, "repo", None) is None:
        args.repo = args.chdir
    stdout = PipeSafeStream(sys.stdout)
    sys.stdout = stdout  # type: ignore[assignment]
    try:
        code = _run(args)
        stdout.flush()
        return code
    finally:
        sys.stdout = stdout.wrapped


def _run(args: argparse.Namespace) -> int:
    command = f"skewguard {args.command}"
    try:
        return int(args.run(args))
    except SkewguardError as err:
        _report(args, f"{command}: error: {err}")
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return int(ExitCode.CANNOT_EVALUATE)  # a closed pipe that is not stdout's: say nothing
    except Exception as err:  # fail closed: never a traceback, never exit 1
        _report(
            args,
            f"{command}: internal error: {type(err).__name__}: {err}. Hint: skewguard could not "
            "evaluate this input; rerun with --debug for the traceback and report it",
        )
    return int(ExitCode.CANNOT_EVALUATE)


def _report(args: argparse.Namespace, message: str) -> None:
    line = " ".join(redact(message).split())
    if len(line) > 1000:
        line = line[:997] + "..."
    print(line, file=sys.stderr)
    if getattr(args, "debug", False):
        print(redact(traceback.format_exc()), file=sys.stderr, end="")


class PipeSafeStream:
    """stdout that a reader closing the pipe early cannot break: the first broken-pipe
    error points the file descriptor at /dev/null and the rest of the output is dropped."""

    def __init__(self, stream: TextIO) -> None:
        self.wrapped = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self.wrapped.write(text)
            except BrokenPipeError:
                self._drop_the_rest()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.wrapped.flush()
            except BrokenPipeError:
                self._drop_the_rest()

    def _drop_the_rest(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.wrapped.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
