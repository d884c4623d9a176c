"""`skewguard history`: the watch windows' drift, missing values and performance on one
self-contained page, with the windows that fired an event marked."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from test_performance import TRAINING_AUC, _write_world
from test_watch import NOW, _config, world  # noqa: F401  (the watch fixture)

from skewguard.cli import main
from skewguard.loop.performance import PerformanceConfig, evaluate
from skewguard.loop.watch import watch_once


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_history_draws_every_window_and_marks_the_events(
    world: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, world)
    outcomes = watch_once(config, now=NOW, say=lambda line: None)
    assert [o.action for o in outcomes] == ["none", "published", "cooldown"]

    predictions, labels = _write_world(tmp_path / "perf", degrade_day2=True)
    labels.to_parquet(tmp_path / "labels.parquet")
    document = evaluate(
        PerformanceConfig(predictions, tmp_path / "labels.parquet", training={"auc": TRAINING_AUC})
    )
    (tmp_path / "performance.json").write_text(json.dumps(document))

    page = tmp_path / "history.html"
    code = main(
        [
            "history",
            "--state",
            str(config.state),
            "--performance",
            str(tmp_path / "performance.json"),
        ]
        + ["--html", str(page), "--json", str(tmp_path / "history.json")]
    )
    assert code == 0
    html = page.read_text()
    history = json.loads((tmp_path / "history.json").read_text())
    assert [w["id"] for w in history["windows"]] == ["2026-11-10", "2026-11-11", "2026-11-12"]

    # The shifted feature's PSI per window is drawn with the values of the window reports.
    reports = [json.loads(Path(w["report"]).read_text()) for w in history["windows"]]
    name = "customer_stats__avg_order_value"
    psi = [
        next(c["value"] for f in r["features"] if f["name"] == name for c in f["checks"]
             if c["check"] == "psi" and c["subject"] == "value")
        for r in reports
    ]  # fmt: skip
    assert psi[0] < 0.1 < 0.25 < psi[1]
    tags = _Tags()
    tags.feed(html)
    charts = [a for t, a in tags.tags if t == "svg"]
    titles = {a["data-chart"] for a in charts}
    assert {f"{name} psi", f"{name} missing-value rate", "model AUC"} <= titles
    chart = html.split(f'data-chart="{name} psi"', 1)[1].split("</svg>", 1)[0]
    drawn = [float(v) for v in re.findall(r'data-value="([^"]+)"', chart)]
    assert drawn == [float(f"{v:.6g}") for v in psi]
    assert chart.count('class="fired"') == 1  # the window whose event was published
    # Performance: realised AUC per window, the degraded day marked.
    auc_chart = html.split('data-chart="model AUC"', 1)[1].split("</svg>", 1)[0]
    assert auc_chart.count('class="fired"') == 1
    assert 'class="interval"' in auc_chart
    # Self-contained: nothing is loaded from anywhere.
    assert "default-src 'none'" in html
    assert not [a for _, a in tags.tags if a.get("src") or a.get("href")]


def test_history_without_a_state_file_is_bad_input(tmp_path: Path, capsys) -> None:
    code = main(["history", "--state", str(tmp_path / "none.json"), "--html", str(tmp_path / "h")])
    assert code == 2
    assert "no watch state file" in capsys.readouterr().err


def _sections(html: str) -> list[str]:
    tags = _Tags()
    tags.feed(html)
    return [a.get("id") or "" for t, a in tags.tags if t == "section"]


def test_a_check_report_of_a_watched_window_carries_its_history(
    world: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
    capsys,
) -> None:
    from skewguard.loop.watch import state_path_default

    snapshot, logs = world
    config = _config(tmp_path, world, state=state_path_default(logs))
    watch_once(config, now=NOW, say=lambda line: None)
    today = logs / "2026-11-13"  # the open day, which watch has not checked yet
    page, report = tmp_path / "today.html", tmp_path / "today.json"
    args = ["check", "--training", str(snapshot), "--serving", str(today), "--no-replay"]
    assert main([*args, "--html", str(page), "--json", str(report)]) == 3  # retrain
    html = page.read_text()
    assert "history" in _sections(html)
    section = html.split('<section id="history">', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr[^>]*><td>([^<]+)</td><td>([^<]+)</td>", section)
    assert rows == [
        ("2026-11-10", "pass"),
        ("2026-11-11", "retrain"),
        ("2026-11-12", "retrain"),
        ("this check", "retrain"),
    ]
    # The newest point of the drifted feature's PSI is this check's own value.
    name = "customer_stats__avg_order_value"
    psi = next(
        c["value"]
        for f in json.loads(report.read_text())["features"]
        if f["name"] == name
        for c in f["checks"]
        if c["check"] == "psi" and c["subject"] == "value"
    )
    chart = section.split(f'data-chart="{name} psi"', 1)[1].split("</svg>", 1)[0]
    drawn = [float(v) for v in re.findall(r'data-value="([^"]+)"', chart)]
    assert len(drawn) == 4 and drawn[-1] == float(f"{psi:.6g}")
    assert chart.count('class="fired"') == 1

    # --no-history leaves it out; a --history that names nothing fails before any report.
    assert main([*args, "--html", str(page), "--no-history"]) == 3
    assert "history" not in _sections(page.read_text())
    missing = tmp_path / "elsewhere"
    capsys.readouterr()
    code = main([*args, "--html", str(tmp_path / "never.html"), "--history", str(missing)])
    assert code == 2 and not (tmp_path / "never.html").exists()
    assert "no watch state file for --history" in capsys.readouterr().err
    # The History section lives in the HTML report: asking for it without one is refused.
    state = str(state_path_default(logs))
    assert main([*args, "--json", str(tmp_path / "never.json"), "--history", state]) == 2
    assert not (tmp_path / "never.json").exists()
    assert "feed the HTML report" in capsys.readouterr().err


def test_a_check_outside_any_watched_folder_has_no_history(
    world: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    snapshot, logs = world
    page = tmp_path / "plain.html"
    args = ["check", "--training", str(snapshot), "--serving", str(logs / "2026-11-10")]
    assert main([*args, "--no-replay", "--html", str(page)]) == 0
    assert "history" not in _sections(page.read_text())
