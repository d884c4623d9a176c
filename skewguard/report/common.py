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
    "check_message",
    "not_passing",
    "features_by_severity",
    "causes",
    "joined_causes",
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


def sides(check: Mapping[str, Any]) -> str:
    """`training 0.05, serving 0.25` when the check compared two rates, else ''."""
    t, s = check.get("training"), check.get("serving")
    if t is None and s is None:
        return ""
    return f"training {fmt(t)}, serving {fmt(s)}"


def check_message(feature: str, check: Mapping[str, Any]) -> str:
    """One line naming the feature, the check, the value and the limit it crossed, and
    what happened (the check's cause) when it fired."""
    label = check_label(check)
    verdict = str(check.get("verdict"))
    detail = check.get("detail")
    cause = check.get("cause")
    said = f": {cause}" if cause else ""
    if verdict == Verdict.INSUFFICIENT_DATA:
        return f"{feature}: {label}: insufficient data ({detail})"
    if check.get("check") == "schema":
        text = f"{feature}: schema {fmt(check.get('value'))}"
        return text + (f" ({detail})" if detail else "") + f": {verdict_label(verdict)}{said}"
    text = f"{feature}: {label} {fmt(check.get('value'))}"
    limit = crossed_limit(check)
    if verdict == Verdict.PASS:
        text += f" within threshold {fmt(check.get('threshold'))}"
    else:
        text += f" > {fmt(limit)}"
    extra = "; ".join(x for x in (sides(check), detail) if x)
    return text + (f" ({extra})" if extra else "") + f": {verdict_label(verdict)}{said}"


def causes(feature: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str]]:
    """(check, cause) for every check of `feature` that fired with a cause, worst first."""
    fired = [
        (c, str(c.get("cause")))
        for c in feature.get("checks") or []
        if c.get("cause") and c.get("verdict") not in (None, Verdict.PASS)
    ]
    return sorted(fired, key=lambda pair: -severity(str(pair[0].get("verdict"))))


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
