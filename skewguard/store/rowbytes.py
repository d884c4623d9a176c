"""Byte strings for every row of a batch, built a column at a time with numpy.

A batch's per-row byte strings are assembled from pieces. A `Padded` piece is an
(n, width) uint8 matrix whose row i holds its bytes left-aligned in the first
`lengths[i]` columns (all of them when `lengths` is None); a `Const` piece is the same
bytes on every row; a `Ragged` piece is n strings in one buffer (data plus offsets), as
Arrow holds them. `join` lays the pieces side by side in one matrix and `Rows.compress`
drops the padding with one boolean mask, giving the n concatenated strings as one
`Ragged`: no Python loop per row. The matrix is as wide as the widest row of each piece,
so callers build it in row chunks (`chunk_rows`) to bound its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "MAX_MATRIX_BYTES",
    "Const",
    "Padded",
    "Piece",
    "Ragged",
    "Rows",
    "Workspace",
    "chunk_rows",
    "columns",
    "concat",
    "decimal",
    "join",
    "join_ragged",
    "piece_lengths",
    "put",
    "slice_piece",
    "varint",
]

# Joined matrices are built in row chunks of about this many bytes (a few wide values
# must not make every row of a large batch as wide as the widest).
MAX_MATRIX_BYTES = 32 << 20


@dataclass(frozen=True)
class Const:
    """The same bytes on every row."""

    value: bytes


@dataclass(frozen=True)
class Padded:
    """Row i is matrix[i, :lengths[i]] (the whole row when lengths is None)."""

    matrix: np.ndarray  # (n, width) uint8
    lengths: np.ndarray | None = None  # (n,) int64

    @property
    def width(self) -> int:
        return int(self.matrix.shape[1])

    def row_lengths(self) -> np.ndarray:
        if self.lengths is None:
            return np.full(self.matrix.shape[0], self.width, dtype=np.int64)
        return self.lengths


@dataclass(frozen=True)
class Ragged:
    """n byte strings in one buffer: string i is data[offsets[i]:offsets[i + 1]]."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # (n + 1,) int64, offsets[0] == 0

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def to_pylist(self) -> list[bytes]:
        raw = self.data.tobytes()
        bounds = self.offsets.tolist()
        return [raw[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def padded(self) -> Padded:
        """The same strings as a Padded piece (width: the longest)."""
        n = len(self)
        lengths = self.lengths()
        width = int(lengths.max()) if n else 0
        matrix = np.zeros((n, width), dtype=np.uint8)
        if self.data.size:
            rows = np.repeat(np.arange(n), lengths)
            cols = np.arange(self.data.size) - np.repeat(self.offsets[:-1], lengths)
            matrix[rows, cols] = self.data
        fixed = n == 0 or bool((lengths == width).all())
        return Padded(matrix, None if fixed else lengths)

    @classmethod
    def from_pylist(cls, values: Iterable[bytes]) -> Ragged:
        return cls.from_arrow(pa.array(list(values), pa.binary()))

    @classmethod
    def from_arrow(cls, array: pa.Array) -> Ragged:
        """A binary or string Arrow array without nulls (nulls count as empty)."""
        if pa.types.is_string(array.type):
            array = array.cast(pa.binary())
        elif pa.types.is_large_string(array.type):
            array = array.cast(pa.large_binary())
        if array.null_count:
            array = array.fill_null(b"")
        offsets_type = np.int64 if pa.types.is_large_binary(array.type) else np.int32
        buffers = array.buffers()
        offsets = np.frombuffer(buffers[1], dtype=offsets_type)[
            array.offset : array.offset + len(array) + 1
        ].astype(np.int64)
        start, end = int(offsets[0]), int(offsets[-1])
        data = np.frombuffer(buffers[2], dtype=np.uint8)[start:end] if end > start else _EMPTY
        return cls(data, offsets - start)

    def slice(self, start: int, stop: int) -> Ragged:
        a, b = int(self.offsets[start]), int(self.offsets[stop])
        return Ragged(self.data[a:b], self.offsets[start : stop + 1] - a)

    def take(self, rows: np.ndarray) -> Ragged:
        lengths = self.lengths()[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.repeat(self.offsets[:-1][rows] - offsets[:-1], lengths) + np.arange(
            int(offsets[-1])
        )
        return Ragged(self.data[gather], offsets)


_EMPTY = np.zeros(0, dtype=np.uint8)

Piece = Const | Padded | Ragged


def piece_lengths(pieces: Sequence[Piece], n: int) -> np.ndarray:
    """Total bytes per row of the concatenated pieces."""
    total = np.zeros(n, dtype=np.int64)
    for piece in pieces:
        if isinstance(piece, Const):
            total += len(piece.value)
        elif isinstance(piece, Ragged):
            total += piece.lengths()
        else:
            total += piece.row_lengths()
    return total


def _width(piece: Piece) -> int:
    if isinstance(piece, Const):
        return len(piece.value)
    if isinstance(piece, Ragged):
        return int(piece.lengths().max()) if len(piece) else 0
    return piece.width


def chunk_rows(pieces: Sequence[Piece], n: int) -> list[tuple[int, int]]:
    """Row ranges whose joined matrix stays under MAX_MATRIX_BYTES (at least one row each)."""
    width = sum(_width(p) for p in pieces)
    step = max(1, MAX_MATRIX_BYTES // max(width, 1))
    return [(start, min(start + step, n)) for start in range(0, n, step)] or [(0, 0)]


def slice_piece(piece: Piece, start: int, stop: int) -> Piece:
    if isinstance(piece, Const):
        return piece
    if isinstance(piece, Ragged):
        return piece.slice(start, stop)
    lengths = None if piece.lengths is None else piece.lengths[start:stop]
    return Padded(piece.matrix[start:stop], lengths)


class Workspace:
    """Named buffers reused from batch to batch.

    Freshly allocated memory is slow to touch for the first time (a page fault per 4 KiB
    page); building every batch in the same buffers keeps that cost to the first batch.
    A buffer handed out is valid until the same name is asked for again.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
        size = int(np.prod(shape))
        buffer = self._buffers.get(name)
        if buffer is None or buffer.dtype != np.dtype(dtype) or buffer.size < size:
            grown = max(size, int(buffer.size * 1.5) if buffer is not None else 0)
            buffer = np.empty(grown, dtype=dtype)
            self._buffers[name] = buffer
        return buffer[:size].reshape(shape)


@dataclass(frozen=True)
class Rows:
    """Joined pieces before the padding is dropped; rows can still be selected cheaply."""

    matrix: np.ndarray  # (n, width) uint8
    mask: np.ndarray | None  # (n, width) bool; None: no padding anywhere
    lengths: np.ndarray  # (n,) int64: bytes per row once the padding is dropped
    workspace: Workspace | None = None
    name: str = "rows"

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def _buffer(self, suffix: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        if self.workspace is None:
            return np.empty(shape, dtype=dtype)
        return self.workspace.get(f"{self.name}.{suffix}", shape, dtype)

    def take(self, rows: np.ndarray) -> Rows:
        matrix = self._buffer("take", (len(rows), self.matrix.shape[1]), np.uint8)
        np.take(self.matrix, rows, axis=0, out=matrix)
        mask = None
        if self.mask is not None:
            mask = self._buffer("take_mask", matrix.shape, np.bool_)
            np.take(self.mask, rows, axis=0, out=mask)
        return Rows(matrix, mask, self.lengths[rows], self.workspace, self.name + ".take")

    def compress(self) -> Ragged:
        """The rows without padding, in memory of their own (not the workspace's)."""
        n = len(self)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=offsets[1:])
        flat = self.matrix.reshape(-1)
        if self.mask is None:  # the data must outlive the workspace's next use: a copy
            owned = pa.allocate_buffer(flat.size)
            data = np.frombuffer(owned, dtype=np.uint8)
            data[...] = flat
            return Ragged(data, offsets)
        # Arrow's filter kernel works on a bitmap: several times faster than numpy's
        # boolean indexing over the same bytes.
        keep = self.mask.reshape(-1)
        bits = np.packbits(keep, bitorder="little")
        kept = pc.filter(
            pa.Array.from_buffers(pa.uint8(), len(flat), [None, pa.py_buffer(flat)]),
            pa.Array.from_buffers(pa.bool_(), len(keep), [None, pa.py_buffer(bits)]),
        )
        data = np.frombuffer(kept.buffers()[1], dtype=np.uint8, count=len(kept))
        return Ragged(data, offsets)


def _merge_consts(pieces: Sequence[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, Const) and merged and isinstance(merged[-1], Const):
            merged[-1] = Const(merged[-1].value + piece.value)
        elif not (isinstance(piece, Const) and not piece.value):
            merged.append(piece)
    return merged


def columns(matrix: np.ndarray, col: int, width: int) -> np.ndarray:
    """matrix[:, col:col + width] as one opaque item per row.

    numpy copies a narrow 2-D column slice row by row with a short inner loop; the same
    bytes viewed as one `V<width>` item per row are copied in a single strided loop,
    several times faster.
    """
    n, total = matrix.shape
    return np.ndarray(shape=(n,), dtype=f"V{width}", buffer=matrix, offset=col, strides=(total,))


def put(matrix: np.ndarray, col: int, source: np.ndarray) -> None:
    """matrix[:, col:col + w] = source, for an (n, w) uint8 source."""
    width = source.shape[1]
    if width and source.shape[0]:
        items = np.ascontiguousarray(source).view(f"V{width}").reshape(-1)
        columns(matrix, col, width)[...] = items


_PREFIX_MASKS: dict[int, np.ndarray] = {}


def _prefix_mask(width: int) -> np.ndarray:
    """Row L (0 <= L <= width): L True then False, as one V<width> item per row."""
    table = _PREFIX_MASKS.get(width)
    if table is None:
        table = np.arange(width)[None, :] < np.arange(width + 1)[:, None]
        table = table.view(np.uint8).view(f"V{width}").reshape(-1)
        _PREFIX_MASKS[width] = table
    return table


def join(
    pieces: Sequence[Piece], n: int, workspace: Workspace | None = None, name: str = "rows"
) -> Rows:
    """The pieces side by side, row by row, in one padded matrix."""
    pieces = [p.padded() if isinstance(p, Ragged) else p for p in _merge_consts(pieces)]
    width = sum(_width(p) for p in pieces)
    padded_any = any(isinstance(p, Padded) and p.lengths is not None for p in pieces)

    def buffer(suffix: str, dtype: type) -> np.ndarray:
        if workspace is None:
            return np.empty((n, width), dtype=dtype)
        return workspace.get(f"{name}.{suffix}", (n, width), dtype)

    matrix = buffer("matrix", np.uint8)
    # Constants first, all at once: one template row copied to every row.
    template = np.zeros(width, dtype=np.uint8)
    col = 0
    for piece in pieces:
        if isinstance(piece, Const):
            template[col : col + len(piece.value)] = np.frombuffer(piece.value, dtype=np.uint8)
        col += _width(piece)
    matrix[...] = template
    mask = None
    if padded_any:
        mask = buffer("mask", np.bool_)
        mask.fill(True)
    col = 0
    for piece in pieces:
        w = _width(piece)
        if isinstance(piece, Padded) and w:
            put(matrix, col, piece.matrix)
            if piece.lengths is not None and mask is not None:
                columns(mask.view(np.uint8), col, w)[...] = _prefix_mask(w)[piece.lengths]
        col += w
    return Rows(matrix, mask, piece_lengths(pieces, n), workspace, name)


def join_ragged(pieces: Sequence[Piece], n: int) -> Ragged:
    """The concatenated pieces of every row, built in row chunks of bounded size."""
    parts = [
        join([slice_piece(p, start, stop) for p in pieces], stop - start).compress()
        for start, stop in chunk_rows(pieces, n)
    ]
    return parts[0] if len(parts) == 1 else concat(parts)


def concat(parts: Sequence[Ragged]) -> Ragged:
    data = np.concatenate([p.data for p in parts]) if parts else _EMPTY
    offsets = [np.zeros(1, dtype=np.int64)]
    base = 0
    for part in parts:
        offsets.append(part.offsets[1:] + base)
        base += int(part.offsets[-1])
    return Ragged(data, np.concatenate(offsets))


def varint(values: np.ndarray) -> Padded:
    """Protobuf base-128 varints of uint64 values (negative int64: pass .view(np.uint64))."""
    u = values.astype(np.uint64, copy=False)
    lengths = np.ones(len(u), dtype=np.int64)
    for k in range(1, 10):
        lengths += u >= np.uint64(1 << (7 * k))
    width = int(lengths.max()) if len(u) else 1
    matrix = np.empty((len(u), width), dtype=np.uint8)
    for k in range(width):
        byte = (u >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (lengths > k + 1).astype(np.uint64) << np.uint64(7)
        matrix[:, k] = byte | more
    return Padded(matrix, None if width == 1 or (lengths == width).all() else lengths)


def decimal(values: np.ndarray) -> Padded:
    """ASCII decimal digits of non-negative integers."""
    v = values.astype(np.int64, copy=False)
    lengths = np.ones(len(v), dtype=np.int64)
    k = 1
    while len(v) and (v >= 10**k).any():
        lengths += v >= 10**k
        k += 1
    width = int(lengths.max()) if len(v) else 1
    matrix = np.empty((len(v), width), dtype=np.uint8)
    for col in range(width):
        power = np.maximum(lengths - 1 - col, 0)
        matrix[:, col] = 48 + (v // 10**power) % 10
    return Padded(matrix, None if (lengths == width).all() else lengths)
