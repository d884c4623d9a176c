"""`skewguard check --serving` reads a URI through pyarrow's filesystems.

`file://` goes through `pyarrow.fs.FileSystem.from_uri` itself. For `s3://` the test
stands an in-memory filesystem (fsspec's, wrapped as a pyarrow filesystem) in for S3 (no
network here), so
listing, footers and batches all go through a filesystem that is not the local one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from check_fixtures import write_serving, write_training

from skewguard import cli
from skewguard.checking import reading

N = 3_000


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("uri")
    write_training(root / "train", N, seed=1)
    logs = write_serving(root / "logs" / "recommender_v1", N, seed=2, parts=3)
    (logs / ".part-hidden.parquet").write_bytes(b"not parquet: hidden files are skipped")
    return root


def _check(training: Path, serving: str, report: Path) -> int:
    return cli.main(
        ["check", "--training", str(training), "--serving", serving, "--json", str(report), "-q"]
    )


def verdicts(report: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    return {
        f["name"]: [(c["check"], c["verdict"]) for c in f["checks"]] for f in report["features"]
    }


def test_a_file_uri_reads_like_the_path(data: Path, tmp_path: Path) -> None:
    from_path = _check(data / "train", str(data / "logs"), tmp_path / "path.json")
    from_uri = _check(data / "train", (data / "logs").as_uri(), tmp_path / "uri.json")
    assert from_path == from_uri == 0
    by_path = json.loads((tmp_path / "path.json").read_text())
    by_uri = json.loads((tmp_path / "uri.json").read_text())
    assert by_uri["inputs"]["serving"]["path"] == (data / "logs").as_uri()
    # quantile sketches are randomized: the same data gives the same verdicts, not the
    # same last digits
    assert verdicts(by_uri) == verdicts(by_path)
    assert by_uri["sample_sizes"] == by_path["sample_sizes"]


def test_an_s3_uri_is_read_through_its_filesystem(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    memory = fsspec.filesystem("memory")
    for file in (data / "logs").rglob("*.parquet"):
        key = f"/bucket/feature-logs/{file.relative_to(data / 'logs').as_posix()}"
        memory.pipe(key, file.read_bytes())
    opened: list[str] = []
    real_from_uri = reading.filesystem_from_uri

    def from_uri(uri: str) -> Any:
        if not uri.startswith("s3://"):
            return real_from_uri(uri)
        opened.append(uri)
        return PyFileSystem(FSSpecHandler(memory)), "/" + uri.removeprefix("s3://")

    monkeypatch.setattr(reading, "filesystem_from_uri", from_uri)
    monkeypatch.chdir(tmp_path)  # no feature repo here: the check alone lists the logs
    uri = "s3://bucket/feature-logs"
    assert _check(data / "train", uri, tmp_path / "s3.json") == 0
    report = json.loads((tmp_path / "s3.json").read_text())
    assert report["inputs"]["serving"]["path"] == uri
    assert report["sample_sizes"]["serving_rows"] == N
    assert report["inputs"]["serving"]["files"] == 3  # the hidden file skipped
    assert opened == [uri]


def test_a_missing_uri_exits_2_naming_it(data: Path, tmp_path: Path, capsys: Any) -> None:
    uri = (tmp_path / "nothing-here").as_uri()
    assert _check(data / "train", uri, tmp_path / "r.json") == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and uri in err
