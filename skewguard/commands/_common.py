"""Argument helpers shared by the subcommands (parsing only, no work)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

DEFAULT_SERVICE = "recommender_v1"


def add_repo_args(parser: argparse.ArgumentParser, *, service: bool = True) -> None:
    parser.add_argument(
        "--repo",
        default=None,
        help="Feast feature repo folder (default: $SKEWGUARD_REPO or ./feature_repo)",
    )
    if service:
        parser.add_argument(
            "--feature-service",
            default=DEFAULT_SERVICE,
            help=f"feature service name (default: {DEFAULT_SERVICE})",
        )


def utc_time(text: str) -> datetime:
    """argparse type: an ISO date or time; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or time (e.g. 2026-11-01 or 2026-11-01T12:00+00:00)"
        ) from err
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
