"""Duplicate rows in serving logs: counted, reported, and left out of the statistics.

A log row is identified by its request id and its entity: (`__request_id`, join keys and
any other non-feature column). Each row after the first with the same identity is
dropped before counting, so logs copied three times cannot clear `min_rows` or triple
a rate. Dropped rows are told apart:

- `duplicate_rows`: an exact copy of the first row (the same file read twice, a retried
  upload);
- `duplicate_request_ids`: the same request id and entity with other values (a caller
  reusing a request id; two writers colliding).

The first pass streams only the identity columns and turns each row into a 64-bit key
(numbers by their bits, strings by a hash of their bytes, lists and structs by a hash of
their values; mixed column by column); only the keys are kept, and the first row of
each key. When nothing
repeats (the usual case) that is all it costs. Otherwise a second pass keys whole rows
to tell the two apart. Two different rows share a key with a chance of about n²/2⁶⁵
(a false match needs billions of rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from skewguard.checking.values import as_numpy, value_buffer
from skewguard.logschema import (
    LOG_DATE,
    LOG_TIMESTAMP,
    REQUEST_ID,
    feature_columns,
    status_column,
    timestamp_column,
)

if TYPE_CHECKING:
    from skewguard.checking.reading import ParquetSource

__all__ = ["Duplicates", "find_duplicates", "identity_columns"]

_MIX = np.uint64(0x9E3779B97F4A7C15)  # combines column hashes into a row hash


@dataclass(frozen=True)
class Duplicates:
    rows_read: int
    duplicate_rows: int
    duplicate_request_ids: int
    keep: np.ndarray | None  # one bool per row in reading order; None: keep every row

    @property
    def dropped(self) -> int:
        return self.duplicate_rows + self.duplicate_request_ids

    def to_dict(self) -> dict[str, int]:
        return {
            "duplicate_rows": self.duplicate_rows,
            "duplicate_request_ids": self.duplicate_request_ids,
            "dropped": self.dropped,
        }


def identity_columns(names: Sequence[str]) -> list[str]:
    """`__request_id` and every column that is neither a feature, its timestamp or
    status, nor a log time: the join keys and request data."""
    features = feature_columns(names)
    derived = {c for f in features for c in (f, timestamp_column(f), status_column(f))}
    meta = {LOG_TIMESTAMP, LOG_DATE, REQUEST_ID}
    keys = [n for n in names if n not in derived and n not in meta]
    return [REQUEST_ID, *keys] if REQUEST_ID in names else []


def find_duplicates(source: ParquetSource) -> Duplicates:
    """Count the rows of `source` that repeat an earlier row's identity."""
    columns = identity_columns(source.schema.names)
    if not columns:
        return Duplicates(source.rows, 0, 0, None)
    keys = _row_keys(source, columns)
    # The read buffers stay cached in Arrow's allocator otherwise, held by this process
    # for the rest of the check while the profiling workers read the data again.
    pa.default_memory_pool().release_unused()
    rows = keys.size
    ordered = np.sort(keys)  # an unstable sort: the usual answer, "none", costs only this
    if not np.any(ordered[1:] == ordered[:-1]):
        return Duplicates(rows, 0, 0, None)
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(rows, dtype=bool)
    keep[first] = True
    everything = [n for n in source.schema.names if n != LOG_DATE]
    copies = rows - np.unique(_row_keys(source, everything)).size  # equal to an earlier row
    return Duplicates(rows, copies, rows - first.size - copies, keep)


def _row_keys(source: ParquetSource, columns: list[str]) -> np.ndarray:
    """One 64-bit key per row over `columns`, in reading order. Batch by batch: only the
    keys are kept, never the columns (request ids of 10M rows would otherwise take a
    gigabyte and more)."""
    from skewguard.checking.reading import iter_batches

    keys = np.zeros(source.rows, dtype=np.uint64)
    done = 0
    for batch in iter_batches(source, columns):
        batch_keys = np.zeros(batch.num_rows, dtype=np.uint64)
        for column in batch.columns:
            with np.errstate(over="ignore"):
                batch_keys = _mix(batch_keys * _MIX + _column_keys(column))
        if done + batch.num_rows > keys.size:  # the footers undercounted: grow
            keys = np.concatenate([keys, np.zeros(done + batch.num_rows - keys.size, np.uint64)])
        keys[done : done + batch.num_rows] = batch_keys
        done += batch.num_rows
    return keys[:done]


def _column_keys(column: pa.Array) -> np.ndarray:
    """One 64-bit key per value, from the value alone (so equal in every batch): equal
    values, equal keys; nulls apart from every value."""
    arrow_type = column.type
    if pa.types.is_dictionary(arrow_type):
        column = column.cast(arrow_type.value_type)
        arrow_type = column.type
    if pa.types.is_boolean(arrow_type):
        bits = value_buffer(column.cast(pa.uint8())).astype(np.uint64)
        return _with_nulls(bits, column)
    if (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_temporal(arrow_type)
    ) and arrow_type.bit_width == 64:
        numbers = column.cast(pa.int64()) if pa.types.is_temporal(arrow_type) else column
        raw = value_buffer(numbers)  # the values under nulls are replaced below
        if raw.dtype.kind == "f":
            raw = raw + 0.0  # -0.0 becomes 0.0: equal values, equal keys
        keys = raw.view(np.uint64).copy()
        return _with_nulls(keys, column)
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        wide = column.cast(pa.float64() if pa.types.is_floating(arrow_type) else pa.int64())
        return _column_keys(wide)
    if any(
        is_bytes(arrow_type)
        for is_bytes in (
            pa.types.is_string,
            pa.types.is_binary,
            pa.types.is_large_string,
            pa.types.is_large_binary,
        )
    ):
        return _with_nulls(_bytes_keys(column.cast(pa.large_binary())), column)
    return _row_hashes(pa.record_batch([column], names=["v"]))  # lists, structs, dates...


_BASE = np.uint64(0x100000001B3)  # odd: a polynomial hash of the bytes, modulo 2**64
_SLICE = 1 << 16  # rows hashed at a time: bounds the per-byte temporaries


def _bytes_keys(column: pa.Array) -> np.ndarray:
    """A polynomial hash of each value's bytes and its length, mixed (large_binary)."""
    out = np.empty(len(column), dtype=np.uint64)
    for at in range(0, len(column), _SLICE):
        part = column.slice(at, _SLICE)
        offsets = np.frombuffer(part.buffers()[1], dtype=np.int64)[
            part.offset : part.offset + len(part) + 1
        ]
        data = part.buffers()[2]
        starts, lengths = offsets[:-1], np.diff(offsets)
        first, last = int(offsets[0]), int(offsets[-1])
        raw = np.frombuffer(data, dtype=np.uint8)[first:last] if data is not None else None
        sums = np.zeros(len(part), dtype=np.uint64)
        if raw is not None and raw.size:
            position = np.arange(raw.size) - np.repeat(starts - first, lengths)
            with np.errstate(over="ignore"):
                powers = np.cumprod(np.full(int(lengths.max()), _BASE, dtype=np.uint64))
                terms = raw.astype(np.uint64) * powers[position]
            filled = lengths > 0
            sums[filled] = np.add.reduceat(terms, (starts - first)[filled])
        with np.errstate(over="ignore"):
            out[at : at + len(part)] = _mix(sums ^ (lengths.astype(np.uint64) * _MIX))
    return out


def _with_nulls(keys: np.ndarray, column: pa.Array) -> np.ndarray:
    if column.null_count:
        nulls = as_numpy(column.is_null().cast(pa.uint8())).astype(bool)
        keys[nulls] = np.uint64(0x6E756C6C6E756C6C)  # one key for every null
    return keys


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the key."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed: np.ndarray = x ^ (x >> np.uint64(31))
        return mixed


def _row_hashes(batch: pa.RecordBatch) -> np.ndarray:
    """One 64-bit hash per row over all columns of `batch` (nulls hashed apart)."""
    import pandas as pd

    combined = np.zeros(batch.num_rows, dtype=np.uint64)
    for i in range(batch.num_columns):
        column = batch.column(i)
        try:
            values: Any = column.to_pandas()
            hashed = pd.util.hash_pandas_object(values, index=False).to_numpy()
        except TypeError:  # lists, maps: hash their text
            values = pd.Series([repr(v) for v in column.to_pylist()])
            hashed = pd.util.hash_pandas_object(values, index=False).to_numpy()
        with np.errstate(over="ignore"):
            combined = combined * _MIX + hashed.astype(np.uint64)
    return combined
