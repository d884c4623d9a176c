"""The vectorised encodings are byte for byte what Feast's own conversions produce."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast.infra.online_stores.helpers import _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.type_map import python_values_to_proto_values
from feast.utils import _coerce_datetime, make_tzaware
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard.store.feast_bytes import (
    entity_key_pieces,
    event_micros,
    timestamp_parts,
    timestamp_pieces,
    value_pieces,
)
from skewguard.store.rowbytes import join_ragged

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def feast_values(column: pa.Array, value_type: ValueType) -> list[bytes]:
    """What Feast's Redis store writes for a column (utils._columns_to_proto_values)."""
    values = column.to_numpy(zero_copy_only=False)
    return [p.SerializeToString() for p in python_values_to_proto_values(values, value_type)]


def ours(column: pa.Array, value_type: ValueType) -> list[bytes]:
    return join_ragged(value_pieces(column, value_type), len(column)).to_pylist()


doubles = st.floats(allow_nan=True, allow_infinity=True)
float32s = st.floats(width=32, allow_nan=True, allow_infinity=True)
int64s = st.integers(min_value=-(2**53), max_value=2**53)  # exact through Feast's float64 path
int32s = st.integers(min_value=-(2**31), max_value=2**31 - 1)
texts = st.text(max_size=30)


def column_of(values: st.SearchStrategy, arrow: pa.DataType) -> st.SearchStrategy[pa.Array]:
    return st.lists(st.none() | values, min_size=1, max_size=40).map(
        lambda v: pa.array(v, type=arrow)
    )


CASES = {
    "Float64": (column_of(doubles, pa.float64()), ValueType.DOUBLE),
    "Float32": (column_of(float32s, pa.float32()), ValueType.FLOAT),
    "Int64": (column_of(int64s, pa.int64()), ValueType.INT64),
    "Int64 from int32": (column_of(int32s, pa.int32()), ValueType.INT64),
    "Int32": (column_of(int32s, pa.int32()), ValueType.INT32),
    "Bool": (column_of(st.booleans(), pa.bool_()), ValueType.BOOL),
    "String": (column_of(texts, pa.string()), ValueType.STRING),
    "String (large)": (column_of(texts, pa.large_string()), ValueType.STRING),
    "Bytes": (column_of(st.binary(max_size=30), pa.binary()), ValueType.BYTES),
    "Array(String)": (
        column_of(st.lists(st.none() | texts, max_size=4), pa.list_(pa.string())),
        ValueType.STRING_LIST,
    ),
    "Array(String) (large)": (
        column_of(st.lists(texts, max_size=4), pa.large_list(pa.string())),
        ValueType.STRING_LIST,
    ),
    "Array(Bytes)": (
        column_of(st.lists(st.binary(max_size=6), max_size=4), pa.list_(pa.binary())),
        ValueType.BYTES_LIST,
    ),
    "Array(Float64)": (
        column_of(st.lists(doubles, max_size=4), pa.list_(pa.float64())),
        ValueType.DOUBLE_LIST,
    ),
    "Array(Float32)": (
        column_of(st.lists(float32s, max_size=4), pa.list_(pa.float32())),
        ValueType.FLOAT_LIST,
    ),
    "Array(Int64)": (
        column_of(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=4), pa.list_(pa.int64())),
        ValueType.INT64_LIST,
    ),
    "Array(Int32)": (
        column_of(st.lists(int32s, max_size=4), pa.list_(pa.int32())),
        ValueType.INT32_LIST,
    ),
    "Array(Bool)": (
        column_of(st.lists(st.booleans(), max_size=4), pa.list_(pa.bool_())),
        ValueType.BOOL_LIST,
    ),
    # Not vectorised: Feast's own conversion, the same bytes by construction.
    "Array(Float64) with missing elements": (
        column_of(st.lists(st.none() | doubles, max_size=4), pa.list_(pa.float64())),
        ValueType.DOUBLE_LIST,
    ),
    "Float64 from int64": (column_of(int64s, pa.int64()), ValueType.DOUBLE),
}


@pytest.mark.parametrize("case", list(CASES))
def test_values_are_feasts(case: str) -> None:
    strategy, value_type = CASES[case]

    @PROPERTY
    @given(strategy)
    def check(column: pa.Array) -> None:
        if value_type == ValueType.BYTES and not any(column.to_pylist()):
            return  # Feast's batch-dependent quirk, see the next test
        assert ours(column, value_type) == feast_values(column, value_type)

    check()


def test_empty_bytes_are_always_a_value() -> None:
    # Feast stores b"" as a value only when its write batch also holds a non-empty one
    # (its type check skips empty values); skewguard always does, whatever the batch.
    assert feast_values(pa.array([b"", None]), ValueType.BYTES) == [b"", b""]
    assert ours(pa.array([b"", None]), ValueType.BYTES) == [b"\n\x00", b""]
    assert ours(pa.array([b"", b"x"]), ValueType.BYTES) == [b"\n\x00", b"\n\x01x"]
    assert feast_values(pa.array([b"", b"x"]), ValueType.BYTES) == [b"\n\x00", b"\n\x01x"]


def test_missing_values_are_empty_protobufs() -> None:
    # Feast stores None and NaN alike as an empty Value (pd.isnull); inf is a value.
    column = pa.array([None, math.nan, math.inf, 0.0])
    assert ours(column, ValueType.DOUBLE)[:2] == [b"", b""]
    assert ours(column, ValueType.DOUBLE) == feast_values(column, ValueType.DOUBLE)


@PROPERTY
@given(
    st.lists(st.integers(-62135596800 * 10**6, 253402300799 * 10**6), max_size=40)
)  # years 1-9999
def test_timestamps_are_protobufs_and_decode_back(micros: list[int]) -> None:
    encoded = join_ragged(timestamp_pieces(np.array(micros, dtype=np.int64)), len(micros))
    expected = []
    for value in micros:
        stamp = Timestamp()
        stamp.FromMicroseconds(value)
        expected.append(stamp.SerializeToString())
    assert encoded.to_pylist() == expected
    seconds, nanos = timestamp_parts(expected)
    assert (seconds * 1_000_000 + nanos // 1000).tolist() == micros


def test_missing_stored_times_decode_as_zero() -> None:
    seconds, nanos = timestamp_parts([None, b"", Timestamp(seconds=5, nanos=7).SerializeToString()])
    assert seconds.tolist() == [0, 0, 5]
    assert nanos.tolist() == [0, 0, 7]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Paris"])
def test_event_times_are_read_as_feast_reads_them(unit: str, tz: str | None) -> None:
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    raw = [1_774_747_815 * 10**digits + (123_456_789 // 10 ** (9 - digits)), -1, 0]
    column = pa.array(raw, pa.int64()).cast(pa.timestamp(unit, tz=tz))
    # Feast (utils._convert_arrow_fv_to_proto, then online_write_batch): pandas to
    # datetime, make_tzaware (naive means UTC), Timestamp.FromDatetime.
    expected = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it drops nanoseconds
        for value in pd.to_datetime(column.to_numpy(zero_copy_only=False)):
            stamp = Timestamp()
            stamp.FromDatetime(make_tzaware(_coerce_datetime(value)))
            expected.append(stamp.seconds * 1_000_000 + stamp.nanos // 1000)
    assert event_micros(column).tolist() == expected


def feast_keys(batch: pa.RecordBatch, join_keys: dict[str, ValueType], version: int) -> list:
    protos = {
        name: python_values_to_proto_values(batch.column(name).to_numpy(zero_copy_only=False), vt)
        for name, vt in join_keys.items()
    }
    return [
        _redis_key(
            "a_project",
            EntityKey(join_keys=list(join_keys), entity_values=[protos[k][i] for k in join_keys]),
            entity_key_serialization_version=version,
        )
        for i in range(batch.num_rows)
    ]


KEY_CASES = {
    "int64": ({"customer_id": ValueType.INT64}, {"customer_id": pa.array([1, 123, -5, 2**40])}),
    "int32": ({"shop": ValueType.INT32}, {"shop": pa.array([7, -1, 0, 99], pa.int32())}),
    "string": ({"sku": ValueType.STRING}, {"sku": pa.array(["a", "", "é{x}", "long" * 20])}),
    "bytes": ({"raw": ValueType.BYTES}, {"raw": pa.array([b"\x00", b"", b"{}", b"z"])}),
    "composite": (
        {"product_id": ValueType.INT64, "customer_id": ValueType.INT64, "sku": ValueType.STRING},
        {
            "product_id": pa.array([1, 2, 3, 4]),
            "customer_id": pa.array([9, 8, 7, 6]),
            "sku": pa.array(["a", "b", "c", "d"]),
        },
    ),
    "int64 key in int32 column": (
        {"customer_id": ValueType.INT64},
        {"customer_id": pa.array([1, 2, 3, 4], pa.int32())},
    ),
}


@pytest.mark.filterwarnings("ignore:Serialization of entity key with version < 3")
@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("case", list(KEY_CASES))
def test_redis_keys_are_feasts(case: str, version: int) -> None:
    join_keys, columns = KEY_CASES[case]
    batch = pa.record_batch(columns)
    got = join_ragged(
        entity_key_pieces(batch, join_keys, version, "a_project"), batch.num_rows
    ).to_pylist()
    assert got == feast_keys(batch, join_keys, version)


def test_a_missing_join_key_is_an_error() -> None:
    batch = pa.record_batch({"customer_id": pa.array([1, None])})
    with pytest.raises(ValueError, match="join key 'customer_id'"):
        entity_key_pieces(batch, {"customer_id": ValueType.INT64}, 3, "p")


def test_lists_sliced_or_null_over_values_are_feasts() -> None:
    sliced = pa.array([["skip"], ["a", "b"], [], None, ["c"]], pa.list_(pa.string())).slice(1, 4)
    assert ours(sliced, ValueType.STRING_LIST) == feast_values(sliced, ValueType.STRING_LIST)
    # A null list whose offsets still cover child values (legal Arrow).
    covered = pa.ListArray.from_arrays(
        pa.array([0, 2, 3], pa.int32()), pa.array([1, 2, 3]), mask=pa.array([False, True])
    )
    assert covered.to_pylist() == [[1, 2], None]
    assert ours(covered, ValueType.INT64_LIST) == feast_values(covered, ValueType.INT64_LIST)


def test_large_int64_values_stay_exact_beside_missing_ones() -> None:
    # Feast reads an Int64 column with a missing value as float64 and rounds beyond 2^53.
    from feast.protos.feast.types.Value_pb2 import Value

    column = pa.array([2**53 + 1, None])
    assert Value.FromString(ours(column, ValueType.INT64)[0]).int64_val == 2**53 + 1
    assert Value.FromString(feast_values(column, ValueType.INT64)[0]).int64_val == 2**53
