"""The watcher's state file: which windows are done, and the last trigger per verdict.

```json
{"schema_version": 1,
 "windows": {"2026-11-19": {"verdict": "retrain", "report": "...", ...}},
 "last_trigger": {"retrain": {"window": "2026-11-19", "window_end": "2026-11-20T00:00:00+00:00",
                              "snapshot_id": "sha256:...", "event_id": "..."}}}
```

`read_state` checks the shape before the watcher uses it: a file that is not UTF-8, not
JSON, not an object, or whose parts have the wrong types is an `InputError` naming the file
and the part, with the fix (restore it, or delete it to check every window again). The
file is rewritten atomically after every window (`write_state`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from skewguard.errors import InputError

__all__ = ["STATE_VERSION", "empty_state", "read_state", "write_state"]

STATE_VERSION = 1
_HINT = "restore it, or delete it to check every window again"


def empty_state() -> dict[str, Any]:
    return {"schema_version": STATE_VERSION, "windows": {}, "last_trigger": {}}


def read_state(path: Path) -> dict[str, Any]:
    """The watcher's state; an empty one when the file does not exist yet."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return empty_state()
    except UnicodeDecodeError:
        raise _bad(path, "the watch state file is not UTF-8 text") from None
    except OSError as err:
        raise InputError(
            f"cannot read the watch state file: {err.strerror or err}",
            where=str(path),
            hint="check the file's permissions",
        ) from err
    try:
        state = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _bad(path, f"the watch state file is not valid JSON: {err}") from err
    if not isinstance(state, dict):
        raise _bad(path, f"the watch state file holds a {_kind(state)}, not an object")
    version = state.get("schema_version")
    if isinstance(version, bool) or version != STATE_VERSION:
        raise InputError(
            f"unsupported watch state version {str(version)[:20]!r}",
            where=str(path),
            hint="delete it to check every window again",
        )
    windows = state.get("windows", {})
    if not isinstance(windows, dict) or not all(isinstance(v, dict) for v in windows.values()):
        raise _bad(path, "'windows' must map each window id to an object")
    triggers = state.get("last_trigger", {})
    if not isinstance(triggers, dict):
        raise _bad(path, "'last_trigger' must map each verdict to an object")
    for verdict, trigger in triggers.items():
        _check_trigger(path, verdict, trigger)
    return {**state, "windows": windows, "last_trigger": triggers}


def _check_trigger(path: Path, verdict: str, trigger: Any) -> None:
    where = f"'last_trigger.{verdict}'"
    if not isinstance(trigger, Mapping):
        raise _bad(path, f"{where} must be an object")
    for key in ("window", "window_end", "event_id"):
        if not isinstance(trigger.get(key), str):
            raise _bad(path, f"{where}.{key} must be text")
    try:
        end = datetime.fromisoformat(trigger["window_end"])
    except ValueError:
        raise _bad(path, f"{where}.window_end is not an ISO time") from None
    if end.tzinfo is None:
        raise _bad(path, f"{where}.window_end has no time zone")


def write_state(path: Path, state: dict[str, Any]) -> None:
    from skewguard.loop.model import write_json_atomic

    write_json_atomic(path, state)


def _bad(path: Path, what: str) -> InputError:
    return InputError(what, where=str(path), hint=_HINT)


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", type(None): "null"}.get(
        type(value), type(value).__name__
    )
