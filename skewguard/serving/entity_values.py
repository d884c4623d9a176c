"""Entity ids of a `get-online-features` request checked against their join keys' types.

Feast converts every entity value to the join key's type without looking: `1.5` (and
`1.0`) for an Int64 key becomes customer 1, `true` becomes customer 1, and the answer is
served as if it had been asked. `check_entity_values` refuses, with 422 and the key, the
position and the value, what would be silently changed: a JSON number with a fraction
part or exponent (a float) or a boolean for an integer join key, and a boolean for a
string key. Everything else (including values Feast itself rejects, such as a string for
an integer key) is left to Feast, so those requests are answered as `feast serve` answers
them. Only the server imports this module, so it imports Feast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from feast.errors import FeastError

__all__ = ["InvalidEntityValue", "JoinKeyTypes", "check_entity_values"]

# Join key types are read from the registry at most this often (Feast's own cache).
_CACHE_SECONDS = 5.0
_MAX_SHOWN = 40  # characters of a refused value repeated in the message


class InvalidEntityValue(FeastError):
    """An entity value that Feast would silently convert; answered with 422."""

    def http_status_code(self) -> int:
        return 422


class JoinKeyTypes:
    """Join key name -> `integer` or `string` for the views a request reads (cached)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._cache: dict[Any, tuple[float, dict[str, str]]] = {}

    def of(self, features: Any) -> dict[str, str]:
        from feast import FeatureService

        key: Any = (
            ("service", features.name)
            if isinstance(features, FeatureService)
            else ("refs", tuple(features))
        )
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < _CACHE_SECONDS:
                return cached[1]
        kinds = self._read(features)
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[key] = (now, kinds)
        return kinds

    def _read(self, features: Any) -> dict[str, str]:
        from feast import utils
        from feast.types import PrimitiveFeastType

        try:
            views, _ = utils._get_feature_views_to_use(
                self.store.registry,
                self.store.project,
                features,
                allow_cache=True,
                hide_dummy_entity=False,
            )
        except Exception:
            return {}  # an unknown view or service: Feast's own lookup says so
        integers = {PrimitiveFeastType.INT32, PrimitiveFeastType.INT64}
        kinds: dict[str, str] = {}
        for view in views:
            for column in getattr(view, "entity_columns", ()):
                dtype = column.dtype
                if dtype in integers:
                    kinds[column.name] = "integer"
                elif dtype == PrimitiveFeastType.STRING:
                    kinds[column.name] = "string"
        return kinds


def check_entity_values(entities: Mapping[str, Any], kinds: Mapping[str, str]) -> None:
    """Raise `InvalidEntityValue` for the first value Feast would silently convert."""
    for name, kind in kinds.items():
        values = entities.get(name)
        if not isinstance(values, Sequence) or isinstance(values, str | bytes):
            continue  # not a list: Feast's own validation answers
        for position, value in enumerate(values):
            problem = _problem(value, kind)
            if problem is not None:
                shown = repr(value)[:_MAX_SHOWN]
                raise InvalidEntityValue(
                    f"entity {name!r}[{position}] = {shown} is {problem}; the join key "
                    f"{name!r} is {'an integer' if kind == 'integer' else 'a string'} and "
                    "the value would be served as another entity. Send "
                    f"{'whole numbers without a decimal point' if kind == 'integer' else 'strings'}"
                )


def _problem(value: Any, kind: str) -> str | None:
    if isinstance(value, bool):
        return "a boolean"
    if kind == "integer" and isinstance(value, float):
        return "a number with a fraction part" if not value.is_integer() else "a float"
    return None
