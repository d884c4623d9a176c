"""The serving log's spool: every accepted row reaches the disk before its response returns.

The in-memory buffer of `ServingLogWriter` dies with its process. So each accepted item is
also appended to a spool segment, an append-only file in `<log folder>/.spool/`, inside
`submit`, before the lookup returns. The write goes to the kernel's page cache (no fsync),
so the rows survive the death of the process (SIGKILL, an OOM kill, a crash), not the
death of the machine.

Segments follow the writer's batches. When the writer thread takes a batch it rotates
the spool (`rotate`): the batch is exactly the items of the segment just closed, and once
its parquet files are written (or its rows counted as dropped) the segment is deleted
(`discard`). Files on disk at any moment: the open segment, plus the one being written.

Each writer holds an exclusive `flock` on its `<writer id>.lock` for as long as it lives;
the kernel releases it when the process dies, however it dies. A writer starting on the
same folder takes the locks it can get (`claim_orphans`): their segments belong to a dead
writer, and it writes their rows before anything else, under the same batch names, so a
batch that was half written when its writer died is completed, not duplicated (see
`LogFileWriter.write(resume=True)`).

Frame format: an 8-byte header (little-endian payload length and CRC-32), then the pickle
of `(item, rows)`. A torn last frame (the process died inside `write`, or the disk filled
up) is detected by its length or CRC and counted as lost.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pickle
import re
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skewguard.serving.files import BatchResult

__all__ = [
    "SPOOL_DIR",
    "Spool",
    "Orphan",
    "Recovery",
    "batch_name",
    "claim_orphans",
    "read_segment",
    "recover_orphans",
]

SPOOL_DIR = ".spool"
_HEADER = struct.Struct("<II")
_SEGMENT = re.compile(r"^(?P<token>[0-9a-f]+)-(?P<segment>\d{6,})\.seg$")


def _segment_name(token: str, segment: int) -> str:
    return f"{token}-{segment:06d}.seg"


def batch_name(token: str, segment: int) -> str:
    """The batch key a segment's parquet files carry in their names."""
    return f"{token}-{segment:06d}"


class Spool:
    """The spool of one writer (`token`) in `folder/.spool`. Not thread-safe: the writer
    calls it under its own lock."""

    def __init__(self, folder: Path, token: str) -> None:
        self.dir = Path(folder) / SPOOL_DIR
        self.token = token
        self.segment = 0
        self._fd: int | None = None
        self._offset = 0
        self._lock_fd: int | None = None

    @property
    def active(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        """Take this writer's lock and open its current segment; raises OSError."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._lock_fd is None:
            fd = os.open(self.dir / f"{self.token}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise
            self._lock_fd = fd
        path = self.dir / _segment_name(self.token, self.segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._offset = os.fstat(self._fd).st_size

    def append(self, item: Any, rows: int) -> None:
        """Append one item; raises OSError (or a pickling error) and leaves no torn frame."""
        if self._fd is None:
            raise OSError(errno.EBADF, "the spool is not open")
        payload = pickle.dumps((item, rows), protocol=5)
        frame = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        written = 0
        try:
            written = os.write(self._fd, frame)
            if written != len(frame):
                raise OSError(errno.ENOSPC, f"short write to the spool ({written} bytes)")
        except OSError:
            if written:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._offset)
            raise
        self._offset += written

    def rotate(self) -> int:
        """Close the current segment and start the next; returns the closed one's number.
        If the spool is not open (it failed before), tries to open it again."""
        closed = self.segment
        self.segment += 1
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(OSError):
            self.open()
        return closed

    def discard(self, segment: int) -> None:
        """Delete a segment whose rows are written (or counted as dropped)."""
        with contextlib.suppress(OSError):
            (self.dir / _segment_name(self.token, segment)).unlink()

    def close(self) -> None:
        """Delete the open segment and the lock (after a final flush wrote everything);
        the empty `.spool` folder is left in place."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.discard(self.segment)
        if self._lock_fd is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.dir / f"{self.token}.lock").unlink()
            os.close(self._lock_fd)
            self._lock_fd = None
        # The empty folder stays: removing it under a reader that walks the log folder
        # (rglob) would make that reader fail; readers skip hidden folders anyway.


@dataclass
class Orphan:
    """The segments of a dead writer, locked by the writer that recovers them."""

    dir: Path
    token: str
    segments: list[int]
    _lock_fd: int | None = field(default=None, repr=False)

    def batches(self) -> Iterator[tuple[int, str, list[Any], list[int], int]]:
        """(segment, batch name, items, rows per item, frames lost), oldest first."""
        for segment in self.segments:
            items, rows, lost = read_segment(self.dir / _segment_name(self.token, segment))
            yield segment, batch_name(self.token, segment), items, rows, lost

    def release(self, keep: Sequence[int] = ()) -> None:
        """Delete the recovered segments (all but `keep`) and, if none is kept, the lock."""
        for segment in self.segments:
            if segment not in keep:
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / _segment_name(self.token, segment)).unlink()
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                (self.dir / f"{self.token}.lock").unlink()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


@dataclass
class Recovery:
    """What recovering dead writers' spools achieved."""

    written: int = 0  # rows now in parquet files
    lost: int = 0  # frames that could not be read (a torn last frame)
    kept: int = 0  # rows whose write failed: their segments stay for the next start
    errors: list[str] = field(default_factory=list)


def recover_orphans(
    folder: Path, own_token: str, write_batch: Callable[[list[Any], int, str], BatchResult]
) -> Recovery:
    """Write every batch spooled by the dead writers of `folder` with `write_batch(items,
    rows, batch name)`, which must skip the dates a batch already has on disk."""
    recovery = Recovery()
    for orphan in claim_orphans(folder, own_token):
        kept: list[int] = []
        for segment, batch, items, rows, lost in orphan.batches():
            recovery.lost += lost
            if not items:
                continue
            result = write_batch(items, sum(rows), batch)
            recovery.written += result.written
            recovery.errors += result.errors
            if result.failed:
                kept.append(segment)
                recovery.kept += result.failed
        orphan.release(keep=kept)
    return recovery


def claim_orphans(folder: Path, own_token: str) -> list[Orphan]:
    """The spools in `folder` whose writers are dead, locked for this writer to recover."""
    spool_dir = Path(folder) / SPOOL_DIR
    if not spool_dir.is_dir():
        return []
    by_token: dict[str, list[int]] = {}
    for path in spool_dir.iterdir():
        match = _SEGMENT.match(path.name)
        if match and match["token"] != own_token:
            by_token.setdefault(match["token"], []).append(int(match["segment"]))
    orphans = []
    for token, segments in sorted(by_token.items()):
        try:
            fd = os.open(spool_dir / f"{token}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its writer is alive (or another writer is recovering it)
            os.close(fd)
            continue
        orphans.append(Orphan(spool_dir, token, sorted(segments), fd))
    return orphans


def read_segment(path: Path) -> tuple[list[Any], list[int], int]:
    """Items, their row counts, and the number of frames that could not be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], [], 0
    items: list[Any] = []
    rows: list[int] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            return items, rows, 1
        length, crc = _HEADER.unpack_from(data, offset)
        payload = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            return items, rows, 1  # a torn or corrupt frame: nothing after it is trusted
        try:
            item, count = pickle.loads(payload)
        except Exception:
            return items, rows, 1
        items.append(item)
        rows.append(int(count))
        offset += _HEADER.size + length
    return items, rows, 0
