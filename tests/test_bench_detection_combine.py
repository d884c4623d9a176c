"""The detection benchmark's --combine: one size's clean resamples shared by several runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_detection  # noqa: E402


def _run(path: Path, *sizes: dict[str, Any], command: str = "run") -> Path:
    path.write_text(
        json.dumps(
            {
                "command": command,
                "commit": "abc1234",
                "started": "2026-12-02T10:00:00+00:00",
                "finished": "2026-12-02T11:00:00+00:00",
                "load_average_start": [0.1, 0.1, 0.1],
                "load_average_end": [0.2, 0.2, 0.2],
                "settings": {},
                "sizes": list(sizes),
            }
        )
    )
    return path


def _size(rows: int, first: int | None, verdicts: dict[str, int], **extra: Any) -> dict[str, Any]:
    runs = sum(verdicts.values())
    clean: dict[str, Any] = {
        "runs": runs,
        "verdicts": verdicts,
        "false_alarms": verdicts.get("retrain", 0) + verdicts.get("block", 0),
        "upper_95": 0.0,
        "median_seconds": 1.0,
        "seconds": [1.0 + i for i in range(runs)],
    }
    if first is not None:
        clean["first_resample"] = first
    return {"rows": rows, "cases": [], "clean": {"skewguard": clean}, "power": {}, **extra}


def test_runs_that_split_one_sizes_resamples_add_up(tmp_path: Path) -> None:
    case = {"case": "unit_x100", "expected": "block", "skewguard": {"verdict": "block"}}
    power = {"reps": 5, "skewguard": {"mean_shift_sd": {"smallest": 0.1}}}
    a = _run(
        tmp_path / "a.json",
        _size(1000, None, {"pass": 3}),
        _size(10_000_000, 0, {"pass": 2, "warn": 1}, cases=[case]),
        command="a",
    )
    b = _run(tmp_path / "b.json", _size(10_000_000, 3, {"pass": 3, "retrain": 1}))
    # a run that measured power only: no clean resamples of its own
    p = _run(tmp_path / "p.json", {**_size(10_000_000, None, {}), "clean": {}, "power": power})

    result = bench_detection.combine([a, b, p])

    assert [s["rows"] for s in result["sizes"]] == [1000, 10_000_000]
    large = result["sizes"][1]
    clean = large["clean"]["skewguard"]
    assert clean["runs"] == 7
    assert clean["verdicts"] == {"pass": 5, "warn": 1, "retrain": 1}
    assert clean["false_alarms"] == 1
    assert clean["upper_95"] == pytest.approx(bench_detection.upper_bound(1, 7))
    assert clean["median_seconds"] == 2.0  # of 1, 2, 3, 1, 2, 3, 4
    assert large["cases"] == [case]
    assert large["power"] == power
    assert result["command"] == "a && run && run"

    # a combination combines again: its commits and settings stay flat lists
    combined = _run(tmp_path / "ab.json")
    combined.write_text(json.dumps({**result, "commit": "abc1234, def5678"}))
    again = bench_detection.combine(
        [combined, _run(tmp_path / "c.json", _size(100, 0, {"pass": 1}))]
    )
    assert again["commit"] == "abc1234, def5678"
    assert again["settings"] == [{}, {}, {}, {}]


def test_runs_that_repeat_the_same_resamples_are_refused(tmp_path: Path) -> None:
    a = _run(tmp_path / "a.json", _size(1000, 0, {"pass": 3}))
    b = _run(tmp_path / "b.json", _size(1000, 0, {"pass": 3}))
    with pytest.raises(SystemExit, match="distinct --clean-from"):
        bench_detection.combine([a, b])
