"""The JUnit report: valid against the common JUnit schema, one test per feature and check,
failures carrying value and threshold, insufficient data as errors, warns as output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from report_fixtures import HOSTILE, mixed_report

from skewguard.report.junit import render_junit

XSD = Path(__file__).parent / "junit-10.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(XSD)


def _cases(xml: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(xml.encode())
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


@pytest.mark.parametrize("fail_on", ["warn", "retrain", "block"])
def test_validates_against_the_junit_schema(schema, fail_on: str) -> None:
    schema.validate(render_junit(mixed_report(), fail_on=fail_on))


def test_the_schema_rejects_what_ci_tools_reject(schema) -> None:
    bad = '<testsuites><testsuite name="x" tests="one" failures="0" errors="0" skipped="0" ' \
        'time="0"/></testsuites>'  # fmt: skip
    assert not schema.is_valid(bad)
    assert not schema.is_valid("<testsuites><testcase name='x'/></testsuites>")


def test_one_case_per_feature_and_check_with_consistent_counts() -> None:
    report = mixed_report()
    root = ET.fromstring(render_junit(report).encode())
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f.name for f in report.features]
    for suite, feature in zip(suites, report.features, strict=True):
        cases = suite.findall("testcase")
        assert len(cases) == len(feature.checks) == int(suite.get("tests"))
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases)
    assert int(root.get("tests")) == sum(len(f.checks) for f in report.features) == 17
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("5", "1", "0")


def test_failures_carry_the_value_and_the_threshold() -> None:
    cases = _cases(render_junit(mixed_report()))
    failure = cases[("skewguard.product_stats__price", "null_rate")].find("failure")
    assert failure.get("type") == "block"
    assert failure.get("message") == (
        "product_stats__price: null_rate 1.0% → 21.0%, rise > 10 pp "
        "(null values: 21.0% served, training had 1.0%): block"
    )
    assert "value: 0.2" in failure.text and "threshold: 0.1" in failure.text
    assert "cause: null values: 21.0% served" in failure.text
    schema = cases[(f"skewguard.{HOSTILE}", "schema")].find("failure")
    assert schema.get("message").startswith(f"{HOSTILE}: schema missing_in_training")


def test_insufficient_data_is_an_error_not_a_skip() -> None:
    case = _cases(render_junit(mixed_report()))[("skewguard.customer_stats__orders_30d", "psi")]
    error = case.find("error")
    assert error is not None and case.find("skipped") is None
    assert error.get("type") == "insufficient_data"
    assert "insufficient data" in error.get("message") and "min_rows 500" in error.get("message")


def test_warn_passes_with_output() -> None:
    case = _cases(render_junit(mixed_report()))[
        ("skewguard.product_stats__category", "linf_distance")
    ]
    assert case.find("failure") is None and case.find("error") is None
    assert case.find("system-out").text == (
        "product_stats__category: linf_distance 0.15 > 0.1 "
        "(a category's share moved by 15.0% (L-infinity 0.15)): warn"
    )


def test_a_signature_failure_message_says_what_happened() -> None:
    case = _cases(render_junit(mixed_report()))[
        ("skewguard.product_stats__category", "category_form")
    ]
    message = case.find("failure").get("message")
    assert message.startswith(
        "product_stats__category: category_form 0.0% → 12.0%, rise > 0 pp ('Books' served"
    )
    assert message.endswith("case, whitespace or encoding changed): block")


def test_array_subjects_are_named() -> None:
    cases = _cases(render_junit(mixed_report()))
    assert ("skewguard.customer_stats__recent_views", "length.psi") in cases
    assert ("skewguard.customer_stats__recent_views", "element.psi") in cases


@pytest.mark.parametrize(
    ("fail_on", "failures"),
    [("warn", 6), ("retrain", 5), ("block", 3)],
)
def test_fail_on_moves_findings_between_failures_and_output(fail_on: str, failures: int) -> None:
    xml = render_junit(mixed_report(), fail_on=fail_on)
    root = ET.fromstring(xml.encode())
    assert int(root.get("failures")) == failures and root.get("errors") == "1"
    retrain = _cases(xml)[("skewguard.customer_stats__avg_order_value", "psi")]
    if fail_on == "block":
        assert retrain.find("failure") is None and "retrain" in retrain.find("system-out").text
    else:
        assert retrain.find("failure") is not None


def test_fail_on_must_be_a_gate() -> None:
    with pytest.raises(ValueError, match="fail_on"):
        render_junit(mixed_report(), fail_on="pass")


def test_control_characters_cannot_break_the_xml(schema) -> None:
    from report_fixtures import joined_free

    d = joined_free(mixed_report())
    d["features"][0]["name"] = "bad\x00name\x1b[31m"
    xml = render_junit(d)
    schema.validate(xml)
    assert ET.fromstring(xml.encode()).find("testsuite").get("name") == "bad?name?[31m"
