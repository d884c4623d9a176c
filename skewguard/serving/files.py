"""Serving log files on disk: atomic parquet files, one folder per `__log_date`.

`LogFileWriter.write` writes one table as one file per `__log_date` value in
`<folder>/<YYYY-MM-DD>/`, the directory layout of Feast's own
`FileLoggingDestination(partition_by=["__log_date"])`; every file also carries the
`__log_date` column, so a single file is a complete log table. A file is written under a
hidden name (`.part-....parquet.tmp`, which pyarrow's dataset discovery skips) and
renamed into place once complete, so no reader ever sees half a file.

A batch written under a name (`batch`, the writer id and batch number) gives each of its
files the name `part-<UTC write time>-<batch>.parquet`. Written again with `resume=True`
(after its writer process or its whole server died mid-batch), the dates whose file is
already there are skipped, so a batch is never on disk twice.

Used by the serving log writer, in the serving process or in its writer process.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skewguard.logschema import LOG_DATE

__all__ = ["BatchResult", "LogFileWriter", "log_files", "warm_up"]

_TMP_PREFIX = "."
_TMP_SUFFIX = ".tmp"


@dataclass
class BatchResult:
    """What became of one batch of log rows."""

    written: int = 0  # rows now in files on disk
    files: int = 0
    skipped: int = 0  # rows of a resumed batch whose file was on disk already
    failed: int = 0  # rows lost to an encode or write error
    errors: list[str] = field(default_factory=list)  # "<Type>: <message>", one per failure
    retryable: bool = False  # the writer process died: the batch may be written again

    def fail(self, rows: int, err: BaseException) -> None:
        self.failed += rows
        self.errors.append(f"{type(err).__name__}: {err}")


class LogFileWriter:
    """Writes log tables into `folder`; file names are unique per writer."""

    def __init__(self, folder: str | Path, *, partitioned: bool = True, fsync: bool = False):
        self.folder = Path(folder)
        self.partitioned = partitioned
        self.fsync = fsync
        self._token = uuid.uuid4().hex[:8]
        self._seq = itertools.count()

    def write(
        self,
        table: pa.Table,
        result: BatchResult,
        *,
        batch: str | None = None,
        resume: bool = False,
    ) -> None:
        """Write `table` (one file per log date), adding the outcome to `result`. With
        `resume`, a date whose file of this `batch` exists already is skipped (counted in
        `result.skipped`)."""
        for part_date, part in self._partitions(table):
            try:
                if resume and batch and self._exists(part_date, batch):
                    result.skipped += part.num_rows
                    continue
                self._write_file(part, part_date, batch)
            except Exception as err:
                result.fail(part.num_rows, err)
            else:
                result.written += part.num_rows
                result.files += 1

    def _folder(self, part_date: date | None) -> Path:
        if not self.partitioned:
            return self.folder
        return self.folder / (part_date.isoformat() if part_date else "unknown-date")

    def _exists(self, part_date: date | None, batch: str) -> bool:
        return any(self._folder(part_date).glob(f"part-*-{batch}.parquet"))

    def _partitions(self, table: pa.Table) -> list[tuple[date | None, pa.Table]]:
        if not self.partitioned:
            return [(None, table)]
        dates = table.column(LOG_DATE)
        out = []
        for value in pc.unique(dates).to_pylist():
            mask = pc.is_null(dates) if value is None else pc.equal(dates, value)
            out.append((value, table.filter(mask)))
        return out

    def _write_file(self, table: pa.Table, part_date: date | None, batch: str | None) -> Path:
        folder = self._folder(part_date)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        batch = batch or f"{self._token}-{next(self._seq):06d}"
        name = f"part-{stamp}-{batch}.parquet"
        final = folder / name
        tmp = folder / f"{_TMP_PREFIX}{name}{_TMP_SUFFIX}"
        try:
            with open(tmp, "wb") as handle:
                pq.write_table(table, handle)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return final


def log_files(folder: str | Path) -> list[Path]:
    """The complete log files under `folder` (in-progress hidden files excluded), sorted."""
    return sorted(p for p in Path(folder).rglob("*.parquet") if not p.name.startswith(_TMP_PREFIX))


_warmed = False


def warm_up() -> None:
    """Run the write path once in memory: pyarrow imports modules lazily (pandas, thread
    pools), and importing them during interpreter shutdown fails, losing the final flush."""
    global _warmed
    if _warmed:
        return
    table = pa.table({LOG_DATE: pa.array([date(1970, 1, 1)], pa.date32())})
    table = table.filter(pc.equal(table[LOG_DATE], pc.unique(table[LOG_DATE])[0]))
    pq.write_table(pa.concat_tables([table, table]), pa.BufferOutputStream())
    _warmed = True
