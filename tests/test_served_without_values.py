"""A feature served 100% null, NaN or inf is a block finding, not "insufficient data".

Before: its distribution checks rested on zero values, said insufficient_data, and the
run exited 2 ("collect more logs"), hiding the rate checks that had fired."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import serving_table, write_training

from skewguard import cli

N = 3_000
PRICE = "product_stats__price"
CATEGORY = "product_stats__category"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training(tmp_path_factory.mktemp("novalues") / "snapshot", N, seed=1)


def _served(tmp_path: Path, name: str, array: pa.Array) -> Path:
    table = serving_table(N, seed=2)
    table = table.set_column(table.schema.get_field_index(name), name, array)
    pq.write_table(table, tmp_path / "s.parquet")
    return tmp_path / "s.parquet"


@pytest.mark.parametrize(
    ("name", "array", "fired"),
    [
        (PRICE, pa.array([float("nan")] * N), "nan_rate"),
        (PRICE, pa.nulls(N, pa.float64()), "null_rate"),
        (PRICE, pa.array([float("inf")] * N), "pos_inf_rate"),
        (PRICE, pa.array([float("-inf"), float("nan")] * (N // 2)), "neg_inf_rate"),
        (CATEGORY, pa.nulls(N, pa.string()), "null_rate"),
    ],
    ids=["nan", "null", "inf", "-inf-and-nan", "categorical-null"],
)
def test_a_feature_served_without_values_blocks(
    snapshot: Path, tmp_path: Path, name: str, array: pa.Array, fired: str
) -> None:
    serving = _served(tmp_path, name, array)
    report_path = tmp_path / "r.json"
    code = cli.main(
        [
            "check",
            "--training",
            str(snapshot),
            "--serving",
            str(serving),
            "--json",
            str(report_path),
        ]
    )
    report = json.loads(report_path.read_text())
    assert code == 1 and report["verdict"] == "block"
    feature = next(f for f in report["features"] if f["name"] == name)
    verdicts = {c["check"]: c["verdict"] for c in feature["checks"]}
    assert verdicts[fired] == "block"
    assert "insufficient_data" not in verdicts.values()
    not_computable = [c for c in feature["checks"] if c.get("reason") == "not_computable"]
    assert not_computable and all("no usable value" in c["detail"] for c in not_computable)


def test_too_few_rows_is_still_insufficient(snapshot: Path, tmp_path: Path) -> None:
    table = serving_table(100, seed=2)
    table = table.set_column(
        table.schema.get_field_index(PRICE), PRICE, pa.array([float("nan")] * 100)
    )
    pq.write_table(table, tmp_path / "s.parquet")
    code = cli.main(
        ["check", "--training", str(snapshot), "--serving", str(tmp_path / "s.parquet")]
    )
    assert code == 2
