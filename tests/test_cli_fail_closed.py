"""Fail closed: exit 1 means block and nothing else.

Any exception a command raises is one line on stderr with a hint and exit code 2 (the
traceback only with --debug); a reader that closes the pipe early leaves the verdict's
exit code alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from check_fixtures import serving_table, write_serving, write_training

import skewguard as sg
from skewguard import cli
from skewguard.loop.retrain import Outcome, RetrainOutcome

ROOT = Path(__file__).resolve().parent.parent


def _boom(args: argparse.Namespace) -> int:
    raise ValueError("could not convert string to float: 'abc'\nsecond line")


@pytest.mark.parametrize("command", cli.COMMANDS)
@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad value"),
        KeyError("k"),
        TypeError("t"),
        RecursionError("r"),
        OSError(28, "No space left on device"),
    ],
)
def test_any_exception_in_any_command_exits_2_in_one_line(
    command: str, error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise error

    namespace = argparse.Namespace(command=command, run=fail, debug=False)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda self, argv=None: namespace)
    assert cli.main([command]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"skewguard {command}: internal error: {type(error).__name__}")
    assert err.count("\n") == 1 and "Hint:" in err and "--debug" in err
    assert "Traceback" not in err


def test_debug_adds_the_traceback(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    namespace = argparse.Namespace(command="check", run=_boom, debug=True)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda self, argv=None: namespace)
    assert cli.main(["--debug", "check"]) == 2
    err = capsys.readouterr().err
    first, rest = err.split("\n", 1)
    assert (
        first.startswith("skewguard check: internal error: ValueError") and "second line" in first
    )
    assert "Traceback (most recent call last)" in rest and "_boom" in rest


def test_debug_is_a_global_option() -> None:
    assert cli.build_parser().parse_args(["--debug", "apply"]).debug is True


def test_error_lines_mask_passwords(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    def leak(args: argparse.Namespace) -> int:
        raise RuntimeError("cannot connect to redis://:hunter2-secret@10.0.0.1:6379/0")

    namespace = argparse.Namespace(command="lookup", run=leak, debug=True)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda self, argv=None: namespace)
    assert cli.main(["lookup"]) == 2
    assert "hunter2-secret" not in capsys.readouterr().err


def _closed_pipe(argv: list[str]) -> tuple[int, str]:
    """Run the CLI with a stdout whose reader has already gone away."""
    process = subprocess.Popen(
        [sys.executable, "-m", "skewguard.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -1` after its first line, before the summary
    err = process.stderr.read().decode()
    return process.wait(timeout=120), err


@pytest.mark.parametrize(("drift", "expected"), [(False, 0), (True, 3)])
def test_a_closed_pipe_keeps_the_verdicts_exit_code_quietly(
    tmp_path: Path, drift: bool, expected: int
) -> None:
    import pyarrow.compute as pc

    def shifted(values: dict) -> dict:
        from check_fixtures import replace_column

        aov = values["customer_stats__avg_order_value"]
        return replace_column(values, "customer_stats__avg_order_value", pc.add(aov, 10.0))

    snapshot = write_training(tmp_path / "snap", 2000)
    serving = write_serving(tmp_path / "serve", 1000, transform=shifted if drift else None)
    code, err = _closed_pipe(["check", "--training", str(snapshot), "--serving", str(serving)])
    assert code == expected
    assert err == ""


def test_the_python_api_takes_str_paths_and_policy_none(tmp_path: Path) -> None:
    snapshot = write_training(tmp_path / "snap", 1000)
    serving = tmp_path / "serving.parquet"
    import pyarrow.parquet as pq

    pq.write_table(serving_table(800, seed=3), serving)
    report = sg.check(str(snapshot), str(serving), policy=None)
    assert report.verdict in (sg.Verdict.PASS, sg.Verdict.WARN)


def _outcome(outcome: Outcome, verdict: str | None = None) -> RetrainOutcome:
    return RetrainOutcome("1-0", "e", outcome, "r", False, check_verdict=verdict)


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([], 0),
        ([_outcome(Outcome.PROMOTED, "pass"), _outcome(Outcome.BLOCKED)], 0),
        ([_outcome(Outcome.REJECTED, "retrain")], 3),
        ([_outcome(Outcome.REJECTED, "insufficient_data")], 2),
        ([_outcome(Outcome.REJECTED, "retrain"), _outcome(Outcome.REJECTED, "block")], 1),
        ([_outcome(Outcome.FAILED)], 2),
        ([_outcome(Outcome.DEAD_LETTER), _outcome(Outcome.PROMOTED, "pass")], 2),
    ],
)
def test_retrain_exits_1_only_for_a_block(outcomes: list[RetrainOutcome], code: int) -> None:
    from skewguard.commands.retrain import exit_code

    assert exit_code(outcomes) == code


def test_a_malformed_events_redis_is_bad_input_before_the_check(
    tmp_path: Path, capsys: Any
) -> None:
    snapshot = write_training(tmp_path / "snap", 2000)
    serving = write_serving(tmp_path / "serve", 1000)  # a check of these would pass
    argv = ["check", "--training", str(snapshot), "--serving", str(serving), "--publish"]
    code = cli.main([*argv, "--events-redis", "redis://:hunter2-pw@h:notaport/0"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""  # no verdict printed: the check never ran
    assert "--events-redis" in err and "hunter2-pw" not in err
