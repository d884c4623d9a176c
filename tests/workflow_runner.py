"""Running a GitHub Actions job's `run:` steps locally, as the runner would run them.

Each step runs with `bash -e` (the runner's default shell on Linux) in the checkout, with
the job's env, the step's env, and the files behind `$GITHUB_ENV`, `$GITHUB_OUTPUT` and
`$GITHUB_STEP_SUMMARY`. Expressions are replaced with what the runner would put there for
the given event: `vars.*` and `secrets.*` from the dicts given (empty when absent, as on a
fresh fork), `steps.<id>.outputs.<name>` from the earlier steps' outputs. An expression
this runner does not know fails the run rather than being guessed. `uses:` steps are
recorded, not run.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["StepResult", "JobRun", "expand", "run_job"]

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_STEP_OUTPUT = re.compile(r"steps\.([\w-]+)\.outputs\.([\w-]+)")
_CONTEXT = re.compile(r"(vars|secrets)\.(\w+)")


@dataclass(frozen=True)
class StepResult:
    name: str
    returncode: int | None  # None: a `uses:` step, not run here
    output: str


@dataclass
class JobRun:
    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.returncode not in (0, None)]


def expand(text: str, context: dict[str, Any]) -> str:
    """Replace each `${{ expr }}` the way the runner would for `context`."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        output = _STEP_OUTPUT.fullmatch(expression)
        if output:
            return context["steps"].get(output.group(1), {}).get(output.group(2), "")
        known = _CONTEXT.fullmatch(expression)
        if known:
            return str(context[known.group(1)].get(known.group(2), ""))
        if expression in context["literals"]:
            return str(context["literals"][expression])
        raise KeyError(f"no value for the expression ${{{{ {expression} }}}}")

    return EXPRESSION.sub(value, text)


def _read_pairs(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            pairs[key] = value
    return pairs


def run_job(
    job: dict[str, Any],
    workdir: Path,
    *,
    base_env: dict[str, str],
    vars: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    literals: dict[str, Any] | None = None,
    skip: set[str] = frozenset(),  # type: ignore[assignment]
    timeout: float = 900,
) -> JobRun:
    """Run `job`'s steps in order; steps named in `skip` are recorded as not run."""
    context: dict[str, Any] = {
        "vars": vars or {},
        "secrets": secrets or {},
        "literals": literals or {},
        "steps": {},
    }
    files = workdir / ".runner"  # fresh for each job, as on a runner
    files.mkdir(exist_ok=True)
    for old in files.iterdir():
        old.unlink()
    summary = files / "summary.md"
    summary.touch()
    env = dict(base_env)
    env.update({k: expand(str(v), context) for k, v in (job.get("env") or {}).items()})
    env.update(GITHUB_ENV=str(files / "env"), GITHUB_STEP_SUMMARY=str(summary), CI="true")
    (files / "env").touch()
    run = JobRun()
    failed = False
    for index, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses")
        condition = str(step.get("if", "success()"))
        if failed and "always()" not in condition:
            run.steps.append(StepResult(name, None, "skipped: an earlier step failed"))
            continue
        if "run" not in step or name in skip:
            run.steps.append(StepResult(name, None, "not run here"))
            continue
        output_file = files / f"output-{index}"
        output_file.touch()
        step_env = {
            **env,
            **{k: expand(str(v), context) for k, v in (step.get("env") or {}).items()},
            "GITHUB_OUTPUT": str(output_file),
        }
        script = expand(step["run"], context)
        done = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=workdir,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        run.steps.append(StepResult(name, done.returncode, done.stdout + done.stderr))
        failed = failed or done.returncode != 0
        if "id" in step:
            context["steps"][step["id"]] = _read_pairs(output_file)
        env.update(_read_pairs(files / "env"))
    run.summary = summary.read_text()
    run.outputs = context["steps"]
    return run


def clean_base_env(**extra: str) -> dict[str, str]:
    """The environment a runner starts a step in: PATH and HOME, nothing of ours."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}
