"""The walkthrough notebook is stored executed, small, and gives the same verdicts when re-run.

The stored outputs come from `make notebook`. Re-run here on the real Redis, every code
cell must produce the same verdicts and outcomes as stored (the quantile sketches are
randomized, so distances may differ in their last digits: values are not compared).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"
MAX_BYTES = 100_000
# The lines that state a verdict or an outcome: the check's headline and verdict, the watch
# window's verdict and action, the trainer's outcome and its check.
VERDICT_LINES = re.compile(
    r"^(?:skewguard check: [A-Z_]+|verdict: \w+$|\d{4}-\d{2}-\d{2} \w+ \w+$"
    r"|outcome: \w+ \| check of the new snapshot: \w+$)",
    re.MULTILINE,
)


def _text(output: Any) -> str:
    if output.output_type == "stream":
        return str(output.text)
    data = output.get("data", {})
    return str(data.get("text/markdown") or data.get("text/plain") or "")


def verdicts(notebook: Any) -> list[list[str]]:
    """Per code cell, the lines of its text outputs that state a verdict, in order."""
    return [
        [line for o in cell.outputs for line in VERDICT_LINES.findall(_text(o))]
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def test_the_notebook_is_stored_executed_and_small() -> None:
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert all(c.outputs for c in code[:-1])  # every cell but the clean-up shows something
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert NOTEBOOK.stat().st_size < MAX_BYTES
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "<html" not in html and "<body" not in html  # no embedded page, no page-wide styles
    links = [_text(o) for o in outputs if "walkthrough_report.html" in _text(o)]
    assert links and links[0].startswith("Full report with plots: [walkthrough_report.html]")
    assert ["skewguard check: RETRAIN", "verdict: retrain"] in verdicts(notebook)
    assert "/tmp/" not in str(outputs)  # no temporary paths: a re-run stores the same text


@pytest.mark.redis
@pytest.mark.slow
def test_the_notebook_reruns_to_the_same_verdicts(
    tmp_path: Path, redis_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SKEWGUARD_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("SKEWGUARD_NOTEBOOK_REPORT_DIR", str(tmp_path))
    monkeypatch.setenv("SKEWGUARD_NOTEBOOK_PROJECT", f"sgnb_{os.getpid()}")
    monkeypatch.setenv("SKEWGUARD_REDIS", redis_connection)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    )
    stored = nbformat.read(NOTEBOOK, as_version=4)
    rerun = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        rerun,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for c in rerun.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert verdicts(rerun) == verdicts(stored)
    report = tmp_path / "walkthrough_report.html"
    assert report.is_file() and "<svg" in report.read_text()
    text = "".join(_text(o) for o in outputs)
    assert "pending after: []" in text
