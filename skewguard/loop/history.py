"""The history of a watched log folder, gathered for `skewguard history`.

`collect_history` reads the watcher's state file (every window checked: verdict, report,
training snapshot, event) and each window's JSON report, and takes per feature the drift
measures (PSI, Jensen-Shannon distance) and the missing-value rates of both sides; plus,
from `skewguard performance` documents, the model's realised and estimated AUC per window.
The result is a plain document `skewguard.report.history.render_history_html` draws.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skewguard.errors import InputError

__all__ = ["collect_history", "with_current_check"]

_MEASURES = ("psi", "js_distance")


def _read(path: Path, what: str) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as err:
        raise InputError(
            f"cannot read the {what}: {err}", where=str(path), hint="check the path"
        ) from err


def _new_series(n: int) -> dict[str, list[Any]]:
    return {m: [None] * n for m in (*_MEASURES, "null_rate_serving", "null_rate_training")}


def _add_report(
    report: dict[str, Any],
    k: int,
    n: int,
    features: dict[str, dict[str, list[Any]]],
    thresholds: dict[str, float],
) -> None:
    """Window k of n: the drift measures and missing-value rates of one check report."""
    checks_policy = report.get("policy", {}).get("defaults", {}).get("checks", {})
    for measure in _MEASURES:
        threshold = (checks_policy.get(measure) or {}).get("threshold")
        if isinstance(threshold, int | float):
            thresholds[measure] = float(threshold)
    for feature in report.get("features", []):
        series = features.setdefault(feature["name"], _new_series(n))
        for check in feature.get("checks", []):
            if check.get("subject", "value") != "value":
                continue
            if check["check"] in _MEASURES:
                series[check["check"]][k] = check.get("value")
            elif check["check"] == "null_rate":
                series["null_rate_serving"][k] = check.get("serving")
                series["null_rate_training"][k] = check.get("training")


def collect_history(state_path: Path, performance: Sequence[Path] = ()) -> dict[str, Any]:
    """Windows, per-feature series and performance, oldest window first."""
    from skewguard.loop.watch_state import read_state

    if not state_path.exists():
        raise InputError(
            "no watch state file",
            where=str(state_path),
            hint="run `skewguard watch` first, or pass --state FILE",
        )
    state = read_state(state_path)
    ids = sorted(state["windows"])
    windows = []
    features: dict[str, dict[str, list[Any]]] = {}
    thresholds: dict[str, float] = {}
    for k, window_id in enumerate(ids):
        record = state["windows"][window_id]
        windows.append(
            {
                "id": window_id,
                "verdict": record.get("verdict"),
                "action": str(record.get("action")),
                "event_id": record.get("event_id"),
                "snapshot_id": record.get("snapshot_id"),
                "report": record.get("report"),
            }
        )
        report_path = Path(record["report"]) if record.get("report") else None
        if report_path is None or not report_path.exists():
            continue
        _add_report(_read(report_path, "window report"), k, len(ids), features, thresholds)
    rows: list[dict[str, Any]] = []
    training_auc = None
    for path in performance:
        document = _read(path, "performance document")
        training_auc = document.get("training", {}).get("auc", training_auc)
        for w in document.get("windows", []):
            realised = (w.get("realised") or {}).get("auc") or {}
            estimated = (w.get("estimated") or {}).get("auc") or {}
            rows.append(
                {
                    "window": w["id"],
                    "auc": realised.get("value"),
                    "auc_low": realised.get("low"),
                    "auc_high": realised.get("high"),
                    "estimated_auc": estimated.get("value"),
                    "labelled": w.get("labelled"),
                    "verdict": w.get("verdict"),
                    "cause": w.get("cause"),
                }
            )
    return {
        "schema_version": 1,
        "kind": "skewguard.history",
        "serving": str(state_path.parent),
        "windows": windows,
        "features": features,
        "thresholds": thresholds,
        "performance": rows,
        "training_auc": training_auc,
    }


def with_current_check(
    history: dict[str, Any], report: dict[str, Any], label: str = "this check"
) -> dict[str, Any]:
    """The history with the check being reported added as its newest window (`current`),
    so a report shows where today's measures stand against the windows before it."""
    n = len(history["windows"]) + 1
    features = {
        name: {m: [*values, None] for m, values in series.items()}
        for name, series in history["features"].items()
    }
    thresholds = dict(history["thresholds"])
    _add_report(report, n - 1, n, features, thresholds)
    training = (report.get("inputs") or {}).get("training") or {}
    window = {
        "id": label,
        "verdict": report.get("verdict"),
        "action": "this check",
        "event_id": None,
        "snapshot_id": training.get("content_hash") if isinstance(training, dict) else None,
        "report": None,
        "current": True,
    }
    return {
        **history,
        "windows": [*history["windows"], window],
        "features": features,
        "thresholds": thresholds,
    }
