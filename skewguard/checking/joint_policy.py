"""The `[joint]` table of the policy: settings of the joint-drift check, typed and validated.

    [joint]
    enabled = true        # run the classifier check at all
    action = "warn"       # what a firing check does: warn, retrain or block
    auc_floor = 0.55      # fires when the AUC's lower confidence bound exceeds this
    confidence = 0.95     # one-sided level of that lower bound
    max_rows = 20000      # rows sampled from each side (seeded, uniform over all rows)
    folds = 5             # cross-validation folds
    seed = 0              # sampling, folds, model and permutations

docs/policy.md explains the defaults; docs/detection.md explains the check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from skewguard.errors import PolicyError
from skewguard.vocabulary import Action

__all__ = ["JOINT_KEYS", "JointPolicy", "validate_joint", "build_joint"]

JOINT_KEYS = {"enabled", "action", "auc_floor", "confidence", "max_rows", "folds", "seed"}


@dataclass(frozen=True)
class JointPolicy:
    enabled: bool = False
    action: Action = Action.WARN
    auc_floor: float = 0.55
    confidence: float = 0.95
    max_rows: int = 20_000
    folds: int = 5
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "action": str(self.action),
            "auc_floor": self.auc_floor,
            "confidence": self.confidence,
            "max_rows": self.max_rows,
            "folds": self.folds,
            "seed": self.seed,
        }


def _fail(what: str, source: str, hint: str) -> PolicyError:
    return PolicyError(what, where=source, hint=hint)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_joint(raw: Any, source: str) -> None:
    """Raise `PolicyError` naming the key when the `[joint]` table is malformed."""
    if not isinstance(raw, Mapping):
        raise _fail("policy key 'joint' must be a table", source, "see docs/policy.md")
    for key in raw:
        if key not in JOINT_KEYS:
            raise _fail(
                f"unknown policy key 'joint.{key}'",
                source,
                f"allowed here: {', '.join(sorted(JOINT_KEYS))}",
            )
    for key, value in raw.items():
        ok, expected = _RULES[key]
        if not ok(value):
            raise _fail(f"joint.{key} must be {expected}", source, f"got {value!r}")


_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "enabled": (lambda v: isinstance(v, bool), "true or false"),
    "action": (lambda v: v in {str(a) for a in Action}, "block, retrain or warn"),
    "auc_floor": (lambda v: _number(v) and 0.5 <= v < 1, "a number in [0.5, 1)"),
    "confidence": (lambda v: _number(v) and 0.5 < v < 1, "a number in (0.5, 1)"),
    "max_rows": (lambda v: _integer(v) and v >= 100, "an integer >= 100"),
    "folds": (lambda v: _integer(v) and 2 <= v <= 20, "an integer from 2 to 20"),
    "seed": (lambda v: _integer(v) and v >= 0, "an integer >= 0"),
}
assert set(_RULES) == JOINT_KEYS


def build_joint(raw: Mapping[str, Any]) -> JointPolicy:
    """The settings from a validated (and merged) `[joint]` table."""
    default = JointPolicy()
    return JointPolicy(
        enabled=bool(raw.get("enabled", default.enabled)),
        action=Action(raw.get("action", str(default.action))),
        auc_floor=float(raw.get("auc_floor", default.auc_floor)),
        confidence=float(raw.get("confidence", default.confidence)),
        max_rows=int(raw.get("max_rows", default.max_rows)),
        folds=int(raw.get("folds", default.folds)),
        seed=int(raw.get("seed", default.seed)),
    )
