"""Turn measurements into verdicts under a policy. Pure functions, no I/O.

Per check: too few rows or values on either side (below the policy's `min_rows`) gives
`insufficient_data`; otherwise a value above the threshold takes the check's action and
a value above the warn threshold warns (one-sided: rates are serving minus training). A
schema mismatch takes its action directly. On a critical feature, warn and retrain
escalate as the policy's `[critical]` table says.
A feature's verdict is the worst of its checks; the run's verdict is the worst of its
features (`Verdict.worst`: insufficient data outranks block, so an unevaluated feature is
never reported as a pass).

`decide` takes extra per-feature measurements (`extra`) and a per-feature `joined` section,
so comparisons added later, such as the joined replay of logged keys, are judged by the
same policy and land in the same report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from skewguard.checking.comparing import FeatureComparison, Measurement
from skewguard.checking.policy import CheckRule, Policy
from skewguard.report.model import CheckResult, FeatureResult
from skewguard.vocabulary import CheckName, Reason, SchemaState, Verdict

__all__ = ["Decision", "judge", "decide_feature", "decide"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    features: tuple[FeatureResult, ...]

    def insufficient(self) -> list[tuple[str, CheckResult]]:
        return [
            (f.name, c)
            for f in self.features
            for c in f.checks
            if c.verdict is Verdict.INSUFFICIENT_DATA
        ]


def _exceeds(value: float, threshold: float | None) -> bool:
    # One-sided: distances are never negative, and rates are serving minus training, so a
    # check fires only when serving has *more* nulls, NaN, unseen categories... than
    # training. A drop is recorded (a negative value) but is no skew of its own.
    return threshold is not None and value > threshold


def judge(m: Measurement, rule: CheckRule, min_rows: int) -> CheckResult:
    """The verdict on one measurement under one rule."""
    detail = m.detail
    reason = m.reason
    if m.check is CheckName.SCHEMA:
        verdict = Verdict.PASS if m.value == SchemaState.OK else rule.action.verdict
    elif any(n is not None and n < min_rows for n in (m.n_training, m.n_serving)):
        verdict, reason = Verdict.INSUFFICIENT_DATA, Reason.BELOW_MIN_ROWS
        sizes = f"training {m.n_training}, serving {m.n_serving}"
        detail = f"{sizes} < min_rows {min_rows}" + (f"; {detail}" if detail else "")
    elif reason is not None or m.value is None or isinstance(m.value, str):
        verdict, reason = Verdict.PASS, reason or Reason.NOT_COMPUTABLE
    elif _exceeds(m.value, rule.threshold):
        verdict = rule.action.verdict
    elif _exceeds(m.value, rule.warn_threshold):
        verdict = Verdict.WARN
    else:
        verdict = Verdict.PASS
    return CheckResult(
        check=m.check,
        subject=m.subject,
        value=m.value,
        threshold=rule.threshold,
        warn_threshold=rule.warn_threshold,
        verdict=verdict,
        action=rule.action,
        training=m.training,
        serving=m.serving,
        n_training=m.n_training,
        n_serving=m.n_serving,
        detail=detail,
        reason=reason,
    )


def decide_feature(
    comparison: FeatureComparison,
    policy: Policy,
    *,
    extra: Sequence[Measurement] = (),
    joined: Mapping[str, Any] | None = None,
) -> FeatureResult:
    """Judge one feature's measurements (plus any `extra` ones) under `policy`."""
    rules = policy.rules_for(comparison.name)
    critical = policy.is_critical(comparison.name)
    results = []
    for m in (*comparison.measurements, *extra):
        result = judge(m, rules.rule(m.check), rules.min_rows)
        if critical:
            escalated = policy.escalation.apply(result.verdict)
            if escalated is not result.verdict:
                note = f"critical: {result.verdict} escalated to {escalated}"
                result = _replace_verdict(result, escalated, note)
        results.append(result)
    return FeatureResult(
        name=comparison.name,
        kind=str(comparison.kind) if comparison.kind is not None else None,
        verdict=Verdict.worst([r.verdict for r in results]),
        critical=critical,
        training_type=comparison.training_type,
        serving_type=comparison.serving_type,
        rows_training=comparison.rows_training,
        rows_serving=comparison.rows_serving,
        checks=tuple(results),
        distribution=comparison.distribution,
        joined=joined,
    )


def _replace_verdict(result: CheckResult, verdict: Verdict, note: str) -> CheckResult:
    detail = note + (f"; {result.detail}" if result.detail else "")
    return replace(result, verdict=verdict, detail=detail)


def decide(
    comparisons: Sequence[FeatureComparison],
    policy: Policy,
    *,
    extra: Mapping[str, Sequence[Measurement]] | None = None,
    joined: Mapping[str, Mapping[str, Any]] | None = None,
) -> Decision:
    """Judge every feature; the run's verdict is the worst feature verdict."""
    extra = extra or {}
    joined = joined or {}
    features = tuple(
        decide_feature(c, policy, extra=extra.get(c.name, ()), joined=joined.get(c.name))
        for c in comparisons
    )
    return Decision(verdict=Verdict.worst([f.verdict for f in features]), features=features)
