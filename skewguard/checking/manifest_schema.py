"""The types of a snapshot's `manifest.json`, checked before any field is used.

`validate_manifest` raises `InputError` naming the file and the field when a field has
the wrong type, and when `data_file` or `reference_profile` is anything but a plain file
name inside the snapshot folder (a manifest saying `"data_file": "/"` used to make the
check search the whole disk for parquet files).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skewguard.errors import InputError

__all__ = ["validate_manifest"]

_HINT = "rewrite the snapshot (skewguard snapshot)"


def validate_manifest(raw: Mapping[str, Any], where: str) -> None:
    """Raise `InputError` for the first field of `raw` whose type is wrong."""
    features = raw.get("features")
    if not isinstance(features, list):
        raise _bad("features", "a list of objects", features, where)
    for i, entry in enumerate(features):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise _bad(f"features[{i}]", "an object with a string 'name'", entry, where)
        for key in ("arrow_type", "feast_type"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise _bad(f"features[{i}].{key}", "a string", entry[key], where)
    for key in ("join_keys", "label_columns"):
        value = raw.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise _bad(key, "a list of column names", value, where)
    row_count = raw.get("row_count")
    if row_count is not None and (
        not isinstance(row_count, int) or isinstance(row_count, bool) or row_count < 0
    ):
        raise _bad("row_count", "a whole number >= 0", row_count, where)
    for key in ("content_hash", "feature_service"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _bad(key, "a string", raw[key], where)
    time_range = raw.get("time_range")
    if time_range is not None and not (
        isinstance(time_range, dict) and all(isinstance(v, str) for v in time_range.values())
    ):
        raise _bad("time_range", "an object of ISO times", time_range, where)
    for key in ("data_file", "reference_profile"):
        value = raw.get(key)
        if value is None and key == "reference_profile":
            continue
        if value is None:
            continue  # data_file defaults to data.parquet
        if not isinstance(value, str) or not _plain_name(value):
            raise _bad(key, "a file name inside the snapshot folder", value, where)


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _bad(field: str, what: str, value: Any, where: str) -> InputError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InputError(
        f"manifest field '{field}' must be {what}, not {shown}", where=where, hint=_HINT
    )
