"""Serving logs are checked against Feast's logging schema before they are counted.

Before: a string `__status` column hid 100% NOT_FOUND (the check passed), and logs with
no `__log_timestamp`, `__log_date` or `__request_id` passed."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import serving_table, write_serving, write_training

from skewguard import cli
from skewguard.errors import InputError
from skewguard.logschema import FieldStatus

N = 2_000
PRICE = "product_stats__price"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training(tmp_path_factory.mktemp("logcols") / "snapshot", N, seed=1)


def _check(snapshot: Path, serving: Path) -> int:
    return cli.main(["check", "--training", str(snapshot), "--serving", str(serving)])


def _write(table: pa.Table, folder: Path) -> Path:
    folder.mkdir()
    pq.write_table(table, folder / "part-0.parquet")
    return folder / "part-0.parquet"


def test_well_formed_logs_pass_in_both_layouts(snapshot: Path, tmp_path: Path) -> None:
    assert _check(snapshot, write_serving(tmp_path / "hive", N, seed=2)) == 0  # date in path
    assert _check(snapshot, _write(serving_table(N, seed=2), tmp_path / "flat").parent) == 0


def test_a_string_status_column_is_exit_2_naming_file_and_column(
    snapshot: Path, tmp_path: Path, capsys
) -> None:
    table = serving_table(N, seed=2)
    status = PRICE + "__status"
    all_missing = pa.array([FieldStatus.NOT_FOUND.name] * N)  # "NOT_FOUND" as text
    table = table.set_column(table.schema.get_field_index(status), status, all_missing)
    file = _write(table, tmp_path / "logs")
    assert _check(snapshot, file.parent) == 2
    err = capsys.readouterr().err
    assert f"'{status}' is string, not an integer" in err and str(file) in err


@pytest.mark.parametrize("column", ["__log_timestamp", "__log_date", "__request_id"])
def test_a_missing_log_column_is_exit_2_naming_file_and_column(
    snapshot: Path, tmp_path: Path, column: str, capsys
) -> None:
    file = _write(serving_table(N, seed=2).drop_columns([column]), tmp_path / "logs")
    assert _check(snapshot, file.parent) == 2
    err = capsys.readouterr().err
    assert repr(column) in err and str(file) in err


@pytest.mark.parametrize(
    ("column", "array"),
    [
        ("__log_timestamp", pa.array(["2026-11-01T00:00:00Z"] * N)),
        ("__request_id", pa.array(list(range(N)))),
        ("__log_date", pa.array([1.5] * N)),
        (PRICE + "__timestamp", pa.array([0] * N)),
        (PRICE + "__status", pa.array([1.0] * N)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_mistyped_log_column_is_an_input_error(
    snapshot: Path, tmp_path: Path, column: str, array: pa.Array
) -> None:
    from skewguard.checking.reading import open_serving

    table = serving_table(N, seed=2)
    table = table.set_column(table.schema.get_field_index(column), column, array)
    file = _write(table, tmp_path / "logs")
    with pytest.raises(InputError, match=repr(column)) as caught:
        open_serving(file.parent)
    assert caught.value.where == str(file)


def test_only_the_bad_file_of_a_folder_is_named(snapshot: Path, tmp_path: Path, capsys) -> None:
    folder = write_serving(tmp_path / "logs", N, seed=2, parts=2)
    bad = folder / "__log_date=2026-11-03"
    bad.mkdir()
    pq.write_table(serving_table(10, seed=3).drop_columns(["__request_id"]), bad / "late.parquet")
    assert _check(snapshot, folder) == 2
    err = capsys.readouterr().err
    assert "late.parquet" in err and "part-0.parquet" not in err
