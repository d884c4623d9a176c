"""Write one check report in the formats asked for: JSON, Markdown, JUnit XML, HTML.

Used by `skewguard check` (paths from its flags) and by the demo (all four, in one folder).
A file that cannot be written is an `InputError` naming the file and the flag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skewguard.report.model import Report

__all__ = ["ReportPaths", "write_reports"]

# progress(what, done, total), told before each file is written.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReportPaths:
    json: Path | None = None
    markdown: Path | None = None
    junit: Path | None = None
    html: Path | None = None

    @classmethod
    def in_folder(cls, folder: Path) -> ReportPaths:
        return cls(
            json=folder / "report.json",
            markdown=folder / "report.md",
            junit=folder / "junit.xml",
            html=folder / "report.html",
        )

    def as_dict(self) -> dict[str, Path]:
        """The set paths by format name: json, markdown, junit, html."""
        named = {"json": self.json, "markdown": self.markdown, "junit": self.junit}
        return {k: v for k, v in {**named, "html": self.html}.items() if v is not None}


def _no_progress(what: str, done: int, total: int) -> None:
    return None


def write_reports(
    report: Report,
    paths: ReportPaths,
    *,
    fail_on: str = "retrain",
    progress: Progress = _no_progress,
    history: Mapping[str, Any] | None = None,
) -> list[tuple[str, Path]]:
    """Write each report whose path is set; return (format, path) for each one written.
    `history` (watch windows, `skewguard.loop.history`) becomes a section of the HTML."""
    from skewguard.report.common import write_text
    from skewguard.report.html import render_html
    from skewguard.report.junit import render_junit
    from skewguard.report.markdown import render_markdown
    from skewguard.report.model import write_json

    html = paths.html
    jobs: list[tuple[str, str, Path | None, Callable[[], str] | None]] = [
        ("JSON", "--json", paths.json, None),
        (
            "Markdown",
            "--markdown",
            paths.markdown,
            lambda: render_markdown(report, html_name=html.name if html else None),
        ),
        ("JUnit XML", "--junit", paths.junit, lambda: render_junit(report, fail_on=fail_on)),
        ("HTML", "--html", html, lambda: render_html(report, history=history)),
    ]
    todo = [job for job in jobs if job[2] is not None]
    written = []
    for i, (what, flag, path, render) in enumerate(todo):
        assert path is not None
        progress(f"writing {what} report {path}", i, len(todo))
        if render is None:
            write_json(report, path)
        else:
            write_text(path, render(), what=what, flag=flag)
        written.append((what, path))
    if todo:
        progress("reports written", len(todo), len(todo))
    return written
