"""A training vocabulary larger than the kept labels: unseen serving values still count.

Before: training with 50,000 distinct categories kept the top 1,000 labels (6% of the
rows) and put the rest in `other`; a serving vocabulary with nothing in common with
training's fell into `other` too and passed with a warning (exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import replace_column, serving_table, write_training

from skewguard import cli
from skewguard.checking.profile import CategoricalProfile, merge

N = 20_000  # serving rows
TRAINING = 200_000
CATEGORY = "product_stats__category"
DISTINCT = 50_000


def _labels(prefix: str, n: int, seed: int) -> pa.Array:
    rng = np.random.default_rng(seed)
    return pa.array([f"{prefix}{i}" for i in rng.integers(0, DISTINCT, n)])


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("highcard") / "snapshot"
    return write_training(
        folder,
        TRAINING,
        seed=1,
        transform=lambda v: replace_column(v, CATEGORY, _labels("sku-", TRAINING, 1)),
        reference=True,
    )


def _check(snapshot: Path, tmp_path: Path, labels: pa.Array) -> tuple[int, dict]:
    table = serving_table(N, seed=2)
    table = table.set_column(table.schema.get_field_index(CATEGORY), CATEGORY, labels)
    pq.write_table(table, tmp_path / "s.parquet")
    out = tmp_path / "r.json"
    code = cli.main(
        ["check", "--training", str(snapshot), "--serving", str(tmp_path / "s.parquet"),
         "--json", str(out)]
    )  # fmt: skip
    feature = next(f for f in json.loads(out.read_text())["features"] if f["name"] == CATEGORY)
    return code, {c["check"]: c for c in feature["checks"]}


def test_a_disjoint_serving_vocabulary_is_caught(snapshot: Path, tmp_path: Path) -> None:
    # unseen categories are drift by default (docs/detection.md): retrain, never a pass
    code, checks = _check(snapshot, tmp_path, _labels("other-sku-", N, 2))
    rate = checks["new_category_rate"]
    assert rate["value"] > 0.8 and rate["verdict"] == "retrain", rate
    assert "more than the 1,000 kept" in rate["detail"]
    assert code == 3


def test_the_same_vocabulary_passes(snapshot: Path, tmp_path: Path) -> None:
    code, checks = _check(snapshot, tmp_path, _labels("sku-", N, 3))
    rate = checks["new_category_rate"]
    # About 2% of serving's distinct values are tail values training's sample missed,
    # fewer than between two halves of training: no new categories.
    assert rate["value"] < 0.02 and rate["verdict"] == "pass", rate
    assert rate["serving"] < rate["training"]
    assert code in (0, 3)


def test_half_new_values_are_counted(snapshot: Path, tmp_path: Path) -> None:
    half = pa.concat_arrays([_labels("sku-", N // 2, 4), _labels("new-", N // 2, 5)])
    _, checks = _check(snapshot, tmp_path, half)
    assert 0.3 < checks["new_category_rate"]["value"] < 0.6


def test_theta_sketches_merge_and_survive_json(snapshot: Path) -> None:
    profile = json.loads((snapshot / "reference_profile.json").read_text())
    entry = next(f for f in profile["features"] if f["name"] == CATEGORY)
    restored = CategoricalProfile.from_dict(entry["profile"])
    assert restored.theta is not None
    merged = merge(restored, restored)
    assert isinstance(merged, CategoricalProfile) and merged.theta is not None
    old = {k: v for k, v in entry["profile"].items() if k != "theta"}  # an older profile
    assert CategoricalProfile.from_dict(old).theta is None
