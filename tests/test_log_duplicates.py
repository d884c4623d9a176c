"""Duplicate rows and request ids in serving logs: counted, reported, dropped from counts.

Before: 300 rows copied three times cleared `min_rows` (500) and passed; duplicates were
counted as new data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import serving_table, write_training
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard import cli
from skewguard.checking.duplicates import find_duplicates, identity_columns
from skewguard.checking.reading import open_parquet

N = 3_000
PRICE = "product_stats__price"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training(tmp_path_factory.mktemp("dups") / "snapshot", N, seed=1)


def _check(snapshot: Path, serving: Path, report: Path) -> tuple[int, dict]:
    code = cli.main(
        ["check", "--training", str(snapshot), "--serving", str(serving), "--json", str(report)]
    )
    return code, json.loads(report.read_text())


def test_three_copies_of_300_rows_do_not_clear_min_rows(snapshot: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    table = serving_table(300, seed=2)
    for copy in range(3):  # the same file uploaded three times
        pq.write_table(table, logs / f"copy-{copy}.parquet")
    code, report = _check(snapshot, logs, tmp_path / "r.json")
    assert code == 2 and report["verdict"] == "insufficient_data"
    serving = report["inputs"]["serving"]
    assert serving["rows"] == 300 and serving["rows_read"] == 900
    assert serving["duplicates"] == {
        "duplicate_rows": 600,
        "duplicate_request_ids": 0,
        "dropped": 600,
    }


def test_a_reused_request_id_with_other_values_is_counted_apart(
    snapshot: Path, tmp_path: Path
) -> None:
    table = serving_table(N, seed=2)
    again = serving_table(N, seed=2).slice(0, 200)  # same ids and entities...
    prices = pa.compute.multiply(again[PRICE], 100.0)  # ...other values
    again = again.set_column(again.schema.get_field_index(PRICE), PRICE, prices)
    logs = tmp_path / "logs"
    logs.mkdir()
    pq.write_table(table, logs / "a.parquet")
    pq.write_table(again, logs / "b.parquet")
    pq.write_table(table.slice(0, 50), logs / "c.parquet")  # exact copies
    code, report = _check(snapshot, logs, tmp_path / "r.json")
    assert code == 0  # the x100 rows are dropped: the first row of each identity counts
    assert report["inputs"]["serving"]["duplicates"] == {
        "duplicate_rows": 50,
        "duplicate_request_ids": 200,
        "dropped": 250,
    }
    assert report["inputs"]["serving"]["rows"] == N


def test_clean_logs_report_zero_and_keep_every_row(snapshot: Path, tmp_path: Path) -> None:
    file = tmp_path / "s.parquet"
    pq.write_table(serving_table(N, seed=2), file)
    code, report = _check(snapshot, file, tmp_path / "r.json")
    assert code == 0
    assert report["inputs"]["serving"]["duplicates"]["dropped"] == 0
    assert report["inputs"]["serving"]["rows"] == N == report["inputs"]["serving"]["rows_read"]


def test_rows_of_one_request_are_not_duplicates(tmp_path: Path) -> None:
    """One request id over several entities is one request's rows, all kept."""
    table = serving_table(100, seed=2)
    same_id = pa.array(["req-1"] * 100)
    table = table.set_column(table.schema.get_field_index("__request_id"), "__request_id", same_id)
    pq.write_table(table, tmp_path / "s.parquet")
    source = open_parquet(tmp_path / "s.parquet")
    assert identity_columns(source.schema.names) == ["__request_id", "customer_id", "product_id"]
    found = find_duplicates(source)
    entities = {
        (c, p)
        for c, p in zip(
            table["customer_id"].to_pylist(), table["product_id"].to_pylist(), strict=True
        )
    }  # noqa: E501
    assert found.dropped == 100 - len(entities)
    assert found.keep is None or int(np.count_nonzero(found.keep)) == len(entities)


def test_list_columns_are_hashed(tmp_path: Path) -> None:
    table = pa.table(
        {
            "customer_id": [1, 1, 1],
            "v__tags": pa.array([["a"], ["a"], ["b"]]),
            "__request_id": ["r", "r", "r"],
        }
    )
    pq.write_table(table, tmp_path / "s.parquet")
    found = find_duplicates(open_parquet(tmp_path / "s.parquet"))
    assert (found.duplicate_rows, found.duplicate_request_ids) == (1, 1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", None, "é"]),
            st.one_of(st.none(), st.integers(-2, 2)),
            st.one_of(st.none(), st.floats(allow_nan=False, width=64)),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_fuzz_counts_agree_with_a_plain_python_count(rows: list[tuple]) -> None:
    import tempfile

    identities = [(r, c) for r, c, _, _ in rows]
    expected_dropped = len(rows) - len(set(identities))
    expected_copies = len(rows) - len(set(rows))
    table = pa.table(
        {
            "__request_id": pa.array([r[0] for r in rows], pa.string()),
            "customer_id": pa.array([r[1] for r in rows], pa.int64()),
            "v__x": pa.array([r[2] for r in rows], pa.float64()),
            "v__flag": pa.array([r[3] for r in rows], pa.bool_()),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(table, Path(tmp) / "s.parquet")
        found = find_duplicates(open_parquet(Path(tmp) / "s.parquet"))
    assert found.dropped == expected_dropped
    assert found.duplicate_rows == expected_copies
    if found.keep is not None:
        kept = [identities[i] for i in np.flatnonzero(found.keep)]
        assert kept == list(dict.fromkeys(identities))  # the first row of each, in order
