"""The answer of the fast read path, indistinguishable from Feast's `OnlineResponse`.

`FastResponse` holds, per response column in Feast's order, the Python values Feast's
`OnlineResponse.to_dict()` gives and what Feast's response proto holds (serialized
`feast.types.Value` bytes, statuses, serialized event timestamps). `to_dict()` returns
fresh lists each call, as Feast's does; `proto` is the `GetOnlineFeaturesResponse`
message, built on first use from `serialized()`, which writes the message's wire format
directly from the bytes Redis returned (no protobuf object per value on the request
path). A serving log takes `serialized()` as it is.

Feast 0.67's Redis store reports every value of a feature view as PRESENT, a missing
entity included (null value, event time 0), and ignores the view's TTL when reading; the
statuses here are the same. On-demand outputs, join keys and request data are PRESENT
with an empty timestamp, as Feast writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["Column", "FastResponse", "Unsupported", "feast_event_time", "PRESENT"]

PRESENT = 1  # feast.serving.FieldStatus.PRESENT


class Unsupported(Exception):
    """The fast path cannot answer this as Feast would; Feast's own path will."""


@lru_cache(maxsize=65536)
def feast_event_time(stored: bytes | None) -> bytes:
    """The serialized event timestamp Feast answers for a stored `_ts:<view>` value.

    Feast parses the stored Timestamp, turns it into float seconds and a UTC datetime
    (`_get_features_for_entity`), then back into a Timestamp
    (`_populate_response_from_feature_data`): microseconds, rounded through a float.
    Nothing stored gives time 0 (an empty Timestamp)."""
    parsed = Timestamp()
    if stored:
        parsed.ParseFromString(stored)
    moment = datetime.fromtimestamp(parsed.seconds + parsed.nanos / 1_000_000_000.0, tz=UTC)
    answer = Timestamp()
    answer.FromDatetime(moment)
    return answer.SerializeToString()


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (tag byte = field number << 3 | 2)."""
    return bytes((tag,)) + _varint(len(payload)) + payload


_EMPTY_VALUES: dict[int, bytes] = {}


class Column:
    """One response column: its name, Python values, and its proto content per row.

    `encoded` is the serialized Value per row, or a callable giving them on demand (join
    keys and on-demand outputs, encoded by Feast's own conversion only when a proto is
    asked for); `times` the serialized event Timestamp per row, None when all are empty.
    """

    __slots__ = ("name", "values", "encoded", "times")

    def __init__(
        self,
        name: str,
        values: list[Any],
        encoded: Sequence[bytes] | Any,
        times: Sequence[bytes] | None = None,
    ) -> None:
        self.name = name
        self.values = values
        self.encoded = encoded
        self.times = times

    def wire(self) -> bytes:
        """The column as a serialized `GetOnlineFeaturesResponse.FeatureVector`."""
        encoded = self.encoded() if callable(self.encoded) else self.encoded
        n = len(self.values)
        values = b"".join([_field(0x0A, v) for v in encoded])
        statuses = _field(0x12, bytes((PRESENT,)) * n) if n else b""
        if self.times is None:
            times = _EMPTY_VALUES.get(n)
            if times is None:
                times = b"\x1a\x00" * n
                _EMPTY_VALUES[n] = times
        else:
            times = b"".join([_field(0x1A, t) for t in self.times])
        return values + statuses + times


class FastResponse:
    """Feast's `OnlineResponse` for a lookup the fast read path answered."""

    __slots__ = ("_columns", "_rows", "_serialized", "_proto")

    def __init__(self, columns: list[Column], rows: int) -> None:
        self._columns = columns
        self._rows = rows
        self._serialized: bytes | None = None
        self._proto: Any = None

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def columns(self) -> list[Column]:
        return self._columns

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, Any]:
        """What `OnlineResponse.to_dict` returns (new lists on every call)."""
        if include_event_timestamps:
            return self._proto_response().to_dict(include_event_timestamps=True)
        return {c.name: list(c.values) for c in self._columns}

    def to_df(self, include_event_timestamps: bool = False) -> Any:
        import pandas as pd

        return pd.DataFrame(self.to_dict(include_event_timestamps))

    def to_arrow(self, include_event_timestamps: bool = False) -> Any:
        return self._proto_response().to_arrow(include_event_timestamps)

    def serialized(self) -> bytes:
        """The response as a serialized `GetOnlineFeaturesResponse` (the proto's, once it
        was asked for: a caller may have changed it, e.g. corrected its statuses)."""
        if self._proto is not None:
            return self._proto.SerializeToString()
        if self._serialized is None:
            names = b"".join([_field(0x0A, c.name.encode("utf-8")) for c in self._columns])
            metadata = _field(0x0A, _field(0x0A, names))
            results = b"".join([_field(0x12, c.wire()) for c in self._columns])
            self._serialized = metadata + results
        return self._serialized

    @property
    def proto(self) -> Any:
        """The `GetOnlineFeaturesResponse` message (parsed from `serialized()` once)."""
        if self._proto is None:
            from feast.protos.feast.serving.ServingService_pb2 import (
                GetOnlineFeaturesResponse,
            )

            self._proto = GetOnlineFeaturesResponse.FromString(self.serialized())
        return self._proto

    def _proto_response(self) -> Any:
        from feast.online_response import OnlineResponse

        copy = type(self.proto)()
        copy.CopyFrom(self.proto)
        return OnlineResponse(copy)
