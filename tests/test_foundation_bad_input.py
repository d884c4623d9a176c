"""Bad input gets a one-line error naming the problem and the fix, exit code 2, no debris."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skewguard import cli
from skewguard.store.online import EmbeddedRedis


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def _labels(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def _snapshot_args(repo: Path, labels: Path, out: Path) -> list[str]:
    return ["snapshot", "--repo", str(repo), "--labels", str(labels), "--out", str(out)]


GOOD_TIME = pd.Timestamp("2026-11-10 12:00", tz="UTC")


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            pd.DataFrame({"customer_id": [1], "product_id": [2], "purchased": [True]}),
            "no 'event_timestamp' column",
        ),
        (
            pd.DataFrame(
                {
                    "customer_id": [1],
                    "product_id": [2],
                    "event_timestamp": [GOOD_TIME.tz_localize(None)],
                }
            ),
            "naive timestamps",
        ),
        (
            pd.DataFrame({"user_id": [1], "product_id": [2], "event_timestamp": [GOOD_TIME]}),
            "lacks join key column(s) ['customer_id']",
        ),
        (
            pd.DataFrame({"customer_id": [], "product_id": [], "event_timestamp": []}),
            "no rows",
        ),
    ],
    ids=["no-timestamp", "naive-timestamp", "unknown-entity-column", "empty"],
)
def test_bad_label_frames_exit_2_with_a_hint(
    small_repo, tmp_path, capsys, frame: pd.DataFrame, expected: str
) -> None:
    out = tmp_path / "snap"
    code, err = _run(_snapshot_args(small_repo.path, _labels(tmp_path, frame), out), capsys)
    assert code == 2
    assert expected in err
    assert "Hint:" in err and "\n" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".snap")] == []


def test_missing_feature_service_lists_the_known_ones(small_repo, tmp_path, capsys) -> None:
    labels = _labels(
        tmp_path,
        pd.DataFrame({"customer_id": [1], "product_id": [2], "event_timestamp": [GOOD_TIME]}),
    )
    argv = [*_snapshot_args(small_repo.path, labels, tmp_path / "s"), "--feature-service", "nope"]
    code, err = _run(argv, capsys)
    assert code == 2
    assert "no feature service named 'nope'" in err and "recommender_v1" in err


def test_missing_repo_names_the_folder(tmp_path, capsys) -> None:
    code, err = _run(["apply", "--repo", str(tmp_path)], capsys)
    assert code == 2
    assert "no feature_store.yaml found" in err and str(tmp_path) in err


def test_existing_snapshot_is_not_overwritten(small_repo, tmp_path, capsys) -> None:
    out = tmp_path / "snap"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    labels = _labels(
        tmp_path,
        pd.DataFrame({"customer_id": [1], "product_id": [2], "event_timestamp": [GOOD_TIME]}),
    )
    code, err = _run(_snapshot_args(small_repo.path, labels, out), capsys)
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "precious"


def test_unreachable_redis_exits_2_naming_the_address(small_repo, capsys, monkeypatch) -> None:
    # A private server that is started and stopped: its port is known to be closed now.
    server = EmbeddedRedis.start()
    server.stop()
    monkeypatch.setitem(os.environ, "SKEWGUARD_REDIS", server.connection_string)
    code, err = _run(
        ["lookup", "--repo", str(small_repo.path), "--entity", "customer_id=1,product_id=2"], capsys
    )
    assert code == 2
    assert "Redis is unreachable" in err and server.connection_string in err
    assert "Hint:" in err and "\n" not in err
