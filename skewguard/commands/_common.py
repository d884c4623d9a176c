"""Argument helpers shared by the subcommands (parsing only, no work)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

REPO_HELP = (
    "Feast feature repo folder (default: as `feast` finds it: -c/--chdir, $SKEWGUARD_REPO, "
    "the current folder, ./feature_repo, a parent folder; $FEAST_FS_YAML_FILE_PATH names "
    "the yaml)"
)
SERVICE_HELP = (
    "feature service name (default: the repo's only feature service, or its only one with "
    "a logging_config)"
)


def add_repo_args(parser: argparse.ArgumentParser, *, service: bool = True) -> None:
    parser.add_argument("--repo", default=None, metavar="DIR", help=REPO_HELP)
    if service:
        parser.add_argument("--feature-service", default=None, metavar="NAME", help=SERVICE_HELP)


def utc_time(text: str) -> datetime:
    """argparse type: an ISO date or time; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or time (e.g. 2026-11-01 or 2026-11-01T12:00+00:00)"
        ) from err
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rate(text: str) -> float:
    """argparse type: a share between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number from 0 to 1")
    return value


def positive_int(text: str) -> int:
    return _positive(text, int, "a whole number of at least 1")


def positive_float(text: str) -> float:
    return _positive(text, float, "a number above 0")


def _positive(text: str, kind: type[int] | type[float], what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use {what}")
    return value
