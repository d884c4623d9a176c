"""The closed vocabulary of outcomes and the CLI exit code each one maps to."""

from __future__ import annotations

import enum

__all__ = ["Verdict", "ExitCode", "exit_code_for"]


class Verdict(enum.StrEnum):
    """What a check concludes, from harmless to severe. Order matters: see `severity`."""

    PASS = "pass"
    WARN = "warn"
    RETRAIN = "retrain"
    BLOCK = "block"
    INSUFFICIENT_DATA = "insufficient_data"

    @property
    def severity(self) -> int:
        # insufficient_data ranks above block when combining: an unevaluated
        # critical feature must never be reported as a pass or hidden by a block.
        return _SEVERITY[self]

    @classmethod
    def worst(cls, verdicts: "list[Verdict] | tuple[Verdict, ...]") -> "Verdict":
        return max(verdicts, key=lambda v: v.severity, default=cls.PASS)


_SEVERITY = {
    Verdict.PASS: 0,
    Verdict.WARN: 1,
    Verdict.RETRAIN: 2,
    Verdict.BLOCK: 3,
    Verdict.INSUFFICIENT_DATA: 4,
}


class ExitCode(enum.IntEnum):
    """CLI exit codes (DESIGN.md §3)."""

    OK = 0  # pass or warn
    BLOCK = 1
    CANNOT_EVALUATE = 2  # bad input or insufficient data; the message says which
    RETRAIN = 3


def exit_code_for(verdict: Verdict) -> ExitCode:
    return {
        Verdict.PASS: ExitCode.OK,
        Verdict.WARN: ExitCode.OK,
        Verdict.RETRAIN: ExitCode.RETRAIN,
        Verdict.BLOCK: ExitCode.BLOCK,
        Verdict.INSUFFICIENT_DATA: ExitCode.CANNOT_EVALUATE,
    }[verdict]
