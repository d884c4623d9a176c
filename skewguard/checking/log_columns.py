"""Serving logs checked against Feast's logging schema before they are counted.

A log that lacks `__log_timestamp`, `__log_date` or `__request_id`, or whose
`<feature>__status` column holds strings, used to be counted as if it were fine: a
string status column hid 100% NOT_FOUND. `validate_log_columns` reads every file's own
schema (its footer) and raises `InputError` naming the file and the column when:

- `__log_timestamp` is missing or not a timestamp;
- `__request_id` is missing or not a string;
- `__log_date` is neither a date column of the file nor a hive partition of its folder
  (`.../__log_date=2026-11-01/part-0.parquet`, as Feast's file logging writes it);
- a `<feature>__status` column is not an integer (Feast's `FieldStatus`), or a
  `<feature>__timestamp` column is not a timestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from skewguard.errors import InputError
from skewguard.logschema import (
    LOG_DATE,
    LOG_TIMESTAMP,
    REQUEST_ID,
    feature_columns,
    status_column,
    timestamp_column,
)


class _Files(Protocol):
    """The part of `reading.ParquetSource` used here (reading imports this module)."""

    @property
    def files(self) -> Sequence[Path]: ...

    def open(self, file: Path) -> Any: ...


__all__ = ["validate_log_columns"]

_HINT = (
    "serving logs must use Feast's feature-logging schema (docs/logging.md): "
    "__log_timestamp (timestamp, UTC), __log_date (date), __request_id (string), "
    "<feature>__status (int32)"
)


def validate_log_columns(source: _Files) -> None:
    """Raise `InputError` naming the file and column of the first schema violation."""
    for file in source.files:
        try:
            schema = pq.read_schema(source.open(file))
        except (OSError, pa.ArrowException) as err:
            raise InputError(
                f"cannot read parquet file: {err}", where=str(file), hint="rewrite or remove it"
            ) from err
        _validate_file(schema, str(file))


def _validate_file(schema: pa.Schema, where: str) -> None:
    names = set(schema.names)
    _require(schema, LOG_TIMESTAMP, pa.types.is_timestamp, "a timestamp", where)
    _require(schema, REQUEST_ID, _is_string, "a string", where)
    if LOG_DATE in names:
        _require(schema, LOG_DATE, _is_date, "a date", where)
    elif not _partitioned_by_date(where):
        raise _bad(f"serving log has no {LOG_DATE!r} column or partition", where)
    for feature in feature_columns(schema.names):
        status = status_column(feature)
        if status in names:
            _require(schema, status, _is_integer, "an integer (Feast's FieldStatus)", where)
        stamp = timestamp_column(feature)
        if stamp in names:
            _require(schema, stamp, pa.types.is_timestamp, "a timestamp", where)


def _require(
    schema: pa.Schema, column: str, ok: Callable[[pa.DataType], bool], what: str, where: str
) -> None:
    index = schema.get_field_index(column)
    if index < 0:
        raise _bad(f"serving log has no {column!r} column", where)
    arrow_type = schema.field(index).type
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if not ok(arrow_type):
        raise _bad(f"column {column!r} is {arrow_type}, not {what}", where)


def _bad(what: str, where: str) -> InputError:
    return InputError(what, where=where, hint=_HINT)


def _is_string(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def _is_date(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_date(arrow_type) or _is_string(arrow_type))


def _is_integer(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_integer(arrow_type))


def _partitioned_by_date(where: str) -> bool:
    return any(part.startswith(f"{LOG_DATE}=") for part in PurePosixPath(where).parts[:-1])
