"""The training side is verified before use: content hashes, and the reference profile
against the manifest. Each case here passed silently before (a check against tampered
data or a gutted profile said PASS even with prices served x100)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import serving_table, write_serving, write_training

from skewguard import cli

N = 3_000
PRICE = "product_stats__price"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("integrity")
    write_training(root / "snapshot", N, seed=1, reference=True)
    write_serving(root / "logs", N, seed=2, parts=2)
    table = serving_table(N, seed=2)
    x100 = pa.compute.multiply(table[PRICE], 100.0)
    table = table.set_column(table.schema.get_field_index(PRICE), PRICE, x100)
    (root / "logs_x100").mkdir()
    pq.write_table(table, root / "logs_x100" / "part.parquet")
    return root


def _copy(data: Path, tmp_path: Path) -> Path:
    target = tmp_path / "snapshot"
    shutil.copytree(data / "snapshot", target)
    return target


def _check(snapshot: Path, serving: Path, *extra: str) -> int:
    return cli.main(["check", "--training", str(snapshot), "--serving", str(serving), *extra])


def _edit(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def test_an_untouched_snapshot_is_verified(data: Path, tmp_path: Path) -> None:
    assert _check(data / "snapshot", data / "logs", "--json", str(tmp_path / "r.json")) == 0
    training = json.loads((tmp_path / "r.json").read_text())["inputs"]["training"]
    manifest = json.loads((data / "snapshot" / "manifest.json").read_text())
    assert training["content_hash_verified"] is True
    assert training["data_hash"] == manifest["content_hash"]
    profile = json.loads((data / "snapshot" / "reference_profile.json").read_text())
    assert profile["content_hash"] == manifest["content_hash"]


def test_the_x100_logs_block_against_the_intact_snapshot(data: Path) -> None:
    # The baseline of the cases below: an intact snapshot does not pass these logs.
    assert _check(data / "snapshot", data / "logs_x100") in (1, 3)


def test_replaced_data_is_exit_2_naming_both_hashes(data: Path, tmp_path: Path, capsys) -> None:
    snapshot = _copy(data, tmp_path)
    write_training(tmp_path / "other", N, seed=9, manifest=False)
    shutil.copy(tmp_path / "other" / "data.parquet", snapshot / "data.parquet")
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert _check(snapshot, data / "logs_x100") == 2
    err = capsys.readouterr().err
    assert manifest["content_hash"] in err and "content hash sha256:" in err
    assert "data.parquet" in err


def test_a_profile_from_other_data_is_exit_2(data: Path, tmp_path: Path, capsys) -> None:
    snapshot = _copy(data, tmp_path)
    _edit(
        snapshot / "reference_profile.json", lambda d: d.update(content_hash="sha256:" + "1" * 64)
    )
    assert _check(snapshot, data / "logs_x100") == 2
    err = capsys.readouterr().err
    assert "sha256:" + "1" * 64 in err and "reference_profile.json" in err


def test_a_profile_only_snapshot_checks_the_profile_hash(
    data: Path, tmp_path: Path, capsys
) -> None:
    snapshot = _copy(data, tmp_path)
    (snapshot / "data.parquet").unlink()
    assert _check(snapshot, data / "logs") == 0
    _edit(snapshot / "manifest.json", lambda d: d.update(content_hash="sha256:" + "2" * 64))
    assert _check(snapshot, data / "logs_x100") == 2
    assert "sha256:" + "2" * 64 in capsys.readouterr().err


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(features=[f for f in d["features"] if f["name"] != PRICE]),
        lambda d: d.update(features=[]),
        lambda d: d.update(rows=d["rows"] + 1),
    ],
    ids=["feature-entry-removed", "no-features", "row-count"],
)
def test_a_profile_that_disagrees_with_the_manifest_is_exit_2(
    data: Path, tmp_path: Path, edit, capsys
) -> None:
    snapshot = _copy(data, tmp_path)
    (snapshot / "data.parquet").unlink()  # the check reads the profile alone
    _edit(snapshot / "reference_profile.json", edit)
    assert _check(snapshot, data / "logs_x100") == 2
    assert "reference_profile.json" in capsys.readouterr().err


def test_a_manifest_with_no_features_is_exit_2(data: Path, tmp_path: Path, capsys) -> None:
    snapshot = _copy(data, tmp_path)
    _edit(snapshot / "manifest.json", lambda d: d.update(features=[]))
    assert _check(snapshot, data / "logs_x100") == 2
    assert "lists no features" in capsys.readouterr().err


def test_a_profile_type_that_disagrees_is_exit_2(data: Path, tmp_path: Path, capsys) -> None:
    snapshot = _copy(data, tmp_path)
    (snapshot / "data.parquet").unlink()

    def retype(doc: dict) -> None:
        for f in doc["features"]:
            if f["name"] == PRICE:
                f["arrow_type"] = "int64"

    _edit(snapshot / "reference_profile.json", retype)
    assert _check(snapshot, data / "logs_x100") == 2
    assert PRICE in capsys.readouterr().err


def test_a_manifest_without_a_hash_is_checked_unverified(data: Path, tmp_path: Path) -> None:
    """A snapshot written by hand may record no hash: nothing to compare, and the report
    says so (content_hash_verified false) instead of refusing it."""
    snapshot = _copy(data, tmp_path)
    (snapshot / "data.parquet").unlink()
    _edit(snapshot / "manifest.json", lambda d: d.update(content_hash=None))
    assert _check(snapshot, data / "logs", "--json", str(tmp_path / "r.json")) == 0
    training = json.loads((tmp_path / "r.json").read_text())["inputs"]["training"]
    assert training["content_hash_verified"] is False
