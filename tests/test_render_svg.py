"""Inline SVG plots: proportions, open-ended bins, capped category lists, valid XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skewguard.report.svg import categories_svg, histogram_svg, proportions

NS = "{http://www.w3.org/2000/svg}"


def _bars(svg: str, side: str) -> list[float]:
    root = ET.fromstring(svg)
    return [float(r.get("height")) for r in root.iter(f"{NS}rect") if r.get("data-side") == side]


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30))
def test_proportions_sum_to_one_or_are_all_zero(counts: list[int]) -> None:
    shares = proportions(counts)
    assert len(shares) == len(counts)
    assert sum(shares) == pytest.approx(1.0 if sum(counts) else 0.0)
    assert all(0 <= s <= 1 for s in shares)


def test_proportions_ignore_non_numbers() -> None:
    assert proportions([1, None, float("nan"), 3]) == [0.25, 0.0, 0.0, 0.75]


def test_sample_size_does_not_change_the_picture() -> None:
    small = histogram_svg("f", [1.0, 2.0], [1, 2, 1], [1, 2, 1])
    large = histogram_svg("f", [1.0, 2.0], [1000, 2000, 1000], [10, 20, 10])
    assert _bars(small, "training") == _bars(large, "training") == _bars(large, "serving")


def test_histogram_is_valid_svg_with_open_ended_bins_labelled() -> None:
    svg = histogram_svg("f<1>", [0.5, 1.5, 2.5], [1, 2, 3, 4], [4, 3, 2, 1])
    root = ET.fromstring(svg)  # well-formed XML, so valid inline SVG
    assert root.get("data-feature") == "f<1>" and root.get("data-plot") == "histogram"
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "underflow" in texts and "overflow" in texts
    titles = [t.text for t in root.iter(f"{NS}title")]
    assert "training underflow < 0.5: 10.0% (1)" in titles
    assert "serving overflow ≥ 2.5: 10.0% (1)" in titles
    assert len(_bars(svg, "training")) == len(_bars(svg, "serving")) == 4


def test_histogram_without_edges_draws_one_bin() -> None:
    svg = histogram_svg("f", [], [0], [5])
    assert len(_bars(svg, "serving")) == 1 and "no finite training values" in svg


def test_many_categories_show_the_biggest_differences_plus_other_and_null() -> None:
    labels = [f"c{i}" for i in range(100)] + ["other", "null"]
    training = [10] * 100 + [0, 0]
    serving = [10] * 100 + [5, 1]
    serving[42] = 500
    svg = categories_svg("cat", labels, training, serving, max_rows=10)
    root = ET.fromstring(svg)
    shown = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "catlabel"]
    assert "c42" in shown and shown[-2:] == ["(other: not in training)", "(null)"]
    assert len(shown) == 10
    assert "92 more categories" in svg


def test_long_category_labels_are_cut_but_kept_in_the_tooltip() -> None:
    name = "x" * 60
    svg = categories_svg("cat", [name, "other", "null"], [1, 0, 0], [1, 0, 0])
    assert "x" * 27 + "…" in svg and f"<title>{name}</title>" in svg
