"""Each generated pipeline defect blocks with the check that explains it and a cause; each
drift retrains with no signature; clean resamples pass or warn (tests/defect_fixtures.py,
data the defaults were not set on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from defect_fixtures import DEFECTS, DRIFTS, Case, make_pair

from skewguard.checking.pipeline import check
from skewguard.checking.policy import load_policy
from skewguard.report.model import Report
from skewguard.vocabulary import CheckName, Verdict

POLICY = load_policy(None)
CAUSES = {
    "percent_x100": "served = training x 100",
    "seconds_as_minutes": "served = training x 1/60 (minutes/seconds)",
    "seconds_as_ms": "served = training x 1000",
    "celsius_as_fahrenheit": "served = training x 1.8 + 32 (Celsius to Fahrenheit)",
    "cm_as_inches": "served = training x 1/2.54 (cm to inches)",
    "kg_as_pounds": "served = training x 1/0.4536 (kg to pounds)",
    "hour_in_utc": "hour of day served +5 h",
    "spend_rounded": "values collapsed onto multiples of 1",
    "spend_zero_fill": "of values are 0, training had 0%",
    "temp_mean_fill": "of values are 14, training had 0%",
    "session_clipped": "of values sit at the upper bound 500",
    "weight_height_swapped": "swapped with product__height_cm",
    "category_upper_case": "served for 'cat_",
    "category_unknown_fill": "of values are 'unknown'",
    "nan_and_inf": "NaN values appeared; training had none",
    "nulls_appear": "null values appeared; training had none",
    "float32_served": "float64 served as float: precision lost",
    "counts_as_strings": "numbers served as strings (int64 -> string)",
}
SIGNATURES = {str(c) for c in CheckName if c.is_signature}


def _fired(report: Report) -> dict[tuple[str, str], str]:
    return {
        (f.name, str(c.check)): str(c.verdict)
        for f in report.features
        for c in f.checks
        if c.verdict is not Verdict.PASS
    }


@pytest.mark.parametrize("case", DEFECTS, ids=lambda c: c.name)
def test_each_defect_blocks_with_its_cause(case: Case, tmp_path: Path) -> None:
    report = check(*make_pair(tmp_path, 10_000, 7, defect=case), POLICY)
    assert report.verdict is Verdict.BLOCK, _fired(report)
    feature = report.feature(case.feature)
    result = next(c for c in feature.checks if c.check == case.check)
    assert result.verdict is Verdict.BLOCK, _fired(report)
    assert CAUSES[case.name] in (result.cause or ""), result.cause
    assert result.p_value is not None or case.check == "schema"


@pytest.mark.parametrize("name", sorted(DRIFTS))
@pytest.mark.parametrize("n", [1_000, 10_000])
def test_each_drift_retrains_without_a_signature(name: str, n: int, tmp_path: Path) -> None:
    report = check(*make_pair(tmp_path, n, 21, drift=DRIFTS[name]), POLICY)
    fired = _fired(report)
    assert report.verdict is Verdict.RETRAIN, fired
    assert not [k for k in fired if k[1] in SIGNATURES], fired


@pytest.mark.parametrize(("n", "seeds"), [(1_000, range(6)), (10_000, range(3))])
def test_clean_resamples_pass_or_warn(n: int, seeds: range, tmp_path: Path) -> None:
    for seed in seeds:
        report = check(*make_pair(tmp_path / str(seed), n, 300 + seed), POLICY)
        assert report.verdict in (Verdict.PASS, Verdict.WARN), _fired(report)


def test_a_zero_share_rising_naturally_is_no_fill(tmp_path: Path) -> None:
    # Discounts end for many products: zeros go from 70% to 85%. Training had far more
    # than fill_max_training_share of zeros, so this is drift.
    report = check(*make_pair(tmp_path, 10_000, 8, drift={"promo": -0.15}), POLICY)
    fired = _fired(report)
    assert ("orders__discount", "default_fill") not in fired
    assert report.verdict is Verdict.RETRAIN, fired


def test_a_profile_from_before_the_samples_still_reads(tmp_path: Path) -> None:
    from skewguard.checking.reference import write_reference_profile

    case = next(c for c in DEFECTS if c.name == "spend_zero_fill")
    train, logs = make_pair(tmp_path, 5_000, 9, defect=case)
    path = write_reference_profile(train)
    doc = json.loads(path.read_text())
    for feature in doc["features"]:
        feature["profile"].pop("sample", None)
        feature["profile"].pop("negative", None)
    path.write_text(json.dumps(doc))
    manifest = json.loads((train / "manifest.json").read_text())
    manifest["reference_profile"] = path.name
    (train / "manifest.json").write_text(json.dumps(manifest))
    report = check(train, logs, POLICY)
    assert report.to_dict()["inputs"]["training"]["from_reference_profile"] is True
    fill = next(c for c in report.feature("orders__spend").checks if c.check == "default_fill")
    assert fill.reason == "not_computable" and "re-snapshot" in (fill.detail or "")
    # The gates still see the zeros: a big, significant distribution change.
    assert report.verdict is Verdict.RETRAIN


def test_too_little_data_is_insufficient_never_a_verdict(tmp_path: Path) -> None:
    # 300 rows on a side, below min_rows 500: even an obvious x1000 is not judged.
    case = next(c for c in DEFECTS if c.name == "seconds_as_ms")
    report = check(*make_pair(tmp_path, 300, 11, defect=case), POLICY)
    assert report.verdict is Verdict.INSUFFICIENT_DATA
    unit = next(c for c in report.feature("session__seconds").checks if c.check == "unit_change")
    assert unit.verdict is Verdict.INSUFFICIENT_DATA and unit.reason == "below_min_rows"


@pytest.mark.parametrize(
    ("name", "change", "verdict", "hours"),
    [
        ("customer__hours_since_order", lambda x: x + 5.0, Verdict.BLOCK, 5.0),
        ("session__minutes_since_login", lambda x: x + 300.0, Verdict.BLOCK, 5.0),
        ("customer__hours_since_order", lambda x: x * 1.15, Verdict.RETRAIN, None),
        ("customer__basket_value", lambda x: x + 5.0, Verdict.RETRAIN, None),
    ],
    ids=["hours+5h", "minutes+5h", "hours-stretched", "no-unit+5"],
)
def test_an_elapsed_time_slid_whole_blocks_as_a_clock_offset(
    name: str, change, verdict: Verdict, hours: float | None, tmp_path: Path
) -> None:
    # An elapsed time whose every value moved by the same amount: the serving path
    # measures from another clock. Stretched, or without a unit in its name, it is drift.
    import re

    import numpy as np
    from defect_fixtures import write_logs, write_snapshot

    rng = np.random.default_rng(31)
    unit = 1.0 if "minutes" not in name else 1 / 60.0  # training draws, then in the unit
    train = {name: rng.gamma(2.0, 20.0, 20_000) / unit}
    serve = {name: change(rng.gamma(2.0, 20.0, 20_000) / unit)}
    report = check(write_snapshot(tmp_path / "t", train), write_logs(tmp_path / "s", serve), POLICY)
    assert report.verdict is verdict, _fired(report)
    result = next(c for c in report.feature(name).checks if c.check == "time_offset")
    assert (result.verdict is Verdict.BLOCK) is (hours is not None), result
    if hours is not None:
        fitted = re.search(r"served = training (?:about )?([+-][0-9.]+) h", result.cause or "")
        assert fitted is not None, result.cause
        assert abs(float(fitted.group(1)) - hours) < 1.5, result.cause
