"""What the decay story prints and decides: per-day windows, the verdict, the story.

Reads the performance documents and figures `skewguard.demo.decay` gathered; no I/O but
`say`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from skewguard.demo.decay_story import CHANGE_DAY

if TYPE_CHECKING:
    from skewguard.demo.decay import DecayConfig, DecayResult
    from skewguard.loop.registry import RegisteredModel

__all__ = ["say_windows", "judge", "story_json", "story_lines"]


def say_windows(document: dict[str, Any], start: datetime, say: Callable[[str], None]) -> None:
    import pandas as pd

    say(f"           training AUC {document['training']['auc']}; per day (realised AUC [95%]):")
    for w in document["windows"]:
        auc = w["realised"].get("auc") or {}
        day = (pd.Timestamp(w["start"]) - pd.Timestamp(start)).days
        figure = f"{auc['value']:.3f} [{auc['low']:.3f}, {auc['high']:.3f}]" if auc else "-"
        cause = f" ({w['cause']})" if w["cause"] != "none" else ""
        say(f"             day {day:2d} {w['id'][:10]}: {figure}  {w['verdict']}{cause}")


def judge(
    doc1: dict[str, Any],
    doc2: dict[str, Any],
    figures: dict[str, Any],
    v2: RegisteredModel,
    built: str | None,
    floor: float,
    start: datetime,
) -> list[str]:
    import pandas as pd

    change = pd.Timestamp(start) + timedelta(days=CHANGE_DAY)
    fired = [w for w in doc1["windows"] if w["verdict"] == "retrain" and w["cause"] == "auc_drop"]
    problems = []
    if not any(pd.Timestamp(w["start"]) >= change for w in fired):
        problems.append("no day after the change showed a significant AUC drop")
    if v2.lineage.snapshot_id != built:
        problems.append(
            f"the champion's snapshot {v2.lineage.snapshot_id} is not the one built ({built})"
        )
    if v2.lineage.gaps():
        problems.append(f"the champion's lineage has gaps: {v2.lineage.gaps()}")
    retrained = [w["id"][:10] for w in doc2["windows"] if w["verdict"] == "retrain"]
    if retrained:
        problems.append(f"v2 still shows a significant AUC drop on {', '.join(retrained)}")
    v2_auc, v1_after = figures["v2_auc"], figures["v1_auc_after_change"]
    if v2_auc is None or v1_after is None or v2_auc < v1_after + floor:
        problems.append(f"v2's AUC {v2_auc} did not recover beyond v1's {v1_after} + {floor}")
    return problems


def story_json(result: DecayResult, config: DecayConfig) -> dict[str, Any]:
    return {
        "kind": "skewguard.demo.decay",
        "seed": config.seed,
        "holds": result.holds,
        "problems": list(result.problems),
        "figures": result.figures,
        "v1": result.v1.describe(),
        "v2": result.v2.describe() if result.v2 else None,
        "retrain_snapshot_hash": result.retrain_snapshot_hash,
        "retrain_outcome": result.outcome.to_dict() if result.outcome else None,
        "files": {k: str(v) for k, v in result.files.items()},
    }


def _fired(document: dict[str, Any], change: str) -> tuple[tuple[int, int], tuple[int, int, Any]]:
    """(retrain days, days) before the change; (retrain days, days, mean estimate) after."""
    import pandas as pd

    moment = pd.Timestamp(change)
    split: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for w in document["windows"]:
        split[pd.Timestamp(w["start"]) >= moment].append(w)

    def fired(windows: list[dict[str, Any]]) -> int:
        return sum(1 for w in windows if w["verdict"] == "retrain")

    after = split[True]
    estimate = (
        round(sum(w["estimated"]["auc"]["value"] for w in after) / len(after), 3) if after else None
    )
    return (fired(split[False]), len(split[False])), (fired(after), len(after), estimate)


def story_lines(result: DecayResult) -> list[str]:
    """The story in a few lines, with its figures."""
    f = result.figures
    lines = [
        "the story (pooled realised AUC over each stretch of days):",
        f"  v1 trained on days 0-14: AUC {f.get('v1_training_auc')} on its held-out rows",
    ]
    if "v1_auc_after_change" in f:
        before, after = _fired(result.documents["v1"], f["change"])
        lines += [
            f"  v1 serving days 14-21 (before the change): {f['v1_auc_before_change']}"
            f"; retrain on {before[0]} of {before[1]} days",
            f"  v1 serving days 21-28 (after the change):  {f['v1_auc_after_change']}"
            f"; retrain (auc_drop) on {after[0]} of {after[1]} days, "
            f"estimated AUC {after[2]} (CBPE)",
            f"  the event of the last day that fired ({f['event_window'][:10]}) retrained",
            f"  v2 trained on days 21-28: AUC {f['v2_training_auc']}; "
            f"champion {result.v2.uri if result.v2 else '-'}",
            f"  v2 serving days 28-42: {f['v2_auc']}"
            f"  (v1 would have scored {f['v1_auc_on_v2_days']})",
        ]
    lines.append(
        "  scores are the models' own on point-in-time features from the offline store, "
        "standing in for what the server would have served at those times"
    )
    lines.append(
        "  the CBPE estimate cannot see this change (it assumes calibrated scores); only labels can"
    )
    if "v1_auc_after_change" in f and before[0]:
        lines.append(
            "  a day before the change fired too: each day is tested at 95% on its own, with "
            "no correction across days"
        )
    if result.holds:
        lines.append(f"story holds: drop detected, retrained, recovered; outputs in {result.out}")
    else:
        lines.append("story does NOT hold:")
        lines += [f"  - {p}" for p in result.problems]
    return lines
