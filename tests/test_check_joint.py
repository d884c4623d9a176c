"""The joint-drift check: a classifier telling serving rows from training rows.

It must fire on a change no marginal shows (a correlation flip), name the features that
carry it, stay quiet on clean resamples, keep its sample bounded, and be configured and
rendered like every other check.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from check_fixtures import write_serving, write_training

import skewguard as sg
from skewguard.checking.joint import JOINT_NAME, auc_delong
from skewguard.checking.pipeline import check
from skewguard.checking.policy import load_policy
from skewguard.errors import PolicyError
from skewguard.report.model import FeatureResult, Report
from skewguard.vocabulary import CheckName, Reason, Verdict

N = 10_000


def _correlated(n: int, rho: float, seed: int) -> dict[str, np.ndarray]:
    """a and b standard normal with correlation rho, c independent noise."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return {"v__a": a, "v__b": b, "v__c": rng.normal(size=n)}


def _training(values: dict[str, np.ndarray]) -> pa.Table:
    return pa.table({"entity_id": np.arange(len(values["v__a"])), **values})


def _serving(values: dict[str, np.ndarray]) -> pa.Table:
    n = len(values["v__a"])
    columns: dict[str, pa.Array] = {"entity_id": pa.array(np.arange(n))}
    for name, array in values.items():
        columns[name] = pa.array(array)
        columns[name + "__status"] = pa.array(np.ones(n, dtype=np.int32))
    columns["__log_timestamp"] = pa.array(
        np.full(n, np.datetime64("2026-11-30T12:00:00", "us")), pa.timestamp("us", tz="UTC")
    )
    columns["__log_date"] = pa.array(np.full(n, np.datetime64("2026-11-30", "D")), pa.date32())
    columns["__request_id"] = pa.array([f"r{i}" for i in range(n)])
    return pa.table(columns)


def _joint(report: Report) -> FeatureResult:
    joint = report.feature(JOINT_NAME)
    assert joint is not None, "the report has no joint check"
    return joint


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skewguard.toml"
    path.write_text(text)
    return path


def test_a_correlation_flip_with_unchanged_marginals_fires_and_names_both(tmp_path) -> None:
    on = _policy(tmp_path, "[joint]\nenabled = true\n")
    report = sg.check(
        _training(_correlated(N, 0.8, 1)), _serving(_correlated(N, -0.8, 2)), policy=on
    )
    for name in ("v__a", "v__b", "v__c"):
        assert report.feature(name).verdict is Verdict.PASS, name  # every marginal holds
    joint = _joint(report)
    result = joint.checks[0]
    assert result.check is CheckName.JOINT_AUC
    assert joint.verdict is Verdict.WARN and report.verdict is Verdict.WARN  # action: warn
    assert result.value > 0.55 and joint.distribution["auc"] > 0.8
    assert joint.distribution["carriers"][:2] in (["v__a", "v__b"], ["v__b", "v__a"])
    assert "v__c" not in joint.distribution["carriers"]
    assert "v__a" in result.cause and "v__b" in result.cause and "v__c" not in result.cause

    policy = _policy(tmp_path, '[joint]\nenabled = true\naction = "retrain"\n')
    strict = sg.check(
        _training(_correlated(N, 0.8, 1)), _serving(_correlated(N, -0.8, 2)), policy=policy
    )
    assert strict.verdict is Verdict.RETRAIN and strict.exit_code == 3


@pytest.mark.parametrize("seed", [3, 5, 7, 9, 11])
def test_clean_resamples_do_not_fire(tmp_path: Path, seed: int) -> None:
    training = write_training(tmp_path / "train", N, seed=seed)
    write_serving(tmp_path / "logs", N, seed=seed + 100)
    report = check(
        training, tmp_path / "logs", load_policy(_policy(tmp_path, "[joint]\nenabled = true\n"))
    )
    joint = _joint(report)
    assert joint.verdict is Verdict.PASS, joint.checks[0].detail
    assert report.verdict is Verdict.PASS
    assert abs(joint.distribution["auc"] - 0.5) < 0.05
    # the list feature is left out, with the reason; the others are used
    assert "customer_stats__recent_views" in joint.distribution["left_out"]
    assert "product_stats__category" in joint.distribution["features"]


def test_the_sample_is_bounded_and_the_runtime_too(tmp_path: Path) -> None:
    rows = 60_000
    training = write_training(tmp_path / "train", rows, seed=21)
    write_serving(tmp_path / "logs", rows, seed=22, parts=3)
    policy = _policy(tmp_path, "[joint]\nenabled = true\nmax_rows = 5000\n")
    start = time.perf_counter()
    report = check(training, tmp_path / "logs", load_policy(policy))
    elapsed = time.perf_counter() - start
    joint = _joint(report)
    assert (joint.rows_training, joint.rows_serving) == (5000, 5000)
    # 10k rows x 6 features, 5 folds: a few seconds; bounded with room for a loaded machine
    assert joint.distribution["seconds"] < 60, joint.distribution["seconds"]
    assert elapsed < 180


def test_the_sample_is_seeded(tmp_path: Path) -> None:
    training = write_training(tmp_path / "train", 3000, seed=31)
    write_serving(tmp_path / "logs", 3000, seed=32)
    policy = load_policy(_policy(tmp_path, "[joint]\nenabled = true\nmax_rows = 1000\n"))
    first = _joint(check(training, tmp_path / "logs", policy)).distribution
    second = _joint(check(training, tmp_path / "logs", policy)).distribution
    assert first["auc"] == second["auc"] and first["importances"] == second["importances"]


def test_a_profile_only_snapshot_is_not_computable_and_says_why(tmp_path: Path) -> None:
    training = write_training(tmp_path / "train", 2000, seed=41, reference=True)
    (training / "data.parquet").unlink()
    write_serving(tmp_path / "logs", 2000, seed=42)
    on = load_policy(_policy(tmp_path, "[joint]\nenabled = true\n"))
    joint = _joint(check(training, tmp_path / "logs", on))
    assert joint.verdict is Verdict.PASS
    assert joint.checks[0].reason is Reason.NOT_COMPUTABLE
    assert "reference profile" in joint.checks[0].detail


def test_too_few_rows_is_insufficient_data(tmp_path: Path) -> None:
    on = _policy(tmp_path, "[joint]\nenabled = true\n")
    report = sg.check(
        _training(_correlated(300, 0.8, 1)), _serving(_correlated(300, 0.8, 2)), policy=on
    )
    assert _joint(report).verdict is Verdict.INSUFFICIENT_DATA
    assert _joint(report).checks[0].reason is Reason.BELOW_MIN_ROWS


def test_off_by_default_means_no_joint_entry(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "")
    report = sg.check(_training(_correlated(2000, 0.8, 1)), _serving(_correlated(2000, -0.8, 2)),
                      policy=policy)  # fmt: skip
    assert report.feature(JOINT_NAME) is None and report.verdict is Verdict.PASS
    assert report.to_dict()["policy"]["joint"]["enabled"] is False


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[joint]\nfloor = 0.6\n", "joint.floor"),
        ("[joint]\nauc_floor = 0.4\n", "joint.auc_floor"),
        ("[joint]\nauc_floor = true\n", "joint.auc_floor"),
        ('[joint]\naction = "explode"\n', "joint.action"),
        ("[joint]\nmax_rows = 10\n", "joint.max_rows"),
        ("[joint]\nfolds = 1\n", "joint.folds"),
        ("[joint]\nconfidence = 1.0\n", "joint.confidence"),
        ('[joint]\nenabled = "yes"\n', "joint.enabled"),
        ("joint = 3\n", "joint"),
        ("[defaults.checks.joint_auc]\nthreshold = 0.6\n", "joint_auc"),
    ],
)
def test_bad_joint_policy_is_a_policy_error_naming_the_key(tmp_path, text, needle) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(_policy(tmp_path, text))
    assert needle in str(err.value) and "skewguard.toml" in str(err.value)


def test_every_renderer_shows_the_cause(tmp_path: Path) -> None:
    on = _policy(tmp_path, "[joint]\nenabled = true\n")
    report = sg.check(
        _training(_correlated(4000, 0.8, 1)), _serving(_correlated(4000, -0.8, 2)), policy=on
    )
    cause = _joint(report).checks[0].cause
    assert cause and "carried by" in cause
    document = json.loads(report.to_json())
    joint = next(f for f in document["features"] if f["name"] == JOINT_NAME)
    assert joint["checks"][0]["cause"] == cause and joint["kind"] == "joint"
    assert Report.from_dict(document).feature(JOINT_NAME).checks[0].cause == cause
    for rendered in (report.to_markdown(), report.to_html(), report.to_junit()):
        assert "joint_auc" in rendered
        assert "carried by" in rendered


def _auc_brute(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    pos, neg = scores[labels == 1], scores[labels == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)
    return float(psi.mean()), float(np.sqrt(var))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_the_definition_ties_included(seed: int) -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    labels = rng.random(400) < 0.3
    scores = rng.integers(0, 20, 400) + labels * rng.integers(0, 4, 400)  # many ties
    auc, se = auc_delong(labels.astype(int), scores.astype(float))
    ref_auc, ref_se = _auc_brute(labels, scores)
    assert auc == pytest.approx(ref_auc, abs=1e-12)
    assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert se == pytest.approx(ref_se, rel=1e-9)
