"""The HTML report: self-contained, overview first, a plot per feature, joined causes,
sortable tables, every string escaped."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from report_fixtures import HOSTILE, Page, joined_free, mixed_report

from skewguard.report.html import SORT_SCRIPT, render_html


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(mixed_report())


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


def test_the_verdict_opens_the_page(page: Page, html: str) -> None:
    assert page.find("header", id="verdict", data_verdict="insufficient_data")
    assert "<title>skewguard check: INSUFFICIENT DATA</title>" in html
    order = [html.index(f'id="{i}"') for i in ("verdict", "overview", "failing", "joined")]
    assert order == sorted(order)
    assert html.index('id="joined"') < html.index('class="feature') < html.index('id="inputs"')


def test_self_contained_no_network(html: str, page: Page) -> None:
    for _, attrs in page.elements:
        for key in ("src", "href", "action", "data"):
            value = attrs.get(key) or ""
            assert not re.match(r"^\s*(https?:)?//", value), (key, value)
    assert not page.find("link") and not page.find("img") and not page.find("iframe")
    assert "@import" not in html and "url(" not in html


def test_csp_allows_only_the_report_s_own_script(page: Page) -> None:
    (meta,) = page.find("meta", http_equiv="Content-Security-Policy")
    digest = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
    assert "default-src 'none'" in meta["content"]
    assert f"script-src 'sha256-{digest}'" in meta["content"]
    assert page.scripts == [SORT_SCRIPT]


def test_each_feature_with_a_distribution_has_a_plot(page: Page) -> None:
    plots = {(a["data-feature"], a["data-plot"]) for a in page.find("svg")}
    assert plots == {
        ("product_stats__price", "histogram"),
        ("customer_stats__avg_order_value", "histogram"),
        ("product_stats__category", "categories"),
        ("customer_stats__orders_30d", "histogram"),
        ("customer_stats__recent_views", "length-histogram"),
        ("customer_stats__recent_views", "element-histogram"),
    }
    sections = [a["data-feature"] for a in page.find("section") if a.get("data-feature")]
    assert sections[:2] == ["customer_stats__orders_30d", "product_stats__price"]  # worst first
    assert HOSTILE in sections


def test_histogram_labels_underflow_and_overflow(html: str) -> None:
    svg = re.search(r'<svg[^>]*data-feature="product_stats__price".*?</svg>', html, re.S)
    assert svg is not None
    assert ">underflow</text>" in svg.group(0) and ">overflow</text>" in svg.group(0)
    assert "underflow &lt; 5" in svg.group(0) and "overflow ≥ 40" in svg.group(0)
    # proportions, not counts: serving overflow 180 of 1580 rows
    assert "serving overflow ≥ 40: 11.4% (180)" in svg.group(0)


def test_joined_causes_table_per_feature(html: str, page: Page) -> None:
    assert page.find("table", id="joined-table")
    pattern = r'<section class="feature[^>]*data-feature="product_stats__price".*?</section>'
    section = re.search(pattern, html, re.S).group(0)
    assert "Joined mismatch causes" in section
    assert "stale_online_value" in section and "70.0%" in section
    assert "product_id=17, online=12.5, offline=11, age_hours=28" in section
    assert 'id="joined"' not in render_html(joined_free(mixed_report()))


def test_tables_are_sortable_with_numeric_keys(page: Page) -> None:
    assert len(page.find("table", **{"class": "sortable"})) >= 3
    keys = [a.get("data-sort") for t, a in page.elements if t == "td" and "data-sort" in a]
    assert "0.41" in keys and "" in keys


def test_inputs_and_policy_are_included(page: Page) -> None:
    text = "".join(page.text)
    assert "inputs.training.path" in text and "snapshots/recommender_v1" in text
    assert '"min_rows": 500' in text


def test_hostile_strings_are_text_everywhere(html: str, page: Page) -> None:
    assert HOSTILE not in html  # never raw
    assert [t for t, _ in page.elements].count("script") == 1
    text = "".join(page.text)
    # feature name (heading, tables), category label, top values, joined example, path
    assert text.count(HOSTILE) >= 6
    assert page.find("section", data_feature=HOSTILE)
    svg = re.search(r'<svg[^>]*data-feature="product_stats__category".*?</svg>', html, re.S)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg.group(0)


def test_attribute_values_cannot_break_out() -> None:
    d = joined_free(mixed_report())
    d["features"][0]["name"] = '"><img src=x onerror=alert(1)>'
    page = Page(render_html(d))
    assert not page.find("img")
    assert page.find("section", data_feature='"><img src=x onerror=alert(1)>')
