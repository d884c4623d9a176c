"""Inline SVG plots of a feature's training and serving distributions, as text.

No plotting library: a few hundred bytes of SVG per plot, no network, no heavy import.
Counts are normalised to proportions of each side, so a 1,000-row serving sample and a
1,000,000-row training set share one axis. Training is drawn blue, serving orange, both
half transparent, overlaid on the same bins:

- `histogram_svg`: numeric bins frozen from training, drawn to their real widths with
  heights as densities (area = share); bucket 0 is the underflow (< first edge) and the
  last bucket the overflow (>= last edge), both shaded, labelled, on fixed strips.
- `categories_svg`: one row per category (training vocabulary, then `other` for values
  unseen in training and `null`), widest differences first when there are too many.

Every string from the report is escaped. Each `<svg>` carries `data-feature` (the
feature's name) and `data-plot` (what it shows), so tests and scripts can find it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from skewguard.report.common import fmt

__all__ = [
    "histogram_svg",
    "bin_geometry",
    "categories_svg",
    "proportions",
    "TRAINING_COLOUR",
    "SERVING_COLOUR",
]

TRAINING_COLOUR = "#4c78a8"
SERVING_COLOUR = "#f58518"
WIDTH = 640
OPEN_STRIP = 0.07  # share of the plot width given to each open-ended bucket
MIN_BAR = 2.0  # pixels: a bin of repeated edges still shows
MIN_TICK_GAP = 22.0  # pixels between edge labels


def proportions(counts: Sequence[float | int | None]) -> list[float]:
    """Each count as a share of the total (all zero when the total is zero)."""
    values = [float(c) if isinstance(c, int | float) and math.isfinite(c) else 0.0 for c in counts]
    total = sum(values)
    return [v / total if total > 0 else 0.0 for v in values]


def _nice_top(peak: float) -> float:
    """A round axis maximum at or above `peak` (a share in [0, 1])."""
    if peak <= 0:
        return 1.0
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0):
        if peak <= step:
            return step
    return 1.0


def _pct(share: float) -> str:
    return f"{share:.1%}" if share >= 0.001 or share == 0 else f"{share:.2%}"


def _open(feature: str, plot: str, width: int, height: int, label: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'data-feature="{escape(feature)}" data-plot="{escape(plot)}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]


def _legend(x: float, y: float, n_training: float, n_serving: float) -> list[str]:
    out = []
    for i, (name, colour, n) in enumerate(
        (("training", TRAINING_COLOUR, n_training), ("serving", SERVING_COLOUR, n_serving))
    ):
        lx = x + i * 170
        out.append(
            f'<rect x="{lx:.1f}" y="{y - 9:.1f}" width="12" height="12" fill="{colour}" '
            'fill-opacity="0.55"/>'
        )
        out.append(
            f'<text x="{lx + 17:.1f}" y="{y + 1:.1f}" class="legend">{name} '
            f"(n={fmt(int(n))})</text>"
        )
    return out


def bin_geometry(
    edges: Sequence[float], n: int, left: float, width: float
) -> list[tuple[float, float]]:
    """(x, width) in pixels of each of `n` buckets, drawn to the bins' real widths.

    Interior bins span the frozen edges on a linear axis, so quantile bins that are narrow
    where values crowd look narrow; the open-ended underflow and overflow buckets get a
    fixed strip on each side. A bin narrower than `MIN_BAR` pixels (repeated edges of a
    discrete feature) is widened to that, centred on its position.
    """
    if n <= 1 or not edges:
        return [(left, width)] * max(n, 1)
    strip = width * OPEN_STRIP
    inner_left, inner_w = left + strip, width - 2 * strip
    lo, hi = float(edges[0]), float(edges[-1])
    span = hi - lo

    def x_of(value: float) -> float:
        return inner_left + (inner_w * (value - lo) / span if span > 0 else inner_w / 2)

    out = [(left, strip)]
    for i in range(1, n - 1):
        x0, x1 = x_of(float(edges[i - 1])), x_of(float(edges[i]))
        if x1 - x0 < MIN_BAR:
            mid = (x0 + x1) / 2
            x0, x1 = mid - MIN_BAR / 2, mid + MIN_BAR / 2
        out.append((x0, x1 - x0))
    out.append((left + width - strip, strip))
    return out


def histogram_svg(
    feature: str,
    edges: Sequence[float],
    training: Sequence[float],
    serving: Sequence[float],
    *,
    plot: str = "histogram",
    title: str | None = None,
) -> str:
    """Overlaid training and serving histograms over frozen `edges` (len(edges) + 1 bins).

    Bins are drawn to their real widths and bar heights are densities (share / width), so
    each bar's area is its share of rows: quantile bins of training then show its shape
    instead of a flat row of equal bars. The y axis is relative density (no unit)."""
    n = max(len(training), len(serving), len(edges) + 1)
    pt = proportions(list(training) + [0] * (n - len(training)))
    ps = proportions(list(serving) + [0] * (n - len(serving)))
    left, right, top, bottom = 52, 12, 30, 64
    height = 270
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    geometry = bin_geometry(edges, n, left, plot_w)
    dt = [share / w if w > 0 else 0.0 for share, (_, w) in zip(pt, geometry, strict=True)]
    ds = [share / w if w > 0 else 0.0 for share, (_, w) in zip(ps, geometry, strict=True)]
    peak = max(dt + ds, default=0.0)
    y_max = peak * 1.05 if peak > 0 else 1.0
    label = title or f"{feature}: training vs serving distribution"
    out = _open(feature, plot, WIDTH, height, label)
    out += _legend(left, 16, sum(_num(c) for c in training), sum(_num(c) for c in serving))
    # under- and overflow buckets are shaded so they read as open-ended
    if n > 1:
        for i in (0, n - 1):
            x, w = geometry[i]
            out.append(
                f'<rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{plot_h}" class="openbin"/>'
            )
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
    mid = top + plot_h / 2
    out.append(
        f'<text x="16" y="{mid:.1f}" class="binlabel" transform="rotate(-90 16 {mid:.1f})">'
        "density (area = share)</text>"
    )
    for i in range(n):
        name = _bucket_name(i, edges, n)
        x, w = geometry[i]
        for side, shares, dens, colour, counts in (
            ("training", pt, dt, TRAINING_COLOUR, training),
            ("serving", ps, ds, SERVING_COLOUR, serving),
        ):
            h = plot_h * dens[i] / y_max
            count = _num(counts[i]) if i < len(counts) else 0
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{w:.1f}" '
                f'height="{h:.1f}" fill="{colour}" fill-opacity="0.5" data-side="{side}">'
                f"<title>{side} {escape(name)}: {_pct(shares[i])} ({fmt(int(count))})</title>"
                "</rect>"
            )
    base = top + plot_h
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" class="axis"/>')
    for j in _tick_edges(geometry, len(edges)):
        x = geometry[j + 1][0]
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}" class="axis"/>')
        out.append(
            f'<text x="{x:.1f}" y="{base + 14}" class="xtick" '
            f'transform="rotate(-30 {x:.1f} {base + 14})">{escape(fmt(edges[j]))}</text>'
        )
    if n > 1:
        for i, word in ((0, "underflow"), (n - 1, "overflow")):
            x, w = geometry[i]
            out.append(f'<text x="{x + w / 2:.1f}" y="{height - 6}" class="binlabel">{word}</text>')
    else:
        out.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" class="binlabel">'
            "all values (no finite training values to bin)</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _tick_edges(geometry: Sequence[tuple[float, float]], n_edges: int) -> list[int]:
    """Indices of the edges to label (edge j is where bucket j + 1 starts), no two labels
    closer than `MIN_TICK_GAP` pixels; the first and the last edge always."""
    picked: list[int] = []
    last = -math.inf
    for j in range(n_edges):
        x = geometry[j + 1][0]
        if x - last >= MIN_TICK_GAP or j == n_edges - 1:
            if j == n_edges - 1 and picked and x - last < MIN_TICK_GAP and len(picked) > 1:
                picked.pop()  # keep the last edge rather than its crowded neighbour
            picked.append(j)
            last = x
    return picked


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def _bucket_name(i: int, edges: Sequence[float], n: int) -> str:
    if not edges:
        return "all values"
    if i == 0:
        return f"underflow < {fmt(edges[0])}"
    if i == n - 1:
        return f"overflow ≥ {fmt(edges[-1])}"
    return f"[{fmt(edges[i - 1])}, {fmt(edges[i])})"


def categories_svg(
    feature: str,
    labels: Sequence[str],
    training: Sequence[float],
    serving: Sequence[float],
    *,
    plot: str = "categories",
    title: str | None = None,
    max_rows: int = 25,
) -> str:
    """Overlaid training and serving category shares; the last two labels are `other`
    (values unseen in training) and `null`. With more than `max_rows` categories, the
    ones whose shares differ most are shown, plus `other` and `null`."""
    n = len(labels)
    pt = proportions(list(training) + [0] * (n - len(training)))
    ps = proportions(list(serving) + [0] * (n - len(serving)))
    special = {n - 2: "(other: not in training)", n - 1: "(null)"} if n >= 2 else {}
    order = list(range(n))
    hidden = 0
    if n > max_rows:
        vocab = [i for i in order if i not in special]
        vocab.sort(key=lambda i: (-abs(pt[i] - ps[i]), -max(pt[i], ps[i]), i))
        keep = sorted(vocab[: max_rows - len(special)])
        hidden = n - len(special) - len(keep)
        order = keep + sorted(special)
    left, right, top, row_h = 190, 60, 30, 22
    plot_w = WIDTH - left - right
    height = top + row_h * len(order) + 24 + (16 if hidden else 0)
    x_max = _nice_top(max([pt[i] for i in order] + [ps[i] for i in order], default=0.0))
    label = title or f"{feature}: training vs serving category shares"
    out = _open(feature, plot, WIDTH, height, label)
    out += _legend(left, 16, sum(_num(c) for c in training), sum(_num(c) for c in serving))
    for k in range(5):
        share = x_max * k / 4
        x = left + plot_w * share / x_max
        y_end = top + row_h * len(order)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{y_end}" class="grid"/>')
        out.append(f'<text x="{x:.1f}" y="{y_end + 14}" class="xtick-h">{_pct(share)}</text>')
    for row, i in enumerate(order):
        y = top + row * row_h
        name = special.get(i, str(labels[i]))
        shown = name if len(name) <= 28 else name[:27] + "…"
        out.append(
            f'<text x="{left - 6}" y="{y + row_h / 2 + 4:.1f}" class="catlabel">'
            f"{escape(shown)}<title>{escape(name)}</title></text>"
        )
        for k, (side, shares, colour, counts) in enumerate(
            (
                ("training", pt, TRAINING_COLOUR, training),
                ("serving", ps, SERVING_COLOUR, serving),
            )
        ):
            w = plot_w * shares[i] / x_max
            count = _num(counts[i]) if i < len(counts) else 0
            out.append(
                f'<rect x="{left}" y="{y + 3 + k * 8:.1f}" width="{w:.1f}" height="8" '
                f'fill="{colour}" fill-opacity="0.75" data-side="{side}">'
                f"<title>{side} {escape(name)}: {_pct(shares[i])} ({fmt(int(count))})</title>"
                "</rect>"
            )
        out.append(
            f'<text x="{left + plot_w + 4}" y="{y + row_h / 2 + 4:.1f}" class="delta">'
            f"{(ps[i] - pt[i]) * 100:+.1f} pp</text>"
        )
    if hidden:
        out.append(
            f'<text x="{left}" y="{height - 6}" class="binlabel-l">{hidden} more categories '
            "with smaller differences not shown</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
