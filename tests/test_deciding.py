"""Verdicts from measurements: thresholds, warn bands, sample sizes, critical features."""

from __future__ import annotations

import pytest

from skewguard.checking.comparing import FeatureComparison, Measurement
from skewguard.checking.deciding import decide, decide_feature, judge
from skewguard.checking.policy import load_policy, parse_policy
from skewguard.checking.specs import Kind
from skewguard.vocabulary import CheckName, Verdict

RULES = load_policy(None).defaults


def _m(check: CheckName, value, n: int | None = 10_000) -> Measurement:
    return Measurement(check=check, value=value, n_training=n, n_serving=n)


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.0, Verdict.PASS), (0.1, Verdict.PASS), (0.11, Verdict.WARN), (0.3, Verdict.RETRAIN)],
)
def test_psi_bands(value: float, verdict: Verdict) -> None:
    assert judge(_m(CheckName.PSI, value), RULES.rule(CheckName.PSI), 500).verdict is verdict


def test_rate_checks_fire_on_a_rise_only() -> None:
    # The skew taxonomy (docs/architecture.md): "more missing or unseen values than in
    # training". Fewer nulls online than in training (e.g. a training window with late
    # sign-ups) is recorded, not judged.
    rule = RULES.rule(CheckName.NULL_RATE)
    assert judge(_m(CheckName.NULL_RATE, 0.2), rule, 500).verdict is Verdict.BLOCK
    dropped = judge(_m(CheckName.NULL_RATE, -0.2), rule, 500)
    assert dropped.verdict is Verdict.PASS and dropped.value == -0.2


def test_too_few_rows_is_insufficient_never_pass() -> None:
    result = judge(_m(CheckName.PSI, 0.0, n=10), RULES.rule(CheckName.PSI), 500)
    assert result.verdict is Verdict.INSUFFICIENT_DATA
    assert "min_rows 500" in (result.detail or "")


def test_schema_mismatch_takes_its_action() -> None:
    m = Measurement(check=CheckName.SCHEMA, value="missing_in_serving")
    assert judge(m, RULES.rule(CheckName.SCHEMA), 500).verdict is Verdict.BLOCK


def _comparison(name: str, *measurements: Measurement) -> FeatureComparison:
    return FeatureComparison(
        name=name,
        kind=Kind.NUMERIC,
        training_type="double",
        serving_type="double",
        rows_training=10_000,
        rows_serving=10_000,
        measurements=(Measurement(check=CheckName.SCHEMA, value="ok"), *measurements),
    )


def test_critical_feature_escalates() -> None:
    policy = parse_policy({"critical": {"features": ["v__x"]}}, source="t")
    warn = decide_feature(_comparison("v__x", _m(CheckName.PSI, 0.15)), policy)
    assert warn.verdict is Verdict.RETRAIN and warn.critical
    retrain = decide_feature(_comparison("v__x", _m(CheckName.PSI, 0.5)), policy)
    assert retrain.verdict is Verdict.BLOCK
    assert "escalated" in (retrain.checks[1].detail or "")
    plain = decide_feature(_comparison("v__y", _m(CheckName.PSI, 0.5)), policy)
    assert plain.verdict is Verdict.RETRAIN


def test_run_verdict_is_the_worst_feature_and_insufficient_outranks_block() -> None:
    policy = load_policy(None)
    block = _comparison("a__a", _m(CheckName.NULL_RATE, 0.5))
    short = _comparison("b__b", _m(CheckName.PSI, 0.0, n=3))
    assert decide([block], policy).verdict is Verdict.BLOCK
    decision = decide([block, short], policy)
    assert decision.verdict is Verdict.INSUFFICIENT_DATA
    assert [name for name, _ in decision.insufficient()] == ["b__b"]


def test_extra_checks_are_judged_with_the_rest() -> None:
    policy = load_policy(None)
    ok = _comparison("a__a", _m(CheckName.PSI, 0.0))
    decision = decide(
        [ok],
        policy,
        extra={"a__a": [_m(CheckName.NULL_RATE, 0.3)]},
        joined={"a__a": {"rows": 10}},
    )
    feature = decision.features[0]
    assert feature.verdict is Verdict.BLOCK and feature.joined == {"rows": 10}
    assert [c.check for c in feature.checks] == ["schema", "psi", "null_rate"]
