"""What every report renderer shares: reading the report dict, ordering and wording checks.

Renderers (`render_markdown`, `render_junit`, `render_html`) take a `Report` or the dict
of its JSON form and read only that dict, so a report rendered from a saved JSON file
looks exactly like one rendered straight after a check. A `Report` is turned into its
JSON form first (`nan` and `inf` become strings there), so both paths see the same data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError
from skewguard.vocabulary import Verdict

if TYPE_CHECKING:
    from skewguard.report.model import Report

__all__ = [
    "report_dict",
    "severity",
    "verdict_label",
    "fmt",
    "check_label",
    "crossed_limit",
    "sides",
    "is_rate",
    "percent",
    "shown_value",
    "shown_limit",
    "largest_measure",
    "headline_check",
    "why_lines",
    "WHY_TITLE",
    "check_message",
    "not_passing",
    "features_by_severity",
    "joined_causes",
    "causes",
    "format_example",
    "write_text",
]


def report_dict(report: Report | Mapping[str, Any]) -> dict[str, Any]:
    """The report as its JSON document (a `Report` is serialised and parsed back).

    A document given as a mapping is validated first: a malformed one is an `InputError`
    naming the field, never a half-rendered page.
    """
    from skewguard.report.model import Report, to_json

    if isinstance(report, Mapping):
        report = Report.from_dict(report)
    document: dict[str, Any] = json.loads(to_json(report))
    return document


def severity(verdict: str) -> int:
    """Rank of a verdict string; unknown strings rank as a pass."""
    try:
        return Verdict(verdict).severity
    except ValueError:
        return 0


def verdict_label(verdict: str) -> str:
    return str(verdict).replace("_", " ")


def fmt(value: Any) -> str:
    """A number the way reports show it: integers in full, floats to 3 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        return f"{value:.3g}"
    return str(value)


def check_label(check: Mapping[str, Any]) -> str:
    """`psi`, or `length.psi` / `element.psi` for an array's lengths or elements."""
    subject = check.get("subject") or "value"
    name = str(check.get("check"))
    return name if subject == "value" else f"{subject}.{name}"


def crossed_limit(check: Mapping[str, Any]) -> Any:
    """The threshold a check's verdict refers to: the warn threshold for a warn."""
    if check.get("verdict") == Verdict.WARN:
        return check.get("warn_threshold")
    return check.get("threshold")


def is_rate(check: Mapping[str, Any]) -> bool:
    """A check that compared two shares (null, NaN, new-category... rates): it carries them."""
    return check.get("training") is not None or check.get("serving") is not None


def percent(share: Any) -> str:
    """A share in [0, 1] as a percentage: `31.0%`, `0.02%` for tiny shares, `-` if unknown."""
    if not isinstance(share, int | float) or isinstance(share, bool) or not math.isfinite(share):
        return "-"
    if share == 0 or abs(share) >= 0.001:
        return f"{share:.1%}"
    return f"{share:.2%}"


def shown_value(check: Mapping[str, Any]) -> str:
    """What a reader compares: `4.0% → 31.0%` for a rate (training → serving), never the
    signed difference; the measure itself for a distance."""
    if is_rate(check):
        t, s = check.get("training"), check.get("serving")
        return f"serving {percent(s)}" if t is None else f"{percent(t)} → {percent(s)}"
    return fmt(check.get("value"))


def shown_limit(check: Mapping[str, Any], limit: Any) -> str:
    """A limit in the unit of `shown_value`: a rate's limit is a rise in percentage points."""
    if is_rate(check) and isinstance(limit, int | float) and not isinstance(limit, bool):
        return f"rise > {limit * 100:.3g} pp"
    return fmt(limit)


def sides(check: Mapping[str, Any]) -> str:
    """`training 5.0%, serving 25.0%` when the check compared two rates, else ''."""
    if not is_rate(check):
        return ""
    return f"training {percent(check.get('training'))}, serving {percent(check.get('serving'))}"


def largest_measure(feature: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The check that came closest to its limit (largest value / threshold), passing or not,
    so a passing feature still shows how far it moved; None when no check has both numbers."""
    best, best_ratio = None, -math.inf
    for check in feature.get("checks") or []:
        value, limit = check.get("value"), check.get("threshold")
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (value, limit)):
            continue
        if not (math.isfinite(value) and math.isfinite(limit)) or limit <= 0:
            continue
        if value / limit > best_ratio:
            best, best_ratio = check, value / limit
    return best


def headline_check(feature: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The one check that stands for a feature: its worst failing check, or for a passing
    feature the one that came closest to its limit."""
    checks: list[Mapping[str, Any]] = list(feature.get("checks") or [])
    failing = [c for c in checks if str(c.get("verdict", "pass")) != Verdict.PASS]
    if failing:
        return max(failing, key=lambda c: severity(str(c.get("verdict"))))
    return largest_measure(feature)


def check_reason(check: Mapping[str, Any]) -> str:
    """Why one check fired, in words: its cause when the check named one, else the measure."""
    cause = check.get("cause")
    if cause:
        return str(cause)
    label = check_label(check)
    verdict = str(check.get("verdict"))
    if verdict == Verdict.INSUFFICIENT_DATA:
        return f"{label}: too few rows ({check.get('detail')})"
    if check.get("check") == "schema":
        return f"schema {fmt(check.get('value'))}" + (
            f" ({check.get('detail')})" if check.get("detail") else ""
        )
    limit = shown_limit(check, crossed_limit(check))
    joiner = ", " if is_rate(check) else " > "
    return f"{label} {shown_value(check)}{joiner}{limit}"


def why_lines(report: Mapping[str, Any], *, max_features: int = 5) -> list[tuple[str, str]]:
    """(feature, reasons) for the features that carry the report's verdict, worst checks
    first: the "why block / why retrain" a reader needs before any table."""
    verdict = str(report.get("verdict"))
    if verdict == Verdict.PASS:
        return []
    out = []
    for feature in report.get("features") or []:
        if str(feature.get("verdict")) != verdict:
            continue
        fired = [c for c in feature.get("checks") or [] if str(c.get("verdict")) == verdict]
        reasons = list(dict.fromkeys(check_reason(c) for c in fired))
        joined = feature.get("joined")
        if isinstance(joined, Mapping) and joined.get("causes"):
            top = max(joined["causes"], key=lambda c: c.get("count") or 0)
            reasons.append(
                f"replay: {fmt(joined.get('mismatch_count'))} served values differ from the "
                f"offline store, mostly {top.get('cause')}"
            )
        out.append((str(feature.get("name")), "; ".join(reasons)))
    if len(out) > max_features:
        left = len(out) - max_features
        out = out[:max_features] + [("", f"and {left} more features")]
    return out


WHY_TITLE = {
    "block": "Why block",
    "retrain": "Why retrain",
    "warn": "Why warn",
    "insufficient_data": "Why no verdict",
}


def check_message(feature: str, check: Mapping[str, Any]) -> str:
    """One line naming the feature, the check, the value and the limit it crossed."""
    label = check_label(check)
    verdict = str(check.get("verdict"))
    detail = check.get("detail")
    if verdict == Verdict.INSUFFICIENT_DATA:
        return f"{feature}: {label}: insufficient data ({detail})"
    if check.get("check") == "schema":
        text = f"{feature}: schema {fmt(check.get('value'))}"
        return text + (f" ({detail})" if detail else "") + f": {verdict_label(verdict)}"
    text = f"{feature}: {label} {shown_value(check)}"
    if verdict == Verdict.PASS:
        text += f" within {shown_limit(check, check.get('threshold'))}"
    else:
        text += (", " if is_rate(check) else " > ") + shown_limit(check, crossed_limit(check))
    extra = "; ".join(str(x) for x in (check.get("cause"), detail) if x)
    return text + (f" ({extra})" if extra else "") + f": {verdict_label(verdict)}"


def features_by_severity(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Features, worst verdict first, otherwise in report order."""
    features = list(report.get("features") or [])
    order = {id(f): i for i, f in enumerate(features)}
    return sorted(features, key=lambda f: (-severity(f.get("verdict", "pass")), order[id(f)]))


def not_passing(report: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(feature, check) for every check that did not pass, worst first."""
    rows = [
        (f, c)
        for f in report.get("features") or []
        for c in f.get("checks") or []
        if c.get("verdict") != Verdict.PASS
    ]
    index = {id(r[1]): i for i, r in enumerate(rows)}
    return sorted(rows, key=lambda r: (-severity(str(r[1].get("verdict"))), index[id(r[1])]))


def causes(feature: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str]]:
    """(check, cause) for every check of `feature` that fired with a cause, worst first."""
    fired = [
        (c, str(c.get("cause")))
        for c in feature.get("checks") or []
        if c.get("cause") and c.get("verdict") not in (None, Verdict.PASS)
    ]
    return sorted(fired, key=lambda pair: -severity(str(pair[0].get("verdict"))))


def joined_causes(
    report: Mapping[str, Any],
) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(feature, joined section) for every feature whose report has a joined section."""
    for f in report.get("features") or []:
        joined = f.get("joined")
        if isinstance(joined, Mapping):
            yield f, joined


def format_example(example: Any, *, limit: int = 160) -> str:
    """One example of a joined mismatch as a short line (mappings as `key=value, ...`)."""
    if isinstance(example, Mapping):
        text = ", ".join(f"{k}={_plain(v)}" for k, v in example.items())
    elif isinstance(example, Sequence) and not isinstance(example, str):
        text = ", ".join(_plain(v) for v in example)
    else:
        text = _plain(example)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str)
    return "null" if value is None else str(value)


def write_text(path: Path, text: str, *, what: str, flag: str) -> None:
    """Write a rendered report; raise `InputError` naming the file and the flag."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(
            f"cannot write the {what} report: {err.strerror or err}",
            where=str(path),
            hint=f"choose a writable {flag} path",
        ) from err
