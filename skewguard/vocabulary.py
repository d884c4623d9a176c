"""The closed vocabularies every layer shares: verdicts, exit codes, checks, actions, reasons.

Nothing here imports anything heavy: the report model, the check core, the loop and the
CLI all speak these enums, and a new check starts by adding its `CheckName`.
"""

from __future__ import annotations

import enum

__all__ = [
    "Verdict",
    "ExitCode",
    "Action",
    "CheckName",
    "Subject",
    "SchemaState",
    "Reason",
    "exit_code_for",
    "gate_exit_code",
]


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
    def worst(cls, verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
        return max(verdicts, key=lambda v: v.severity, default=cls.PASS)


_SEVERITY = {
    Verdict.PASS: 0,
    Verdict.WARN: 1,
    Verdict.RETRAIN: 2,
    Verdict.BLOCK: 3,
    Verdict.INSUFFICIENT_DATA: 4,
}


class ExitCode(enum.IntEnum):
    """Exit codes of every command (docs/architecture.md, "Contracts")."""

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


def gate_exit_code(verdict: Verdict, fail_on: Verdict | str = Verdict.RETRAIN) -> ExitCode:
    """The exit code for `verdict` when verdicts below `fail_on` must not fail the run.

    With the default (`retrain`) this is exactly the contract: 0 pass or warn, 1 block,
    2 could not evaluate, 3 retrain. A verdict below `fail_on` exits 0; a warn at or above
    it exits 1 (the code CI reads as "failed"); insufficient data always exits 2.
    """
    gate = Verdict(fail_on)
    if verdict is Verdict.INSUFFICIENT_DATA:
        return ExitCode.CANNOT_EVALUATE
    if verdict is Verdict.PASS or verdict.severity < gate.severity:
        return ExitCode.OK
    if verdict is Verdict.WARN:
        return ExitCode.BLOCK
    return exit_code_for(verdict)


class Action(enum.StrEnum):
    """What a check that fires does to the verdict (the policy sets it per check)."""

    BLOCK = "block"
    RETRAIN = "retrain"
    WARN = "warn"

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.value)


class CheckName(enum.StrEnum):
    """Every check skewguard can record. The policy configures them by these names."""

    SCHEMA = "schema"
    NULL_RATE = "null_rate"
    NAN_RATE = "nan_rate"
    POS_INF_RATE = "pos_inf_rate"
    NEG_INF_RATE = "neg_inf_rate"
    MISSING_ONLINE_RATE = "missing_online_rate"
    NEW_CATEGORY_RATE = "new_category_rate"
    INTEGER_RATE = "integer_rate"
    PSI = "psi"
    JS_DISTANCE = "js_distance"
    LINF_DISTANCE = "linf_distance"
    KS_STATISTIC = "ks_statistic"
    WASSERSTEIN_NORM = "wasserstein_norm"
    MEAN_SHIFT = "mean_shift"  # |mean moved| in training standard deviations
    MISSING_OR_INVALID_RATE = "missing_or_invalid_rate"  # nulls + NaN + infinities together
    NEGATIVE_RATE = "negative_rate"  # share of values below zero
    # Pipeline-defect signatures (checking/signatures.py): each names what happened.
    UNIT_CHANGE = "unit_change"
    TIME_OFFSET = "time_offset"
    PRECISION_LOSS = "precision_loss"
    DEFAULT_FILL = "default_fill"
    CLIPPING = "clipping"
    SWAPPED = "swapped"
    CATEGORY_FORM = "category_form"
    JOINED_MISMATCH_RATE = "joined_mismatch_rate"  # replay: online vs offline, same request
    JOINT_AUC = "joint_auc"  # a classifier telling serving rows from training rows ([joint])
    LINEAGE = "lineage"  # check --model: logs and definitions vs what the model learned from

    @property
    def is_signature(self) -> bool:
        """A pipeline-defect signature rather than a rate or a distance."""
        return self in _SIGNATURES


_SIGNATURES = frozenset(
    {
        CheckName.UNIT_CHANGE,
        CheckName.TIME_OFFSET,
        CheckName.PRECISION_LOSS,
        CheckName.DEFAULT_FILL,
        CheckName.CLIPPING,
        CheckName.SWAPPED,
        CheckName.CATEGORY_FORM,
    }
)


class Subject(enum.StrEnum):
    """What a check measured: the value itself, or an array's lengths or elements."""

    VALUE = "value"
    LENGTH = "length"
    ELEMENT = "element"


class SchemaState(enum.StrEnum):
    """The outcome of the schema check."""

    OK = "ok"
    MISSING_IN_SERVING = "missing_in_serving"
    MISSING_IN_TRAINING = "missing_in_training"
    TYPE_CHANGED = "type_changed"


class Reason(enum.StrEnum):
    """Why a check was recorded without being judged on its value."""

    BELOW_MIN_ROWS = "below_min_rows"  # too few rows or values on a side: insufficient data
    NOT_COMPUTABLE = "not_computable"  # no values on a side to compute it from
    TYPE_MISMATCH = "type_mismatch"  # the types differ; the schema check judges that
