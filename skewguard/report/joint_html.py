"""The HTML body of the joint-drift entry: the AUC with its interval and, per feature, how
much held-out AUC is lost when that feature is shuffled (what carries the difference)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["render_joint"]


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def render_joint(dist: Mapping[str, Any]) -> str:
    if "auc" not in dist:
        return '<p class="meta">The classifier did not run (see the check below).</p>'
    level = dist.get("confidence")
    level_text = f"{level:.0%}" if isinstance(level, int | float) else "-"
    folds = ", ".join(_num(a) for a in dist.get("fold_auc") or [])
    head = (
        f'<p class="meta">Cross-validated AUC {_num(dist.get("auc"))} '
        f"(one-sided {escape(level_text)} bounds {_num(dist.get('lower'))} to "
        f"{_num(dist.get('upper'))}; "
        f"per fold {escape(folds)}). 0.5: the classifier cannot tell the two sides apart.</p>"
    )
    carriers = set(dist.get("carriers") or [])
    rows = "".join(
        f"<tr><td><code>{escape(str(name))}</code>{' (carries it)' if name in carriers else ''}"
        f'</td><td class="num">{_num(drop)}</td></tr>'
        for name, drop in (dist.get("importances") or {}).items()
    )
    left_out = dist.get("left_out") or {}
    note = (
        '<p class="meta">Left out: '
        + escape("; ".join(f"{k}: {v}" for k, v in left_out.items()))
        + "</p>"
        if left_out
        else ""
    )
    table = (
        '<table class="joint"><thead><tr><th>feature</th><th>AUC drop when shuffled</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return head + table + note
