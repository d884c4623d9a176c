"""Golden files for the JSON, Markdown and JUnit reports, compared after parsing.

Two reports: `mixed` is hand-built (every verdict, a joined section, hostile strings) and
`small` comes from a real check on small parquet inputs (300 rows, so the quantile
sketches are exact and the numbers reproducible). Regenerate after an intended change
with `SKEWGUARD_UPDATE_GOLDEN=1 pytest tests/test_render_golden.py` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import (
    assert_json_close,
    golden,
    json_for_golden,
    junit_tree,
    mixed_report,
    parse_markdown,
    small_report,
)

from skewguard.report.junit import render_junit
from skewguard.report.markdown import render_markdown
from skewguard.report.model import Report, to_json


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    return {
        "mixed": mixed_report(),
        "small": small_report(tmp_path_factory.mktemp("small")),
    }


@pytest.mark.parametrize("name", ["mixed", "small"])
def test_json_matches_golden(reports: dict[str, Report], name: str) -> None:
    actual = to_json(reports[name])
    expected = golden(f"{name}.json", actual)
    assert_json_close(json_for_golden(actual), json_for_golden(expected))


@pytest.mark.parametrize("name", ["mixed", "small"])
def test_markdown_matches_golden(reports: dict[str, Report], name: str) -> None:
    actual = render_markdown(reports[name], html_name="report.html")
    expected = golden(f"{name}.md", actual)
    assert parse_markdown(actual) == parse_markdown(expected)


@pytest.mark.parametrize("name", ["mixed", "small"])
def test_junit_matches_golden(reports: dict[str, Report], name: str) -> None:
    actual = render_junit(reports[name])
    expected = golden(f"{name}.xml", actual)
    assert junit_tree(actual) == junit_tree(expected)


def test_small_run_has_the_expected_verdicts(reports: dict[str, Report]) -> None:
    """The golden inputs exercise block (a new category), retrain (a shift) and warn."""
    verdicts = {f.name: str(f.verdict) for f in reports["small"].features}
    assert verdicts == {
        "shop__price": "retrain",
        "shop__category": "block",
        "shop__quantity": "pass",
        "shop__rating": "warn",
    }
    assert str(reports["small"].verdict) == "block"


def test_rendering_from_saved_json_equals_rendering_the_report(
    reports: dict[str, Report], tmp_path: Path
) -> None:
    """Renderers read only the JSON document: a saved report renders identically."""
    import json

    report = reports["mixed"]
    saved = json.loads(to_json(report))
    assert render_markdown(saved) == render_markdown(report)
    assert render_junit(saved) == render_junit(report)
