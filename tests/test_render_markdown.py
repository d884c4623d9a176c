"""The Markdown report: order of sections, escaping, joined causes, long tables cut."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from report_fixtures import HOSTILE, joined_free, mixed_report, parse_markdown

from skewguard.report.markdown import md_code, md_escape, render_markdown


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def _as_github_would(markdown: str) -> _Collect:
    """Render like GitHub (CommonMark + tables, raw HTML allowed) and parse the HTML."""
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    out = _Collect()
    out.feed(html)
    return out


def test_verdict_and_why_come_first_then_failing_checks_then_sizes_then_html_name() -> None:
    blocks = parse_markdown(render_markdown(mixed_report(), html_name="skew.html"))
    headings = [b[2] for b in blocks if b[0] == "heading"]
    assert headings[0].endswith("skewguard check: INSUFFICIENT DATA")
    assert headings[1:] == [
        "Checks not passing",
        "Every feature",
        "Joined skew: causes",
        "Sample sizes",
    ]
    failing = next(b for b in blocks if b[0] == "table")
    assert failing[1] == ("feature", "check", "value", "threshold", "action", "cause")
    assert [r[4] for r in failing[2]] == [
        "insufficient data", "block", "block", "block", "retrain", "retrain", "warn",
    ]  # fmt: skip
    assert ("text", "Full report with plots: `skew.html` (HTML).") in blocks


def test_failing_rows_carry_value_threshold_and_action() -> None:
    blocks = parse_markdown(render_markdown(mixed_report()))
    rows = {(r[0], r[1]): r for r in next(b for b in blocks if b[0] == "table")[2]}
    price = rows[("`product_stats__price` (critical)", "`null_rate`")]
    # a rate reads as training -> serving percentages, its limit as a rise in points
    assert price[2:5] == ("1.0% → 21.0%", "rise &gt; 10 pp", "block")
    assert price[5] == "null values: 21.0% served, training had 1.0%"
    warn = rows[("`product_stats__category`", "`linf_distance`")]
    assert warn[2:5] == ("0.15", "0.1 (warn)", "warn")
    form = rows[("`product_stats__category`", "`category_form`")]
    assert form[5].startswith("'Books' served for 'books'")


def test_joined_causes_table_when_present_and_absent_otherwise() -> None:
    blocks = parse_markdown(render_markdown(mixed_report()))
    tables = [b for b in blocks if b[0] == "table"]
    causes = next(t for t in tables if t[1][1] == "cause")
    assert [(r[1], r[2], r[3]) for r in causes[2]] == [
        ("`stale_online_value`", "70", "70.0%"),
        ("`missing_key_served_as_null`", "30", "30.0%"),
    ]
    assert "product_id=17" in causes[2][0][4]
    without = parse_markdown(render_markdown(joined_free(mixed_report())))
    assert all(b[2] != "Joined skew: causes" for b in without if b[0] == "heading")


def test_all_passing_says_so() -> None:
    d = joined_free(mixed_report())
    for f in d["features"]:
        f["verdict"] = "pass"
        for c in f["checks"]:
            c["verdict"] = "pass"
    d["verdict"] = "pass"
    text = render_markdown(d)
    assert "All 17 checks passed." in text and "PASS" in text.splitlines()[0]


def test_hostile_strings_show_as_text() -> None:
    text = render_markdown(mixed_report(), html_name=f"{HOSTILE}.html")
    rendered = _as_github_would(text)
    assert "script" not in rendered.tags
    shown = "".join(rendered.text)
    assert shown.count(HOSTILE) >= 4  # feature name, category example, path, html name
    for line in text.splitlines():
        assert line.count("|") == 0 or line.startswith("|")


@pytest.mark.parametrize(
    "value",
    [HOSTILE, "a|b", "`tick`", "``", " lead", "*bold* _em_ [link](x) #h", "line\nbreak", ""],
)
def test_escaped_text_round_trips_through_a_markdown_renderer(value: str) -> None:
    for rendered in (md_code(value), md_escape(value)):
        table = f"| h |\n| --- |\n| {rendered} |\n"
        html = MarkdownIt("commonmark", {"html": True}).enable("table").render(table)
        parsed = _Collect()
        parsed.feed(html)
        assert parsed.tags.count("td") == 1, (value, html)
        cell = "".join(parsed.text).split("h", 1)[1].strip()
        assert cell == " ".join(value.splitlines()).strip(), (value, rendered, html)


def test_long_tables_are_cut_with_a_note() -> None:
    text = render_markdown(mixed_report(), max_rows=2)
    failing = next(b for b in parse_markdown(text) if b[0] == "table")
    assert len(failing[2]) == 2
    assert "... and 5 more checks not passing (see the HTML report)." in text
