"""The HTML report: one self-contained file that opens with no network.

Order: the verdict, an overview (counts and a sortable table of features), the checks
that did not pass, joined-skew causes, then one section per feature, worst first, with
the causes of its fired checks beside an inline SVG overlay of its training and serving
distributions, its joined mismatch
causes and a sortable table of every check; last, the inputs, sample sizes and policy.

Self-contained: styles, the plots and a few lines of table-sorting script are inline;
nothing is fetched. A Content-Security-Policy allows no network at all and only this
report's own script (by hash), so even a string that slipped past escaping could not run.
Every string taken from the report goes through `html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from skewguard.report.common import (
    WHY_TITLE,
    causes,
    check_label,
    crossed_limit,
    features_by_severity,
    fmt,
    format_example,
    headline_check,
    joined_causes,
    not_passing,
    report_dict,
    severity,
    shown_limit,
    shown_value,
    verdict_label,
    why_lines,
)
from skewguard.report.history import history_section
from skewguard.report.html_assets import SORT_SCRIPT, STYLE
from skewguard.report.markdown import VERDICT_MEANING
from skewguard.report.replay_note import replay_html, report_command
from skewguard.report.svg import categories_svg, histogram_svg

if TYPE_CHECKING:
    from skewguard.report.model import Report

__all__ = ["render_html", "SORT_SCRIPT"]


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num_cell(value: Any) -> str:
    sort = value if isinstance(value, int | float) and not isinstance(value, bool) else ""
    return f'<td class="num" data-sort="{_e(sort)}">{_e(fmt(value))}</td>'


def _shown_cell(text: str, sort: Any) -> str:
    """A value or limit as the reader compares it (rates as percentages), sorted by number."""
    key = sort if isinstance(sort, int | float) and not isinstance(sort, bool) else ""
    return f'<td class="num" data-sort="{_e(key)}">{_e(text)}</td>'


def _share_cell(share: float | None) -> str:
    text = f"{share:.1%}" if share is not None else "-"
    return f'<td class="num" data-sort="{_e(share if share is not None else "")}">{text}</td>'


def _verdict_cell(verdict: str) -> str:
    return f'<td class="verdict" data-sort="{severity(verdict)}">{_e(verdict_label(verdict))}</td>'


def _badge(verdict: str) -> str:
    return f'<span class="badge v-{_e(verdict)}">{_e(verdict_label(verdict))}</span>'


def _table(
    header: list[tuple[str, bool]], rows: list[str], *, table_id: str = "", sortable: bool = True
) -> str:
    cls = ' class="sortable"' if sortable else ""
    ident = f' id="{_e(table_id)}"' if table_id else ""
    head = "".join(('<th class="num">' if num else "<th>") + f"{_e(h)}</th>" for h, num in header)
    return (
        f"<table{cls}{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _anchor(index: int) -> str:
    return f"feature-{index}"


def render_html(
    report: Report | Mapping[str, Any],
    *,
    title: str | None = None,
    history: Mapping[str, Any] | None = None,
) -> str:
    """The HTML report for `report`, one self-contained document; with `history` (a
    `skewguard.loop.history` document), a section drawing the watch windows before it."""
    d = report_dict(report)
    verdict = str(d.get("verdict"))
    features = list(d.get("features") or [])
    anchors = {id(f): _anchor(i) for i, f in enumerate(features)}
    script_hash = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{script_hash}'"
    )
    command = report_command(d)
    page_title = title or f"{command}: {verdict_label(verdict).upper()}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(page_title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<header class="verdict v-{_e(verdict)}" id="verdict" data-verdict="{_e(verdict)}">',
        f'<h1>{_e(command)}: <span class="verdict-word">{_e(verdict_label(verdict).upper())}'
        "</span></h1>",
        f"<p>{_e(VERDICT_MEANING.get(verdict, verdict))}</p>",
        replay_html(d, _e),
        _why(d),
        f'<p class="small">generated {_e(d.get("generated_at"))} by skewguard '
        f"{_e(d.get('skewguard_version'))}, report schema {_e(d.get('schema_version'))}</p>",
        "</header><main>",
        _overview(d, features, anchors),
        _failing(d, anchors),
        _joined_overview(d, anchors),
        '<section id="features"><h2>Features</h2>'
        '<p class="meta">Worst first. Training in blue, serving in orange, each as a share '
        "of its own rows; shaded bins are open-ended (underflow, overflow).</p></section>",
    ]
    parts += [_feature(f, anchors[id(f)]) for f in features_by_severity(d)]
    if history is not None:
        parts.append(history_section(history))
    parts.append(_inputs(d))
    parts.append(f"</main><script>{SORT_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _why(d: Mapping[str, Any]) -> str:
    """The features that carry the verdict and why, in words, at the top of the page."""
    lines = why_lines(d)
    if not lines:
        return ""
    title = WHY_TITLE.get(str(d.get("verdict")), "Why")
    items = "".join(
        f"<li><b>{_e(name)}</b>: {_e(reasons)}</li>" if name else f"<li>{_e(reasons)}</li>"
        for name, reasons in lines
    )
    return f'<div class="why" id="why"><p><b>{_e(title)}:</b></p><ul>{items}</ul></div>'


def _overview(
    d: Mapping[str, Any], features: list[Mapping[str, Any]], anchors: Mapping[int, str]
) -> str:
    summary = d.get("summary") or {}
    badges = " ".join(f"{_badge(v)} {_e(n)}" for v, n in summary.items() if n)
    sizes = d.get("sample_sizes") or {}
    rows = []
    for f in features:
        shown = headline_check(f)
        rows_ = f.get("rows") or {}
        critical = "yes" if f.get("critical") else ""
        measure = (
            f"<td>{_e(check_label(shown))}</td>"
            + _shown_cell(shown_value(shown), shown.get("value"))
            + _shown_cell(shown_limit(shown, crossed_limit(shown)), crossed_limit(shown))
            if shown
            else '<td></td><td class="num"></td><td class="num"></td>'
        )
        rows.append(
            f'<tr class="r-{_e(f.get("verdict"))}" data-feature="{_e(f.get("name"))}">'
            f'<td><a href="#{anchors[id(f)]}">{_e(f.get("name"))}</a></td>'
            f"<td>{_e(f.get('kind') or '-')}</td>"
            f"{_verdict_cell(str(f.get('verdict')))}<td>{critical}</td>"
            + measure
            + _num_cell(rows_.get("training"))
            + _num_cell(rows_.get("serving"))
            + "</tr>"
        )
    header = [
        ("feature", False),
        ("kind", False),
        ("verdict", False),
        ("critical", False),
        ("worst or largest check", False),
        ("value", True),
        ("threshold", True),
        ("training rows", True),
        ("serving rows", True),
    ]
    return (
        '<section id="overview"><h2>Overview</h2>'
        f"<p>{len(features)} features: {badges or 'none'}</p>"
        f"<p>Training rows {_e(fmt(sizes.get('training_rows')))}, serving rows "
        f"{_e(fmt(sizes.get('serving_rows')))}, minimum rows per check "
        f"{_e(fmt(sizes.get('min_rows')))}.</p>"
        + _table(header, rows, table_id="features-table")
        + "</section>"
    )


def _check_row(feature: Mapping[str, Any], check: Mapping[str, Any], anchor: str | None) -> str:
    verdict = str(check.get("verdict"))
    name = _e(feature.get("name"))
    cells = f'<td><a href="#{anchor}">{name}</a></td>' if anchor is not None else ""
    detail = check.get("detail") or ""
    threshold, warn = check.get("threshold"), check.get("warn_threshold")
    return (
        f'<tr class="r-{_e(verdict)}">{cells}<td>{_e(check_label(check))}</td>'
        + _shown_cell(shown_value(check), check.get("value"))
        + _shown_cell(shown_limit(check, threshold), threshold)
        + _shown_cell(shown_limit(check, warn), warn)
        + _num_cell(check.get("p_value"))
        + _verdict_cell(verdict)
        + f'<td>{_e(check.get("action"))}</td><td class="cause">{_e(check.get("cause") or "")}'
        f"</td><td>{_e(detail)}</td></tr>"
    )


_CHECK_HEADER = [
    ("check", False),
    ("value", True),
    ("threshold", True),
    ("warn threshold", True),
    ("p-value", True),
    ("verdict", False),
    ("action", False),
    ("cause", False),
    ("detail", False),
]


def _failing(d: Mapping[str, Any], anchors: Mapping[int, str]) -> str:
    failing = not_passing(d)
    if not failing:
        return (
            '<section id="failing"><h2>Checks not passing</h2><p>Every check passed.</p></section>'
        )
    rows = [_check_row(f, c, anchors[id(f)]) for f, c in failing]
    return (
        '<section id="failing"><h2>Checks not passing</h2>'
        + _table([("feature", False), *_CHECK_HEADER], rows, table_id="failing-table")
        + "</section>"
    )


_JOINED_KEYS = [
    ("base_count", "base"),
    ("test_count", "test"),
    ("match_count", "match"),
    ("mismatch_count", "mismatch"),
    ("base_only", "base only"),
    ("test_only", "test only"),
    ("diff_count", "differences"),
]


def _joined_overview(d: Mapping[str, Any], anchors: Mapping[int, str]) -> str:
    joined = list(joined_causes(d))
    if not joined:
        return ""
    rows = []
    for f, j in joined:
        top = max(j.get("causes") or [{}], key=lambda c: c.get("count") or 0)
        rows.append(
            f'<tr><td><a href="#{anchors[id(f)]}">{_e(f.get("name"))}</a></td>'
            + "".join(_num_cell(j.get(k)) for k, _ in _JOINED_KEYS)
            + f"<td>{_e(top.get('cause', '-'))}</td></tr>"
        )
    header = [("feature", False), *((label, True) for _, label in _JOINED_KEYS)]
    header.append(("main cause", False))
    return (
        '<section id="joined"><h2>Joined skew</h2><p class="meta">Logged serving rows '
        "replayed against the offline store by entity and time.</p>"
        + _table(header, rows, table_id="joined-table")
        + "</section>"
    )


def _causes_box(feature: Mapping[str, Any]) -> str:
    """What happened to this feature, in words, shown beside its plot."""
    fired = causes(feature)
    if not fired:
        return ""
    items = "".join(
        f'<li class="c-{_e(c.get("verdict"))}"><b>{_e(check_label(c))}</b> '
        f"({_e(verdict_label(str(c.get('verdict'))))}): {_e(text)}</li>"
        for c, text in fired
    )
    return f'<div class="causes"><h4>What happened</h4><ul>{items}</ul></div>'


def _plots(name: str, dist: Mapping[str, Any] | None, side: str = "") -> str:
    if not isinstance(dist, Mapping):
        return (
            '<p class="meta">No distribution: the feature is missing on one side, or its '
            "type changed so the training bins do not apply.</p>"
        )
    kind = dist.get("kind")
    figures = []
    if kind == "histogram":
        figures.append(("value distribution", _hist(name, dist, "histogram")))
    elif kind == "categories":
        figures.append(("category shares", _cats(name, dist, "categories")))
    elif kind == "array":
        length, element = dist.get("length") or {}, dist.get("element") or {}
        figures.append(("array lengths", _hist(name, length, "length-histogram")))
        if element.get("kind") == "categories":
            figures.append(("array elements", _cats(name, element, "element-categories")))
        else:
            figures.append(("array elements", _hist(name, element, "element-histogram")))
    elif kind == "joint":
        from skewguard.report.joint_html import render_joint

        return render_joint(dist)
    else:
        return f'<p class="meta">No plot for distribution kind {_e(kind)}.</p>'
    out = ['<div class="plots">']
    for caption, svg in figures:
        out.append(f"<figure><figcaption>{_e(caption)}</figcaption>{svg}</figure>")
    out.append(side)
    out.append("</div>")
    return "".join(out)


def _floats(values: Any) -> list[float]:
    out = []
    for v in values or []:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(0.0)
    return out


def _hist(name: str, dist: Mapping[str, Any], plot: str) -> str:
    return histogram_svg(
        name,
        _floats(dist.get("edges")),
        _floats(dist.get("training")),
        _floats(dist.get("serving")),
        plot=plot,
    ) + _stats(dist.get("stats"))


def _cats(name: str, dist: Mapping[str, Any], plot: str) -> str:
    labels = [str(x) for x in dist.get("labels") or []]
    svg = categories_svg(
        name, labels, _floats(dist.get("training")), _floats(dist.get("serving")), plot=plot
    )
    return svg + _top_values(dist)


_STATS = ["count", "nulls", "nan", "pos_inf", "neg_inf", "min", "mean", "std", "max"]


def _stats(stats: Any) -> str:
    if not isinstance(stats, Mapping):
        return ""
    t, s = stats.get("training") or {}, stats.get("serving") or {}
    rows = []
    for key in _STATS:
        rows.append(f"<tr><td>{_e(key)}</td>{_num_cell(t.get(key))}{_num_cell(s.get(key))}</tr>")
    tq, sq = t.get("quantiles") or {}, s.get("quantiles") or {}
    for key in sorted(set(tq) | set(sq)):
        rows.append(f"<tr><td>{_e(key)}</td>{_num_cell(tq.get(key))}{_num_cell(sq.get(key))}</tr>")
    header = [("statistic", False), ("training", True), ("serving", True)]
    return _table(header, rows, sortable=False)


def _top_values(dist: Mapping[str, Any]) -> str:
    top = dist.get("top")
    distinct = dist.get("distinct") or {}
    if not isinstance(top, Mapping):
        return ""
    t, s = list(top.get("training") or []), list(top.get("serving") or [])
    rows = []
    for i in range(min(10, max(len(t), len(s)))):
        cells = ""
        for side in (t, s):
            if i < len(side) and isinstance(side[i], list | tuple) and len(side[i]) == 2:
                cells += f"<td>{_e(side[i][0])}</td>{_num_cell(side[i][1])}"
            else:
                cells += '<td></td><td class="num"></td>'
        rows.append(f"<tr>{cells}</tr>")
    header = [("training top", False), ("count", True), ("serving top", False), ("count", True)]
    note = (
        f'<p class="meta">distinct values: training {_e(fmt(distinct.get("training")))}, '
        f"serving {_e(fmt(distinct.get('serving')))} (estimated)</p>"
    )
    return f"<div>{note}{_table(header, rows, sortable=False)}</div>"


def _joined_section(joined: Mapping[str, Any]) -> str:
    counts = ", ".join(f"{label} {_e(fmt(joined.get(k)))}" for k, label in _JOINED_KEYS)
    mismatches = joined.get("mismatch_count") or 0
    rows = []
    for cause in joined.get("causes") or []:
        count = cause.get("count")
        share = count / mismatches if isinstance(count, int | float) and mismatches else None
        examples = "".join(
            f"<li><code>{_e(format_example(x, limit=300))}</code></li>"
            for x in (cause.get("examples") or [])[:5]
        )
        rows.append(
            f"<tr><td>{_e(cause.get('cause'))}</td>{_num_cell(count)}"
            + _share_cell(share)
            + f"<td><ul>{examples}</ul></td></tr>"
        )
    header = [("cause", False), ("count", True), ("share of mismatches", True)]
    header.append(("examples", False))
    table = _table(header, rows) if rows else '<p class="meta">No causes recorded.</p>'
    return f'<div class="joined"><h4>Joined mismatch causes</h4><p>{counts}</p>{table}</div>'


def _feature(f: Mapping[str, Any], anchor: str) -> str:
    verdict = str(f.get("verdict"))
    name = str(f.get("name"))
    rows = f.get("rows") or {}
    meta = (
        f"kind {_e(f.get('kind') or '-')}, training type {_e(f.get('training_type') or '-')}, "
        f"serving type {_e(f.get('serving_type') or '-')}, rows {_e(fmt(rows.get('training')))}"
        f" training / {_e(fmt(rows.get('serving')))} serving"
        + (", critical" if f.get("critical") else "")
    )
    checks = [_check_row(f, c, None) for c in f.get("checks") or []]
    side = _causes_box(f)
    plots = _plots(name, f.get("distribution"), side)
    if side and side not in plots:  # no plot to stand beside: the causes stand alone
        plots = side + plots
    body = (
        f'<p class="meta">{meta}</p>'
        + plots
        + (_joined_section(f["joined"]) if isinstance(f.get("joined"), Mapping) else "")
        + "<h4>Checks</h4>"
        + _table(_CHECK_HEADER, checks)
    )
    if verdict == "pass":
        body = f"<details><summary>details</summary>{body}</details>"
    return (
        f'<section class="feature f-{_e(verdict)}" id="{anchor}" data-feature="{_e(name)}" '
        f'data-verdict="{_e(verdict)}"><h3>{_e(name)} {_badge(verdict)}</h3>{body}</section>'
    )


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, value)]


def _inputs(d: Mapping[str, Any]) -> str:
    rows = [
        f"<tr><td>{_e(k)}</td><td>{_e(fmt(v))}</td></tr>"
        for k, v in _flatten(
            {"inputs": d.get("inputs") or {}, "sample_sizes": d.get("sample_sizes")}
        )
    ]
    policy = json.dumps(d.get("policy") or {}, indent=2, sort_keys=False, default=str)
    return (
        '<section id="inputs"><h2>Inputs, sample sizes and policy</h2>'
        + _table([("key", False), ("value", False)], rows, table_id="inputs-table")
        + f"<details><summary>policy ({_e((d.get('policy') or {}).get('path', '-'))})"
        f"</summary><pre>{_e(policy)}</pre></details></section>"
    )
