"""Turn measurements into verdicts under a policy. Pure functions, no I/O.

Per check: too few rows or values on either side (below the policy's `min_rows`) gives
`insufficient_data`. A check that carries a p-value is gated twice: it fires only when
the difference is beyond sampling noise (p below the policy's `family_alpha` divided by
the number of tested checks in the run, a Bonferroni correction) and then takes its
action when the value is above its threshold (the practical floor), or warns when it is
above its warn threshold. A value without a p-value (the joined replay) is judged on the
thresholds alone (one-sided: rates are serving minus training). Something training never
had (NaN, infinities, negative values) appearing significantly takes the action whatever
its size; unseen categories that arrive with a rise in missing values block. A schema
mismatch takes its action directly. Every check that fires gets a cause in words.
On a critical feature, warn and retrain escalate as the policy's `[critical]` table says.
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

from skewguard.checking.causes import describe
from skewguard.checking.comparing import FeatureComparison, Measurement
from skewguard.checking.policy import CheckRule, Policy
from skewguard.report.model import CheckResult, FeatureResult
from skewguard.vocabulary import Action, CheckName, Reason, SchemaState, Verdict

__all__ = ["Decision", "judge", "decide_feature", "decide", "tested_checks"]

# Rates of things a clean training set may have none of: appearing at all is a defect.
NEVER_IN_TRAINING = frozenset(
    {CheckName.NAN_RATE, CheckName.POS_INF_RATE, CheckName.NEG_INF_RATE, CheckName.NEGATIVE_RATE}
)
RATE_CHECKS = frozenset(
    {
        CheckName.NULL_RATE,
        CheckName.NAN_RATE,
        CheckName.POS_INF_RATE,
        CheckName.NEG_INF_RATE,
        CheckName.MISSING_OR_INVALID_RATE,
        CheckName.NEGATIVE_RATE,
        CheckName.MISSING_ONLINE_RATE,
        CheckName.NEW_CATEGORY_RATE,
        CheckName.INTEGER_RATE,
    }
)
# A rise in any of these alongside unseen categories makes the unseen categories a defect.
MISSING_CHECKS = frozenset(
    {CheckName.NULL_RATE, CheckName.MISSING_OR_INVALID_RATE, CheckName.MISSING_ONLINE_RATE}
)


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


def _gated(m: Measurement, rule: CheckRule, alpha: float) -> tuple[Verdict, str | None]:
    """Verdict (and a note) for a measured value with a p-value, under `alpha`."""
    assert isinstance(m.value, float | int) and m.p_value is not None
    if m.check is CheckName.NEGATIVE_RATE and (m.training or 0.0) > 0.0:
        return Verdict.PASS, "training has negative values: the distribution checks judge them"
    if m.p_value >= alpha:
        return Verdict.PASS, None
    if m.check in NEVER_IN_TRAINING and m.training == 0.0 and m.value > 0.0:
        return rule.action.verdict, None
    if _exceeds(m.value, rule.threshold):
        return rule.action.verdict, None
    if _exceeds(m.value, rule.warn_threshold):
        return Verdict.WARN, None
    return Verdict.PASS, None


def judge(
    m: Measurement, rule: CheckRule, min_rows: int, *, alpha: float | None = None
) -> CheckResult:
    """The verdict on one measurement under one rule; `alpha` is the significance level a
    measurement with a p-value is held to (None: judge on the thresholds alone)."""
    detail = m.detail
    reason = m.reason
    held_to = None
    if m.check is CheckName.SCHEMA:
        verdict = Verdict.PASS if m.value == SchemaState.OK else rule.action.verdict
    elif any(n is not None and n < min_rows for n in (m.n_training, m.n_serving)):
        verdict, reason = Verdict.INSUFFICIENT_DATA, Reason.BELOW_MIN_ROWS
        sizes = f"training {m.n_training}, serving {m.n_serving}"
        detail = f"{sizes} < min_rows {min_rows}" + (f"; {detail}" if detail else "")
    elif reason is not None or m.value is None or isinstance(m.value, str):
        verdict, reason = Verdict.PASS, reason or Reason.NOT_COMPUTABLE
    elif m.p_value is not None and alpha is not None:
        held_to = alpha
        verdict, note = _gated(m, rule, alpha)
        if note:
            detail = note + (f"; {detail}" if detail else "")
    elif _exceeds(m.value, rule.threshold):
        verdict = rule.action.verdict
    elif _exceeds(m.value, rule.warn_threshold):
        verdict = Verdict.WARN
    else:
        verdict = Verdict.PASS
    cause = None
    if verdict in (Verdict.WARN, Verdict.RETRAIN, Verdict.BLOCK):
        cause = m.cause or describe(m, verdict)
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
        p_value=m.p_value,
        alpha=held_to,
        cause=cause,
        params=m.params,
    )


def tested_checks(
    comparisons: Sequence[FeatureComparison],
    extra: Mapping[str, Sequence[Measurement]] | None = None,
) -> int:
    """How many significance tests the run makes (the Bonferroni divisor). Signatures reuse
    the p-value of the distribution change they explain, and a rate with no event on
    either side (p = 1 whatever happens: nothing to test) cannot fire: neither counts
    (Tarone's refinement for discrete tests, in its simplest form)."""
    count = 0
    for c in comparisons:
        for m in (*c.measurements, *(extra or {}).get(c.name, ())):
            if m.p_value is not None and not m.check.is_signature and not _nothing(m):
                count += 1
    return count


def _nothing(m: Measurement) -> bool:
    """A rate with no event on either side (or only events): no data could make it fire."""
    return (
        m.check in RATE_CHECKS
        and m.training is not None
        and m.training == m.serving
        and m.training in (0.0, 1.0)
    )


def decide_feature(
    comparison: FeatureComparison,
    policy: Policy,
    *,
    extra: Sequence[Measurement] = (),
    joined: Mapping[str, Any] | None = None,
    alpha: float | None = None,
) -> FeatureResult:
    """Judge one feature's measurements (plus any `extra` ones) under `policy`; `alpha` is
    the per-check significance level (default: the family alpha, one test)."""
    rules = policy.rules_for(comparison.name)
    critical = policy.is_critical(comparison.name)
    alpha = alpha if alpha is not None else policy.detection.family_alpha
    judged = [
        judge(m, rules.rule(m.check), rules.min_rows, alpha=alpha)
        for m in (*comparison.measurements, *extra)
    ]
    results = []
    for result in _unseen_with_missing(judged):
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


def _unseen_with_missing(results: list[CheckResult]) -> list[CheckResult]:
    """Unseen categories are drift, unless missing values rise with them: then a defect."""
    missing = [
        r
        for r in results
        if r.check in MISSING_CHECKS and r.verdict in (Verdict.RETRAIN, Verdict.BLOCK)
    ]
    if not missing:
        return results
    out = []
    for r in results:
        if r.check is CheckName.NEW_CATEGORY_RATE and r.verdict is Verdict.RETRAIN:
            why = f"unseen categories arrive with a rise in missing values ({missing[0].check})"
            r = replace(r, verdict=Action.BLOCK.verdict, cause=f"{r.cause}; {why}")
        out.append(r)
    return out


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
    alpha = policy.detection.family_alpha / max(1, tested_checks(comparisons, extra))
    features = tuple(
        decide_feature(
            c, policy, extra=extra.get(c.name, ()), joined=joined.get(c.name), alpha=alpha
        )
        for c in comparisons
    )
    return Decision(verdict=Verdict.worst([f.verdict for f in features]), features=features)
