"""The demo model: train on a snapshot, versioned artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from check_fixtures import write_training

from skewguard.errors import InputError
from skewguard.loop.model import load_model, save_model, train


def test_train_save_load(tmp_path: Path) -> None:
    snapshot = write_training(tmp_path / "snap", 1500)
    model = train(snapshot)
    meta = model.metadata
    content_hash = json.loads((snapshot / "manifest.json").read_text())["content_hash"]
    assert meta["snapshot_id"] == content_hash
    assert meta["ignored_features"] == ["customer_stats__recent_views"]  # a list feature
    assert meta["features"]["categorical"] == ["product_stats__category"]
    assert meta["metrics"]["rows_train"] == 1200 and meta["metrics"]["rows_holdout"] == 300
    assert 0.0 <= meta["metrics"]["auc"] <= 1.0 and meta["metrics"]["log_loss"] > 0
    assert model.version.endswith("-" + content_hash.split(":")[1][:8])

    folder = save_model(model, tmp_path / "models")
    loaded = load_model(folder)
    rows = pq.read_table(snapshot / "data.parquet").slice(0, 5).to_pandas()
    assert loaded.predict_proba(rows) == pytest.approx(model.predict_proba(rows))
    assert all(0 < p < 1 for p in loaded.predict_proba(rows.to_dict(orient="list")))


def test_bad_inputs_say_what_to_do(tmp_path: Path) -> None:
    snapshot = write_training(tmp_path / "snap", 1500)
    with pytest.raises(InputError, match="no label column 'clicked'"):
        train(snapshot, label="clicked")
    with pytest.raises(InputError, match="too few labelled rows"):
        train(write_training(tmp_path / "tiny", 20))
    with pytest.raises(InputError, match="cannot load the model"):
        load_model(tmp_path)
    model = train(snapshot)
    with pytest.raises(InputError, match="lack feature column"):
        model.predict_proba({"product_stats__price": [1.0]})
