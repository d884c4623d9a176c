"""The policy: thresholds, actions, minimum sample sizes and critical features, typed.

A policy is TOML: `skewguard.toml`, or the `[tool.skewguard]` table of `pyproject.toml`.
It is read once, validated (unknown keys are rejected, naming the key and the file) and
merged key by key over the shipped default (`skewguard/checking/default_policy.toml`), so a user
policy only states what it changes:

    [defaults]
    min_rows = 5000

    [defaults.checks.psi]
    threshold = 0.2

    [features."product_stats__price".checks.null_rate]
    threshold = 0.02
    action = "retrain"

    [critical]
    features = ["product_stats__price"]

    [detection]
    family_alpha = 0.001

See docs/policy.md for every key, its default and why.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from skewguard.checking.joint_policy import JointPolicy, build_joint, validate_joint
from skewguard.errors import PolicyError
from skewguard.vocabulary import Action, CheckName, Verdict

__all__ = [
    "CheckRule",
    "Rules",
    "Escalation",
    "Detection",
    "Policy",
    "DEFAULT_POLICY_NAME",
    "find_policy",
    "load_policy",
    "parse_policy",
]

DEFAULT_POLICY_NAME = "default_policy.toml"
POLICY_FILE = "skewguard.toml"


@dataclass(frozen=True)
class CheckRule:
    """|value| > threshold takes `action`; |value| > warn_threshold warns. The schema check
    has no thresholds: any mismatch takes `action`."""

    action: Action
    threshold: float | None = None
    warn_threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": str(self.action),
            "threshold": self.threshold,
            "warn_threshold": self.warn_threshold,
        }


@dataclass(frozen=True)
class Rules:
    min_rows: int
    checks: Mapping[CheckName, CheckRule]

    def rule(self, check: CheckName) -> CheckRule:
        return self.checks[check]

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_rows": self.min_rows,
            "checks": {str(k): v.to_dict() for k, v in self.checks.items()},
        }


@dataclass(frozen=True)
class Escalation:
    """What a warn and a retrain on a critical feature become."""

    warn: Action = Action.RETRAIN
    retrain: Action = Action.BLOCK

    def apply(self, verdict: Verdict) -> Verdict:
        if verdict is Verdict.WARN:
            return self.warn.verdict
        if verdict is Verdict.RETRAIN:
            return self.retrain.verdict
        return verdict


@dataclass(frozen=True)
class Detection:
    """How sure a finding must be, and the settings of the defect signatures.

    `family_alpha`: the chance of at least one false alarm in a whole run; each check is
    held to family_alpha / (number of tested checks) (Bonferroni). `fill_max_training_share`:
    a value whose share jumps counts as a default fill only if training had at most this
    share of it. `factor_tolerance`: how close a fitted unit factor must be to a known one
    (relative). `signature_max_residual`: the KS distance left after undoing a signature's
    defect (e.g. serving / 100 against training) below which the signature explains it.
    """

    family_alpha: float = 0.001
    fill_max_training_share: float = 0.05
    factor_tolerance: float = 0.10
    signature_max_residual: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        return {
            "family_alpha": self.family_alpha,
            "fill_max_training_share": self.fill_max_training_share,
            "factor_tolerance": self.factor_tolerance,
            "signature_max_residual": self.signature_max_residual,
        }


# key -> (lowest allowed, highest allowed, whether the bounds themselves are allowed)
_DETECTION_RANGES: dict[str, tuple[float, float, bool]] = {
    "family_alpha": (0.0, 1.0, False),
    "fill_max_training_share": (0.0, 1.0, True),
    "factor_tolerance": (0.0, 0.5, False),
    "signature_max_residual": (0.0, 1.0, False),
}


@dataclass(frozen=True)
class Policy:
    source: str  # the file it came from, "<default>" for the shipped one
    defaults: Rules
    features: Mapping[str, Rules] = field(default_factory=dict)
    critical: frozenset[str] = frozenset()
    escalation: Escalation = Escalation()
    detection: Detection = Detection()
    joint: JointPolicy = JointPolicy()  # the [joint] table: checking/joint_policy.py

    def rules_for(self, feature: str) -> Rules:
        return self.features.get(feature, self.defaults)

    def is_critical(self, feature: str) -> bool:
        return feature in self.critical

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "defaults": self.defaults.to_dict(),
            "features": {k: v.to_dict() for k, v in sorted(self.features.items())},
            "critical": {
                "features": sorted(self.critical),
                "warn": str(self.escalation.warn),
                "retrain": str(self.escalation.retrain),
            },
            "detection": self.detection.to_dict(),
            "joint": self.joint.to_dict(),
        }


# --------------------------------------------------------------------------- validation

_TOP_KEYS = {"defaults", "features", "critical", "detection", "joint"}
# Configured in its own [joint] table, not per feature.
_PER_FEATURE_CHECKS = [c for c in CheckName if c is not CheckName.JOINT_AUC]
_RULES_KEYS = {"min_rows", "checks"}
_CHECK_KEYS = {"action", "threshold", "warn_threshold"}
_CRITICAL_KEYS = {"features", "warn", "retrain"}


def _fail(what: str, source: str, hint: str) -> PolicyError:
    return PolicyError(what, where=source, hint=hint)


def _reject_unknown(table: Mapping[str, Any], allowed: set[str], path: str, source: str) -> None:
    for key in table:
        if key not in allowed:
            dotted = f"{path}.{key}" if path else key
            raise _fail(
                f"unknown policy key {dotted!r}",
                source,
                f"allowed here: {', '.join(sorted(allowed))}",
            )


def _table(value: Any, path: str, source: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"policy key {path!r} must be a table", source, "see docs/policy.md")
    return value


def _validate_rules(raw: Mapping[str, Any], path: str, source: str) -> None:
    _reject_unknown(raw, _RULES_KEYS, path, source)
    if "min_rows" in raw:
        v = raw["min_rows"]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise _fail(f"{path}.min_rows must be a positive integer", source, f"got {v!r}")
    checks = _table(raw.get("checks", {}), f"{path}.checks", source)
    _reject_unknown(checks, {str(c) for c in _PER_FEATURE_CHECKS}, f"{path}.checks", source)
    for name, rule in checks.items():
        rpath = f"{path}.checks.{name}"
        rule = _table(rule, rpath, source)
        _reject_unknown(rule, _CHECK_KEYS, rpath, source)
        if "action" in rule and rule["action"] not in {str(a) for a in Action}:
            raise _fail(
                f"{rpath}.action must be block, retrain or warn", source, f"got {rule['action']!r}"
            )
        for key in ("threshold", "warn_threshold"):
            if key in rule:
                v = rule[key]
                if name == CheckName.SCHEMA:
                    raise _fail(
                        f"{rpath}.{key}: the schema check takes no threshold", source, "remove it"
                    )
                if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v < math.inf:
                    raise _fail(f"{rpath}.{key} must be a finite number >= 0", source, f"got {v!r}")
        warn, threshold = rule.get("warn_threshold"), rule.get("threshold")
        if warn is not None and threshold is not None and warn > threshold:
            raise _fail(
                f"{rpath}.warn_threshold {warn} exceeds threshold {threshold}",
                source,
                "the warn band sits below the action threshold",
            )


def _validate_detection(raw: Mapping[str, Any], source: str) -> None:
    _reject_unknown(raw, set(_DETECTION_RANGES), "detection", source)
    for key, value in raw.items():
        low, high, closed = _DETECTION_RANGES[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        inside = number and (
            low <= value <= high if closed else low < value < high
        )  # NaN fails both comparisons
        if not inside:
            bounds = f"[{low}, {high}]" if closed else f"({low}, {high})"
            raise _fail(f"detection.{key} must be a number in {bounds}", source, f"got {value!r}")


def _validate(raw: Mapping[str, Any], source: str) -> None:
    _reject_unknown(raw, _TOP_KEYS, "", source)
    _validate_detection(_table(raw.get("detection", {}), "detection", source), source)
    if "defaults" in raw:
        _validate_rules(_table(raw["defaults"], "defaults", source), "defaults", source)
    for name, rules in _table(raw.get("features", {}), "features", source).items():
        fpath = f'features."{name}"'
        _validate_rules(_table(rules, fpath, source), fpath, source)
    validate_joint(raw.get("joint", {}), source)
    critical = _table(raw.get("critical", {}), "critical", source)
    _reject_unknown(critical, _CRITICAL_KEYS, "critical", source)
    feats = critical.get("features", [])
    if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
        raise _fail("critical.features must be a list of feature names", source, f"got {feats!r}")
    for key in ("warn", "retrain"):
        if key in critical and critical[key] not in {str(a) for a in Action}:
            raise _fail(
                f"critical.{key} must be block, retrain or warn", source, f"got {critical[key]!r}"
            )


# --------------------------------------------------------------------------- building


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _build_rules(raw: Mapping[str, Any], path: str, source: str) -> Rules:
    checks: dict[CheckName, CheckRule] = {}
    for check in _PER_FEATURE_CHECKS:
        rule = raw.get("checks", {}).get(str(check))
        if rule is None:
            raise _fail(f"{path}.checks.{check} is not configured", source, "add it")
        threshold = rule.get("threshold")
        warn = rule.get("warn_threshold")
        if check is not CheckName.SCHEMA and threshold is None:
            raise _fail(f"{path}.checks.{check}.threshold is missing", source, "set a number")
        if warn is not None and threshold is not None and warn > threshold:
            # Only reachable through inheritance (a lowered threshold under a default warn
            # band); a table that sets both inconsistently is rejected in validation.
            warn = None
        checks[check] = CheckRule(
            action=Action(rule.get("action", "warn")),
            threshold=float(threshold) if threshold is not None else None,
            warn_threshold=float(warn) if warn is not None else None,
        )
    return Rules(min_rows=int(raw["min_rows"]), checks=checks)


def parse_policy(
    user: Mapping[str, Any] | None, *, source: str, default: Mapping[str, Any] | None = None
) -> Policy:
    """Validate a user policy table and merge it over the default table."""
    default = default if default is not None else _default_table()
    _validate(default, "<default>")
    if user is not None:
        _validate(user, source)
    merged = _deep_merge(default, user or {})
    defaults_raw = merged.get("defaults", {})
    defaults = _build_rules(defaults_raw, "defaults", source)
    features = {
        name: _build_rules(_deep_merge(defaults_raw, raw), f'features."{name}"', source)
        for name, raw in merged.get("features", {}).items()
    }
    critical = merged.get("critical", {})
    detection = merged.get("detection", {})
    return Policy(
        source=source,
        defaults=defaults,
        features=features,
        critical=frozenset(critical.get("features", [])),
        escalation=Escalation(
            warn=Action(critical.get("warn", "retrain")),
            retrain=Action(critical.get("retrain", "block")),
        ),
        detection=Detection(**{k: float(v) for k, v in detection.items()}),
        joint=build_joint(merged.get("joint", {})),
    )


def _default_table() -> dict[str, Any]:
    text = resources.files("skewguard.checking").joinpath(DEFAULT_POLICY_NAME).read_text("utf-8")
    return tomllib.loads(text)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise PolicyError(
            f"cannot read policy file: {err.strerror or err}",
            where=str(path),
            hint="check the --policy path",
        ) from err
    except UnicodeDecodeError as err:
        raise PolicyError(
            f"policy file is not UTF-8 text: {err.reason} at byte {err.start}",
            where=str(path),
            hint="save it as UTF-8",
        ) from err
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(
            f"policy file is not valid TOML: {err}", where=str(path), hint="fix the syntax"
        ) from err


def find_policy(cwd: Path) -> Path | None:
    """`./skewguard.toml`, else `./pyproject.toml` when it has `[tool.skewguard]`, else None."""
    candidate = cwd / POLICY_FILE
    if candidate.is_file():
        return candidate
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file() and "skewguard" in _read_toml(pyproject).get("tool", {}):
        return pyproject
    return None


def load_policy(path: Path | None) -> Policy:
    """Load a policy file (pyproject.toml: its `[tool.skewguard]` table) over the default.
    `None` gives the shipped default."""
    if path is None:
        return parse_policy(None, source="<default>")
    raw = _read_toml(path)
    if path.name == "pyproject.toml":
        table = raw.get("tool", {}).get("skewguard")
        if table is None:
            raise PolicyError(
                "pyproject.toml has no [tool.skewguard] table",
                where=str(path),
                hint="add one, or pass a skewguard.toml with --policy",
            )
        raw = table
    return parse_policy(raw, source=str(path))
