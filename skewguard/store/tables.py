"""Plain-text tables for the terminal (lookups in the demo and the CLI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["feature_table"]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def feature_table(columns: Mapping[str, Sequence[Any]], *, max_width: int = 28) -> str:
    """One line per feature, one column per entity row (online responses are columnar)."""
    names = list(columns)
    if not names:
        return "(no features)"
    rows = len(columns[names[0]])
    label_width = max(len(n) for n in names)
    lines = []
    for name in names:
        cells = [_cell(columns[name][i])[:max_width] for i in range(rows)]
        lines.append(
            f"{name:<{label_width}}  " + "  ".join(f"{c:>{max_width // 2}}" for c in cells)
        )
    return "\n".join(lines)
