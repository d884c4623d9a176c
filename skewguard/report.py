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

from skewguard.deciding import CheckResult, Decision, FeatureResult
from skewguard.errors import InputError
from skewguard.verdict import Verdict, exit_code_for

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "Report",
    "build_report",
    "write_json",
    "read_json",
    "render_summary",
]

REPORT_SCHEMA_VERSION = 1


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
    decision: Decision,
    *,
    inputs: Mapping[str, Any],
    policy: Mapping[str, Any],
    skewguard_version: str,
    generated_at: datetime | None = None,
) -> Report:
    """Assemble the report from a decision and facts about the inputs and policy."""
    when = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    training_rows = inputs.get("training", {}).get("rows")
    serving_rows = inputs.get("serving", {}).get("rows")
    return Report(
        verdict=decision.verdict,
        generated_at=when,
        inputs=inputs,
        sample_sizes={
            "training_rows": training_rows,
            "serving_rows": serving_rows,
            "min_rows": policy.get("defaults", {}).get("min_rows"),
        },
        policy=policy,
        features=decision.features,
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


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.3g}"


def _describe(check: CheckResult) -> str:
    name = check.check if check.subject == "value" else f"{check.subject}.{check.check}"
    if check.verdict is Verdict.INSUFFICIENT_DATA:
        return f"{name}: {check.detail}"
    if check.check == "schema":
        return f"schema {check.value} ({check.detail})"
    limit = check.threshold if check.verdict is not Verdict.WARN else check.warn_threshold
    return f"{name} {_fmt(check.value)} > {_fmt(limit)}"


def render_summary(report: Report, *, worst: int = 5) -> str:
    """A few lines for a terminal: the verdict, counts, and the worst features."""
    code = int(exit_code_for(report.verdict))
    counts = ", ".join(f"{n} {v}" for v, n in report.summary.items() if n)
    lines = [
        f"skewguard check: {str(report.verdict).upper()} (exit {code})",
        f"  {len(report.features)} features: {counts}",
        f"  training rows {report.sample_sizes.get('training_rows')}, "
        f"serving rows {report.sample_sizes.get('serving_rows')}",
    ]
    ranked = sorted(
        (f for f in report.features if f.verdict is not Verdict.PASS),
        key=lambda f: (-f.verdict.severity, f.name),
    )
    for f in ranked[:worst]:
        failing = sorted(f.failing(), key=lambda c: -c.verdict.severity)
        reasons = "; ".join(_describe(c) for c in failing[:3])
        flag = " [critical]" if f.critical else ""
        lines.append(f"  {str(f.verdict):<17} {f.name}{flag}: {reasons}")
    if len(ranked) > worst:
        lines.append(f"  ... and {len(ranked) - worst} more features not passing")
    return "\n".join(lines)
