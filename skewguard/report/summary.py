"""The plain-text summary of a report: a few lines for a terminal.

The verdict and exit code, counts per verdict, sample sizes, and the worst features with
the checks that did not pass.
"""

from __future__ import annotations

from skewguard.report.common import check_reason, report_dict, severity
from skewguard.report.model import Report
from skewguard.vocabulary import Verdict, exit_code_for

__all__ = ["render_summary"]


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
    # the same words as the Markdown and HTML reports: causes, rates as percentages
    features = report_dict(report)["features"]
    ranked = sorted(
        (f for f in features if f["verdict"] != Verdict.PASS),
        key=lambda f: (-severity(f["verdict"]), f["name"]),
    )
    for f in ranked[:worst]:
        failing = sorted(
            (c for c in f["checks"] if c["verdict"] != Verdict.PASS),
            key=lambda c: -severity(c["verdict"]),
        )
        reasons = "; ".join(dict.fromkeys(check_reason(c) for c in failing[:3]))
        flag = " [critical]" if f.get("critical") else ""
        lines.append(f"  {f['verdict']:<17} {f['name']}{flag}: {reasons}")
    if len(ranked) > worst:
        lines.append(f"  ... and {len(ranked) - worst} more features not passing")
    return "\n".join(lines)
