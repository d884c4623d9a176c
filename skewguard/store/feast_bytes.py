"""The bytes Feast's Redis online store writes, computed for a whole batch at once.

For one row of a feature view Feast 0.67 (`RedisOnlineStore.online_write_batch`) writes
a Redis hash:

- key: `serialize_entity_key(entity_key, entity_key_serialization_version)` followed by
  the project name in UTF-8;
- one field per feature, named by the 4-byte murmur3 hash of "<view>:<feature>", whose
  value is the serialized `feast.types.Value` protobuf (empty for a missing value: Feast
  turns None and NaN into an empty Value);
- the field "_ts:<view>": the serialized `google.protobuf.Timestamp` of the event time.

The functions here produce those bytes as `rowbytes` pieces for every row of an Arrow
batch. Scalar and list types whose Arrow type is the natural one (Float64 as float64,
Int64 as an integer type, String as string, Array(String) as a list of strings, ...) are
encoded with numpy, byte for byte what the protobuf library produces; any other type or
column goes through Feast's own `python_values_to_proto_values`, so the result is
Feast's whatever the type.

One difference, on purpose: Feast writes b"" in a Bytes column as an empty Value (like
None) when no other row of its write batch has a non-empty value, and as b"" otherwise,
so its result depends on where its batches start. Here b"" is always b"", which is what
Feast writes whenever the window holds any non-empty value of that feature.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import ValueType as ProtoValueType
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType

from skewguard.store.rowbytes import (
    Const,
    Padded,
    Piece,
    Ragged,
    join_ragged,
    piece_lengths,
    put,
    varint,
)

__all__ = [
    "entity_key_pieces",
    "event_micros",
    "seconds_and_nanos",
    "timestamp_parts",
    "timestamp_pieces",
    "value_pieces",
]

# Field tag bytes of the `val` oneof of feast.types.Value: (field number << 3) | wire type.
_DOUBLE_TAG = 0x29  # double_val = 5, fixed64
_FLOAT_TAG = 0x35  # float_val = 6, fixed32
_INT64_TAG = 0x20  # int64_val = 4, varint
_INT32_TAG = 0x18  # int32_val = 3, varint
_BOOL_TAG = 0x38  # bool_val = 7, varint
_STRING_TAG = 0x12  # string_val = 2, length-delimited
_BYTES_TAG = 0x0A  # bytes_val = 1, length-delimited
# google.protobuf.Timestamp: seconds = 1 (varint), nanos = 2 (varint).
_SECONDS_TAG = 0x08
_NANOS_TAG = 0x10

_INT64_SOURCES = (
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
)
_INT32_SOURCES = (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16())


def _tagged(tag: int | bytes, body: Padded, absent: np.ndarray | None) -> Padded:
    """tag byte(s) + body on each row; rows where `absent` is True are empty."""
    prefix = bytes([tag]) if isinstance(tag, int) else tag
    n, k = body.matrix.shape[0], len(prefix)
    matrix = np.empty((n, k + body.width), dtype=np.uint8)
    matrix[:, :k] = np.frombuffer(prefix, dtype=np.uint8)
    put(matrix, k, body.matrix)
    if absent is None or not absent.any():
        lengths = None if body.lengths is None else body.lengths + k
    else:
        lengths = np.where(absent, 0, body.row_lengths() + k)
    return Padded(matrix, lengths)


def _fixed(tag: int, values: np.ndarray, absent: np.ndarray) -> Padded:
    n = len(values)
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(n, values.dtype.itemsize)
    return _tagged(tag, Padded(raw), absent)


def _length_delimited(tag: int, column: pa.Array) -> list[Piece]:
    ragged = Ragged.from_arrow(column)
    absent = column.is_null().to_numpy(zero_copy_only=False)
    return [_tagged(tag, varint(ragged.lengths()), absent), ragged]


# Lists: the Value's field tag (2 bytes from field 16 on), the Arrow element types taken
# as natural, and how an element is encoded inside the list message (field 1).
_LIST_SPECS: dict[ValueType, tuple[bytes, tuple[pa.DataType, ...], str]] = {
    ValueType.BYTES_LIST: (b"\x5a", (pa.binary(), pa.large_binary()), "text"),
    ValueType.STRING_LIST: (b"\x62", (pa.string(), pa.large_string()), "text"),
    ValueType.INT32_LIST: (b"\x6a", _INT32_SOURCES, "varint"),
    ValueType.INT64_LIST: (b"\x72", _INT64_SOURCES, "varint"),
    ValueType.DOUBLE_LIST: (b"\x7a", (pa.float64(),), "double"),
    ValueType.FLOAT_LIST: (b"\x82\x01", (pa.float32(),), "float"),
    ValueType.BOOL_LIST: (b"\x8a\x01", (pa.bool_(),), "bool"),
}


def _list_elements(values: pa.Array, kind: str) -> list[Piece]:
    """Each element as the list message encodes it (a None string as "", as Feast does)."""
    n = len(values)
    if kind == "text":  # repeated string/bytes: one field per element
        ragged = Ragged.from_arrow(values)  # None -> "" as Feast's _sanitize_list_value
        return [Const(b"\x0a"), varint(ragged.lengths()), ragged]
    if kind == "varint":  # packed: the values only
        numbers = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return [varint(numbers.view(np.uint64))]
    if kind == "bool":
        flags = values.to_numpy(zero_copy_only=False).astype(np.uint8)
        return [Padded(flags.reshape(n, 1))]
    width = 8 if kind == "double" else 4
    numbers = values.to_numpy(zero_copy_only=False)
    return [Padded(np.ascontiguousarray(numbers).view(np.uint8).reshape(n, width))]


def _list_value(column: pa.Array, value_type: ValueType) -> list[Piece] | None:
    """The list Value of every row; None when not vectorised (Feast's path then)."""
    spec = _LIST_SPECS.get(value_type)
    arrow = column.type
    if spec is None or not (pa.types.is_list(arrow) or pa.types.is_large_list(arrow)):
        return None
    tag, element_types, kind = spec
    if arrow.value_type not in element_types:
        return None
    offsets = column.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    absent = column.is_null().to_numpy(zero_copy_only=False)
    if (np.diff(offsets)[absent] != 0).any():
        return None  # a null list over child values: legal Arrow, left to Feast
    first, last = int(offsets[0]), int(offsets[-1])
    elements = join_ragged(
        _list_elements(column.values.slice(first, last - first), kind), last - first
    )
    inner = Ragged(elements.data, elements.offsets[offsets - first])  # each row's elements
    if kind == "text":
        body: list[Piece] = [inner]
    else:  # packed: one length-delimited field 1, absent for an empty list
        body = [_tagged(0x0A, varint(inner.lengths()), inner.lengths() == 0), inner]
    total = piece_lengths(body, len(column))
    return [_tagged(tag, varint(total), absent), *body]


def _feast_values(column: pa.Array, value_type: ValueType) -> Ragged:
    """Feast's own conversion, one protobuf per row (any type)."""
    protos = python_values_to_proto_values(column.to_numpy(zero_copy_only=False), value_type)
    return Ragged.from_pylist(p.SerializeToString() for p in protos)


def value_pieces(column: pa.Array, value_type: ValueType) -> list[Piece]:
    """The serialized feast.types.Value of every row, as Feast writes it."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    arrow = column.type
    if value_type == ValueType.DOUBLE and pa.types.is_float64(arrow):
        values = column.to_numpy(zero_copy_only=False)  # nulls become NaN
        return [_fixed(_DOUBLE_TAG, values, np.isnan(values))]
    if value_type == ValueType.FLOAT and pa.types.is_float32(arrow):
        values = column.fill_null(np.float32("nan")).to_numpy(zero_copy_only=False)
        return [_fixed(_FLOAT_TAG, values, np.isnan(values))]
    if value_type in (ValueType.INT64, ValueType.INT32) and arrow in (
        _INT64_SOURCES if value_type == ValueType.INT64 else _INT32_SOURCES
    ):
        values = column.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        absent = column.is_null().to_numpy(zero_copy_only=False)
        tag = _INT64_TAG if value_type == ValueType.INT64 else _INT32_TAG
        # Negative values are sign-extended to 64 bits: ten varint bytes, as protobuf does.
        return [_tagged(tag, varint(values.view(np.uint64)), absent)]
    if value_type == ValueType.BOOL and pa.types.is_boolean(arrow):
        values = column.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8)
        absent = column.is_null().to_numpy(zero_copy_only=False)
        return [_fixed(_BOOL_TAG, values, absent)]
    if value_type == ValueType.STRING and (
        pa.types.is_string(arrow) or pa.types.is_large_string(arrow)
    ):
        return _length_delimited(_STRING_TAG, column)
    if value_type == ValueType.BYTES and (
        pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow)
    ):
        return _length_delimited(_BYTES_TAG, column)
    return _list_value(column, value_type) or [_feast_values(column, value_type)]


def event_micros(column: pa.Array) -> np.ndarray:
    """Event times as int64 microseconds since the epoch (UTC), as Feast reads them.

    Feast goes through Python datetimes: nanoseconds are dropped, and a time without a
    zone is taken as UTC (which is what Arrow stores for both).
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us"))
    if column.null_count:
        raise ValueError(f"{column.null_count} row(s) have no event timestamp")
    raw = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    unit = column.type.unit
    if unit == "s":
        return raw * 1_000_000
    if unit == "ms":
        return raw * 1_000
    if unit == "ns":
        return np.floor_divide(raw, 1_000)
    return raw.astype(np.int64, copy=False)


def timestamp_pieces(micros: np.ndarray) -> list[Piece]:
    """Serialized google.protobuf.Timestamp of each time (zero fields are omitted)."""
    seconds, nanos = seconds_and_nanos(micros)
    return [
        _tagged(_SECONDS_TAG, varint(seconds.view(np.uint64)), seconds == 0),
        _tagged(_NANOS_TAG, varint(nanos.view(np.uint64)), nanos == 0),
    ]


def _read_varints(
    matrix: np.ndarray, rows: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    width = matrix.shape[1]
    value = np.zeros(len(rows), dtype=np.uint64)
    size = np.zeros(len(rows), dtype=np.int64)
    done = np.zeros(len(rows), dtype=bool)
    for k in range(10):
        col = start + k
        byte = np.where(col < width, matrix[rows, np.minimum(col, width - 1)], 0)
        byte = byte.astype(np.uint64)
        take = ~done
        value |= np.where(take, (byte & np.uint64(0x7F)) << np.uint64(7 * k), np.uint64(0))
        size += take
        done |= (byte & np.uint64(0x80)) == 0
    return value, size


def timestamp_parts(values: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, nanos) of serialized Timestamps, int64 each ((0, 0) for None or empty)."""
    ragged = Ragged.from_arrow(pa.array(values, pa.binary()))
    n = len(ragged)
    lengths = ragged.lengths()
    seconds = np.zeros(n, dtype=np.uint64)
    nanos = np.zeros(n, dtype=np.uint64)
    if n == 0 or not lengths.any():
        return seconds.view(np.int64), nanos.view(np.int64)
    matrix = ragged.padded().matrix
    pos = np.zeros(n, dtype=np.int64)
    for _ in range(2):  # at most the two fields
        rows = np.flatnonzero(pos < lengths)
        if not len(rows):
            break
        tag = matrix[rows, pos[rows]]
        value, size = _read_varints(matrix, rows, pos[rows] + 1)
        seconds[rows] = np.where(tag == _SECONDS_TAG, value, seconds[rows])
        nanos[rows] = np.where(tag == _NANOS_TAG, value, nanos[rows])
        pos[rows] += 1 + size
    return seconds.view(np.int64), nanos.view(np.int64)


def seconds_and_nanos(micros: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch as a Timestamp's (seconds, nanos), nanos >= 0."""
    seconds = np.floor_divide(micros, 1_000_000)
    return seconds, (micros - seconds * 1_000_000) * 1_000


def _key_value_pieces(column: pa.Array, value_type: ValueType) -> list[Piece] | None:
    """type, length and bytes of one entity value per row; None: not vectorised."""
    arrow = column.type
    n = len(column)
    if value_type == ValueType.INT64 and arrow in _INT64_SOURCES:
        values = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
        header = struct.pack("<II", ProtoValueType.INT64, 8)
        return [Const(header), Padded(values.view(np.uint8).reshape(n, 8))]
    if value_type == ValueType.INT32 and arrow in _INT32_SOURCES:
        values = column.cast(pa.int32()).to_numpy(zero_copy_only=False)
        header = struct.pack("<II", ProtoValueType.INT32, 4)
        return [Const(header), Padded(values.view(np.uint8).reshape(n, 4))]
    code = {ValueType.STRING: ProtoValueType.STRING, ValueType.BYTES: ProtoValueType.BYTES}.get(
        value_type
    )
    is_text = pa.types.is_string(arrow) or pa.types.is_large_string(arrow)
    is_binary = pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow)
    if (value_type == ValueType.STRING and is_text) or (
        value_type == ValueType.BYTES and is_binary
    ):
        ragged = Ragged.from_arrow(column)
        sizes = ragged.lengths().astype("<u4").view(np.uint8).reshape(n, 4)
        return [Const(struct.pack("<I", code)), Padded(sizes), ragged]
    return None


def _feast_keys(
    batch: pa.RecordBatch, join_keys: Mapping[str, ValueType], version: int, project: bytes
) -> Ragged:
    protos = {
        name: python_values_to_proto_values(
            batch.column(name).to_numpy(zero_copy_only=False), value_type
        )
        for name, value_type in join_keys.items()
    }
    names = list(join_keys)
    return Ragged.from_pylist(
        serialize_entity_key(
            EntityKeyProto(join_keys=names, entity_values=[protos[k][i] for k in names]),
            entity_key_serialization_version=version,
        )
        + project
        for i in range(batch.num_rows)
    )


def entity_key_pieces(
    batch: pa.RecordBatch, join_keys: Mapping[str, ValueType], version: int, project: str
) -> list[Piece]:
    """Feast's Redis key of each row: the serialized entity key, then the project name."""
    for name in join_keys:
        missing = batch.column(name).null_count
        if missing:
            raise ValueError(f"{missing} row(s) have no value for the join key {name!r}")
    suffix = project.encode("utf-8")
    names = sorted(join_keys)  # Feast sorts the (join key, value) pairs by name
    values: list[Piece] = []
    for name in names:
        pieces = _key_value_pieces(batch.column(name), join_keys[name]) if version >= 2 else None
        if pieces is None:
            return [_feast_keys(batch, join_keys, version, suffix)]
        values.extend(pieces)
    prefix = struct.pack("<I", len(names)) if version > 2 else b""
    for name in names:
        encoded = name.encode("utf-8")
        prefix += struct.pack("<I", ProtoValueType.STRING)
        if version > 2:
            prefix += struct.pack("<I", len(encoded))
        prefix += encoded
    return [Const(prefix), *values, Const(suffix)]
