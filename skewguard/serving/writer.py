"""A bounded in-memory buffer and a background writer for serving logs.

The request path only calls `ServingLogWriter.submit`: it appends an item to a list under
a lock and returns at once, never touching the disk. A daemon thread hands the buffered
items to a sink that turns them into an Arrow table (with the `encode` function it was
given) and writes parquet files (`skewguard.serving.files`: atomic, one folder per
`__log_date`):

- when `flush_rows` rows are buffered, every `flush_interval` seconds, on `flush()`, and
  at shutdown (`close()`, which runs from atexit; SIGTERM is turned into a normal exit so
  atexit runs);
- by default in a separate writer process (`skewguard.serving.process`), so that encoding
  never holds the serving process's GIL; `WriterConfig(separate_process=False)` encodes
  on the writer thread instead, in small chunks with pauses between them, for an encode
  function that cannot be pickled.

Each accepted item is also appended to an on-disk spool before `submit` returns
(`skewguard.serving.spool`; `WriterConfig(spool=False)` turns it off), so rows answered by
a process that is then killed are written by the next writer started on the same folder.
A batch whose writer process died is sent once more to a new one, which completes it
without duplicating any date.

When the buffer is full, or a write fails, the rows are counted as dropped (never a
crash of serving, never a silent loss), and a warning is logged at most once per
`flush_interval`. `stats()` returns the counters, spool and recovery included.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pyarrow as pa

from skewguard.serving.files import BatchResult, LogFileWriter, log_files, warm_up
from skewguard.serving.process import ProcessSink, encode_and_write
from skewguard.serving.spool import Spool, batch_name, recover_orphans

__all__ = ["WriterConfig", "WriterStats", "ServingLogWriter", "log_files"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_PAUSE = 0.0002  # seconds between encoded chunks (encoding on the writer thread)


@dataclass(frozen=True)
class WriterConfig:
    capacity_rows: int = 200_000  # buffered rows beyond this are dropped
    flush_rows: int = 5_000  # write as soon as this many rows are buffered
    flush_interval: float = 1.0  # seconds; also the minimum gap between drop warnings
    encode_chunk: int = 64  # separate_process=False: items encoded between GIL pauses
    fsync: bool = False  # fsync each file before the rename (survives power loss)
    handle_sigterm: bool = True  # turn SIGTERM into SystemExit so atexit flushes
    separate_process: bool = True  # encode and write in a child process (module docstring)
    spool: bool = True  # append each accepted item to <folder>/.spool before submit returns

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
    spool_active: bool = False  # accepted rows reach the disk before submit returns
    spooled: int = 0  # rows appended to the spool
    spool_errors: int = 0  # appends that failed: those rows were held in memory only
    recovered: int = 0  # rows of dead writers' spools written by this writer
    recovery_lost: int = 0  # spool frames of dead writers that could not be read (torn)

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
        self._sink = _make_sink(encode, self.folder, self.config, partitioned, name)
        self._token = uuid.uuid4().hex[:8]
        self._batches = 0  # batch numbers when there is no spool
        # Critical sections take the C-level lock itself, never `with self._cond`: the
        # Condition's __enter__ is Python code, and SIGTERM's SystemExit raised inside it,
        # after the lock was taken, would leave the lock held and deadlock the final flush.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
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
        self._spooled = 0
        self._spool_errors = 0
        self._spool_failing = False  # the last append to the spool failed
        self._recovered = 0
        self._recovery_lost = 0
        self._spool = Spool(self.folder, self._token) if self.config.spool else None
        if self._spool is not None:
            try:
                self._spool.open()
            except OSError as err:  # e.g. an unwritable folder: serving goes on, not durable
                self._spool_errors += 1
                self._last_error = f"spool: {type(err).__name__}: {err}"
        self._thread = threading.Thread(target=self._run, name=f"{name}-writer", daemon=True)
        self._thread.start()
        _register(self)

    # -- request path ---------------------------------------------------------------

    def submit(self, item: T, rows: int) -> bool:
        """Buffer `item` holding `rows` log rows. Never blocks on I/O; False if dropped."""
        with self._lock:
            if self._closing or self._buffered + rows > self.config.capacity_rows:
                self._dropped_full += rows
                return False
            if self._spool is not None and self._spool.active:
                try:
                    self._spool.append(item, rows)
                    self._spooled += rows
                    self._spool_failing = False
                except Exception as err:  # disk full, unpicklable item: kept in memory
                    self._spool_failing = True
                    self._spool_errors += 1
                    self._last_error = f"spool: {type(err).__name__}: {err}"
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
        with self._lock:
            if not self._thread.is_alive():
                return self._buffered == 0
            self._flush_requested += 1
            ticket = self._flush_requested
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._flush_done >= ticket, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush, stop the writer thread and refuse (count as dropped) later rows."""
        with self._lock:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with self._lock:
            self._closed = not self._thread.is_alive()

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid; None when encoding on a thread, or between processes."""
        return self._sink.pid

    def stats(self) -> WriterStats:
        with self._lock:
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
                spool_active=self._spool is not None and self._spool.active,
                spooled=self._spooled,
                spool_errors=self._spool_errors,
                recovered=self._recovered,
                recovery_lost=self._recovery_lost,
            )

    def problem(self) -> str | None:
        """Why this writer cannot keep answered rows now (None when it can)."""
        with self._lock:
            if self._closing:
                return "the writer is closed"
            if not self._thread.is_alive():
                return "the writer thread stopped"
            if self._spool is not None and not self._spool.active:
                return (
                    f"the spool cannot be written ({self._last_error}): "
                    "answered rows are held in memory only"
                )
            if self._spool_failing:
                return f"the last append to the spool failed ({self._last_error})"
        return None

    def __enter__(self) -> ServingLogWriter[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._sink.start()  # ready before the first flush; a failure is retried then
        except Exception as err:
            log.warning("%s: %s (retried at the first write)", self.name, err)
        try:
            if self._spool is not None:
                self._recover()
            self._loop()
        finally:
            self._sink.close()
        if self._spool is not None:  # only after a clean end: every spooled row is written
            with self._lock:
                self._spool.close()

    def _recover(self) -> None:
        """Write the rows spooled by writers of this folder that died (SIGKILL, crash)."""
        try:
            recovery = recover_orphans(
                self.folder,
                self._token,
                lambda items, rows, batch: self._write_batch(items, rows, batch, resume=True),
            )
        except OSError as err:
            log.warning("%s: cannot recover the spools of dead writers: %s", self.name, err)
            return
        with self._lock:
            self._recovered += recovery.written
            self._recovery_lost += recovery.lost
            self._record_errors(recovery.errors)
        if recovery.written or recovery.lost or recovery.kept:
            log.warning(
                "%s: wrote %d rows spooled by writers that died; %d unreadable frames; "
                "%d rows left in the spool after a failed write -> %s",
                self.name,
                recovery.written,
                recovery.lost,
                recovery.kept,
                self.folder,
            )

    def _loop(self) -> None:
        interval = self.config.flush_interval
        next_flush = time.monotonic() + interval
        while True:
            with self._lock:
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
                batch = self._next_batch_locked() if items else 0
            if items:
                self._write(items, rows, batch)
            next_flush = time.monotonic() + interval
            with self._lock:
                self._in_flight = 0
                self._flush_done = max(self._flush_done, ticket)
                self._warn_if_dropped_locked()
                self._cond.notify_all()
                if closing and not self._items:
                    self._warn_if_dropped_locked(force=True)
                    return

    def _next_batch_locked(self) -> int:
        """The number of the batch being taken; the spool moves on to the next segment."""
        if self._spool is not None:
            return self._spool.rotate()
        self._batches += 1
        return self._batches - 1

    def _write(self, items: list[T], rows: list[int], batch: int) -> None:
        result = self._write_batch(items, sum(rows), batch_name(self._token, batch))
        with self._lock:
            # Skipped rows were written by a writer process that died before it could
            # say so: they are on disk, counted here for the first time.
            self._written += result.written + result.skipped
            self._files += result.files
            self._dropped_failed += result.failed
            self._record_errors(result.errors)
        if self._spool is not None:
            self._spool.discard(batch)

    def _write_batch(
        self, items: Sequence[Any], rows: int, batch: str, *, resume: bool = False
    ) -> BatchResult:
        """Write one batch; if the writer process died under it, once more on a new one."""
        result = self._sink.write(items, rows, batch, resume)
        if not result.retryable:
            return result
        again = self._sink.write(items, rows, batch, True)
        again.errors[:0] = result.errors  # the failed attempt stays on record
        return again

    def _record_errors(self, errors: list[str]) -> None:
        self._write_errors += len(errors)
        if errors:
            self._last_error = errors[-1]

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


# -- sinks: where the writer thread sends a batch ---------------------------------------


class _Sink(Protocol):
    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...
    def write(
        self, items: Sequence[Any], rows: int, batch: str | None = None, resume: bool = False
    ) -> BatchResult: ...
    def close(self) -> None: ...


class _ThreadSink:
    """Encodes on the writer thread, in chunks with pauses that let requests run."""

    pid: int | None = None  # no writer process

    def __init__(
        self, encode: Callable[[Sequence[Any]], pa.Table], files: LogFileWriter, chunk: int
    ):
        self._encode = encode
        self._files = files
        self._chunk = chunk
        warm_up()

    def start(self) -> None:
        pass

    def write(
        self, items: Sequence[Any], rows: int, batch: str | None = None, resume: bool = False
    ) -> BatchResult:
        return encode_and_write(self._encode_in_chunks, items, rows, self._files, batch, resume)

    def close(self) -> None:
        pass

    def _encode_in_chunks(self, items: Sequence[Any]) -> pa.Table:
        tables = []
        for start in range(0, len(items), self._chunk):
            tables.append(self._encode(items[start : start + self._chunk]))
            # Sleep, not just yield: a request thread waiting for the GIL gets it now
            # instead of after the interpreter's 5 ms switch interval.
            time.sleep(_PAUSE)
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _make_sink(
    encode: Callable[[Sequence[Any]], pa.Table],
    folder: Path,
    config: WriterConfig,
    partitioned: bool,
    name: str,
) -> _Sink:
    if config.separate_process:
        return ProcessSink(encode, folder, partitioned=partitioned, fsync=config.fsync, name=name)
    files = LogFileWriter(folder, partitioned=partitioned, fsync=config.fsync)
    return _ThreadSink(encode, files, config.encode_chunk)


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
