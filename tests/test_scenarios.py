"""Each demo scenario, on the real Redis and Feast path, ends in the verdict it deserves
and the joined replay names the injected cause."""

from __future__ import annotations

import os

import pytest

from skewguard.demo.datagen import GeneratorConfig
from skewguard.demo.run import DemoConfig, DemoResult, run_demo
from skewguard.demo.scenarios import Scenario
from skewguard.vocabulary import Verdict
from tests.conftest import TEST_END, copy_feature_repo

PRODUCT_VALUES = [
    "product_stats__price",
    "product_stats__rating",
    "product_stats__views_7d",
]


@pytest.fixture(scope="module")
def scenario_repo(tmp_path_factory, redis_connection):
    path = copy_feature_repo(tmp_path_factory.mktemp("scen") / "repo", f"sgscen_{os.getpid()}")
    yield path
    from skewguard.store.repo import open_store

    open_store(path).teardown()


def _run(repo, tmp_path, scenario: Scenario) -> DemoResult:
    config = DemoConfig(
        repo=repo,
        out=tmp_path,
        scenario=scenario,
        generator=GeneratorConfig(end=TEST_END),
    )
    return run_demo(config, say=lambda _: None)


def _joined(result: DemoResult, feature: str) -> dict:
    section = next(f for f in result.report.features if f.name == feature).joined
    assert section is not None, f"{feature} has no joined section"
    return dict(section)


def _top_cause(result: DemoResult, feature: str) -> str:
    return _joined(result, feature)["causes"][0]["cause"]


def _without_replay(result: DemoResult):
    """The same snapshot and logs checked from the values alone (no replay)."""
    from skewguard.checking.pipeline import check
    from skewguard.checking.policy import load_policy

    return check(result.snapshot, result.serving_log, load_policy(None))


def test_clean_passes_with_zero_joined_mismatches(scenario_repo, tmp_path) -> None:
    result = _run(scenario_repo, tmp_path, Scenario.CLEAN)
    assert result.report.verdict is Verdict.PASS, [
        (f.name, [(str(c.check), c.cause) for c in f.failing()]) for f in result.report.features
    ]
    for feature in result.report.features:
        if feature.kind == "joint":  # the joint-drift entry compares rows, not a replay
            continue
        assert _joined(result, feature.name)["diff_count"] == 0, feature.name
    assert _without_replay(result).verdict is Verdict.PASS
    assert set(result.reports) == {"json", "markdown", "junit", "html"}
    assert all(p.exists() for p in result.reports.values())


def test_stale_materialization_blocks_as_stale_online(scenario_repo, tmp_path) -> None:
    result = _run(scenario_repo, tmp_path, Scenario.STALE)
    assert result.report.verdict is Verdict.BLOCK
    for feature in PRODUCT_VALUES:
        assert _top_cause(result, feature) == "stale_online", feature
    assert _joined(result, "customer_profile__age")["diff_count"] == 0


def test_transformation_bug_blocks_as_scale_x100(scenario_repo, tmp_path) -> None:
    result = _run(scenario_repo, tmp_path, Scenario.TRANSFORM_BUG)
    assert result.report.verdict is Verdict.BLOCK
    discount = _joined(result, "product_stats__discount")["causes"][0]
    assert discount["cause"] == "scale" and discount["detail"] == "served = offline x 100"
    # From the values alone, without the replay: the unit factor blocks and says so.
    alone = _without_replay(result)
    assert alone.verdict is Verdict.BLOCK
    unit = next(c for c in alone.feature("product_stats__discount").checks
                if c.check == "unit_change")  # fmt: skip
    assert unit.verdict is Verdict.BLOCK
    assert unit.cause.startswith("served = training x 100; fitted factor")
    # Undiscounted products (0 x 100 = 0) still match; every discounted one differs.
    assert _top_cause(result, "customer_product_fit__price_vs_aov") == "upstream_input"
    assert _joined(result, "product_stats__price")["diff_count"] == 0


def test_ttl_expiry_blocks_as_ttl_exceeded(scenario_repo, tmp_path) -> None:
    result = _run(scenario_repo, tmp_path, Scenario.TTL_EXPIRY)
    assert result.report.verdict is Verdict.BLOCK
    for feature in PRODUCT_VALUES:
        assert _top_cause(result, feature) == "ttl_exceeded", feature


def test_trend_shift_retrains_and_the_join_agrees(scenario_repo, tmp_path) -> None:
    result = _run(scenario_repo, tmp_path, Scenario.TREND_SHIFT)
    assert result.report.verdict is Verdict.RETRAIN
    for feature in result.report.features:
        if feature.kind == "joint":  # the joint-drift entry compares rows, not a replay
            continue
        assert _joined(result, feature.name)["diff_count"] == 0, feature.name
    retrain = [f.name for f in result.report.features if f.verdict is Verdict.RETRAIN]
    assert retrain, "some feature's distribution must have moved"
    alone = _without_replay(result)
    assert alone.verdict is Verdict.RETRAIN, [
        (f.name, [(str(c.check), c.cause) for c in f.failing() if c.verdict is Verdict.BLOCK])
        for f in alone.features
    ]


def test_replay_and_check_replay_cli_block_on_the_transformation_bug(
    scenario_repo, tmp_path, capsys
) -> None:
    from skewguard import cli

    result = _run(scenario_repo, tmp_path, Scenario.TRANSFORM_BUG)
    logs = str(result.serving_log)
    out_json = tmp_path / "replay.json"
    code = cli.main(
        ["replay", "--serving", logs, "--repo", str(scenario_repo), "--json", str(out_json)]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "product_stats__discount" in printed and "scale" in printed
    import json

    saved = json.loads(out_json.read_text())
    assert saved["verdict"] == "block"
    assert saved["features"]["product_stats__price"]["diff_count"] == 0

    report = tmp_path / "report.json"
    code = cli.main(
        [
            "check", "--training", str(result.snapshot), "--serving", logs,
            "--replay", "--repo", str(scenario_repo), "--json", str(report), "--quiet",
        ]
    )  # fmt: skip
    assert code == 1
    features = {f["name"]: f for f in json.loads(report.read_text())["features"]}
    checks = {c["check"]: c for c in features["product_stats__discount"]["checks"]}
    assert checks["joined_mismatch_rate"]["verdict"] == "block"
    assert features["product_stats__discount"]["joined"]["causes"][0]["cause"] == "scale"


def test_a_seeded_sample_replays_the_same_rows(scenario_repo, tmp_path) -> None:
    from skewguard.store.replay import read_serving_logs, replay
    from skewguard.store.repo import open_store

    result = _run(scenario_repo, tmp_path, Scenario.STALE)
    store, logs = open_store(scenario_repo), read_serving_logs(result.serving_log)
    first = replay(store, "recommender_v1", logs, sample=300, seed=5)
    again = replay(store, "recommender_v1", logs, sample=300, seed=5)
    assert first.replayed_rows == 300 and first.logged_rows == logs.num_rows
    assert first.to_dict()["features"] == again.to_dict()["features"]
    assert first.feature("product_stats__price").causes[0].cause == "stale_online"


def test_a_fresh_checkout_is_not_shadowed_by_an_earlier_runs_redis_values(
    scenario_repo, tmp_path
) -> None:
    # A broken run leaves x100 discounts in the shared Redis; a fresh clone (no registry)
    # of the same project must still start clean, or Feast skips its equal-time writes.
    _run(scenario_repo, tmp_path, Scenario.TRANSFORM_BUG)
    (scenario_repo / "data" / "registry.db").unlink()
    result = _run(scenario_repo, tmp_path, Scenario.CLEAN)
    assert _joined(result, "product_stats__discount")["diff_count"] == 0
    assert result.report.verdict in (Verdict.PASS, Verdict.WARN)
