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
    [(0.0, Verdict.PASS), (0.25, Verdict.PASS), (0.3, Verdict.RETRAIN)],
)
def test_without_a_p_value_the_threshold_alone_decides(value: float, verdict: Verdict) -> None:
    assert judge(_m(CheckName.PSI, value), RULES.rule(CheckName.PSI), 500).verdict is verdict


def _p(check: CheckName, value: float, p: float, training: float | None = None) -> Measurement:
    return Measurement(
        check=check, value=value, n_training=10_000, n_serving=10_000, p_value=p,
        training=training, serving=None if training is None else training + value,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "p", "verdict"),
    [
        (0.20, 0.01, Verdict.PASS),  # large but within noise at this alpha
        (0.03, 1e-9, Verdict.WARN),  # beyond noise but below the 0.05 floor
        (0.06, 1e-9, Verdict.RETRAIN),  # beyond noise and above the floor
    ],
)
def test_gate_needs_both_significance_and_the_floor(value: float, p: float, verdict) -> None:
    rule = RULES.rule(CheckName.KS_STATISTIC)
    result = judge(_p(CheckName.KS_STATISTIC, value, p), rule, 500, alpha=1e-5)
    assert result.verdict is verdict
    assert result.alpha == 1e-5 and result.p_value == p
    assert (result.cause is not None) is (verdict is not Verdict.PASS)


def test_something_training_never_had_blocks_below_the_floor() -> None:
    rule = RULES.rule(CheckName.NAN_RATE)
    appeared = judge(_p(CheckName.NAN_RATE, 0.004, 1e-12, training=0.0), rule, 500, alpha=1e-5)
    assert appeared.verdict is Verdict.BLOCK
    assert appeared.cause == "0.4% NaN values appeared; training had none"
    grew = judge(_p(CheckName.NAN_RATE, 0.004, 1e-12, training=0.01), rule, 500, alpha=1e-5)
    assert grew.verdict is Verdict.WARN


def test_negative_values_are_judged_only_when_training_had_none() -> None:
    rule = RULES.rule(CheckName.NEGATIVE_RATE)
    had = judge(_p(CheckName.NEGATIVE_RATE, 0.2, 1e-30, training=0.3), rule, 500, alpha=1e-5)
    assert had.verdict is Verdict.PASS
    new = judge(_p(CheckName.NEGATIVE_RATE, 0.2, 1e-30, training=0.0), rule, 500, alpha=1e-5)
    assert new.verdict is Verdict.BLOCK


def test_the_run_alpha_is_bonferroni_over_tested_checks() -> None:
    policy = load_policy(None)
    comparisons = [
        _comparison(f"v__{i}", _p(CheckName.KS_STATISTIC, 0.06, 2e-5)) for i in range(10)
    ]
    # 10 tests at family alpha 0.001: each is held to 1e-4, so p = 2e-5 fires...
    assert decide(comparisons, policy).verdict is Verdict.RETRAIN
    # ...but 100 tests hold each to 1e-5, and the same p is noise.
    many = [_comparison(f"v__{i}", _p(CheckName.KS_STATISTIC, 0.06, 2e-5)) for i in range(100)]
    decision = decide(many, policy)
    assert decision.verdict is Verdict.PASS
    assert decision.features[0].checks[1].alpha == pytest.approx(1e-5)


def test_unseen_categories_with_missing_values_block() -> None:
    policy = load_policy(None)
    unseen = _p(CheckName.NEW_CATEGORY_RATE, 0.05, 1e-20, training=0.0)
    alone = decide_feature(_comparison("v__c", unseen), policy, alpha=1e-5)
    assert alone.verdict is Verdict.RETRAIN
    nulls = _p(CheckName.NULL_RATE, 0.05, 1e-20, training=0.0)
    both = decide_feature(_comparison("v__c", unseen, nulls), policy, alpha=1e-5)
    new_category = next(c for c in both.checks if c.check is CheckName.NEW_CATEGORY_RATE)
    assert new_category.verdict is Verdict.BLOCK
    assert "rise in missing values" in (new_category.cause or "")


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
    small = _p(CheckName.KS_STATISTIC, 0.03, 1e-9)
    warn = decide_feature(_comparison("v__x", small), policy, alpha=1e-5)
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


def test_rates_with_nothing_to_test_do_not_dilute_the_correction() -> None:
    policy = load_policy(None)
    idle = [_p(CheckName.POS_INF_RATE, 0.0, 1.0, training=0.0) for _ in range(50)]
    comparisons = [_comparison("v__x", _p(CheckName.KS_STATISTIC, 0.06, 2e-5), *idle)]
    # 50 rates with no +inf on either side cannot fire: the KS test is alone at 1e-3.
    decision = decide(comparisons, policy)
    assert decision.verdict is Verdict.RETRAIN
    assert decision.features[0].checks[1].alpha == pytest.approx(1e-3)
