"""At 10k rows the default policy catches the skews it is meant to catch."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from check_fixtures import Columns, replace_column, write_serving, write_training

from skewguard.checking.pipeline import check
from skewguard.checking.policy import load_policy
from skewguard.report.model import Report
from skewguard.vocabulary import Verdict

N = 10_000


@pytest.fixture(scope="module")
def training(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training(tmp_path_factory.mktemp("train"), N, seed=11, reference=True)


def _run(training: Path, tmp_path: Path, transform: Callable[[Columns], Columns], **kw) -> Report:
    write_serving(tmp_path / "logs", N, seed=12, transform=transform, **kw)
    return check(training, tmp_path / "logs", load_policy(None))


def _failing(report: Report, feature: str) -> dict[str, str]:
    f = report.feature(feature)
    assert f is not None
    return {c.check: str(c.verdict) for c in f.checks if c.verdict is not Verdict.PASS}


def _scale(name: str, factor: float) -> Callable[[Columns], Columns]:
    return lambda v: replace_column(v, name, pc.multiply(v[name], factor))


def test_same_distribution_passes(training: Path, tmp_path: Path) -> None:
    report = _run(training, tmp_path, lambda v: v)
    assert report.verdict is Verdict.PASS
    assert report.to_dict()["inputs"]["training"]["from_reference_profile"] is True


def test_ten_percent_mean_shift_means_retrain(training: Path, tmp_path: Path) -> None:
    name = "customer_stats__avg_order_value"  # mean 100, std 15: +10 is 0.67 std
    report = _run(training, tmp_path, lambda v: replace_column(v, name, pc.add(v[name], 10.0)))
    assert report.feature(name).verdict is Verdict.RETRAIN
    assert {"psi", "ks_statistic", "wasserstein_norm"} <= set(_failing(report, name))
    assert report.verdict is Verdict.RETRAIN


def test_unit_change_times_100_blocks_with_its_cause(training: Path, tmp_path: Path) -> None:
    name = "product_stats__price"
    report = _run(training, tmp_path, _scale(name, 100.0))
    assert report.feature(name).verdict is Verdict.BLOCK
    unit = next(c for c in report.feature(name).checks if c.check == "unit_change")
    assert unit.verdict is Verdict.BLOCK and unit.params["factor"] == 100.0
    assert re.fullmatch(r"served = training x 100; fitted factor 9\d\.\d+ over 17 quantiles|"
                        r"served = training x 100; fitted factor 10\d(\.\d+)? over 17 quantiles",
                        unit.cause)  # fmt: skip
    psi = next(c for c in report.feature(name).checks if c.check == "psi")
    assert psi.value > 5


def test_twenty_point_null_rise_blocks(training: Path, tmp_path: Path) -> None:
    name = "product_stats__rating"

    def add_nulls(v: Columns) -> Columns:
        rng = np.random.default_rng(5)
        mask = v[name].is_null().to_numpy(zero_copy_only=False) | (rng.random(N) < 0.21)
        return replace_column(v, name, pa.array(v[name].to_numpy(zero_copy_only=False), mask=mask))

    report = _run(training, tmp_path, add_nulls)
    assert _failing(report, name)["null_rate"] == "block"
    assert report.verdict is Verdict.BLOCK


def test_renamed_category_blocks(training: Path, tmp_path: Path) -> None:
    name = "product_stats__category"

    def rename(v: Columns) -> Columns:
        renamed = pc.replace_substring(v[name], "electronics", "Electronics")
        return replace_column(v, name, renamed)

    report = _run(training, tmp_path, rename)
    failing = _failing(report, name)
    assert failing["category_form"] == "block"
    assert failing["new_category_rate"] == "retrain"  # unseen alone would be drift
    assert failing["linf_distance"] in ("warn", "retrain")
    form = next(c for c in report.feature(name).checks if c.check == "category_form")
    assert form.cause.startswith("'Electronics' served for 'electronics'")
    top = report.feature(name).distribution["top"]["serving"]
    assert any(label == "Electronics" for label, _ in top)


def test_floats_truncated_to_ints_block(training: Path, tmp_path: Path) -> None:
    name = "product_stats__price"
    report = _run(training, tmp_path, lambda v: replace_column(v, name, pc.floor(v[name])))
    assert _failing(report, name)["integer_rate"] == "block"


def test_floats_truncated_to_an_int_column_block_on_schema(training: Path, tmp_path: Path) -> None:
    name = "product_stats__price"

    def to_int(v: Columns) -> Columns:
        return replace_column(v, name, pc.cast(pc.floor(v[name]), pa.int64()))

    report = _run(training, tmp_path, to_int)
    schema = next(c for c in report.feature(name).checks if c.check == "schema")
    assert (schema.value, str(schema.verdict)) == ("type_changed", "block")
    assert schema.detail == "training double, serving int64"


def test_float32_served_for_float64_is_a_type_change(training: Path, tmp_path: Path) -> None:
    name = "customer_stats__avg_order_value"
    report = _run(training, tmp_path, lambda v: replace_column(v, name, v[name].cast(pa.float32())))
    assert _failing(report, name)["schema"] == "block"


def test_nan_and_infinities_are_their_own_checks(training: Path, tmp_path: Path) -> None:
    name = "customer_stats__avg_order_value"

    def poison(v: Columns) -> Columns:
        x = v[name].to_numpy(zero_copy_only=False).copy()
        x[:600], x[600:1200], x[1200:1500] = np.nan, np.inf, -np.inf
        return replace_column(v, name, pa.array(x))

    failing = _failing(_run(training, tmp_path, poison), name)
    assert failing["nan_rate"] == "block" and failing["pos_inf_rate"] == "block"
    assert failing["neg_inf_rate"] == "block"  # training had none: any significant share
    assert failing["missing_or_invalid_rate"] == "block"


def test_missing_or_invalid_counts_every_kind_together(training: Path, tmp_path: Path) -> None:
    name = "product_stats__rating"  # 5% nulls in training; none of NaN or inf

    def sprinkle(v: Columns) -> Columns:
        x = v[name].to_numpy(zero_copy_only=False).copy()
        x[:60], x[60:120] = np.nan, np.inf  # 0.6% NaN and 0.6% +inf...
        mask = v[name].is_null().to_numpy(zero_copy_only=False).copy()
        mask[1000:1100] = True  # ...plus up to a point of extra nulls
        return replace_column(v, name, pa.array(x, mask=mask))

    report = _run(training, tmp_path, sprinkle)
    checks = {c.check: c for c in report.feature(name).checks}
    total = checks["missing_or_invalid_rate"]
    parts = sum(checks[k].value for k in ("null_rate", "nan_rate", "pos_inf_rate"))
    assert total.value == pytest.approx(parts)
    assert total.verdict is Verdict.BLOCK and total.value > 0.01
    # NaN and +inf at 0.6% each: below the floor, but training had none, so they block too.
    assert checks["nan_rate"].verdict is Verdict.BLOCK


def test_missing_online_values_are_reported(training: Path, tmp_path: Path) -> None:
    report = _run(training, tmp_path, lambda v: v, not_found_rate=0.3)
    failing = _failing(report, "product_stats__price")
    assert failing["missing_online_rate"] == "block"
    assert failing["null_rate"] == "block"
