"""`make bench` in quick mode: every benchmark runs on tiny sizes and both files are
written with every row of the table (a smoke test of the runner; the figures mean nothing).

Needs Redis (the lookup benchmarks use $SKEWGUARD_REDIS under their own Feast projects)
and takes a few minutes: every benchmark builds its own world.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run_all  # noqa: E402  (benchmarks/ is not a package)

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(1800)]


def test_quick_run_writes_every_row(tmp_path: Path, redis_connection: object) -> None:
    md, doc_json = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"
    report = BENCHMARKS.parent / "docs" / "detection_benchmark.md"
    before = report.read_bytes() if report.exists() else None
    code = run_all.main(
        ["--quick", "--md", str(md), "--json", str(doc_json), "--logs", str(tmp_path / "logs")]
    )
    logs = {p.name: p.read_text()[-1500:] for p in (tmp_path / "logs").glob("*.log")}
    assert code == 0, logs
    # the smoke test's tiny figures must not replace the detection benchmark's report
    assert (report.read_bytes() if report.exists() else None) == before
    doc = json.loads(doc_json.read_text())
    text = md.read_text()
    assert doc["quick"] is True and "Quick mode" in text
    assert [r["key"] for r in doc["rows"]] == [r.key for r in run_all.ROWS]
    for row in doc["rows"]:
        assert row["measurement"] in text
        if row["benchmark"] == "detection" and not run_all.DETECTION.exists():
            assert row["skewguard"].startswith("skipped: ")
            continue
        for side in ("skewguard", "peer"):
            cell = row[side]
            assert not cell.startswith(("failed", "missing", "not run (--only)")), (row, cell)
            assert cell in text
    for name, bench in doc["benchmarks"].items():
        assert len(bench["load_before"]) == len(bench["load_after"]) == 3, name
        if name != "detection" or run_all.DETECTION.exists():
            assert bench["status"] == "ok" and bench["result"], name
    # a latency row carries both percentiles on both sides
    lookup = next(r for r in doc["rows"] if r["key"] == "lookup_1_http")
    assert lookup["skewguard"].count("ms") == lookup["peer"].count("ms") == 2


def test_unknown_benchmark_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_all.main(["--only", "nope", "--md", str(tmp_path / "x.md")])
    assert exit_info.value.code == 2
