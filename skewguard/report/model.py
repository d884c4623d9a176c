"""The check report: a versioned, frozen model with `to_dict()`/`from_dict()`.

The JSON written by `skewguard check --json` is `Report.to_dict()`. Renderers (Markdown,
JUnit, HTML) read only this dict: every measured value, threshold and verdict, plus per
feature a `distribution` section with the histogram or category counts of both sides.
`schema_version` changes only when a key changes meaning or disappears.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skewguard.errors import InputError
from skewguard.vocabulary import Action, ExitCode, Subject, Verdict, exit_code_for

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
    check: str  # a CheckName value (kept as text so later checks need no enum here)
    subject: str
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "subject": self.subject,
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
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckResult:
        return cls(
            check=str(d["check"]),
            subject=str(d.get("subject", Subject.VALUE)),
            value=d["value"],
            threshold=d.get("threshold"),
            warn_threshold=d.get("warn_threshold"),
            verdict=Verdict(d["verdict"]),
            action=Action(d["action"]),
            training=d.get("training"),
            serving=d.get("serving"),
            n_training=d.get("n_training"),
            n_serving=d.get("n_serving"),
            detail=d.get("detail"),
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
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureResult:
        return cls(
            name=str(d["name"]),
            kind=d.get("kind"),
            verdict=Verdict(d["verdict"]),
            critical=bool(d.get("critical", False)),
            training_type=d.get("training_type"),
            serving_type=d.get("serving_type"),
            rows_training=int(d["rows"]["training"]),
            rows_serving=int(d["rows"]["serving"]),
            checks=tuple(CheckResult.from_dict(c) for c in d["checks"]),
            distribution=d.get("distribution"),
            joined=d.get("joined"),
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
    def from_dict(cls, d: Mapping[str, Any]) -> Report:
        version = d.get("schema_version")
        if version != REPORT_SCHEMA_VERSION:
            raise ValueError(f"unsupported report schema_version {version!r}")
        return cls(
            schema_version=int(version),
            verdict=Verdict(d["verdict"]),
            generated_at=str(d["generated_at"]),
            skewguard_version=str(d.get("skewguard_version", "")),
            inputs=d["inputs"],
            sample_sizes=d["sample_sizes"],
            policy=d["policy"],
            summary=d.get("summary") or {},
            features=tuple(FeatureResult.from_dict(f) for f in d["features"]),
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
    return Report.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
