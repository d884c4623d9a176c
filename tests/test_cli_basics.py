"""The CLI starts fast, prints help, and maps errors to exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from skewguard import cli
from skewguard.errors import InputError
from skewguard.vocabulary import ExitCode, Verdict, exit_code_for


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "Exit codes: 0 pass or warn, 1 block, 2 could not evaluate, 3 retrain" in (
        capsys.readouterr().out
    )


def test_help_does_not_import_feast() -> None:
    code = (
        "import sys; from skewguard import cli; cli.build_parser(); print('feast' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_error_message_is_one_line_with_hint() -> None:
    err = InputError("no event_timestamp column", where="labels.parquet", hint="add one")
    assert str(err) == "no event_timestamp column (labels.parquet). Hint: add one"


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (Verdict.PASS, 0),
        (Verdict.WARN, 0),
        (Verdict.BLOCK, 1),
        (Verdict.INSUFFICIENT_DATA, 2),
        (Verdict.RETRAIN, 3),
    ],
)
def test_exit_codes_follow_the_contract(verdict: Verdict, code: int) -> None:
    assert exit_code_for(verdict) == ExitCode(code)


def test_worst_verdict_never_hides_insufficient_data() -> None:
    assert Verdict.worst([Verdict.PASS, Verdict.BLOCK, Verdict.INSUFFICIENT_DATA]) is (
        Verdict.INSUFFICIENT_DATA
    )
    assert Verdict.worst([]) is Verdict.PASS
