"""Whether the replay runs, and why not, settled without Feast where it can be; and every
report renders the answer. No Redis here (tests/test_check_default_replay.py has it)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xmlschema

from skewguard.errors import FeatureRepoError, InputError
from skewguard.report.model import Report
from skewguard.store.entities import entities_from_table
from skewguard.store.replay_status import (
    ReplayRequest,
    ReplaySkip,
    ReplayStatus,
    replay_if_possible,
)
from tests.check_fixtures import write_serving, write_training
from tests.conftest import copy_feature_repo
from tests.report_fixtures import mixed_report

XSD = Path(__file__).parent / "junit-10.xsd"


@pytest.fixture(autouse=True)
def _no_repo_variables(monkeypatch) -> None:
    for name in ("SKEWGUARD_REPO", "FEATURE_REPO_DIR_ENV_VAR", "FEAST_FS_YAML_FILE_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    return write_serving(tmp_path_factory.mktemp("logs") / "logs", 200, seed=2)


def _try(requested: ReplayRequest, repo: Path | None, serving: Path, **kw):  # noqa: ANN202
    return replay_if_possible(
        requested=requested, repo=repo, feature_service=None, serving=serving, **kw
    )


def test_no_replay_is_an_opt_out(logs) -> None:
    result, status = _try(ReplayRequest.OFF, None, logs)
    assert result is None and status.reason is ReplaySkip.OPTED_OUT and not status.ran


def test_no_repo_skips_by_default_and_raises_when_asked_for(logs, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result, status = _try(ReplayRequest.DEFAULT, None, logs)
    assert result is None and status.reason is ReplaySkip.NO_FEATURE_REPO
    assert "no feature_store.yaml" in (status.detail or "")
    with pytest.raises(FeatureRepoError, match="no feature_store.yaml"):
        _try(ReplayRequest.EXPLICIT, None, logs)


def test_a_repo_never_applied_is_said_without_creating_its_registry(logs, tmp_path) -> None:
    repo = copy_feature_repo(tmp_path / "repo", "sg_never_applied")
    result, status = _try(ReplayRequest.DEFAULT, repo, logs)
    assert result is None and status.reason is ReplaySkip.REPO_NOT_APPLIED
    assert "skewguard apply" in (status.detail or "")
    assert not (repo / "data" / "registry.db").exists()


def test_serving_data_without_request_times_is_not_replayable(tmp_path) -> None:
    repo = copy_feature_repo(tmp_path / "repo", "sg_plain")
    (repo / "data").mkdir()
    (repo / "data" / "registry.db").write_bytes(b"")  # applied, as far as the file says
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"product_stats__price": [1.0, 2.0]}), plain)
    result, status = _try(ReplayRequest.DEFAULT, repo, plain)
    assert result is None and status.reason is ReplaySkip.LOGS_NOT_REPLAYABLE
    assert "__log_timestamp" in (status.detail or "")
    with pytest.raises(InputError, match="__log_timestamp"):
        _try(ReplayRequest.EXPLICIT, repo, plain)


def test_the_settled_reasons_never_import_feast(logs, tmp_path) -> None:
    import subprocess

    repo = copy_feature_repo(tmp_path / "repo", "sg_noimport")
    code = (
        "import sys; from skewguard.store.replay_status import ReplayRequest, "
        "replay_if_possible as r\n"
        f"print(r(requested=ReplayRequest.DEFAULT, repo={str(repo)!r}, feature_service=None, "
        f"serving={str(logs)!r})[1].reason, 'feast' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.split() == ["repo_not_applied", "False"]


def test_the_status_is_json_and_every_renderer_says_it() -> None:
    status = ReplayStatus.skipped(
        ReplayRequest.DEFAULT, ReplaySkip.STORE_UNAVAILABLE, "duckdb: file not found <x>"
    )
    report = replace(mixed_report(), replay=status.to_dict())
    parsed = Report.from_dict(json.loads(report.to_json()))
    assert parsed.replay == status.to_dict()
    assert parsed.to_dict()["replay"]["reason"] == "store_unavailable"
    note = "Joined replay did not run (store_unavailable): duckdb: file not found"
    assert "Joined replay did not run (store\\_unavailable): duckdb: file not found" in (
        report.to_markdown()
    )
    html = report.to_html()
    assert note in html and "&lt;x&gt;" in html and "<x>" not in html.split("<body>")[1][:4000]
    junit = report.to_junit()
    xmlschema.XMLSchema(XSD).validate(junit)
    assert 'name="replay_reason" value="store_unavailable"' in junit
    assert 'name="replay_ran" value="false"' in junit


def test_a_report_without_the_section_renders_as_before() -> None:
    report = mixed_report()
    assert "replay" not in report.to_dict()
    assert "Joined replay" not in report.to_markdown()
    assert "replay_ran" not in report.to_junit()


def test_a_malformed_replay_section_names_the_field() -> None:
    document = json.loads(mixed_report().to_json())
    document["replay"] = {"ran": "yes"}
    with pytest.raises(InputError, match=r"report\.replay\.ran"):
        Report.from_dict(document)


def test_the_python_api_says_it_was_not_asked_to_replay(tmp_path) -> None:
    import skewguard as sg

    training = write_training(tmp_path / "train", 300, seed=1)
    serving = write_serving(tmp_path / "logs", 300, seed=2)
    report = sg.check(training, serving)
    assert report.to_dict()["replay"]["reason"] == "not_requested"
    assert report.to_dict()["replay"]["requested"] == "api"


def test_entities_from_a_table_are_distinct_seeded_and_capped() -> None:
    table = pa.table({"customer_id": [1, 1, 2, 3, None], "product_id": [9, 9, 8, 7, 6]})
    picked = entities_from_table(table, ["customer_id", "product_id"], 10, seed=1, where="t")
    assert picked.num_rows == 3  # (1, 9) once; the null key row dropped
    assert sorted(picked.column("customer_id").to_pylist()) == [1, 2, 3]
    again = entities_from_table(table, ["customer_id", "product_id"], 2, seed=1, where="t")
    assert again.equals(
        entities_from_table(table, ["customer_id", "product_id"], 2, seed=1, where="t")
    )
    with pytest.raises(InputError, match="lacks column"):
        entities_from_table(table, ["customer_id", "store_id"], 2, seed=1, where="t")
