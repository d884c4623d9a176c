"""Execute walkthrough.ipynb and store it with its outputs (`make notebook`).

Runs in a temporary folder under its own Feast project, writes walkthrough_report.html
next to the notebook (not committed), and keeps no timing metadata, so a re-run changes
only what the data changes.
"""

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "walkthrough.ipynb"


def main() -> int:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory(prefix="skewguard-nb-") as work:
        os.environ["SKEWGUARD_NOTEBOOK_DIR"] = work
        os.environ.setdefault("SKEWGUARD_NOTEBOOK_PROJECT", f"walkthrough_{os.getpid()}")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(HERE.parent), os.environ.get("PYTHONPATH")) if p
        )
        client = NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(HERE)}},
        )
        client.execute()
    notebook.metadata.pop("widgets", None)
    nbformat.validate(notebook)
    nbformat.write(notebook, NOTEBOOK)
    print(f"stored {NOTEBOOK} ({NOTEBOOK.stat().st_size // 1024} KB) with its outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
