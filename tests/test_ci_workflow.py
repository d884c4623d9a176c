"""The shipped CI pieces: the GitHub Actions skew gate and the GitLab CI example.

Both files are validated against the SchemaStore schemas that check-jsonschema ships
(`vendor.github-workflows`, `vendor.gitlab-ci`: no network), their shell is checked with
ShellCheck, the check command's flags parse, and the GitHub job's steps run here as a
fresh fork would run them (no repository variable set: demo traffic is logged and checked)
and once more with the variable pointing at the logs through a URI.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from workflow_runner import EXPRESSION, clean_base_env, run_job

from skewguard import cli

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "skew-check.yml"
GITLAB = ROOT / "ci" / "examples" / "gitlab-ci.yml"
BIN = Path(sys.executable).parent


def _job() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"pull_request", "workflow_dispatch", "schedule"} <= set(triggers)
    return dict(doc["jobs"]["skew-check"])


def _steps() -> dict[str, dict[str, Any]]:
    return {s.get("name") or s["uses"]: s for s in _job()["steps"]}


@pytest.mark.parametrize(
    ("path", "schema"),
    [(WORKFLOW, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")],
)
def test_files_match_their_schemastore_schema(path: Path, schema: str) -> None:
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: linux"))
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", broken],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1


def _scripts() -> list[tuple[str, str]]:
    scripts = [(s["name"], s["run"]) for s in _job()["steps"] if "run" in s]
    gitlab = yaml.safe_load(GITLAB.read_text())["skew-check"]["script"]
    return [*scripts, ("gitlab script", "\n".join(gitlab))]


@pytest.mark.parametrize(("name", "script"), _scripts(), ids=lambda v: str(v)[:30])
def test_shell_passes_shellcheck(tmp_path: Path, name: str, script: str) -> None:
    file = tmp_path / "step.sh"
    file.write_text("#!/bin/bash\nset -e\n" + EXPRESSION.sub("placeholder", script))
    done = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", str(file)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_steps_exist_in_order() -> None:
    assert list(_steps()) == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Set up skewguard",
        "Build the training snapshot",
        "Fetch serving logs",
        "Check skew",
        "Write the job summary",
        "Publish the test view",
        "Upload the reports",
        "Warn on retrain",
        "Fail on block",
    ]


def _check_argv(script: str, serving: str) -> list[str]:
    command = script[script.index(".venv/bin/skewguard check") :].split("\n\n")[0]
    command = command.split("echo")[0].replace("\\\n", " ")
    command = command.replace('"$SERVING_LOGS"', serving).replace("$REPORTS", "out/skew")
    command = command.replace('"out/skew', "out/skew").replace('.json"', ".json")
    command = re.sub(r'(out/skew/[\w.]+)"', r"\1", command)
    return shlex.split(command)[1:]


def test_check_writes_every_report_and_fails_on_block_only() -> None:
    run = _steps()["Check skew"]["run"]
    args = cli.build_parser().parse_args(_check_argv(run, "serving_logs"))
    assert args.fail_on == "block" and args.replay is True
    assert str(args.html) == "out/skew/report.html" and str(args.junit) == "out/skew/junit.xml"
    assert str(args.markdown) == "out/skew/report.md" and str(args.json) == "out/skew/report.json"
    assert 'echo "exit_code=$?" >> "$GITHUB_OUTPUT"' in run and "set +e" in run


def test_gitlab_check_parses_and_publishes_junit() -> None:
    job = yaml.safe_load(GITLAB.read_text())["skew-check"]
    script = job["script"][-1]
    args = cli.build_parser().parse_args(_check_argv(script, "logs"))
    assert args.fail_on == "retrain" and str(args.junit) == "out/skew/junit.xml"
    assert args.replay is True
    assert job["artifacts"]["reports"]["junit"] == "out/skew/junit.xml"
    assert job["artifacts"]["when"] == "always"
    assert job["allow_failure"] == {"exit_codes": [3]}


def test_summary_test_view_upload_and_gate() -> None:
    steps = _steps()
    summary = steps["Write the job summary"]
    assert summary["if"] == "always()"
    assert 'cat "$REPORTS/report.md" >> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    view = steps["Publish the test view"]
    assert view["uses"].startswith("mikepenz/action-junit-report@") and view["if"] == "always()"
    assert view["with"]["report_paths"] == "out/skew/junit.xml"
    assert _job_permissions()["checks"] == "write"
    upload = steps["Upload the reports"]
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["if"] == "always()"
    assert {"out/skew/report.html", "out/skew/junit.xml"} <= set(upload["with"]["path"].split())
    gate = steps["Fail on block"]
    assert gate["env"]["CHECK_EXIT_CODE"] == "${{ steps.check.outputs.exit_code }}"
    assert "exit 1" in gate["run"] and "0) echo" in gate["run"]


def _job_permissions() -> dict[str, str]:
    return dict(yaml.safe_load(WORKFLOW.read_text())["permissions"])


# -- the steps, run ---------------------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path, redis_connection: str) -> Any:
    """A checkout as the job sees it after `make setup`: the feature repo and `.venv`.

    The feature repo gets its own Feast project (the Redis is shared); `make setup` is not
    run again: `.venv` is this one.
    """
    work = tmp_path / "checkout"
    (work / "feature_repo").mkdir(parents=True)
    for item in (ROOT / "feature_repo").iterdir():
        if item.suffix in {".py", ".yaml"}:
            shutil.copy(item, work / "feature_repo" / item.name)
    yaml_file = work / "feature_repo" / "feature_store.yaml"
    text = yaml_file.read_text().replace("skewguard_demo", f"sgci_{os.getpid()}")
    if redis_connection != "127.0.0.1:6379":  # the session's embedded server stands in
        text = text.replace("127.0.0.1:6379", redis_connection)
    yaml_file.write_text(text)
    (work / ".venv").symlink_to(BIN.parent)
    yield work
    subprocess.run(
        [str(BIN / "feast"), "teardown"],
        cwd=work / "feature_repo",
        capture_output=True,
        timeout=300,
    )


def _assert_green(run: Any) -> None:
    failed = [(s.name, s.returncode, s.output[-2000:]) for s in run.failed]
    assert not failed


@pytest.mark.slow
@pytest.mark.redis
def test_the_job_runs_green_on_a_fresh_fork_and_on_a_logs_uri(checkout: Path) -> None:
    job = _job()
    env = clean_base_env()
    fork = run_job(job, checkout, base_env=env, skip={"Set up skewguard"})
    _assert_green(fork)
    assert "no SKEWGUARD_SERVING_LOGS variable" in fork.step("Fetch serving logs").output
    assert fork.outputs["check"]["exit_code"] == "0"
    assert "passed the gate" in fork.step("Fail on block").output
    assert fork.summary.startswith("## ") and "skewguard check: PASS" in fork.summary

    assert "Joined replay ran" in fork.summary  # the shipped gate replays
    for report in ("report.json", "report.md", "junit.xml", "report.html"):
        assert (checkout / "out" / "skew" / report).is_file()
    assert fork.step("Publish the test view").returncode is None  # an action: not run here

    logs = (checkout / "feature_repo" / "data" / "logs" / "recommender_v1").as_uri()
    variable = {"SKEWGUARD_SERVING_LOGS": logs}
    again = run_job(
        job,
        checkout,
        base_env=env,
        vars=variable,
        skip={"Set up skewguard", "Build the training snapshot"},
    )
    _assert_green(again)
    assert f"serving logs: {logs}" in again.step("Fetch serving logs").output
    report = json.loads((checkout / "out" / "skew" / "report.json").read_text())
    assert report["inputs"]["serving"]["path"] == logs and report["verdict"] == "pass"
    assert report["replay"]["ran"] is True and report["replay"]["feature_service"]
