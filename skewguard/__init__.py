"""skewguard: a Feast feature store plus a training-serving skew detector.

    import skewguard as sg

    report = sg.check("snapshot/", "logs/")        # paths, Arrow tables or DataFrames
    report.verdict, report.exit_code               # Verdict.PASS, ExitCode.OK
    report.to_markdown()                           # also to_dict, to_html, to_junit

The namespace is import-light: `import skewguard` loads no Feast, pyarrow or numpy; each
name below is imported the first time it is used.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from skewguard.errors import (
    FeatureRepoError,
    InputError,
    OnlineStoreError,
    PolicyError,
    SkewguardError,
    TimestampError,
)
from skewguard.vocabulary import ExitCode, Verdict, gate_exit_code

if TYPE_CHECKING:
    from skewguard.api import check, snapshot
    from skewguard.checking.policy import Policy, load_policy
    from skewguard.report.model import Report

try:
    __version__ = version("skewguard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree not installed
    __version__ = "0+unknown"

__all__ = [
    "ExitCode",
    "FeatureRepoError",
    "InputError",
    "OnlineStoreError",
    "Policy",
    "PolicyError",
    "Report",
    "SkewguardError",
    "TimestampError",
    "Verdict",
    "check",
    "gate_exit_code",
    "load_policy",
    "snapshot",
]

# name -> module that defines it; imported on first use (PEP 562).
_LAZY = {
    "check": "skewguard.api",
    "snapshot": "skewguard.api",
    "Policy": "skewguard.checking.policy",
    "load_policy": "skewguard.checking.policy",
    "Report": "skewguard.report.model",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skewguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
