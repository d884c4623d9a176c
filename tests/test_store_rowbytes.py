"""Per-row byte strings built with numpy equal the same strings built in plain Python."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pyarrow as pa
from google.protobuf.internal.encoder import _VarintBytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard.store import rowbytes
from skewguard.store.rowbytes import (
    Const,
    Padded,
    Ragged,
    Workspace,
    chunk_rows,
    decimal,
    join,
    join_ragged,
    varint,
)

# Generous: the machine running the suite may be busy.
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

uint64s = st.integers(min_value=0, max_value=2**64 - 1)
byte_rows = st.lists(st.binary(max_size=40), min_size=1, max_size=30)


def padded_of(values: list[bytes]) -> Padded:
    return Ragged.from_pylist(values).padded()


@PROPERTY
@given(st.lists(uint64s, min_size=1, max_size=50))
def test_varint_is_protobufs(values: list[int]) -> None:
    encoded = join_ragged([varint(np.array(values, dtype=np.uint64))], len(values))
    assert encoded.to_pylist() == [_VarintBytes(v) for v in values]


@PROPERTY
@given(st.lists(st.integers(min_value=0, max_value=2**62), min_size=1, max_size=50))
def test_decimal_is_str(values: list[int]) -> None:
    encoded = join_ragged([decimal(np.array(values, dtype=np.int64))], len(values))
    assert encoded.to_pylist() == [str(v).encode() for v in values]


@st.composite
def pieces_and_rows(draw: st.DrawFn) -> tuple[list, list[bytes]]:
    n = draw(st.integers(min_value=1, max_value=25))
    pieces: list = []
    expected = [b""] * n
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["const", "padded", "fixed", "ragged"]))
        if kind == "const":
            value = draw(st.binary(max_size=8))
            pieces.append(Const(value))
            rows = [value] * n
        elif kind == "fixed":
            width = draw(st.integers(min_value=0, max_value=6))
            rows = draw(st.lists(st.binary(min_size=width, max_size=width), min_size=n, max_size=n))
            matrix = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(n, width)
            pieces.append(Padded(matrix.copy()))
        else:
            rows = draw(st.lists(st.binary(max_size=12), min_size=n, max_size=n))
            pieces.append(padded_of(rows) if kind == "padded" else Ragged.from_pylist(rows))
        expected = [a + b for a, b in zip(expected, rows, strict=True)]
    return pieces, expected


@PROPERTY
@given(pieces_and_rows())
def test_join_concatenates_row_by_row(case: tuple[list, list[bytes]]) -> None:
    pieces, expected = case
    assert join(pieces, len(expected)).compress().to_pylist() == expected
    assert join(pieces, len(expected), Workspace()).compress().to_pylist() == expected


@PROPERTY
@given(pieces_and_rows(), st.data())
def test_take_selects_rows(case: tuple[list, list[bytes]], data: st.DataObject) -> None:
    pieces, expected = case
    rows = data.draw(st.lists(st.integers(0, len(expected) - 1), max_size=len(expected)))
    joined = join(pieces, len(expected), Workspace())
    taken = joined.take(np.array(rows, dtype=np.int64)).compress().to_pylist()
    assert taken == [expected[i] for i in rows]
    assert Ragged.from_pylist(expected).take(np.array(rows, dtype=np.int64)).to_pylist() == [
        expected[i] for i in rows
    ]


@PROPERTY
@given(pieces_and_rows())
def test_chunked_join_equals_one_join(case: tuple[list, list[bytes]]) -> None:
    pieces, expected = case
    with mock.patch.object(rowbytes, "MAX_MATRIX_BYTES", 7):  # chunks of one or a few rows
        assert join_ragged(pieces, len(expected)).to_pylist() == expected


def test_chunks_cover_the_rows_once() -> None:
    pieces = [Ragged.from_pylist([b"x" * 1000, b"", b"y"] * 100)]
    ranges = chunk_rows(pieces, 300)
    assert ranges[0][0] == 0 and ranges[-1][1] == 300
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_compress_output_outlives_the_workspace() -> None:
    workspace = Workspace()
    first = join([Const(b"ab"), padded_of([b"1", b"2"])], 2, workspace).compress()
    join([Const(b"zz"), padded_of([b"9", b"9"])], 2, workspace).compress()
    assert first.to_pylist() == [b"ab1", b"ab2"]


def test_ragged_from_a_sliced_arrow_array_with_nulls() -> None:
    array = pa.array(["skip", "a", None, "ccc", "skip"]).slice(1, 3)
    assert Ragged.from_arrow(array).to_pylist() == [b"a", b"", b"ccc"]
