"""The history page: drift, missing values and model performance over the watch windows.

`render_history_html(history)` draws one self-contained HTML page (inline SVG, no script,
no network) from a history document (`skewguard.loop.history.collect_history`):

- a table of the windows: verdict, what `watch` did (`published` an event, `cooldown`,
  `none`), the event id and the training snapshot checked against;
- per feature, a line over the windows of each drift measure (PSI, Jensen-Shannon
  distance) with its threshold, and of the serving missing-value rate beside training's;
- the model's AUC per window: realised (with its interval) and estimated (CBPE), and the
  AUC recorded at training;
- windows whose check fired an event are marked on every chart (a red band), windows
  checked against a new snapshot (a promoted model) with a dashed line.

Every string from the documents is escaped; the page carries a Content-Security-Policy
that allows nothing to load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["history_section", "line_chart_svg", "render_history_html"]

_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2")
_W, _H, _PAD = 560, 170, 36


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def line_chart_svg(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[Any]],
    *,
    marked: Sequence[int] = (),
    new_reference: Sequence[int] = (),
    threshold: float | None = None,
    bands: Mapping[str, tuple[Sequence[Any], Sequence[Any]]] | None = None,
) -> str:
    """A small line chart over windows; None values leave gaps."""
    values = [v for s in series.values() for v in s if _finite(v) is not None]
    for low, high in (bands or {}).values():
        values += [v for v in (*low, *high) if _finite(v) is not None]
    if threshold is not None:
        values.append(threshold)
    top = max(values, default=1.0)
    bottom = min(min(values, default=0.0), 0.0)
    top = top if top > bottom else bottom + 1.0
    n = max(len(labels), 1)
    step = (_W - 2 * _PAD) / max(n - 1, 1)

    def x(i: int) -> float:
        return _PAD + i * step if n > 1 else _W / 2

    def y(v: float) -> float:
        return _H - _PAD + (v - bottom) / (top - bottom) * (2 * _PAD - _H)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}" '
        f'data-chart="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i in marked:
        out.append(
            f'<rect class="fired" x="{x(i) - 6:.1f}" y="{_PAD / 2:.1f}" width="12" '
            f'height="{_H - 1.5 * _PAD:.1f}" fill="#e45756" fill-opacity="0.25"/>'
        )
    for i in new_reference:
        out.append(
            f'<line class="new-reference" x1="{x(i) - 9:.1f}" x2="{x(i) - 9:.1f}" '
            f'y1="{_PAD / 2:.1f}" y2="{_H - _PAD:.1f}" stroke="#555" stroke-dasharray="3,3"/>'
        )
    out.append(
        f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y(bottom):.1f}" y2="{y(bottom):.1f}" '
        'stroke="#999"/>'
    )
    out.append(f'<text x="2" y="{y(top) + 4:.1f}" font-size="10">{top:.3g}</text>')
    out.append(f'<text x="2" y="{y(bottom):.1f}" font-size="10">{bottom:.3g}</text>')
    if threshold is not None:
        out.append(
            f'<line class="threshold" x1="{_PAD}" x2="{_W - _PAD}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" stroke="#e45756" stroke-dasharray="5,3"/>'
        )
    for k, (name, (low, high)) in enumerate((bands or {}).items()):
        points = [
            (i, _finite(lo), _finite(hi)) for i, (lo, hi) in enumerate(zip(low, high, strict=True))
        ]
        for i, lo, hi in points:
            if lo is not None and hi is not None:
                out.append(
                    f'<line class="interval" data-series="{escape(name)}" x1="{x(i):.1f}" '
                    f'x2="{x(i):.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" '
                    f'stroke="{_COLOURS[k % 4]}" stroke-width="6" stroke-opacity="0.3"/>'
                )
    for k, (name, values_of) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        run: list[str] = []
        for i, v in enumerate(values_of):
            value = _finite(v)
            if value is None:
                if len(run) > 1:
                    out.append(_polyline(run, colour, name))
                run = []
                continue
            run.append(f"{x(i):.1f},{y(value):.1f}")
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}" '
                f'data-series="{escape(name)}" data-value="{value:.6g}"/>'
            )
        if len(run) > 1:
            out.append(_polyline(run, colour, name))
        out.append(
            f'<text x="{_PAD + 150 * k}" y="12" font-size="11" fill="{colour}">'
            f"{escape(name)}</text>"
        )
    for i, label in enumerate(labels):
        out.append(
            f'<text x="{x(i):.1f}" y="{_H - _PAD / 3:.1f}" font-size="9" '
            f'text-anchor="middle">{escape(label[:10])}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _polyline(points: list[str], colour: str, name: str) -> str:
    return (
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
        f'data-series="{escape(name)}" points="{" ".join(points)}"/>'
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
    ".fired{background:#fde2e1}.feature{display:inline-block;vertical-align:top;margin:6px}"
)
# inside a check report, scoped to the section so the report's own styles stay as they are
_SECTION_STYLE = (
    "#history tr.fired td{background:#fde2e1}"
    "#history .feature{display:inline-block;vertical-align:top;margin:6px}"
)


def render_history_html(history: Mapping[str, Any]) -> str:
    """One self-contained page from a history document."""
    serving = escape(str(history.get("serving", "")))
    return "\n".join(
        [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">",
            f"<title>skewguard history: {serving}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>History of {serving}</h1>",
            _history_body(history, level=2),
            "</body></html>",
        ]
    )


def history_section(history: Mapping[str, Any]) -> str:
    """The history as a section of a check's HTML report (`id="history"`)."""
    serving = escape(str(history.get("serving", "")))
    return "\n".join(
        [
            f'<section id="history"><style>{_SECTION_STYLE}</style>',
            f"<h2>History of {serving}</h2>",
            _history_body(history, level=3),
            "</section>",
        ]
    )


def _history_body(history: Mapping[str, Any], level: int) -> str:
    h, sub = f"h{level}", f"h{level + 1}"
    windows: list[Mapping[str, Any]] = list(history.get("windows", []))
    labels = [str(w["id"]) for w in windows]
    marked = [i for i, w in enumerate(windows) if w.get("action") == "published"]
    new_ref = [
        i
        for i in range(1, len(windows))
        if windows[i].get("snapshot_id") != windows[i - 1].get("snapshot_id")
    ]
    current = any(w.get("current") for w in windows)
    parts = [
        f"<p>{len(windows)} window(s){' (the last is this check)' if current else ''}; red "
        "bands: an event fired; dashed lines: checked against a new training snapshot (a new "
        "model).</p>",
        f"<{h}>Windows</{h}><table><thead><tr><th>window</th><th>verdict</th><th>action</th>"
        "<th>event</th><th>training snapshot</th></tr></thead><tbody>",
    ]
    for w in windows:
        row_class = ' class="fired"' if w.get("action") == "published" else ""
        parts.append(
            f"<tr{row_class}><td>{escape(str(w['id']))}</td>"
            f"<td>{escape(str(w.get('verdict')))}</td>"
            f"<td>{escape(str(w.get('action')))}</td>"
            f"<td>{escape(str(w.get('event_id') or ''))}</td>"
            f"<td>{escape(str(w.get('snapshot_id') or '')[:19])}</td></tr>"
        )
    parts.append("</tbody></table>")
    performance = history.get("performance") or []
    if performance:
        parts.append(f"<{h}>Model performance</{h}>")
        parts.append(_performance_chart(performance, history.get("training_auc")))
    parts.append(f"<{h}>Features</{h}>")
    for name, measures in sorted((history.get("features") or {}).items()):
        parts.append(f'<div class="feature"><{sub}>{escape(name)}</{sub}>')
        for check, threshold in (("psi", 0.25), ("js_distance", 0.3)):
            values = measures.get(check)
            if values and any(_finite(v) is not None for v in values):
                parts.append(
                    line_chart_svg(
                        f"{name} {check}",
                        labels,
                        {check: values},
                        marked=marked,
                        new_reference=new_ref,
                        threshold=(history.get("thresholds") or {}).get(check, threshold),
                    )
                )
        missing = measures.get("null_rate_serving")
        if missing and any(_finite(v) is not None for v in missing):
            parts.append(
                line_chart_svg(
                    f"{name} missing-value rate",
                    labels,
                    {"serving": missing, "training": measures.get("null_rate_training", [])},
                    marked=marked,
                    new_reference=new_ref,
                )
            )
        parts.append("</div>")
    return "\n".join(parts)


def _performance_chart(performance: Sequence[Mapping[str, Any]], training: Any) -> str:
    by_window = {p["window"]: p for p in performance}
    perf_labels = sorted(by_window)
    series: dict[str, list[Any]] = {
        "realised AUC": [by_window[k].get("auc") for k in perf_labels],
        "estimated AUC": [by_window[k].get("estimated_auc") for k in perf_labels],
    }
    if _finite(training) is not None:
        series["AUC at training"] = [training] * len(perf_labels)
    return line_chart_svg(
        "model AUC",
        perf_labels,
        series,
        marked=[i for i, k in enumerate(perf_labels) if by_window[k].get("verdict") == "retrain"],
        bands={
            "realised AUC": (
                [by_window[k].get("auc_low") for k in perf_labels],
                [by_window[k].get("auc_high") for k in perf_labels],
            )
        },
    )
