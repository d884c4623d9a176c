"""Serving-log faults: the server SIGKILLed, the writer process killed, the disk full or
read-only, a spool left half written. Every acknowledged row is on disk exactly once, or
its loss is counted; each test prints what was lost (docs/reliability.md quotes them).

The SIGKILL tests run a real writer in a child process that prints each row number once
`submit` has returned (the moment a server would send its response), then kill the whole
process group (the writer process too) with SIGKILL.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from skewguard.serving.files import LogFileWriter
from skewguard.serving.writer import ServingLogWriter, WriterConfig

pytestmark = pytest.mark.fault
ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 2)
SPOOL_DIR = ".spool"

# A module of its own: the writer process imports the encoder by name.
ENCODER = textwrap.dedent(
    """
    from datetime import date
    import pyarrow as pa

    def encode(items):
        return pa.table(
            {"n": [n for n, _ in items], "__log_date": [date.fromordinal(d) for _, d in items]},
            schema=pa.schema([("n", pa.int64()), ("__log_date", pa.date32())]),
        )
    """
)

SERVER = textwrap.dedent(
    """
    import sys
    import time
    from datetime import date
    from fault_encoder import encode
    from skewguard.serving.writer import ServingLogWriter, WriterConfig

    folder, spool, flush_rows, interval = sys.argv[1:5]
    off = {"spool": False} if spool == "off" else {}  # on: the default
    config = WriterConfig(flush_rows=int(flush_rows), flush_interval=float(interval), **off)
    writer = ServingLogWriter(folder, encode, config)
    day = date(2026, 11, 2).toordinal()
    n = 0
    while True:
        if writer.submit((n, day + n % 2), 1):
            print(n, flush=True)  # answered: the response would go out now
        n += 1
        if n % 10 == 0:
            time.sleep(0.0005)  # requests arrive spaced: the writer thread gets its turn
    """
)


def encode(items: list[tuple[int, int]]) -> pa.Table:
    return pa.table(
        {"n": [n for n, _ in items], "__log_date": [date.fromordinal(d) for _, d in items]},
        schema=pa.schema([("n", pa.int64()), ("__log_date", pa.date32())]),
    )


def on_disk(folder: Path) -> list[int]:
    return sorted(ds.dataset(folder).to_table().column("n").to_pylist())


def quiet(**overrides: Any) -> WriterConfig:
    base: dict[str, Any] = {
        "flush_rows": 1_000_000,
        "flush_interval": 60.0,
        "handle_sigterm": False,
    }
    return WriterConfig(**{**base, **overrides})


def _run_and_kill(
    tmp_path: Path, *, spool: bool, flush_rows: int, interval: float
) -> tuple[list[int], Path]:
    folder = tmp_path / "logs"
    (tmp_path / "fault_encoder.py").write_text(ENCODER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    argv = [
        sys.executable,
        "-c",
        SERVER,
        str(folder),
        "on" if spool else "off",
        str(flush_rows),
        str(interval),
    ]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    acknowledged: list[int] = []
    reader = threading.Thread(
        target=lambda: acknowledged.extend(int(line) for line in process.stdout)  # type: ignore[union-attr]
    )
    reader.start()
    try:
        deadline = time.monotonic() + 60
        files_wanted = 5 if flush_rows < 1_000 else 0  # mid-flush: batches on disk already
        while time.monotonic() < deadline and (
            len(acknowledged) < 5_000 or len(list(folder.rglob("*.parquet"))) < files_wanted
        ):
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)  # the server and its writer process
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        reader.join(timeout=30)
    return acknowledged, folder


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flush_rows", "interval"),
    [(1_000_000, 60.0), (200, 0.01)],
    ids=["rows-in-buffer", "mid-flush"],
)
def test_sigkill_loses_no_answered_row_with_the_spool(
    tmp_path: Path, flush_rows: int, interval: float
) -> None:
    acknowledged, folder = _run_and_kill(
        tmp_path, spool=True, flush_rows=flush_rows, interval=interval
    )
    assert len(acknowledged) >= 1_000
    before = len(on_disk(folder)) if any(folder.rglob("*.parquet")) else 0
    # The restarted server's writer finds the dead one's spool and writes it first.
    with ServingLogWriter(folder, encode, quiet()) as writer:
        writer.flush()
        stats = writer.stats()
    rows = on_disk(folder)
    assert set(acknowledged) <= set(rows), f"{len(set(acknowledged) - set(rows))} rows lost"
    assert len(rows) == len(set(rows)), "a recovered row was written twice"
    assert stats.recovered == len(rows) - before
    assert not list((folder / SPOOL_DIR).iterdir())
    print(
        f"\nSIGKILL with the spool ({flush_rows} rows/flush): {len(acknowledged)} answered, "
        f"{before} on disk at the kill, {stats.recovered} recovered on restart, lost 0, "
        f"{stats.recovery_lost} torn frames"
    )


@pytest.mark.slow
def test_sigkill_without_the_spool_loses_the_buffer(tmp_path: Path) -> None:
    acknowledged, folder = _run_and_kill(tmp_path, spool=False, flush_rows=1_000_000, interval=60.0)
    assert not (folder / SPOOL_DIR).exists()
    rows = set(on_disk(folder)) if folder.exists() and any(folder.rglob("*.parquet")) else set()
    lost = len(set(acknowledged) - rows)
    assert lost == len(acknowledged)  # everything was still in memory
    print(f"\nSIGKILL without the spool: {len(acknowledged)} answered, {lost} lost")


def test_recovery_completes_a_half_written_batch_without_duplicates(tmp_path: Path) -> None:
    from skewguard.serving.spool import Spool, batch_name

    folder = tmp_path / "logs"
    spool = Spool(folder, "deadbeef")
    spool.open()
    items = [(n, DAY.toordinal() + n % 2) for n in range(10)]
    for item in items:
        spool.append(item, 1)
    # The dead writer had written the first date's file of batch 0 when it was killed.
    first_day = encode([i for i in items if i[1] == DAY.toordinal()])
    from skewguard.serving.files import BatchResult

    LogFileWriter(folder).write(first_day, BatchResult(), batch=batch_name("deadbeef", 0))
    os.close(spool._lock_fd)  # the process dies: the kernel releases its lock
    spool._lock_fd = None
    with ServingLogWriter(folder, encode, quiet()) as writer:
        writer.flush()
        stats = writer.stats()
    assert on_disk(folder) == list(range(10))  # each row once
    assert stats.recovered == 5 and stats.recovery_lost == 0  # the 5 the dead one had not written


def test_a_torn_last_frame_is_counted_and_the_rest_recovered(tmp_path: Path) -> None:
    from skewguard.serving.spool import Spool

    folder = tmp_path / "logs"
    spool = Spool(folder, "0badf00d")
    spool.open()
    for n in range(5):
        spool.append((n, DAY.toordinal()), 1)
    segment = folder / SPOOL_DIR / "0badf00d-000000.seg"
    with segment.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00\x01\x02")  # the start of a frame, then death
    os.close(spool._lock_fd)
    spool._lock_fd = None
    with ServingLogWriter(folder, encode, quiet()) as writer:
        writer.flush()
        stats = writer.stats()
    assert on_disk(folder) == list(range(5))
    assert (stats.recovered, stats.recovery_lost) == (5, 1)


def test_a_live_writers_spool_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    with ServingLogWriter(folder, encode, quiet()) as first:
        first.submit((1, DAY.toordinal()), 1)
        with ServingLogWriter(folder, encode, quiet()) as second:
            second.flush()
            assert second.stats().recovered == 0  # first is alive: its lock is held
        first.flush()
    assert on_disk(folder) == [1]


def test_a_writer_process_killed_again_and_again_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL the writer process while it writes a batch (or just before): the batch goes
    to a new writer process, which completes it without writing any date twice."""
    accepted = kills = 0
    with ServingLogWriter(tmp_path, encode, quiet()) as writer:
        for round_ in range(5):
            for n in range(round_ * 1_200, (round_ + 1) * 1_200):
                accepted += writer.submit((n, DAY.toordinal() + n % 2), 1)
            deadline = time.monotonic() + 30
            while writer.writer_pid is None and time.monotonic() < deadline:
                time.sleep(0.01)  # a replacement starts with the next batch
            pid = writer.writer_pid
            flushing = threading.Thread(target=writer.flush)
            flushing.start()
            time.sleep(0.005 * round_)  # before, at the start of, or inside the write
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:  # killed idle last round: replaced meanwhile
                    pass
            flushing.join()
        stats = writer.stats()
    assert kills >= 3
    assert on_disk(tmp_path) == list(range(6_000))
    assert (stats.written, stats.dropped) == (accepted, 0)
    print(f"\nwriter process killed {kills} times: {accepted} rows, {stats.dropped} lost")


def test_disk_errors_never_reach_serving_and_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk, simulated by an OSError-injecting file writer and spool."""
    from skewguard.serving.spool import Spool

    full = OSError(errno.ENOSPC, "No space left on device")
    writer = ServingLogWriter(tmp_path, encode, quiet(separate_process=False))
    try:

        def no_space(*args: Any, **kwargs: Any) -> Any:
            raise full

        monkeypatch.setattr(Spool, "append", no_space)
        monkeypatch.setattr(LogFileWriter, "_write_file", no_space)
        answered = [writer.submit((n, DAY.toordinal()), 1) for n in range(100)]
        writer.flush()
        stats = writer.stats()
        assert answered == [True] * 100  # serving went on
        assert (stats.spool_errors, stats.dropped_write_failed, stats.written) == (100, 100, 0)
        assert "No space left" in (stats.last_error or "")
        monkeypatch.undo()  # space again
        writer.submit((100, DAY.toordinal()), 1)
        writer.flush()
        assert writer.stats().written == 1
    finally:
        writer.close()


# -- a real full or read-only disk: a tiny tmpfs in a user namespace (no root needed) ------

NAMESPACE_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from fault_encoder import encode
    from skewguard.serving.writer import ServingLogWriter, WriterConfig

    mount, mode = Path(sys.argv[1]), sys.argv[2]
    filler = mount / "filler"
    if mode == "full":
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # take every byte of the tmpfs
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:
            pass
        os.close(fd)
    config = WriterConfig(flush_rows=1_000_000, flush_interval=60.0, handle_sigterm=False)
    writer = ServingLogWriter(mount / "logs", encode, config)
    day = 739_922
    answered = sum(writer.submit((n, day), 1) for n in range(2_000))
    writer.flush()
    during = writer.stats().to_dict()
    if mode == "full":
        filler.unlink()
        answered_after = sum(writer.submit((n, day), 1) for n in range(2_000, 2_500))
        writer.flush()
    else:
        answered_after = 0
    after = writer.stats().to_dict()
    writer.close()
    print(json.dumps({"answered": answered, "answered_after": answered_after,
                      "during": during, "after": after}))
    """
)


def _in_a_tmpfs(tmp_path: Path, mode: str) -> dict[str, Any]:
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"]).returncode:
        pytest.skip("no unprivileged user namespaces here (unshare -rm)")
    mount = tmp_path / "mnt"
    mount.mkdir()
    (tmp_path / "fault_encoder.py").write_text(ENCODER)
    options = "size=512k" + (",ro" if mode == "readonly" else "")
    script = tmp_path / "child.py"
    script.write_text(NAMESPACE_CHILD)
    shell = f'mount -t tmpfs -o {options} tmpfs "$1" && exec "$2" "$3" "$1" "$4"'
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", shell, "sh", str(mount), sys.executable, str(script), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_a_full_disk_drops_and_counts_rows_then_recovers(tmp_path: Path) -> None:
    result = _in_a_tmpfs(tmp_path, "full")
    during, after = result["during"], result["after"]
    assert result["answered"] == 2_000  # serving never failed
    assert during["written"] == 0 and during["dropped_write_failed"] == 2_000
    assert during["spool_errors"] == 2_000
    assert after["written"] == 500 and result["answered_after"] == 500
    print(
        f"\nfull disk: {result['answered']} rows answered, {during['dropped_write_failed']} "
        f"dropped and counted ({during['spool_errors']} spool appends failed); after space "
        f"was freed {after['written']} of {result['answered_after']} written"
    )


@pytest.mark.slow
def test_a_read_only_log_folder_drops_and_counts_rows(tmp_path: Path) -> None:
    result = _in_a_tmpfs(tmp_path, "readonly")
    during = result["during"]
    assert result["answered"] == 2_000
    assert (during["written"], during["dropped_write_failed"]) == (0, 2_000)
    assert during["spool_active"] is False and "Read-only" in (during["last_error"] or "")
    dropped = during["dropped_write_failed"]
    print(f"\nread-only folder: {result['answered']} answered, {dropped} dropped and counted")


# -- a full disk without namespaces: a file-size limit (RLIMIT_FSIZE) in a subprocess ------

RLIMIT_CHILD = textwrap.dedent(
    """
    import json, resource, signal, sys
    from pathlib import Path
    from fault_encoder import encode
    from skewguard.serving.writer import ServingLogWriter, WriterConfig

    folder, limit = Path(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death past the limit
    # Encoding on a thread: a writer process would keep the limit after it is raised.
    config = WriterConfig(flush_rows=1_000_000, flush_interval=60.0, handle_sigterm=False,
                          separate_process=False)
    writer = ServingLogWriter(folder, encode, config)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    day = 739_922
    answered = sum(writer.submit((n, day), 1) for n in range(20_000))
    problem = writer.problem()
    writer.flush()
    during = writer.stats().to_dict()
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    answered_after = sum(writer.submit((n, day), 1) for n in range(20_000, 20_500))
    writer.flush()
    after = writer.stats().to_dict()
    problem_after = writer.problem()
    writer.close()
    print(json.dumps({"answered": answered, "answered_after": answered_after, "during": during,
                      "after": after, "problem": problem, "problem_after": problem_after}))
    """
)


def test_a_file_size_limit_drops_and_counts_rows_then_recovers(tmp_path: Path) -> None:
    """A full disk where no tmpfs can be mounted: writes past RLIMIT_FSIZE fail (EFBIG)."""
    (tmp_path / "fault_encoder.py").write_text(ENCODER)
    script = tmp_path / "child.py"
    script.write_text(RLIMIT_CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "logs"), str(64 * 1024)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    during, after = result["during"], result["after"]
    assert result["answered"] == 20_000  # serving never failed
    assert during["spool_errors"] > 0 and "append to the spool failed" in (result["problem"] or "")
    assert during["written"] + during["dropped_write_failed"] == 20_000
    assert during["dropped_write_failed"] > 0
    assert result["answered_after"] == 500 and after["written"] >= during["written"] + 500
    assert result["problem_after"] is None  # ready again
    print(
        f"\nfile-size limit 64 KiB: {result['answered']} rows answered, "
        f"{during['spool_errors']} spool appends failed, {during['written']} written, "
        f"{during['dropped_write_failed']} dropped and counted; after the limit was raised "
        f"{after['written'] - during['written']} of {result['answered_after']} written"
    )
