"""The plain-text summary of a report: a few lines for a terminal.

The verdict and exit code, counts per verdict, sample sizes, and the worst features with
the checks that did not pass and their causes.
"""

from __future__ import annotations

from skewguard.report.model import CheckResult, Report
from skewguard.vocabulary import Verdict, exit_code_for

__all__ = ["render_summary"]


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
        text = f"schema {check.value} ({check.detail})"
        return text + (f": {check.cause}" if check.cause else "")
    limit = check.threshold if check.verdict is not Verdict.WARN else check.warn_threshold
    text = f"{name} {_fmt(check.value)} > {_fmt(limit)}"
    return text + (f": {check.cause}" if check.cause else "")


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
