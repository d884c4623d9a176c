"""Reports a reader understands without help: why at the top, rates as percentages,
passing features with their largest measure, histogram bins at their real widths."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_fixtures import small_report

from skewguard.report.common import check_message, largest_measure, report_dict, why_lines
from skewguard.report.html import render_html
from skewguard.report.junit import render_junit
from skewguard.report.markdown import render_markdown
from skewguard.report.model import Report
from skewguard.report.svg import bin_geometry, histogram_svg

NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return small_report(tmp_path_factory.mktemp("small"))


def _feature(report: Report, name: str) -> dict:
    return next(f for f in report_dict(report)["features"] if f["name"] == name)


def test_why_comes_first_and_names_the_blocking_feature_and_its_cause(report: Report) -> None:
    md = render_markdown(report)
    why = md.index("**Why block:**")
    assert why < md.index("### Checks not passing")
    paragraph = md[why : md.index("### Checks not passing")]
    assert "`shop__category`" in paragraph and "'Books' served for 'books'" in paragraph
    assert "shop__price" not in paragraph  # retrain features do not explain a block
    html = render_html(report)
    assert html.index('id="why"') < html.index('id="overview"')
    assert "shop__category" in html[html.index('id="why"') : html.index('id="overview"')]


def test_why_uses_the_cause_a_check_names() -> None:
    document = {
        "verdict": "block",
        "features": [
            {
                "name": "orders__amount",
                "verdict": "block",
                "checks": [
                    {
                        "check": "unit_change",
                        "verdict": "block",
                        "value": 100.0,
                        "cause": "served = training × 100",
                    },
                    {"check": "ks_statistic", "verdict": "retrain", "value": 0.9},
                ],
            },
            {"name": "orders__count", "verdict": "pass", "checks": []},
        ],
    }
    assert why_lines(document) == [("orders__amount", "served = training × 100")]
    assert why_lines({"verdict": "pass", "features": document["features"]}) == []


def test_rates_read_as_training_and_serving_percentages(report: Report) -> None:
    md = render_markdown(report)
    row = next(line for line in md.splitlines() if "`null_rate`" in line)
    assert "1.0% → 8.3%" in row and "0.0733" not in row
    assert "rise &gt; 0 pp (warn)" in row  # ">" escaped for Markdown
    junit = render_junit(report)
    assert "new_category_rate 0.0% → 31.0%, rise &gt; 1 pp" in junit
    check = next(c for c in _feature(report, "shop__rating")["checks"] if c["check"] == "null_rate")
    assert check_message("shop__rating", check).startswith("shop__rating: null_rate 1.0% → 8.3%")


def test_passing_features_still_show_their_largest_measure(report: Report) -> None:
    quantity = _feature(report, "shop__quantity")
    assert quantity["verdict"] == "pass"
    best = largest_measure(quantity)
    assert best is not None
    ratios = [
        c["value"] / c["threshold"]
        for c in quantity["checks"]
        if isinstance(c.get("value"), float)
        and isinstance(c.get("threshold"), float)
        and c["threshold"] > 0  # signatures: any match fires, no ratio to a limit
    ]
    assert best["value"] / best["threshold"] == max(ratios) > 0
    md = render_markdown(report)
    section = md[md.index("### Every feature") :]
    row = next(line for line in section.splitlines() if "`shop__quantity`" in line)
    assert f"`{best['check']}`" in row and "pass" in row
    html = render_html(report)
    overview = html[
        html.index('id="features-table"') : html.index(
            "</table>", html.index('id="features-table"')
        )
    ]
    quantity_row = overview[overview.index('data-feature="shop__quantity"') :]
    assert best["check"] in quantity_row[: quantity_row.index("</tr>")]


def test_bins_are_drawn_to_their_real_widths() -> None:
    geometry = bin_geometry([0.0, 1.0, 10.0], 4, 0.0, 1000.0)
    (_, under), (x1, w1), (x2, w2), (_, over) = geometry
    assert under == over > 0
    assert w2 == pytest.approx(9 * w1) and x2 == pytest.approx(x1 + w1)


def test_bar_area_is_the_share_so_quantile_bins_show_the_shape() -> None:
    # equal training shares in a narrow and a wide bin: the narrow bar is 9x taller
    svg = histogram_svg("f", [0.0, 1.0, 10.0], [0, 50, 50, 0], [0, 50, 50, 0])
    bars = [
        (float(r.get("width")), float(r.get("height")))
        for r in ET.fromstring(svg).iter(f"{NS}rect")
        if r.get("data-side") == "training"
    ]
    (_, _), (w1, h1), (w2, h2), (_, _) = bars
    assert h1 == pytest.approx(9 * h2, rel=0.02)
    assert w1 * h1 == pytest.approx(w2 * h2, rel=0.02)


def test_repeated_edges_still_draw_a_visible_bar() -> None:
    geometry = bin_geometry([0.0, 0.0, 0.0, 5.0], 5, 0.0, 500.0)
    assert all(w >= 2.0 for _, w in geometry)


def test_report_written_from_json_reads_the_same(report: Report, tmp_path: Path) -> None:
    document = report_dict(report)
    assert render_markdown(document) == render_markdown(report)
