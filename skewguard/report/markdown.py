"""The Markdown report: shaped for a CI job summary or a pull-request comment.

Order: the verdict and what it means, why (the features that carry the verdict and their
causes), the table of checks that did not pass (feature, check, value, threshold crossed,
action, cause), every feature with its largest measure (so a passing feature still shows
how far it moved), joined-skew causes when the report has joined sections, sample sizes and
inputs, and the name of the HTML report. Rates read as training → serving percentages. Every string
from the report is escaped, so a feature name or category such as `<script>` shows as
text. Long tables are cut at `max_rows` with a line saying how many rows were left out
(GitHub limits a comment to 65,536 characters and a job summary to 1 MiB).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from skewguard.report.common import (
    WHY_TITLE,
    check_label,
    crossed_limit,
    features_by_severity,
    fmt,
    format_example,
    headline_check,
    joined_causes,
    not_passing,
    report_dict,
    shown_limit,
    shown_value,
    verdict_label,
    why_lines,
)

if TYPE_CHECKING:
    from skewguard.report.model import Report

__all__ = ["render_markdown", "md_escape", "VERDICT_MEANING"]

VERDICT_ICON = {
    "pass": "✅",
    "warn": "⚠️",
    "retrain": "🔁",
    "block": "⛔",
    "insufficient_data": "❔",
}

VERDICT_MEANING = {
    "pass": "serving data matches training data within every threshold.",
    "warn": "some checks moved past a warn threshold; nothing blocks or retrains.",
    "retrain": "serving data moved away from training data: retrain the model.",
    "block": "the serving path disagrees with training: do not deploy.",
    "insufficient_data": "some checks had too few rows to decide: the check could not evaluate.",
}

_MD_SPECIAL = "\\`*_[]|#~!"


def md_escape(text: Any) -> str:
    """Free text safe in a Markdown paragraph or table cell: HTML-escaped, Markdown-escaped,
    on one line."""
    out = []
    for ch in str(text):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        elif ch in "\r\n\t":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def md_code(text: Any, *, table: bool = True) -> str:
    """A name (feature, check, path, category) as an inline code span: shown verbatim, never
    read as Markdown or HTML. Pipes are escaped in `table` cells; newlines become spaces."""
    s = " ".join(str(text).splitlines())
    if table:
        s = s.replace("|", "\\|")
    if not s:
        return "` `"
    fence_len = 1
    while "`" * fence_len in s:
        fence_len += 1
    fence = "`" * fence_len
    pad = " " if s[0] in "` " or s[-1] in "` " else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _table(header: list[str], rows: list[list[str]], numeric: set[int]) -> list[str]:
    align = ["---:" if i in numeric else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return lines


def _cut(rows: list[list[str]], max_rows: int) -> tuple[list[list[str]], int]:
    if len(rows) <= max_rows:
        return rows, 0
    return rows[:max_rows], len(rows) - max_rows


def _threshold(check: Mapping[str, Any]) -> str:
    """The limit the check crossed: `0.15 (warn)` for a warn, `min_rows` for too few rows."""
    verdict = check.get("verdict")
    if verdict == "insufficient_data":
        return "min\\_rows"
    if check.get("check") == "schema":
        return "types match"
    text = md_escape(shown_limit(check, crossed_limit(check)))
    return f"{text} (warn)" if verdict == "warn" else text


def render_markdown(
    report: Report | Mapping[str, Any],
    *,
    html_name: str | None = None,
    max_rows: int = 50,
) -> str:
    """The Markdown report for `report`. `html_name` is the HTML report's file name, named
    at the end so readers know where the plots are."""
    d = report_dict(report)
    verdict = str(d.get("verdict"))
    features = list(d.get("features") or [])
    summary = d.get("summary") or {}
    counts = ", ".join(f"{n} {verdict_label(v)}" for v, n in summary.items() if n)
    lines = [
        f"## {VERDICT_ICON.get(verdict, '')} skewguard check: {verdict_label(verdict).upper()}",
        "",
        f"**Verdict: {md_escape(verdict_label(verdict))}**: "
        f"{VERDICT_MEANING.get(verdict, md_escape(verdict))}",
        f"{len(features)} features: {md_escape(counts) or 'none'}.",
        "",
    ]
    lines += _why_section(d)
    failing = not_passing(d)
    lines += _failing_section(features, failing, max_rows)
    lines += _features_section(d, max_rows)
    lines += _joined_section(d, max_rows)
    lines += _sizes_section(d, failing)
    if html_name:
        lines.append(f"Full report with plots: {md_code(html_name, table=False)} (HTML).")
    else:
        lines.append("Run `skewguard check --html FILE` for the full report with plots.")
    lines.append("")
    lines.append(
        f"<sub>skewguard {md_escape(d.get('skewguard_version') or '')}, report schema "
        f"{md_escape(d.get('schema_version'))}, generated {md_escape(d.get('generated_at'))}"
        "</sub>"
    )
    return "\n".join(lines) + "\n"


def _failing_section(
    features: list[Mapping[str, Any]], failing: list[Any], max_rows: int
) -> list[str]:
    lines = ["### Checks not passing", ""]
    if failing:
        rows = [
            [
                md_code(f.get("name")) + (" (critical)" if f.get("critical") else ""),
                md_code(check_label(c)),
                md_escape(shown_value(c)),
                _threshold(c),
                md_escape(verdict_label(str(c.get("verdict")))),
                md_escape("; ".join(str(x) for x in (c.get("cause"), c.get("detail")) if x)),
            ]
            for f, c in failing
        ]
        shown, left = _cut(rows, max_rows)
        header = ["feature", "check", "value", "threshold", "action", "cause"]
        lines += _table(header, shown, numeric={2})
        if left:
            lines += ["", f"... and {left} more checks not passing (see the HTML report)."]
    else:
        total = sum(len(f.get("checks") or []) for f in features)
        lines.append(f"All {total} checks passed.")
    return [*lines, ""]


def _why_section(d: Mapping[str, Any]) -> list[str]:
    """The reasons for the verdict, before any table: features and causes in words."""
    lines = why_lines(d)
    if not lines:
        return []
    title = WHY_TITLE.get(str(d.get("verdict")), "Why")
    out = [f"**{title}:**", ""]
    for name, reasons in lines:
        label = f"{md_code(name, table=False)}: " if name else ""
        out.append(f"- {label}{md_escape(reasons)}")
    return [*out, ""]


def _features_section(d: Mapping[str, Any], max_rows: int) -> list[str]:
    """Every feature with its worst check, or for a passing one the check that came closest
    to its limit."""
    rows = []
    for f in features_by_severity(d):
        check = headline_check(f)
        rows.append(
            [
                md_code(f.get("name")),
                md_escape(verdict_label(str(f.get("verdict")))),
                md_code(check_label(check)) if check else "-",
                md_escape(shown_value(check)) if check else "-",
                md_escape(shown_limit(check, crossed_limit(check))) if check else "-",
            ]
        )
    if not rows:
        return []
    shown, left = _cut(rows, max_rows)
    lines = ["### Every feature", ""]
    lines += _table(["feature", "verdict", "check", "value", "threshold"], shown, numeric={3})
    if left:
        lines += ["", f"... and {left} more features (see the HTML report)."]
    return [*lines, ""]


_JOINED_COUNTS = [
    ("base_count", "base"),
    ("test_count", "test"),
    ("match_count", "match"),
    ("mismatch_count", "mismatch"),
    ("base_only", "base only"),
    ("test_only", "test only"),
]


def _joined_section(d: Mapping[str, Any], max_rows: int) -> list[str]:
    joined = list(joined_causes(d))
    if not joined:
        return []
    lines = ["### Joined skew: causes", ""]
    header = ["feature"] + [label for _, label in _JOINED_COUNTS]
    rows = [
        [md_code(f.get("name"))] + [fmt(j.get(k)) for k, _ in _JOINED_COUNTS] for f, j in joined
    ]
    lines += _table(header, rows, numeric=set(range(1, len(header))))
    lines.append("")
    cause_rows = []
    for f, j in joined:
        mismatches = j.get("mismatch_count") or 0
        for cause in j.get("causes") or []:
            count = cause.get("count")
            share = count / mismatches if isinstance(count, int) and mismatches else None
            examples = [format_example(e) for e in (cause.get("examples") or [])[:3]]
            cause_rows.append(
                [
                    md_code(f.get("name")),
                    md_code(cause.get("cause")),
                    fmt(count),
                    f"{share:.1%}" if share is not None else "-",
                    "<br>".join(md_code(e) for e in examples) or "-",
                ]
            )
    if cause_rows:
        shown, left = _cut(cause_rows, max_rows)
        header = ["feature", "cause", "count", "share of mismatches", "examples"]
        lines += _table(header, shown, numeric={2, 3})
        if left:
            lines += ["", f"... and {left} more causes (see the HTML report)."]
    else:
        lines.append("No mismatch causes recorded.")
    return [*lines, ""]


def _sizes_section(d: Mapping[str, Any], failing: list[Any]) -> list[str]:
    sizes = d.get("sample_sizes") or {}
    inputs = d.get("inputs") or {}
    lines = ["### Sample sizes", ""]
    rows = []
    for side in ("training", "serving"):
        info = inputs.get(side) or {}
        rows.append(
            [side, md_escape(fmt(sizes.get(f"{side}_rows"))), md_code(info.get("path", "-"))]
        )
    lines += _table(["input", "rows", "path"], rows, numeric={1})
    lines.append("")
    lines.append(f"Minimum rows per check (`min_rows`): {md_escape(fmt(sizes.get('min_rows')))}.")
    short = sorted(
        {str(f.get("name")) for f, c in failing if c.get("verdict") == "insufficient_data"}
    )
    if short:
        lines.append(f"Too few rows for: {', '.join(md_code(n, table=False) for n in short)}.")
    return [*lines, ""]
