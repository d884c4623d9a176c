"""Errors raised when skewguard cannot evaluate something.

A skew finding is never an exception: it is a value in the report. Exceptions mean
"could not evaluate" and map to CLI exit code 2. Every message says what went wrong,
where, and ends with a hint on what to do next.

    SkewguardError                  base class; exit code 2
    ├── InputError                  a file, frame or column is unusable
    │   └── TimestampError          missing, naive or unparseable timestamps
    ├── PolicyError                 the policy file is unreadable or has unknown keys
    ├── FeatureRepoError            no feature repo, or no such feature service / view
    ├── OnlineStoreError            Redis is unreachable or refused the operation
    └── EngineError                 the distributed engine (a Dask scheduler) is unreachable
"""

from __future__ import annotations

__all__ = [
    "SkewguardError",
    "InputError",
    "TimestampError",
    "PolicyError",
    "FeatureRepoError",
    "OnlineStoreError",
    "EngineError",
]


class SkewguardError(Exception):
    """Something could not be evaluated. `str()` is one line: what, where, and a hint."""

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.what
        if self.where:
            text += f" ({self.where})"
        if self.hint:
            text += f". Hint: {self.hint}"
        return text


class InputError(SkewguardError):
    """A file, frame or column given to skewguard is unusable."""


class TimestampError(InputError):
    """Timestamps are missing, naive (no time zone) or cannot be parsed."""


class PolicyError(SkewguardError):
    """The policy file cannot be read, or holds unknown keys or bad values."""


class FeatureRepoError(SkewguardError):
    """The Feast feature repo, feature service or feature view cannot be found or loaded."""


class OnlineStoreError(SkewguardError):
    """The online store (Redis) is unreachable or refused an operation."""


class EngineError(SkewguardError):
    """The distributed engine (a Dask scheduler and its workers) is unreachable or failed."""
