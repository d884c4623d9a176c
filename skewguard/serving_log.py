"""A bounded in-memory buffer and a background writer for serving logs.

The request path only calls `ServingLogWriter.submit`: it appends an item to a list under
a lock and returns at once, never touching the disk. A daemon thread turns buffered items
into an Arrow table (with the `encode` function it was given) and writes parquet files:

- when `flush_rows` rows are buffered, every `flush_interval` seconds, on `flush()`, and
  at shutdown (`close()`, which runs from atexit; SIGTERM is turned into a normal exit so
  atexit runs);
- one file per `__log_date` value per flush, in `<folder>/<YYYY-MM-DD>/`, the directory
  layout of Feast's own `FileLoggingDestination(partition_by=["__log_date"])`; every file
  also carries the `__log_date` column, so a single file is a complete log table;
- atomically: a file is written under a hidden name (`.part-....parquet.tmp`, which
  pyarrow's dataset discovery skips) and renamed into place once complete.

When the buffer is full, or a write fails, the rows are counted as dropped (never a
crash of serving, never a silent loss), and a warning is logged at most once per
`flush_interval`. `stats()` returns the counters.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import signal
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skewguard.logschema import LOG_DATE

__all__ = ["WriterConfig", "WriterStats", "ServingLogWriter", "log_files"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_PAUSE = 0.0002  # seconds between encoded chunks
_TMP_PREFIX = "."
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class WriterConfig:
    capacity_rows: int = 200_000  # buffered rows beyond this are dropped
    flush_rows: int = 5_000  # write as soon as this many rows are buffered
    flush_interval: float = 1.0  # seconds; also the minimum gap between drop warnings
    encode_chunk: int = 64  # items encoded between pauses that hand the GIL to requests
    fsync: bool = False  # fsync each file before the rename (survives power loss)
    handle_sigterm: bool = True  # turn SIGTERM into SystemExit so atexit flushes

    def __post_init__(self) -> None:
        if self.capacity_rows < 1 or self.flush_rows < 1 or self.encode_chunk < 1:
            raise ValueError("capacity_rows, flush_rows and encode_chunk must be at least 1")
        if self.flush_interval <= 0:
            raise ValueError("flush_interval must be positive")


@dataclass(frozen=True)
class WriterStats:
    accepted: int  # rows taken into the buffer
    written: int  # rows in files on disk
    dropped: int  # rows lost: dropped_buffer_full + dropped_write_failed
    dropped_buffer_full: int
    dropped_write_failed: int
    files: int  # files written
    pending: int  # rows accepted, not yet written or dropped
    write_errors: int
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ServingLogWriter(Generic[T]):
    """Buffer items of log rows in memory; a background thread writes them as parquet.

    `encode(items)` turns a list of submitted items into one Arrow table whose
    `__log_date` column (date32) decides the partition. It runs on the writer thread.
    """

    def __init__(
        self,
        folder: str | Path,
        encode: Callable[[Sequence[T]], pa.Table],
        config: WriterConfig | None = None,
        *,
        partitioned: bool = True,
        name: str = "serving-log",
    ) -> None:
        self.folder = Path(folder)
        self.config = config or WriterConfig()
        self.partitioned = partitioned
        self.name = name
        self._encode = encode
        self._cond = threading.Condition(threading.Lock())
        self._items: list[T] = []
        self._rows: list[int] = []
        self._buffered = 0
        self._in_flight = 0
        self._accepted = 0
        self._written = 0
        self._dropped_full = 0
        self._dropped_failed = 0
        self._files = 0
        self._write_errors = 0
        self._last_error: str | None = None
        self._flush_requested = 0
        self._flush_done = 0
        self._closing = False
        self._closed = False
        self._warned_dropped = 0
        self._last_warning = float("-inf")
        self._token = uuid.uuid4().hex[:8]
        self._seq = itertools.count()
        _warm_up()
        self._thread = threading.Thread(target=self._run, name=f"{name}-writer", daemon=True)
        self._thread.start()
        _register(self)

    # -- request path ---------------------------------------------------------------

    def submit(self, item: T, rows: int) -> bool:
        """Buffer `item` holding `rows` log rows. Never blocks on I/O; False if dropped."""
        with self._cond:
            if self._closing or self._buffered + rows > self.config.capacity_rows:
                self._dropped_full += rows
                return False
            self._items.append(item)
            self._rows.append(rows)
            self._buffered += rows
            self._accepted += rows
            if self._buffered >= self.config.flush_rows:
                self._cond.notify_all()
        return True

    # -- control --------------------------------------------------------------------

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write everything accepted so far; True when done within `timeout` seconds."""
        with self._cond:
            if not self._thread.is_alive():
                return self._buffered == 0
            self._flush_requested += 1
            ticket = self._flush_requested
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._flush_done >= ticket, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush, stop the writer thread and refuse (count as dropped) later rows."""
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with self._cond:
            self._closed = not self._thread.is_alive()

    def stats(self) -> WriterStats:
        with self._cond:
            dropped = self._dropped_full + self._dropped_failed
            return WriterStats(
                accepted=self._accepted,
                written=self._written,
                dropped=dropped,
                dropped_buffer_full=self._dropped_full,
                dropped_write_failed=self._dropped_failed,
                files=self._files,
                pending=self._buffered + self._in_flight,
                write_errors=self._write_errors,
                last_error=self._last_error,
            )

    def __enter__(self) -> ServingLogWriter[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer thread --------------------------------------------------------------

    def _run(self) -> None:
        interval = self.config.flush_interval
        next_flush = time.monotonic() + interval
        while True:
            with self._cond:
                while not (
                    self._closing
                    or self._flush_requested > self._flush_done
                    or self._buffered >= self.config.flush_rows
                    or (self._buffered and time.monotonic() >= next_flush)
                ):
                    remaining = next_flush - time.monotonic()
                    if remaining <= 0:
                        next_flush = time.monotonic() + interval
                        remaining = interval
                        self._warn_if_dropped_locked()
                    self._cond.wait(remaining)
                items, rows = self._items, self._rows
                self._items, self._rows = [], []
                self._in_flight, self._buffered = self._buffered, 0
                ticket, closing = self._flush_requested, self._closing
            if items:
                self._write(items, rows)
            next_flush = time.monotonic() + interval
            with self._cond:
                self._in_flight = 0
                self._flush_done = max(self._flush_done, ticket)
                self._warn_if_dropped_locked()
                self._cond.notify_all()
                if closing and not self._items:
                    self._warn_if_dropped_locked(force=True)
                    return

    def _write(self, items: list[T], rows: list[int]) -> None:
        try:
            table = self._encode_in_chunks(items)
        except Exception as err:  # a bug in encode must not kill serving
            self._count_failure(sum(rows), err)
            log.exception("%s: could not encode %d log rows", self.name, sum(rows))
            return
        for part_date, part in self._partitions(table):
            try:
                self._write_file(part, part_date)
            except Exception as err:
                self._count_failure(part.num_rows, err)
            else:
                with self._cond:
                    self._written += part.num_rows
                    self._files += 1

    def _encode_in_chunks(self, items: list[T]) -> pa.Table:
        step = self.config.encode_chunk
        tables = []
        for start in range(0, len(items), step):
            tables.append(self._encode(items[start : start + step]))
            # Sleep, not just yield: a request thread waiting for the GIL gets it now
            # instead of after the interpreter's 5 ms switch interval.
            time.sleep(_PAUSE)
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def _partitions(self, table: pa.Table) -> list[tuple[date | None, pa.Table]]:
        if not self.partitioned:
            return [(None, table)]
        dates = table.column(LOG_DATE)
        out = []
        for value in pc.unique(dates).to_pylist():
            mask = pc.is_null(dates) if value is None else pc.equal(dates, value)
            out.append((value, table.filter(mask)))
        return out

    def _write_file(self, table: pa.Table, part_date: date | None) -> Path:
        folder = self.folder
        if self.partitioned:
            folder = folder / (part_date.isoformat() if part_date else "unknown-date")
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"part-{stamp}-{self._token}-{next(self._seq):06d}.parquet"
        final = folder / name
        tmp = folder / f"{_TMP_PREFIX}{name}{_TMP_SUFFIX}"
        try:
            with open(tmp, "wb") as handle:
                pq.write_table(table, handle)
                if self.config.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return final

    def _count_failure(self, rows: int, err: BaseException) -> None:
        with self._cond:
            self._dropped_failed += rows
            self._write_errors += 1
            self._last_error = f"{type(err).__name__}: {err}"

    def _warn_if_dropped_locked(self, *, force: bool = False) -> None:
        dropped = self._dropped_full + self._dropped_failed
        now = time.monotonic()
        if dropped == self._warned_dropped:
            return
        if not force and now - self._last_warning < self.config.flush_interval:
            return
        log.warning(
            "%s: dropped %d serving log rows since the last warning "
            "(%d in total: %d buffer full, %d write failed; last error: %s) -> %s",
            self.name,
            dropped - self._warned_dropped,
            dropped,
            self._dropped_full,
            self._dropped_failed,
            self._last_error or "none",
            self.folder,
        )
        self._warned_dropped = dropped
        self._last_warning = now


_warmed = False


def _warm_up() -> None:
    """Run the write path once in memory: pyarrow imports modules lazily (pandas, thread
    pools), and importing them during interpreter shutdown fails, losing the final flush."""
    global _warmed
    if _warmed:
        return
    table = pa.table({LOG_DATE: pa.array([date(1970, 1, 1)], pa.date32())})
    table = table.filter(pc.equal(table[LOG_DATE], pc.unique(table[LOG_DATE])[0]))
    pq.write_table(pa.concat_tables([table, table]), pa.BufferOutputStream())
    _warmed = True


def log_files(folder: str | Path) -> list[Path]:
    """The complete log files under `folder` (in-progress hidden files excluded), sorted."""
    return sorted(p for p in Path(folder).rglob("*.parquet") if not p.name.startswith(_TMP_PREFIX))


# -- shutdown: flush every live writer at exit, and exit normally on SIGTERM -----------

_live: weakref.WeakSet[ServingLogWriter[Any]] = weakref.WeakSet()
_hooks_lock = threading.Lock()
_hooks_installed = False


def _register(writer: ServingLogWriter[Any]) -> None:
    global _hooks_installed
    _live.add(writer)
    with _hooks_lock:
        if not _hooks_installed:
            _hooks_installed = True
            atexit.register(_close_all)
    if writer.config.handle_sigterm:
        _install_sigterm()


def _close_all() -> None:
    for writer in list(_live):
        writer.close()


def _sigterm(signum: int, frame: object) -> None:
    # Unwind the main thread (releasing any lock it holds) so atexit closes the writers.
    raise SystemExit(128 + signum)


def _install_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm)
