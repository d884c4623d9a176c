"""`skewguard check` end to end: exit codes, bad input, reports, policy discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import serving_table, write_serving, write_training

from skewguard import cli

N = 3_000


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write_training(root / "train", N, seed=1)
    write_training(root / "train_ref", N, seed=1, reference=True)
    write_serving(root / "logs", N, seed=2, parts=2)
    return root


def _check(data: Path, *extra: str, serving: Path | None = None, training: str = "train") -> int:
    args = ["check", "--training", str(data / training), "--serving", str(serving or data / "logs")]
    return cli.main([*args, *extra])


def test_pass_exits_0_and_writes_json(data: Path, tmp_path: Path, capsys) -> None:
    assert _check(data, "--json", str(tmp_path / "out" / "report.json")) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "pass" and report["schema_version"] == 1
    assert "skewguard check: PASS (exit 0)" in capsys.readouterr().out


def test_retrain_exits_3(data: Path, tmp_path: Path) -> None:
    table = serving_table(N, seed=2)
    name = "customer_stats__avg_order_value"
    shifted = pa.compute.add(table[name], 30.0)
    pq.write_table(
        table.set_column(table.schema.get_field_index(name), name, shifted), tmp_path / "s.parquet"
    )
    assert _check(data, serving=tmp_path / "s.parquet") == 3


def test_block_exits_1_when_a_feature_is_missing_in_serving(
    data: Path, tmp_path: Path, capsys
) -> None:
    table = serving_table(N, seed=2).drop_columns(["product_stats__price"])
    pq.write_table(table, tmp_path / "s.parquet")
    assert _check(data, "--json", str(tmp_path / "r.json"), serving=tmp_path / "s.parquet") == 1
    out = capsys.readouterr().out
    assert "product_stats__price" in out and "missing_in_serving" in out
    report = json.loads((tmp_path / "r.json").read_text())
    price = next(f for f in report["features"] if f["name"] == "product_stats__price")
    assert price["verdict"] == "block" and price["checks"][0]["check"] == "schema"


def test_extra_feature_in_serving_blocks(data: Path, tmp_path: Path) -> None:
    table = serving_table(N, seed=2)
    table = table.append_column("new_view__surprise", pa.array([1.0] * N))
    pq.write_table(table, tmp_path / "s.parquet")
    assert _check(data, serving=tmp_path / "s.parquet") == 1


def test_insufficient_data_exits_2_and_says_so(data: Path, tmp_path: Path, capsys) -> None:
    write_serving(tmp_path / "few", 100, seed=3)
    assert _check(data, serving=tmp_path / "few") == 2
    assert "insufficient data" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["empty", "no_files", "corrupt", "naive", "naive_training"])
def test_bad_input_exits_2_with_a_message(data: Path, tmp_path: Path, capsys, case: str) -> None:
    training = "train"
    serving = tmp_path / "s"
    serving.mkdir()
    table = serving_table(N, seed=2)
    if case == "empty":
        pq.write_table(table.slice(0, 0), serving / "p.parquet")
        expected = "serving logs have no rows"
    elif case == "no_files":
        expected = "no parquet files found"
    elif case == "corrupt":
        (serving / "p.parquet").write_bytes(b"PAR1 this is not parquet")
        expected = "cannot read parquet file"
    elif case == "naive":
        idx = table.schema.get_field_index("__log_timestamp")
        naive = table["__log_timestamp"].cast(pa.timestamp("us"))
        pq.write_table(table.set_column(idx, "__log_timestamp", naive), serving / "p.parquet")
        expected = "'__log_timestamp' has no time zone"
    else:
        pq.write_table(table, serving / "p.parquet")
        src = pq.read_table(data / "train" / "data.parquet")
        idx = src.schema.get_field_index("event_timestamp")
        naive = src["event_timestamp"].cast(pa.timestamp("us"))
        pq.write_table(src.set_column(idx, "event_timestamp", naive), tmp_path / "t.parquet")
        training, data = "t.parquet", tmp_path
        expected = "'event_timestamp' has no time zone"
    assert _check(data, serving=serving, training=training) == 2
    err = capsys.readouterr().err
    assert "skewguard check: error:" in err and expected in err and "Hint:" in err


def test_unreadable_policy_exits_2(data: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[defaults]\nmin_rowz = 3\n")
    assert _check(data, "--policy", str(bad)) == 2
    assert "unknown policy key 'defaults.min_rowz'" in capsys.readouterr().err
    assert _check(data, "--policy", str(tmp_path / "missing.toml")) == 2


def test_policy_is_discovered_in_the_working_directory(
    data: Path, tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "skewguard.toml").write_text("[defaults]\nmin_rows = 1000000\n")
    monkeypatch.chdir(tmp_path)
    assert _check(data, "--json", "r.json") == 2  # every check now lacks rows
    assert json.loads((tmp_path / "r.json").read_text())["policy"]["path"].endswith(
        "skewguard.toml"
    )


def test_reference_profile_replaces_the_training_data(data: Path, tmp_path: Path) -> None:
    import shutil

    snapshot = tmp_path / "snap"
    shutil.copytree(data / "train_ref", snapshot)
    (snapshot / "data.parquet").unlink()
    assert (
        _check(tmp_path, "--json", str(tmp_path / "r.json"), serving=data / "logs", training="snap")
        == 0
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["inputs"]["training"]["from_reference_profile"] is True


@pytest.mark.parametrize("where", ["no repo", "--no-replay in a repo"])
def test_check_does_not_import_feast(data: Path, tmp_path: Path, where: str) -> None:
    # Outside any feature repo the default replay stops before Feast; --no-replay always does.
    root = Path(__file__).resolve().parents[1]
    extra = ", '--no-replay'" if where != "no repo" else ""
    code = (
        "import sys; from skewguard import cli; "
        f"rc = cli.main(['check', '--training', {str(data / 'train')!r}, "
        f"'--serving', {str(data / 'logs')!r}{extra}]); "
        "print('FEAST' if 'feast' in sys.modules else 'NOFEAST', rc)"
    )
    env = {k: v for k, v in os.environ.items() if k not in _REPO_VARIABLES}
    env["PYTHONPATH"] = str(root)
    cwd = tmp_path if where == "no repo" else root
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd
    )
    assert out.stdout.strip().splitlines()[-1] == "NOFEAST 0", out.stderr
    reason = "no_feature_repo" if where == "no repo" else "opted_out"
    assert f"Joined replay did not run ({reason})" in out.stdout


_REPO_VARIABLES = ("SKEWGUARD_REPO", "FEATURE_REPO_DIR_ENV_VAR", "FEAST_FS_YAML_FILE_PATH")
