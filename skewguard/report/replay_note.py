"""What every renderer says about the joined replay: whether it ran and, if not, why.

A report's optional `replay` section (docs/replay.md) records it: `ran`, `mode`
(`replay` for a check, `parity` for `skewguard parity`), `reason` when it did not run,
`detail` in words, and the facts of a run (feature service, rows, the moment compared).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["report_command", "replay_note", "replay_html", "replay_properties"]


def _section(report: Mapping[str, Any]) -> Mapping[str, Any] | None:
    section = report.get("replay")
    return section if isinstance(section, Mapping) else None


def report_command(report: Mapping[str, Any]) -> str:
    """`skewguard parity` for a parity report, else `skewguard check`."""
    section = _section(report)
    return "skewguard parity" if section and section.get("mode") == "parity" else "skewguard check"


def replay_note(report: Mapping[str, Any]) -> str | None:
    """One sentence on the replay, or None when the report does not record it."""
    section = _section(report)
    if section is None:
        return None
    service = section.get("feature_service") or "the feature service"
    if section.get("mode") == "parity":
        return (
            f"Parity: {_count(section.get('replayed_rows'))} sampled entities of {service}, the "
            f"online store read at {section.get('at')} against the offline store's "
            "point-in-time values at the same moment; any difference blocks."
        )
    if section.get("ran"):
        return (
            f"Joined replay ran: {_count(section.get('replayed_rows'))} of "
            f"{_count(section.get('logged_rows'))} logged rows of {service} replayed "
            "through the offline store."
        )
    detail = section.get("detail")
    return (
        f"Joined replay did not run ({section.get('reason')})"
        + (f": {detail}" if detail else "")
        + ". Distribution checks only."
    )


def replay_html(report: Mapping[str, Any], escape: Callable[[Any], str]) -> str:
    """The sentence as an HTML paragraph (`escape`d), or "" when not recorded."""
    note = replay_note(report)
    return f'<p id="replay">{escape(note)}</p>' if note else ""


def replay_properties(report: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(name, value) pairs for a JUnit `properties` element; empty when not recorded."""
    section = _section(report)
    if section is None:
        return []
    return [
        ("replay_ran", bool(section.get("ran"))),
        ("replay_reason", section.get("reason")),
        ("replay_detail", replay_note(report)),
    ]


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"
