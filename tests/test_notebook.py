"""The walkthrough notebook runs top to bottom on the real Redis, and is stored without outputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def test_the_notebook_is_stored_without_outputs() -> None:
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.redis
@pytest.mark.slow
def test_the_notebook_runs(tmp_path: Path, redis_connection: str, monkeypatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SKEWGUARD_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("SKEWGUARD_NOTEBOOK_PROJECT", f"sgnb_{os.getpid()}")
    monkeypatch.setenv("SKEWGUARD_REDIS", redis_connection)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert any("<svg" in o["data"]["text/html"] for o in html)  # the report's plots
    text = "".join(o.get("text", "") for o in outputs)
    assert "RETRAIN" in text and "pending after: []" in text
