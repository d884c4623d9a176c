"""The front door: `import skewguard as sg`, its pinned `__all__`, and `sg.check`."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from check_fixtures import serving_table, write_training

import skewguard as sg

PUBLIC = [
    "ExitCode",
    "FeatureRepoError",
    "InputError",
    "OnlineStoreError",
    "Policy",
    "PolicyError",
    "Report",
    "SkewguardError",
    "TimestampError",
    "Verdict",
    "check",
    "gate_exit_code",
    "load_policy",
    "snapshot",
]
N = 2000


def test_all_is_pinned_sorted_importable_and_public() -> None:
    assert sg.__all__ == PUBLIC
    assert sg.__all__ == sorted(sg.__all__)
    for name in sg.__all__:
        assert not name.startswith("_")
        assert getattr(sg, name) is not None


def test_version_comes_from_package_metadata() -> None:
    assert sg.__version__ == version("skewguard")


def test_importing_the_namespace_loads_nothing_heavy() -> None:
    code = (
        "import sys, skewguard; "
        "print(sorted(m for m in ('feast', 'pyarrow', 'numpy', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sg.nope  # noqa: B018


@pytest.fixture(scope="module")
def snapshot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training(tmp_path_factory.mktemp("api") / "snapshot", N, seed=1)


def test_check_from_dataframes(snapshot_folder: Path) -> None:
    train_df = pq.read_table(snapshot_folder / "data.parquet").to_pandas()
    serve_df = serving_table(N, seed=2).to_pandas()
    report = sg.check(train_df, serve_df)
    assert report.verdict in (sg.Verdict.PASS, sg.Verdict.WARN)
    assert report.exit_code is sg.ExitCode.OK
    assert report.inputs["training"]["path"] == f"<pandas.DataFrame: {N} rows>"
    assert {f.name for f in report.features} >= {"product_stats__price"}


def test_paths_tables_and_frames_give_the_same_answer(
    snapshot_folder: Path, tmp_path: Path
) -> None:
    served = serving_table(N, seed=2, transform=_prices_shifted)
    pq.write_table(served, tmp_path / "serving.parquet")
    training = pq.read_table(snapshot_folder / "data.parquet")
    by_path = sg.check(str(snapshot_folder), str(tmp_path / "serving.parquet"))
    by_table = sg.check(training, served)
    by_frame = sg.check(training.to_pandas(), served.to_pandas())
    assert by_path.verdict is by_table.verdict is by_frame.verdict is sg.Verdict.RETRAIN
    price = [r.feature("product_stats__price") for r in (by_path, by_table, by_frame)]
    assert len({f.verdict for f in price}) == 1


def test_policy_may_be_a_policy_a_path_or_none(snapshot_folder: Path, tmp_path: Path) -> None:
    served = serving_table(N, seed=2)
    policy_file = tmp_path / "strict.toml"
    policy_file.write_text('[critical]\nfeatures = ["product_stats__price"]\n')
    for policy in (None, policy_file, str(policy_file), sg.load_policy(policy_file)):
        report = sg.check(snapshot_folder, served, policy=policy)
        assert report.verdict in (sg.Verdict.PASS, sg.Verdict.WARN)


def test_report_renders_every_format(snapshot_folder: Path) -> None:
    report = sg.check(snapshot_folder, serving_table(N, seed=2))
    assert report.to_dict()["verdict"] == str(report.verdict)
    assert report.to_markdown().startswith("#")
    assert report.to_html().lstrip().lower().startswith("<!doctype html>")
    assert report.to_junit().startswith("<?xml")
    assert sg.Report.from_dict(report.to_dict()).verdict is report.verdict


@pytest.mark.parametrize("bad", [42, b"bytes", ["a list"], None])
def test_anything_else_is_an_input_error(snapshot_folder: Path, bad: object) -> None:
    with pytest.raises(sg.InputError, match="pass a path"):
        sg.check(snapshot_folder, bad)  # type: ignore[arg-type]


def _prices_shifted(values: dict) -> dict:
    import pyarrow.compute as pc

    price = values["product_stats__price"]
    values["product_stats__price"] = pc.add(price, pc.stddev(price).as_py())
    return values
