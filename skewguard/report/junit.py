"""The JUnit XML report: one test case per feature and check, for any CI's test view.

Shape (the common Ant/Jenkins JUnit schema, `tests/junit-10.xsd`):

    testsuites(name="skewguard check", tests, failures, errors, skipped, time)
    └── testsuite(name=<feature>, tests, failures, errors, skipped, time, timestamp)
        ├── properties: verdict, kind, critical, rows_training, rows_serving
        └── testcase(classname="skewguard.<feature>", name=<check>, time)
            ├── failure(message, type=<verdict>)   the check fails the gate
            ├── error(message, type="insufficient_data")   too few rows: not evaluated
            └── system-out                         a warn, or a finding below the gate

A check *fails* when its verdict is at or above `fail_on` (the same gate as
`skewguard check --fail-on`; the default, retrain, fails block and retrain checks).
Insufficient data is an *error*, never a skip: the check could not be evaluated, and a
skipped test is too easy to overlook. A warn, and any finding below `fail_on`, passes
and carries its message in `system-out`. Every message names the feature, the check,
the value and the threshold, with the cause (what happened) when there is one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from skewguard.report.common import check_label, check_message, fmt, report_dict, severity
from skewguard.vocabulary import Verdict

if TYPE_CHECKING:
    from skewguard.report.model import Report

__all__ = ["render_junit", "SUITES_NAME"]

SUITES_NAME = "skewguard check"


def _outcome(verdict: str, fail_on: Verdict) -> str:
    """failure | error | note | pass for a check verdict under the gate `fail_on`."""
    if verdict == Verdict.INSUFFICIENT_DATA:
        return "error"
    if verdict == Verdict.PASS:
        return "pass"
    if severity(verdict) >= fail_on.severity:
        return "failure"
    return "note"


def _xml_text(value: Any) -> str:
    """Text without the characters XML 1.0 cannot hold (escaping is ElementTree's job)."""
    return "".join(ch if _xml_char(ord(ch)) else "?" for ch in str(value))


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def render_junit(
    report: Report | Mapping[str, Any], *, fail_on: Verdict | str = Verdict.RETRAIN
) -> str:
    """The JUnit XML document (UTF-8 text with an XML declaration) for `report`."""
    d = report_dict(report)
    gate = Verdict(fail_on)
    if gate in (Verdict.PASS, Verdict.INSUFFICIENT_DATA):
        raise ValueError(f"fail_on must be warn, retrain or block, not {gate}")
    root = ET.Element("testsuites", name=SUITES_NAME)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for feature in d.get("features") or []:
        name = _xml_text(feature.get("name"))
        suite = ET.SubElement(root, "testsuite", name=name)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        props = ET.SubElement(suite, "properties")
        rows = feature.get("rows") or {}
        for key, value in (
            ("verdict", feature.get("verdict")),
            ("kind", feature.get("kind")),
            ("critical", feature.get("critical")),
            ("rows_training", rows.get("training")),
            ("rows_serving", rows.get("serving")),
        ):
            ET.SubElement(props, "property", name=key, value=_xml_text(fmt(value)))
        for check in feature.get("checks") or []:
            counts["tests"] += 1
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml_text(f"skewguard.{feature.get('name')}"),
                name=_xml_text(check_label(check)),
                time="0",
            )
            verdict = str(check.get("verdict"))
            message = _xml_text(check_message(str(feature.get("name")), check))
            outcome = _outcome(verdict, gate)
            if outcome == "failure":
                counts["failures"] += 1
                node = ET.SubElement(case, "failure", message=message, type=verdict)
                node.text = _details(check)
            elif outcome == "error":
                counts["errors"] += 1
                node = ET.SubElement(case, "error", message=message, type=verdict)
                node.text = _details(check)
            elif outcome == "note":
                ET.SubElement(case, "system-out").text = message
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", "0")
        suite.set("timestamp", _xml_text(str(d.get("generated_at", ""))[:19]))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _details(check: Mapping[str, Any]) -> str:
    keys: tuple[str, ...] = ("value", "threshold", "warn_threshold", "action", "training")
    keys += ("serving", "n_training", "n_serving", "p_value", "alpha", "detail", "cause")
    lines = [f"{k}: {fmt(check.get(k))}" for k in keys if check.get(k) is not None]
    return _xml_text("\n".join(lines))
