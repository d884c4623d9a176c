"""Duplicate rows in serving logs: counted, reported, and left out of the statistics.

A log row is identified by its request id and its entity: (`__request_id`, join keys and
any other non-feature column). Each row after the first with the same identity is
dropped before counting, so logs copied three times cannot clear `min_rows` or triple
a rate. Dropped rows are told apart:

- `duplicate_rows`: an exact copy of the first row (the same file read twice, a retried
  upload);
- `duplicate_request_ids`: the same request id and entity with other values (a caller
  reusing a request id; two writers colliding).

The first pass reads only the identity columns; when nothing repeats (the usual case)
that is all it costs. Otherwise a second pass hashes whole rows to tell the two apart.
Identities are 64-bit hashes: a false match needs billions of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

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
    from skewguard.checking.reading import iter_batches

    columns = identity_columns(source.schema.names)
    if not columns:
        return Duplicates(source.rows, 0, 0, None)
    identity = np.concatenate(
        [_row_hashes(batch) for batch in iter_batches(source, columns)] or [_EMPTY]
    )
    _, first, inverse = np.unique(identity, return_index=True, return_inverse=True)
    dropped = identity.size - first.size
    if dropped == 0:
        return Duplicates(identity.size, 0, 0, None)
    keep = np.zeros(identity.size, dtype=bool)
    keep[first] = True
    everything = [n for n in source.schema.names if n != LOG_DATE]
    whole = np.concatenate([_row_hashes(batch) for batch in iter_batches(source, everything)])
    copies = int(np.count_nonzero(~keep & (whole == whole[first[inverse]])))
    return Duplicates(identity.size, copies, dropped - copies, keep)


_EMPTY = np.zeros(0, dtype=np.uint64)


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
