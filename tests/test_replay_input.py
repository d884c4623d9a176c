"""Replay refuses bad serving logs with a one-line message naming the file, exit 2."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skewguard import cli
from skewguard.errors import InputError
from skewguard.store.replay import read_serving_logs, sample_rows


def test_missing_folder_is_named(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        read_serving_logs(tmp_path / "nope")


def test_corrupt_file_is_named(tmp_path) -> None:
    bad = tmp_path / "2026-11-20" / "part-1.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(InputError) as err:
        read_serving_logs(tmp_path)
    assert str(bad) in str(err.value)


def test_empty_logs_are_refused(tmp_path) -> None:
    pq.write_table(
        pa.table({"product_stats__price": pa.array([], pa.float64())}), tmp_path / "a.parquet"
    )
    with pytest.raises(InputError, match="no rows"):
        read_serving_logs(tmp_path)


def test_logs_of_another_service_exit_2(small_repo, tmp_path, capsys) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 1, tzinfo=UTC)
    table = pa.table(
        {
            "customer_id": [1],
            "other_view__x": [1.0],
            "__log_timestamp": pa.array([now], pa.timestamp("us", tz="UTC")),
            "__log_date": pa.array([now.date()], pa.date32()),
            "__request_id": ["r1"],
        }
    )
    pq.write_table(table, tmp_path / "a.parquet")
    code = cli.main(["replay", "--serving", str(tmp_path), "--repo", str(small_repo.path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "lack column(s)" in err and "Hint:" in err


def test_sample_keeps_order_and_size() -> None:
    table = pa.table({"i": list(range(100))})
    sample = sample_rows(table, 10, seed=1).column("i").to_pylist()
    assert len(sample) == 10 and sample == sorted(sample)
    assert sample_rows(table, 10, seed=1).equals(sample_rows(table, 10, seed=1))
    assert sample_rows(table, None, seed=1).num_rows == 100
