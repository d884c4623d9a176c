"""The background writer: flush triggers, atomic partitioned files, counted drops.

Every behaviour is checked twice: encoding in the writer process (the default) and on
the writer thread (`separate_process=False`).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from skewguard.serving.writer import ServingLogWriter, WriterConfig, log_files

SCHEMA = pa.schema([("n", pa.int64()), ("__log_date", pa.date32())])
DAY = date(2026, 11, 2)


def encode(items: Sequence[tuple[int, date]]) -> pa.Table:
    return pa.table(
        {"n": [n for n, _ in items], "__log_date": [d for _, d in items]}, schema=SCHEMA
    )


def broken(items: Sequence[object]) -> pa.Table:
    raise RuntimeError("boom")


Config = Callable[..., WriterConfig]


@pytest.fixture(params=[True, False], ids=["process", "thread"])
def config(request: pytest.FixtureRequest) -> Config:
    def make(**overrides: object) -> WriterConfig:
        base = {
            "flush_rows": 1_000_000,
            "flush_interval": 60.0,
            "handle_sigterm": False,
            "separate_process": request.param,
        }
        return WriterConfig(**{**base, **overrides})  # type: ignore[arg-type]

    return make


def read(folder: Path) -> pa.Table:
    return ds.dataset(folder).to_table()


def test_flush_writes_every_accepted_row_into_a_date_folder(tmp_path: Path, config: Config) -> None:
    with ServingLogWriter(tmp_path, encode, config()) as writer:
        for n in range(10):
            assert writer.submit((n, DAY), 1)
        assert writer.stats().pending == 10
        assert log_files(tmp_path) == []  # nothing written before a trigger
        assert writer.flush()
        stats = writer.stats()
    assert (stats.accepted, stats.written, stats.dropped, stats.files) == (10, 10, 0, 1)
    [file] = log_files(tmp_path)
    assert file.parent.name == "2026-11-02"
    assert file.name.startswith("part-") and file.name.endswith(".parquet")
    table = read(tmp_path)
    assert sorted(table.column("n").to_pylist()) == list(range(10))
    assert table.schema.equals(SCHEMA)  # each file carries __log_date itself


def test_rows_of_different_days_go_to_different_folders(tmp_path: Path, config: Config) -> None:
    with ServingLogWriter(tmp_path, encode, config()) as writer:
        writer.submit((1, date(2026, 11, 1)), 1)
        writer.submit((2, date(2026, 11, 2)), 1)
        writer.flush()
    assert sorted(p.parent.name for p in log_files(tmp_path)) == ["2026-11-01", "2026-11-02"]


def test_flushes_on_size(tmp_path: Path, config: Config) -> None:
    with ServingLogWriter(tmp_path, encode, config(flush_rows=5)) as writer:
        for n in range(5):
            writer.submit((n, DAY), 1)
        # generous: the writer process starts (imports pyarrow) first, slow on a loaded machine
        deadline = time.monotonic() + 60
        while writer.stats().written < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.stats().written == 5


def test_flushes_on_interval(tmp_path: Path, config: Config) -> None:
    with ServingLogWriter(tmp_path, encode, config(flush_interval=0.1)) as writer:
        writer.submit((1, DAY), 1)
        deadline = time.monotonic() + 60  # as above
        while writer.stats().written < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.stats().written == 1


def test_close_flushes_and_later_rows_count_as_dropped(tmp_path: Path, config: Config) -> None:
    writer = ServingLogWriter(tmp_path, encode, config())
    writer.submit((1, DAY), 1)
    writer.close()
    assert writer.stats().written == 1
    assert writer.submit((2, DAY), 1) is False
    assert writer.stats().dropped_buffer_full == 1


def test_full_buffer_drops_and_counts_rows_and_warns_once(
    tmp_path: Path, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="skewguard.serving.writer")
    with ServingLogWriter(tmp_path, encode, config(capacity_rows=4)) as writer:
        accepted = [writer.submit((n, DAY), 1) for n in range(10)]
        assert accepted == [True] * 4 + [False] * 6
        writer.flush()
        stats = writer.stats()
    assert (stats.accepted, stats.written, stats.dropped_buffer_full) == (4, 4, 6)
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1 and "6 buffer full" in warnings[0].getMessage()


def test_failing_destination_counts_dropped_rows_and_recovers(
    tmp_path: Path, config: Config
) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log folder should be")
    with ServingLogWriter(blocker, encode, config()) as writer:
        assert writer.submit((1, DAY), 1) and writer.submit((2, DAY), 1)
        writer.flush()  # must not raise
        failed = writer.stats()
        assert (failed.written, failed.dropped_write_failed, failed.write_errors) == (0, 2, 1)
        assert failed.last_error and "Error" in failed.last_error
        blocker.unlink()
        writer.submit((2, DAY), 1)
        writer.flush()
        assert writer.stats().written == 1


def test_encode_errors_are_counted_not_raised(tmp_path: Path, config: Config) -> None:
    with ServingLogWriter(tmp_path, broken, config()) as writer:
        writer.submit(object(), 5)
        writer.flush()
        assert writer.stats().dropped_write_failed == 5


def test_no_temporary_file_survives_a_flush(tmp_path: Path, config: Config) -> None:
    with ServingLogWriter(tmp_path, encode, config(encode_chunk=2)) as writer:
        for n in range(7):
            writer.submit((n, DAY), 1)
        writer.flush()
    everything = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert len(everything) == 1 and not everything[0].startswith(".")
    assert read(tmp_path).num_rows == 7


def test_unpartitioned_writer_puts_files_in_the_folder(tmp_path: Path, config: Config) -> None:
    with ServingLogWriter(tmp_path, encode, config(), partitioned=False) as writer:
        writer.submit((1, DAY), 1)
        writer.flush()
    [file] = log_files(tmp_path)
    assert file.parent == tmp_path


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        WriterConfig(capacity_rows=0)
    with pytest.raises(ValueError):
        WriterConfig(flush_interval=0)


def test_an_encoder_that_cannot_be_pickled_is_refused_at_once(tmp_path: Path) -> None:
    def local(items: Sequence[object]) -> pa.Table:
        return encode(items)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="cannot be sent to the writer process"):
        ServingLogWriter(tmp_path, local, WriterConfig(handle_sigterm=False))
    # On the writer thread any callable works.
    config = WriterConfig(handle_sigterm=False, separate_process=False)
    with ServingLogWriter(tmp_path, local, config) as writer:
        writer.submit((1, DAY), 1)
        writer.flush()
        assert writer.stats().written == 1


def _wait_until_dead(pid: int) -> None:
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still runs 30 s after SIGKILL")


@pytest.mark.parametrize("dead_before_the_batch", [False, True])
def test_a_killed_writer_process_is_replaced_and_its_batch_written_again(
    tmp_path: Path, dead_before_the_batch: bool
) -> None:
    # Either the next batch meets the dying process, or the process is already gone
    # when the batch is sent: both are recorded once, and the batch is written.
    config = WriterConfig(flush_rows=1_000_000, flush_interval=60.0, handle_sigterm=False)
    with ServingLogWriter(tmp_path, encode, config) as writer:
        writer.submit((1, DAY), 1)
        assert writer.flush()
        pid = writer.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        if dead_before_the_batch:
            _wait_until_dead(pid)
        writer.submit((2, DAY), 1)
        writer.flush()  # the batch meets a dead process: a new one writes it, nothing lost
        after = writer.stats()
        assert (after.written, after.dropped_write_failed, after.write_errors) == (2, 0, 1)
        assert after.last_error and "killed by signal 9" in after.last_error
        assert writer.writer_pid not in (None, pid)
        writer.submit((3, DAY), 1)
        writer.flush()
        assert writer.stats().written == 3
    assert sorted(read(tmp_path).column("n").to_pylist()) == [1, 2, 3]
