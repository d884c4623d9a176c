"""`skewguard check` with reports: --markdown/--junit/--html, --quiet, --fail-on, progress."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_fixtures import write_small_inputs

from skewguard import cli
from skewguard.checking.pipeline import check
from skewguard.checking.policy import load_policy
from skewguard.commands.check import gate_exit_code
from skewguard.vocabulary import Verdict

# Policies that turn the small skewed run (block) into a retrain or a warn.
AS_RETRAIN = """
[defaults]
min_rows = 100
[defaults.checks.category_form]
action = "warn"
[defaults.checks.null_rate]
action = "warn"
[defaults.checks.missing_or_invalid_rate]
action = "warn"
"""
AS_WARN = AS_RETRAIN + "".join(
    f'[defaults.checks.{c}]\naction = "warn"\n'
    for c in (
        "psi", "js_distance", "ks_statistic", "wasserstein_norm", "linf_distance",
        "mean_shift", "new_category_rate",
    )
)  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli_reports")
    write_small_inputs(root)
    (root / "retrain.toml").write_text(AS_RETRAIN)
    (root / "warn.toml").write_text(AS_WARN)
    return root


def _run(inputs: Path, *extra: str, policy: str = "skewguard.toml") -> int:
    return cli.main(
        [
            "check",
            "--training", str(inputs / "training.parquet"),
            "--serving", str(inputs / "serving"),
            "--policy", str(inputs / policy),
            *extra,
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("verdict", "warn", "retrain", "block"),
    [
        ("pass", 0, 0, 0),
        ("warn", 1, 0, 0),
        ("retrain", 3, 3, 0),
        ("block", 1, 1, 1),
        ("insufficient_data", 2, 2, 2),
    ],
)
def test_gate_exit_codes(verdict: str, warn: int, retrain: int, block: int) -> None:
    v = Verdict(verdict)
    assert [gate_exit_code(v, g) for g in ("warn", "retrain", "block")] == [warn, retrain, block]
    assert gate_exit_code(v) == retrain  # the default is the exit-code contract


def test_every_report_is_written_and_named(inputs: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = _run(
        inputs,
        "--json", str(out / "report.json"),
        "--markdown", str(out / "report.md"),
        "--junit", str(out / "junit.xml"),
        "--html", str(out / "report.html"),
    )  # fmt: skip
    assert code == 1
    stdout = capsys.readouterr().out
    for what, name in [
        ("JSON", "report.json"),
        ("Markdown", "report.md"),
        ("JUnit XML", "junit.xml"),
        ("HTML", "report.html"),
    ]:
        assert f"  {what} report: {out / name}" in stdout
    assert json.loads((out / "report.json").read_text())["verdict"] == "block"
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("## ⛔ skewguard check: BLOCK")
    assert "Full report with plots: `report.html` (HTML)." in markdown
    # price: psi, js, ks, wasserstein, mean shift; category: new categories, psi, js,
    # L-infinity, category_form (rating's null rise only warns under this policy)
    assert ET.parse(out / "junit.xml").getroot().get("failures") == "10"
    html = (out / "report.html").read_text()
    assert 'data-verdict="block"' in html and 'data-feature="shop__category"' in html


def test_quiet_prints_nothing_and_keeps_the_exit_code(inputs: Path, tmp_path: Path, capsys) -> None:
    assert _run(inputs, "--quiet", "--html", str(tmp_path / "r.html")) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "r.html").is_file()


@pytest.mark.parametrize(
    ("policy", "fail_on", "code", "head"),
    [
        ("retrain.toml", None, 3, "skewguard check: RETRAIN (exit 3)"),
        ("retrain.toml", "block", 0, "skewguard check: RETRAIN (exit 0 with --fail-on block)"),
        ("retrain.toml", "warn", 3, "skewguard check: RETRAIN (exit 3)"),
        ("warn.toml", None, 0, "skewguard check: WARN (exit 0)"),
        ("warn.toml", "warn", 1, "skewguard check: WARN (exit 1 with --fail-on warn)"),
        ("skewguard.toml", "block", 1, "skewguard check: BLOCK (exit 1)"),
    ],
)
def test_fail_on(inputs: Path, capsys, policy: str, fail_on: str | None, code: int, head: str):
    extra = ["--fail-on", fail_on] if fail_on else []
    assert _run(inputs, *extra, policy=policy) == code
    assert capsys.readouterr().out.splitlines()[0] == head


def test_fail_on_rejects_other_values(inputs: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(inputs, "--fail-on", "pass")
    assert exc.value.code == 2
    assert "invalid choice: 'pass'" in capsys.readouterr().err


def test_junit_follows_fail_on(inputs: Path, tmp_path: Path) -> None:
    _run(inputs, "--fail-on", "block", "--junit", str(tmp_path / "j.xml"), policy="retrain.toml")
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "0"


def test_unwritable_report_names_the_file_and_the_flag(inputs: Path, tmp_path: Path, capsys):
    (tmp_path / "afile").write_text("")
    target = tmp_path / "afile" / "report.html"
    assert _run(inputs, "--html", str(target)) == 2
    err = capsys.readouterr().err
    assert "cannot write the HTML report" in err and str(target) in err and "--html" in err


def test_progress_names_the_files_and_the_features(inputs: Path) -> None:
    steps: list[tuple[str, int, int]] = []
    check(
        inputs / "training.parquet",
        inputs / "serving",
        load_policy(inputs / "skewguard.toml"),
        progress=lambda what, done, total: steps.append((what, done, total)),
    )
    texts = [s[0] for s in steps]
    assert texts[0] == f"reading {inputs / 'training.parquet'} and {inputs / 'serving'}"
    assert f"profiling training data {inputs / 'training.parquet'} (300 rows)" in texts
    assert f"profiling serving logs {inputs / 'serving'} (300 rows)" in texts
    assert "comparing shop__category" in texts and texts[-1] == "deciding"
    assert all(done <= total for _, done, total in steps)
    assert [d for _, d, _ in steps] == sorted(d for _, d, _ in steps)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(inputs: Path, monkeypatch, capsys) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert _run(inputs) == 1
    assert "comparing shop__" in terminal.getvalue()
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert _run(inputs, "--quiet") == 1
    assert terminal.getvalue() == ""
    monkeypatch.undo()
    capsys.readouterr()
    assert _run(inputs) == 1  # stderr captured by pytest: not a terminal, so no bar
    assert capsys.readouterr().err == ""


def test_reports_keep_the_check_free_of_heavy_imports(inputs: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    argv = [
        "check",
        "--training", str(inputs / "training.parquet"),
        "--serving", str(inputs / "serving"),
        "--policy", str(inputs / "skewguard.toml"),
        "--quiet",
        "--markdown", str(tmp_path / "r.md"),
        "--junit", str(tmp_path / "r.xml"),
        "--html", str(tmp_path / "r.html"),
    ]  # fmt: skip
    code = (
        "import sys; from skewguard import cli; rc = cli.main(sys.argv[1:]); "
        "print(sorted(m for m in ('feast', 'matplotlib', 'jinja2') if m in sys.modules), rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, check=False
    )
    assert out.stdout.strip() == "[] 1", out.stderr
