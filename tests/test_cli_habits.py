"""Feast's CLI habits: --version, the repo found as `feast` finds it, the feature service
defaulted, `check` without --serving, and a repo that plain `feast` reads with no variable set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from skewguard import __version__, cli
from skewguard.errors import FeatureRepoError
from skewguard.store.location import locate_repo
from skewguard.store.repo import choose_feature_service

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCATION_VARIABLES = ("SKEWGUARD_REPO", "FEATURE_REPO_DIR_ENV_VAR", "FEAST_FS_YAML_FILE_PATH")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"skewguard {__version__}"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """project/feature_repo/feature_store.yaml, project/feature_repo/data/logs, elsewhere/."""
    for name in LOCATION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "project" / "feature_repo"
    (repo / "data" / "logs").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: p\n")
    (tmp_path / "elsewhere").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("cwd", "found_by"),
    [
        ("project/feature_repo", "the current folder"),
        ("project", "./feature_repo"),
        ("project/feature_repo/data/logs", "a parent of the current folder"),
    ],
)
def test_the_repo_is_found_from_the_current_folder(tree: Path, cwd: str, found_by: str) -> None:
    location = locate_repo(cwd=tree / cwd)
    assert location.folder == tree / "project" / "feature_repo"
    assert location.config == location.folder / "feature_store.yaml"
    assert location.found_by == found_by


def test_explicit_folders_and_variables_win(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tree / "project" / "feature_repo"
    elsewhere = tree / "elsewhere"
    assert locate_repo("../project/feature_repo", cwd=elsewhere).folder == repo
    monkeypatch.setenv("FEATURE_REPO_DIR_ENV_VAR", str(repo))
    assert locate_repo(cwd=elsewhere).found_by == "$FEATURE_REPO_DIR_ENV_VAR"
    monkeypatch.setenv("SKEWGUARD_REPO", str(repo))
    assert locate_repo(cwd=elsewhere).found_by == "$SKEWGUARD_REPO"


def test_feast_yaml_variable_names_the_config(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tree / "elsewhere" / "production.yaml"
    other.write_text("project: p\n")
    monkeypatch.setenv("FEAST_FS_YAML_FILE_PATH", str(other))
    location = locate_repo(cwd=tree / "project" / "feature_repo")
    assert location.config == other
    assert location.folder == tree / "project" / "feature_repo"


def test_no_repo_says_where_it_looked(tree: Path) -> None:
    with pytest.raises(FeatureRepoError) as error:
        locate_repo(cwd=tree / "elsewhere")
    message = str(error.value)
    assert "no feature_store.yaml here, in ./feature_repo or in any parent folder" in message
    assert str(tree / "elsewhere") in message and "-c/--chdir" in message


def test_chdir_option_is_the_repo_folder(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `generate` only needs the folder: a quick way to see -c reach a command
    repo = tree / "project" / "feature_repo"
    argv = ["-c", str(repo), "generate", "--customers", "5", "--products", "5", "--days", "2"]
    assert cli.main([*argv, "--events-per-day", "3"]) == 0
    assert str(repo / "data") in capsys.readouterr().out


def _services(*specs: tuple[str, bool]) -> Any:
    services = [SimpleNamespace(name=n, logging_config=object() if logged else None)
                for n, logged in specs]  # fmt: skip
    return SimpleNamespace(list_feature_services=lambda: services, repo_path="/repo")


@pytest.mark.parametrize(
    ("specs", "chosen"),
    [
        ((("only", False),), "only"),
        ((("a", False), ("logged", True), ("b", False)), "logged"),
    ],
)
def test_the_feature_service_defaults_to_the_only_one(specs: Any, chosen: str) -> None:
    assert choose_feature_service(_services(*specs)) == chosen


def test_several_candidates_are_listed() -> None:
    store = _services(("a", True), ("b", True), ("c", False))
    with pytest.raises(FeatureRepoError) as error:
        choose_feature_service(store)
    message = str(error.value)
    assert "--feature-service NAME, one of: a (logged), b (logged), c" in message


def test_an_ambiguous_service_exits_2(served_repo: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["lookup", "--repo", str(served_repo.path), "--entity", "product_id=1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "batch_sampled (logged)" in err and "recommender_v1 (logged)" in err
    assert "unlogged" in err


# -- from inside feature_repo/, with no variable set ----------------------------------------


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_inside_the_repo_with_no_variable_set(tmp_path: Path, redis_connection: str) -> None:
    repo = tmp_path / "feature_repo"
    repo.mkdir()
    for item in (ROOT / "feature_repo").iterdir():
        if item.suffix in {".py", ".yaml"}:
            shutil.copy(item, repo / item.name)
    yaml = repo / "feature_store.yaml"
    text = yaml.read_text().replace("project: skewguard_demo", f"project: sghabit_{os.getpid()}")
    if redis_connection != "127.0.0.1:6379":  # no shared server: the session's embedded one
        text = text.replace("127.0.0.1:6379", redis_connection)
    yaml.write_text(text)
    skewguard, feast = str(BIN / "skewguard"), str(BIN / "feast")
    setup = [
        ["generate", "--customers", "100", "--products", "50", "--days", "21"],
        ["apply"],
        ["materialize"],
        ["traffic", "--requests", "300", "--customers", "100", "--products", "50"],
    ]
    try:
        for argv in setup:
            done = _run([skewguard, *argv], repo)
            assert done.returncode == 0, (argv, done.stderr[-2000:])

        lookup = _run([skewguard, "lookup", "--entity", "customer_id=1,product_id=2"], repo)
        assert lookup.returncode == 0, lookup.stderr[-2000:]
        assert "product_stats__price" in lookup.stdout

        labels = "data/interactions.parquet"
        snapshot = _run([skewguard, "snapshot", "--labels", labels, "--out", "../snap"], repo)
        assert snapshot.returncode == 0, snapshot.stderr[-2000:]

        check = _run([skewguard, "check", "--training", "../snap", "--json", "../r.json"], repo)
        assert check.returncode in (0, 3), check.stderr[-2000:]
        assert f"serving logs of recommender_v1: {repo / 'data' / 'logs' / 'recommender_v1'}" in (
            check.stderr
        )

        views = _run([feast, "feature-views", "list"], repo)
        assert views.returncode == 0, views.stderr[-2000:]
        assert "customer_profile" in views.stdout and "product_stats" in views.stdout
    finally:
        _run([feast, "teardown"], repo)  # drops this project's Redis keys
