"""Column names of Feast's feature-logging schema, shared by logging, checks and replay.

A serving log row holds the join keys, then per feature `<view>__<feature>` (the value),
`<view>__<feature>__timestamp` (event time of the served value) and
`<view>__<feature>__status` (int32, Feast `FieldStatus`), then `__log_timestamp`
(timestamp UTC), `__log_date` (date32) and `__request_id` (string). Training snapshots
use the same `<view>__<feature>` names (`full_feature_names=True`).

This module is import-light on purpose: no Feast, no pandas.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = [
    "LOG_TIMESTAMP",
    "LOG_DATE",
    "REQUEST_ID",
    "EVENT_TIMESTAMP",
    "TIMESTAMP_SUFFIX",
    "STATUS_SUFFIX",
    "FieldStatus",
    "feature_column",
    "split_feature_column",
    "timestamp_column",
    "status_column",
    "is_feature_column",
    "feature_columns",
]

LOG_TIMESTAMP = "__log_timestamp"
LOG_DATE = "__log_date"
REQUEST_ID = "__request_id"
EVENT_TIMESTAMP = "event_timestamp"
TIMESTAMP_SUFFIX = "__timestamp"
STATUS_SUFFIX = "__status"

_SEPARATOR = "__"


class FieldStatus(enum.IntEnum):
    """Mirror of Feast's `FieldStatus` protobuf enum (same integer values)."""

    INVALID = 0
    PRESENT = 1
    NULL_VALUE = 2
    NOT_FOUND = 3
    OUTSIDE_MAX_AGE = 4


def feature_column(view: str, feature: str) -> str:
    return f"{view}{_SEPARATOR}{feature}"


def split_feature_column(column: str) -> tuple[str, str]:
    """`"product_stats__price"` -> `("product_stats", "price")`."""
    view, sep, feature = column.partition(_SEPARATOR)
    if not sep or not view or not feature:
        raise ValueError(f"{column!r} is not a '<view>__<feature>' column name")
    return view, feature


def timestamp_column(feature_col: str) -> str:
    return feature_col + TIMESTAMP_SUFFIX


def status_column(feature_col: str) -> str:
    return feature_col + STATUS_SUFFIX


def is_feature_column(column: str) -> bool:
    """True for `<view>__<feature>`; false for keys, log metadata, timestamps and statuses."""
    if column.startswith(_SEPARATOR) or _SEPARATOR not in column:
        return False
    return not (column.endswith(TIMESTAMP_SUFFIX) or column.endswith(STATUS_SUFFIX))


def feature_columns(columns: Iterable[str]) -> list[str]:
    """The feature value columns among `columns`, in their given order."""
    return [c for c in columns if is_feature_column(c)]
