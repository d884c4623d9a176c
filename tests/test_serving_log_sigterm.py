"""SIGTERM during traffic: every acknowledged row is on disk, no partial file is visible."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent

# A module of its own: the writer process imports the encoder by name.
ENCODER = textwrap.dedent(
    """
    from datetime import date
    import pyarrow as pa

    def encode(items):
        return pa.table({"n": list(items), "__log_date": [date(2026, 11, 2)] * len(items)},
                        schema=pa.schema([("n", pa.int64()), ("__log_date", pa.date32())]))
    """
)

WRITER_LOOP = textwrap.dedent(
    """
    import sys
    from sigterm_encoder import encode
    from skewguard.serving.writer import ServingLogWriter, WriterConfig

    config = WriterConfig(flush_rows=200, flush_interval=0.05,
                          separate_process=sys.argv[2] == "process")
    writer = ServingLogWriter(sys.argv[1], encode, config)
    n = 0
    while True:
        if writer.submit(n, 1):
            print(n, flush=True)  # acknowledged
        n += 1
    """
)


def watch_for_partial_files(folder: Path, stop: threading.Event, problems: list[str]) -> None:
    """Every visible .parquet file must be complete (readable footer and row groups)."""
    while not stop.is_set():
        for path in folder.rglob("*.parquet"):
            if path.name.startswith("."):
                continue
            try:
                pq.read_table(path)
            except FileNotFoundError:
                pass
            except Exception as err:  # a half-written file would land here
                problems.append(f"{path.name}: {err}")


@pytest.mark.parametrize(
    ("where", "target"),
    [("process", "server"), ("process", "group"), ("thread", "server")],
    ids=["writer-process", "whole-process-group", "writer-thread"],
)
def test_sigterm_keeps_every_acknowledged_row(tmp_path: Path, where: str, target: str) -> None:
    """SIGTERM to the server, or to its whole process group (the writer process too, as
    a container stop or systemd would send it)."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (tmp_path / "sigterm_encoder.py").write_text(ENCODER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER_LOOP, str(folder), where],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, which the test may signal whole
    )
    stop, problems = threading.Event(), []
    watcher = threading.Thread(target=watch_for_partial_files, args=(folder, stop, problems))
    watcher.start()
    acknowledged: list[int] = []
    reader = threading.Thread(
        target=lambda: acknowledged.extend(int(line) for line in process.stdout)  # type: ignore[union-attr]
    )
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while len(acknowledged) < 20_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        if target == "group":
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=30)
        stop.set()
        watcher.join()

    assert code == 128 + signal.SIGTERM
    assert len(acknowledged) >= 1_000
    on_disk = set(ds.dataset(folder).to_table().column("n").to_pylist())
    missing = set(acknowledged) - on_disk
    assert not missing, f"{len(missing)} acknowledged rows lost"
    assert problems == []
    # No hidden temporary file is left, and the spool is empty after a clean shutdown.
    assert not [p for p in folder.rglob("*") if p.name.startswith(".") and p.name != ".spool"]
    assert not list((folder / ".spool").iterdir())
