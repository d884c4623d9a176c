"""The check report: a versioned, frozen model with `to_dict()`/`from_dict()`.

The JSON written by `skewguard check --json` is `Report.to_dict()`. Renderers (Markdown,
JUnit, HTML) read only this dict: every measured value, threshold and verdict, plus per
feature a `distribution` section with the histogram or category counts of both sides.
`schema_version` changes only when a key changes meaning or disappears.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from skewguard.errors import InputError
from skewguard.vocabulary import (
    Action,
    CheckName,
    ExitCode,
    Reason,
    Subject,
    Verdict,
    exit_code_for,
)

E = TypeVar("E", bound=enum.Enum)

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "Report",
    "build_report",
    "write_json",
    "read_json",
]

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CheckResult:
    """One check of one feature: what was measured, the line it was held to, the verdict.

    `reason` says why a check was recorded without being judged on its value (too few
    rows, nothing to compute it from, incomparable types); it is None when it was judged.
    `p_value` is how likely sampling noise alone gives the value, `alpha` the level it was
    held to (the run's family alpha divided by its number of tested checks); `cause` says
    in words what happened when a check fired, and `params` holds a signature's fit.
    """

    check: CheckName
    subject: Subject
    value: float | str | None
    threshold: float | None
    warn_threshold: float | None
    verdict: Verdict
    action: Action
    training: float | None = None
    serving: float | None = None
    n_training: int | None = None
    n_serving: int | None = None
    detail: str | None = None
    reason: Reason | None = None
    p_value: float | None = None
    alpha: float | None = None
    cause: str | None = None
    params: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": str(self.check),
            "subject": str(self.subject),
            "value": self.value,
            "threshold": self.threshold,
            "warn_threshold": self.warn_threshold,
            "verdict": str(self.verdict),
            "action": str(self.action),
            "training": self.training,
            "serving": self.serving,
            "n_training": self.n_training,
            "n_serving": self.n_serving,
            "detail": self.detail,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "cause": self.cause,
        }
        if self.params is not None:
            out["params"] = dict(self.params)
        if self.reason is not None:
            out["reason"] = str(self.reason)
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str = "check") -> CheckResult:
        r = _Fields(d, where)
        reason = r.optional("reason", str)
        return cls(
            check=r.enum("check", CheckName),
            subject=r.enum("subject", Subject, default=Subject.VALUE),
            value=r.optional("value", float, str),
            threshold=r.optional("threshold", float),
            warn_threshold=r.optional("warn_threshold", float),
            verdict=r.enum("verdict", Verdict),
            action=r.enum("action", Action),
            training=r.optional("training", float),
            serving=r.optional("serving", float),
            n_training=r.optional("n_training", int),
            n_serving=r.optional("n_serving", int),
            detail=r.optional("detail", str),
            reason=r.enum("reason", Reason) if reason is not None else None,
            p_value=r.optional("p_value", float),
            alpha=r.optional("alpha", float),
            cause=r.optional("cause", str),
            params=r.optional("params", Mapping),
        )


@dataclass(frozen=True)
class FeatureResult:
    name: str
    kind: str | None  # numeric | categorical | bool | array; None when absent from training
    verdict: Verdict
    critical: bool
    training_type: str | None
    serving_type: str | None
    rows_training: int
    rows_serving: int
    checks: tuple[CheckResult, ...]
    distribution: Mapping[str, Any] | None = None
    joined: Mapping[str, Any] | None = None

    def failing(self) -> list[CheckResult]:
        return [c for c in self.checks if c.verdict is not Verdict.PASS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "verdict": str(self.verdict),
            "critical": self.critical,
            "training_type": self.training_type,
            "serving_type": self.serving_type,
            "rows": {"training": self.rows_training, "serving": self.rows_serving},
            "checks": [c.to_dict() for c in self.checks],
            "distribution": self.distribution,
            "joined": self.joined,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "feature") -> FeatureResult:
        r = _Fields(d, where)
        name = r.required("name", str)
        rows = _Fields(r.required("rows", Mapping), f"{where}.rows")
        checks = r.required("checks", list)
        return cls(
            name=name,
            kind=r.optional("kind", str),
            verdict=r.enum("verdict", Verdict),
            critical=r.optional("critical", bool) or False,
            training_type=r.optional("training_type", str),
            serving_type=r.optional("serving_type", str),
            rows_training=rows.required("training", int),
            rows_serving=rows.required("serving", int),
            checks=tuple(
                CheckResult.from_dict(c, f"{where}.checks[{i}]") for i, c in enumerate(checks)
            ),
            distribution=r.optional("distribution", Mapping),
            joined=r.optional("joined", Mapping),
        )


class _Fields:
    """Typed reads from one JSON object; a missing or mistyped field is an `InputError`
    that names its path in the report (e.g. `features[3].checks[0].verdict`)."""

    def __init__(self, d: Any, where: str) -> None:
        if not isinstance(d, Mapping):
            raise _malformed(where, f"expected an object, found {type(d).__name__}")
        self.d, self.where = d, where

    def required(self, key: str, *types: type) -> Any:
        if key not in self.d:
            raise _malformed(f"{self.where}.{key}", "missing")
        return self._typed(key, types)

    def optional(self, key: str, *types: type) -> Any:
        return None if self.d.get(key) is None else self._typed(key, types)

    def enum(self, key: str, vocabulary: type[E], default: E | None = None) -> E:
        if self.d.get(key) is None and default is not None:
            return default
        value = self.required(key, str)
        try:
            return vocabulary(value)
        except ValueError:
            known = ", ".join(str(v.value) for v in vocabulary)
            raise _malformed(f"{self.where}.{key}", f"{value!r} is not one of {known}") from None

    def _typed(self, key: str, types: tuple[type, ...]) -> Any:
        value = self.d[key]
        # JSON has no NaN or infinity: reports write them as strings ("nan", "inf").
        if float in types and isinstance(value, str) and value in _NON_FINITE:
            return float(value)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if int in types and isinstance(value, bool):
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            names = " or ".join(t.__name__ for t in types)
            found = type(value).__name__
            raise _malformed(f"{self.where}.{key}", f"expected {names}, found {found}")
        return value


_NON_FINITE = {"nan", "inf", "-inf"}


def _malformed(where: str, what: str) -> InputError:
    return InputError(
        f"malformed report: {what}",
        where=where,
        hint="pass a report written by skewguard check --json (schema_version 1)",
    )


@dataclass(frozen=True)
class Report:
    verdict: Verdict
    generated_at: str
    inputs: Mapping[str, Any]
    sample_sizes: Mapping[str, Any]
    policy: Mapping[str, Any]
    features: tuple[FeatureResult, ...]
    skewguard_version: str = ""
    schema_version: int = REPORT_SCHEMA_VERSION
    summary: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.summary:
            counts = {str(v): 0 for v in Verdict}
            for f in self.features:
                counts[str(f.verdict)] += 1
            object.__setattr__(self, "summary", counts)

    def feature(self, name: str) -> FeatureResult | None:
        return next((f for f in self.features if f.name == name), None)

    @property
    def exit_code(self) -> ExitCode:
        """The command-line exit code of this verdict: 0 pass or warn, 1 block, 2, 3."""
        return exit_code_for(self.verdict)

    def to_markdown(self, **options: Any) -> str:
        from skewguard.report.markdown import render_markdown

        return render_markdown(self, **options)

    def to_html(self, **options: Any) -> str:
        from skewguard.report.html import render_html

        return render_html(self, **options)

    def to_junit(self, **options: Any) -> str:
        from skewguard.report.junit import render_junit

        return render_junit(self, **options)

    def to_json(self) -> str:
        return to_json(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "verdict": str(self.verdict),
            "exit_code": int(exit_code_for(self.verdict)),
            "generated_at": self.generated_at,
            "skewguard_version": self.skewguard_version,
            "inputs": dict(self.inputs),
            "sample_sizes": dict(self.sample_sizes),
            "policy": dict(self.policy),
            "summary": dict(self.summary),
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, d: Any) -> Report:
        """Parse a report's JSON document; anything malformed is an `InputError`."""
        r = _Fields(d, "report")
        version = r.required("schema_version", int)
        if version != REPORT_SCHEMA_VERSION:
            raise _malformed("report.schema_version", f"unsupported version {version!r}")
        features = r.required("features", list)
        return cls(
            schema_version=version,
            verdict=r.enum("verdict", Verdict),
            generated_at=r.required("generated_at", str),
            skewguard_version=r.optional("skewguard_version", str) or "",
            inputs=r.required("inputs", Mapping),
            sample_sizes=r.required("sample_sizes", Mapping),
            policy=r.required("policy", Mapping),
            summary=r.optional("summary", Mapping) or {},
            features=tuple(
                FeatureResult.from_dict(f, f"features[{i}]") for i, f in enumerate(features)
            ),
        )


def build_report(
    verdict: Verdict,
    features: tuple[FeatureResult, ...],
    *,
    inputs: Mapping[str, Any],
    policy: Mapping[str, Any],
    skewguard_version: str,
    generated_at: datetime | None = None,
) -> Report:
    """Assemble the report from the verdicts and facts about the inputs and policy."""
    when = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    training_rows = inputs.get("training", {}).get("rows")
    serving_rows = inputs.get("serving", {}).get("rows")
    return Report(
        verdict=verdict,
        generated_at=when,
        inputs=inputs,
        sample_sizes={
            "training_rows": training_rows,
            "serving_rows": serving_rows,
            "min_rows": policy.get("defaults", {}).get("min_rows"),
        },
        policy=policy,
        features=features,
        skewguard_version=skewguard_version,
    )


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as strings rather than emit invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_json(report: Report) -> str:
    return json.dumps(_clean(report.to_dict()), indent=2, allow_nan=False) + "\n"


def write_json(report: Report, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_json(report), encoding="utf-8")
    except OSError as err:
        raise InputError(
            f"cannot write the JSON report: {err.strerror or err}",
            where=str(path),
            hint="choose a writable --json path",
        ) from err


def read_json(path: Path) -> Report:
    """Read a JSON report; an unreadable or malformed file is an `InputError` naming it."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(
            f"cannot read the report: {err}",
            where=str(path),
            hint="pass a report written by skewguard check --json",
        ) from err
    try:
        return Report.from_dict(document)
    except InputError as err:
        raise InputError(err.what, where=f"{path}: {err.where}", hint=err.hint) from err
