"""`skewguard serve`'s limit options: defaults, 0 for off, nonsense refused."""

from __future__ import annotations

import argparse

import pytest

from skewguard.commands.serve import _off_or_positive_int, _off_or_seconds


def test_zero_turns_a_limit_off() -> None:
    assert _off_or_positive_int("0") is None and _off_or_seconds("0") is None
    assert _off_or_positive_int("4096") == 4096 and _off_or_seconds("2.5") == 2.5


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "x", ""])
def test_a_timeout_must_be_finite_and_positive(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _off_or_seconds(text)


@pytest.mark.parametrize("text", ["-5", "1.5", "x"])
def test_a_body_limit_must_be_a_whole_number(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _off_or_positive_int(text)


def test_the_defaults_bound_every_request(capsys: pytest.CaptureFixture[str]) -> None:
    from skewguard.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.max_body_bytes, args.header_timeout, args.body_timeout) == (4 << 20, 10.0, 30.0)
