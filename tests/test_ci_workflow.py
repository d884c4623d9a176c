"""The example GitHub Actions skew gate parses and wires the reports as docs/reports.md says."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from skewguard import cli

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "skew-check.yml"


def _steps() -> dict[str, dict]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"pull_request", "workflow_dispatch", "schedule"} <= set(triggers)
    steps = doc["jobs"]["skew-check"]["steps"]
    return {s.get("name") or s["uses"]: s for s in steps}


def test_steps_exist_in_order() -> None:
    assert list(_steps()) == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Set up skewguard",
        "Build the training snapshot",
        "Fetch serving logs",
        "Check skew",
        "Write the job summary",
        "Upload the reports",
        "Warn on retrain",
        "Fail on block",
    ]


def test_setup_and_snapshot() -> None:
    steps = _steps()
    assert steps["Set up skewguard"]["run"].strip() == "make setup"
    assert "skewguard snapshot" in steps["Build the training snapshot"]["run"]
    assert "--out out/snapshot" in steps["Build the training snapshot"]["run"]


def test_check_writes_every_report_and_fails_on_block_only() -> None:
    run = _steps()["Check skew"]["run"]
    command = run[run.index(".venv/bin/skewguard check") :].split("\n\n")[0]
    command = command.split("echo")[0].replace("\\\n", " ")
    command = command.replace('"$SERVING_LOGS"', "serving_logs").replace("$REPORTS", "out/skew")
    argv = shlex.split(command)[1:]
    args = cli.build_parser().parse_args(argv)  # the flags exist and parse
    assert args.fail_on == "block"
    assert str(args.html) == "out/skew/report.html" and str(args.junit) == "out/skew/junit.xml"
    assert str(args.markdown) == "out/skew/report.md" and str(args.json) == "out/skew/report.json"
    assert 'echo "exit_code=$?" >> "$GITHUB_OUTPUT"' in run and "set +e" in run


def test_summary_upload_and_gate() -> None:
    steps = _steps()
    summary = steps["Write the job summary"]
    assert summary["if"] == "always()"
    assert 'cat "$REPORTS/report.md" >> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    upload = steps["Upload the reports"]
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["if"] == "always()"
    assert {"out/skew/report.html", "out/skew/junit.xml"} <= set(upload["with"]["path"].split())
    gate = steps["Fail on block"]["run"]
    assert "steps.check.outputs.exit_code" in gate and "exit 1" in gate
    assert "0) echo" in gate  # retrain (exit 0 under --fail-on block) passes the job
