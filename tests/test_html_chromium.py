"""Open the HTML report in headless Chromium: the verdict shows, a failing feature has its
plot, the sorting script runs under the page's Content-Security-Policy, and hostile strings
stay text. Also takes the screenshot used in docs/reports.md.

Needs Debian's `chromium` (`.ci/run` installs it). Without it the test skips, except in CI
(`CI=true`), where a missing browser is a failure. `SKEWGUARD_UPDATE_GOLDEN=1` also
refreshes docs/img/report.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
from check_fixtures import replace_column, write_serving, write_training
from report_fixtures import HOSTILE, Page, stable

from skewguard.checking.pipeline import check
from skewguard.checking.policy import load_policy
from skewguard.report.html import render_html

DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "report.png"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


CHROMIUM = Path("/usr/bin/chromium")


def _chromium() -> str:
    found = shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)
    if found:
        return found
    message = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true, so this test must run")
    pytest.skip(message)


def _skew(values):
    name = "customer_stats__avg_order_value"
    values = replace_column(values, name, pa.compute.add(values[name], 20.0))
    categories = values["product_stats__category"].to_pylist()
    # A hostile new category (escaping) and a case change (category_form: block).
    categories = [
        HOSTILE if i % 7 == 0 else ("Electronics" if c == "electronics" else c)
        for i, c in enumerate(categories)
    ]
    return replace_column(values, "product_stats__category", pa.array(categories))


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chromium")
    write_training(root / "training", 3_000, seed=1)
    write_serving(root / "logs", 3_000, seed=2, parts=2, transform=_skew)
    report = stable(check(root / "training", root / "logs", load_policy(None)))
    assert str(report.verdict) == "block"
    path = root / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def _run(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_page_shows_the_verdict_and_a_plot_for_the_failing_feature(
    report_file: Path, tmp_path: Path
) -> None:
    browser = _chromium()
    result = _run(browser, tmp_path, "--dump-dom", report_file.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Page(result.stdout)
    (header,) = dom.find("header", id="verdict")
    assert header["data-verdict"] == "block"
    assert "skewguard check: BLOCK" in "".join(dom.text)
    plots = dom.find("svg", data_feature="product_stats__category", data_plot="categories")
    assert len(plots) == 1
    assert dom.find("svg", data_feature="customer_stats__avg_order_value")
    # the table-sorting script ran (CSP hash accepted): it makes headers focusable
    assert any(t == "th" and a.get("tabindex") == "0" for t, a in dom.elements)
    # the hostile category is text in the DOM, and no script other than ours exists
    assert HOSTILE in "".join(dom.text)
    assert [t for t, _ in dom.elements].count("script") == 1


def test_screenshot(report_file: Path, tmp_path: Path) -> None:
    browser = _chromium()
    png = tmp_path / "report.png"
    result = _run(
        browser,
        tmp_path,
        f"--screenshot={png}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        report_file.as_uri(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    if os.environ.get("SKEWGUARD_UPDATE_GOLDEN") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, DOCS_SCREENSHOT)


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), (None, pytest.skip.Exception)]
)
def test_missing_chromium_skips_locally_but_fails_in_ci(monkeypatch, tmp_path: Path, ci, outcome):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(f"{__name__}.CHROMIUM", tmp_path / "no-chromium")
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium is not installed"):
        _chromium()
