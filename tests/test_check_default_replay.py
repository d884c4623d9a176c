"""`skewguard check` replays by default wherever the feature repo is found, says in every
report whether the replay ran and why not, and never fails because it could not run
(unless `--replay` asked for it). Real Redis, real Feast, the demo's transform_bug."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from skewguard import cli
from skewguard.demo.datagen import GeneratorConfig
from skewguard.demo.run import DemoConfig, DemoResult, run_demo
from skewguard.demo.scenarios import Scenario
from tests.conftest import TEST_END, copy_feature_repo

_REPO_VARIABLES = ("SKEWGUARD_REPO", "FEATURE_REPO_DIR_ENV_VAR", "FEAST_FS_YAML_FILE_PATH")


@pytest.fixture(scope="module")
def broken(tmp_path_factory, redis_connection) -> tuple[Path, DemoResult]:
    """A repo whose online writer stores discount x100, with its snapshot and serving logs."""
    root = tmp_path_factory.mktemp("default_replay")
    repo = copy_feature_repo(root / "repo", f"sgdr_{os.getpid()}")
    config = DemoConfig(
        repo=repo,
        out=root / "out",
        scenario=Scenario.TRANSFORM_BUG,
        generator=GeneratorConfig(end=TEST_END),
    )
    result = run_demo(config, say=lambda _: None)
    yield repo, result
    from skewguard.store.repo import open_store

    open_store(repo).teardown()


@pytest.fixture(autouse=True)
def _no_repo_variables(monkeypatch) -> None:
    for name in _REPO_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _check(result: DemoResult, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    argv = ["check", "--training", str(result.snapshot), "--serving", str(result.serving_log)]
    code = cli.main([*argv, "--json", str(out), "--quiet", *extra])
    return code, json.loads(out.read_text()) if out.exists() else {}


def test_a_repo_found_from_the_current_folder_replays_and_blocks(
    broken, tmp_path, monkeypatch
) -> None:
    repo, result = broken
    monkeypatch.chdir(repo)
    code, report = _check(result, tmp_path)
    assert code == 1 and report["verdict"] == "block"  # without --replay
    replay = report["replay"]
    assert replay["ran"] is True and replay["requested"] == "default"
    assert replay["feature_service"] == "recommender_v1" and replay["repo"] == str(repo)
    assert replay["replayed_rows"] == replay["logged_rows"] == report["inputs"]["serving"]["rows"]
    discount = next(f for f in report["features"] if f["name"] == "product_stats__discount")
    assert discount["joined"]["causes"][0]["cause"] == "scale"


@pytest.mark.parametrize("how", ["-c", "FEAST_FS_YAML_FILE_PATH", "a subfolder"])
def test_the_repo_is_found_as_feast_finds_it(broken, tmp_path, monkeypatch, how) -> None:
    repo, result = broken
    if how == "-c":
        monkeypatch.chdir(tmp_path)
        out = tmp_path / "r.json"
        argv = ["-c", str(repo), "check", "--training", str(result.snapshot)]
        argv += ["--serving", str(result.serving_log), "--json", str(out), "-q"]
        code, report = cli.main(argv), json.loads(out.read_text())
    else:
        if how == "a subfolder":
            (repo / "sub").mkdir(exist_ok=True)
            monkeypatch.chdir(repo / "sub")
        else:
            monkeypatch.chdir(repo)
            monkeypatch.setenv("FEAST_FS_YAML_FILE_PATH", str(repo / "feature_store.yaml"))
        code, report = _check(result, tmp_path)
    assert code == 1 and report["replay"]["ran"] is True


def test_no_replay_checks_distributions_only(broken, tmp_path, monkeypatch) -> None:
    repo, result = broken
    monkeypatch.chdir(repo)
    md = tmp_path / "r.md"
    code, report = _check(result, tmp_path, "--no-replay", "--markdown", str(md))
    assert report["replay"]["ran"] is False and report["replay"]["reason"] == "opted_out"
    assert all(f["joined"] is None for f in report["features"])
    assert "Joined replay did not run (opted\\_out)" in md.read_text()
    assert code in (0, 1, 3)


def test_no_repo_is_said_and_the_check_goes_on(broken, tmp_path, monkeypatch) -> None:
    _, result = broken
    monkeypatch.chdir(tmp_path)
    junit = tmp_path / "j.xml"
    code, report = _check(result, tmp_path, "--junit", str(junit))
    assert report["replay"]["ran"] is False and report["replay"]["reason"] == "no_feature_repo"
    assert 'name="replay_reason" value="no_feature_repo"' in junit.read_text()
    assert code in (0, 1, 3)


def test_an_unknown_feature_service_is_reported_or_fatal_with_replay(
    broken, tmp_path, monkeypatch, capsys
) -> None:
    repo, result = broken
    monkeypatch.chdir(repo)
    code, report = _check(result, tmp_path, "--feature-service", "nope")
    assert report["replay"]["reason"] == "unknown_feature_service"
    assert "no feature service named 'nope'" in report["replay"]["detail"]
    assert code in (0, 1, 3)
    assert _check(result, tmp_path / "x", "--feature-service", "nope", "--replay")[0] == 2
    assert "no feature service named 'nope'" in capsys.readouterr().err


def test_an_unavailable_offline_store_leaves_the_check_standing(
    broken, tmp_path, monkeypatch, capsys
) -> None:
    repo, result = broken
    source = repo / "data" / "product_stats.parquet"
    moved = tmp_path / "product_stats.parquet"
    shutil.move(source, moved)
    try:
        monkeypatch.chdir(repo)
        code, report = _check(result, tmp_path)
        assert report["replay"]["ran"] is False
        assert report["replay"]["reason"] == "store_unavailable", report["replay"]
        assert code in (0, 1, 3)
        html = tmp_path / "r.html"
        explicit = _check(result, tmp_path / "x", "--replay", "--html", str(html))[0]
        assert explicit == 2 and not html.exists()
        assert "skewguard check: error:" in capsys.readouterr().err
    finally:
        shutil.move(moved, source)


def test_logs_of_another_service_are_told_from_their_schema(broken, tmp_path, monkeypatch) -> None:
    from tests.check_fixtures import write_serving, write_training

    repo, _ = broken
    monkeypatch.chdir(repo)
    training = write_training(tmp_path / "train", 2000, seed=1)
    serving = write_serving(tmp_path / "logs", 2000, seed=2)  # Feast's log schema, other features
    out = tmp_path / "r.json"
    argv = ["check", "--training", str(training), "--serving", str(serving), "--json", str(out)]
    assert cli.main([*argv, "--feature-service", "recommender_v1", "-q"]) == 0
    replay = json.loads(out.read_text())["replay"]
    assert replay["reason"] == "logs_not_replayable"
    assert "lack column(s) customer_profile__avg_order_value" in replay["detail"]
