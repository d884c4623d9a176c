"""`skewguard parity` on the real Redis and Feast path: right after materialization, before
any traffic, it blocks on the demo's broken pipelines with the replay's causes and passes
on the clean one."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from skewguard import cli
from skewguard.demo.datagen import GeneratorConfig
from skewguard.demo.run import load_scenario_online
from skewguard.demo.scenarios import Scenario
from tests.conftest import TEST_END, copy_feature_repo

# Shoppers of the demo browse during the first half hour after the window's end.
AT = (TEST_END + timedelta(minutes=30)).isoformat()
PRODUCT_VALUES = ["product_stats__price", "product_stats__rating", "product_stats__views_7d"]


@pytest.fixture(scope="module")
def parity_repo(tmp_path_factory, redis_connection):
    path = copy_feature_repo(tmp_path_factory.mktemp("parity") / "repo", f"sgpar_{os.getpid()}")
    yield path
    from skewguard.store.repo import open_store

    open_store(path).teardown()


def _parity(repo: Path, tmp_path: Path, scenario: Scenario, *extra: str) -> tuple[int, dict]:
    load_scenario_online(repo, scenario, GeneratorConfig(end=TEST_END))
    report = tmp_path / f"{scenario}.json"
    argv = ["parity", "--repo", str(repo), "--at", AT, "--entities", "300", "--seed", "3"]
    code = cli.main([*argv, "--json", str(report), *extra])
    return code, json.loads(report.read_text())


def _features(report: dict) -> dict[str, dict]:
    return {f["name"]: f for f in report["features"]}


def _top_cause(report: dict, feature: str) -> str:
    return _features(report)[feature]["joined"]["causes"][0]["cause"]


def test_clean_passes_with_every_value_agreeing(parity_repo, tmp_path, capsys) -> None:
    code, report = _parity(parity_repo, tmp_path, Scenario.CLEAN)
    assert code == 0, capsys.readouterr()
    assert report["verdict"] == "pass"
    assert report["replay"]["mode"] == "parity" and report["replay"]["replayed_rows"] == 300
    for name, feature in _features(report).items():
        assert feature["joined"]["diff_count"] == 0, name
        assert feature["joined"]["match_count"] > 0, name
    assert "skewguard parity: PASS" in capsys.readouterr().out


def test_transformation_bug_blocks_as_scale_x100(parity_repo, tmp_path) -> None:
    code, report = _parity(parity_repo, tmp_path, Scenario.TRANSFORM_BUG)
    assert code == 1 and report["verdict"] == "block"
    discount = _features(report)["product_stats__discount"]
    assert discount["verdict"] == "block"
    cause = discount["joined"]["causes"][0]
    assert cause["cause"] == "scale" and cause["detail"] == "served = offline x 100"
    assert _top_cause(report, "customer_product_fit__price_vs_aov") == "upstream_input"
    assert _features(report)["product_stats__price"]["joined"]["diff_count"] == 0


def test_stale_materialization_blocks_as_stale_online(parity_repo, tmp_path) -> None:
    code, report = _parity(parity_repo, tmp_path, Scenario.STALE)
    assert code == 1 and report["verdict"] == "block"
    for feature in PRODUCT_VALUES:
        assert _top_cause(report, feature) == "stale_online", feature
    assert _features(report)["customer_profile__age"]["joined"]["diff_count"] == 0


def test_ttl_expiry_blocks_as_ttl_exceeded(parity_repo, tmp_path) -> None:
    code, report = _parity(parity_repo, tmp_path, Scenario.TTL_EXPIRY)
    assert code == 1 and report["verdict"] == "block"
    for feature in PRODUCT_VALUES:
        assert _top_cause(report, feature) == "ttl_exceeded", feature


def test_entities_from_a_table_and_every_report_format(parity_repo, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    entities = tmp_path / "entities.parquet"
    pq.write_table(pa.table({"customer_id": [1, 2, 3, 4], "product_id": [5, 6, 7, 8]}), entities)
    out = {fmt: tmp_path / f"parity.{fmt}" for fmt in ("md", "xml", "html")}
    extra = ["--entities-from", str(entities), "--markdown", str(out["md"])]
    extra += ["--junit", str(out["xml"]), "--html", str(out["html"])]
    code, report = _parity(parity_repo, tmp_path, Scenario.TRANSFORM_BUG, *extra)
    assert code == 1
    assert report["inputs"]["entities"] == {"from": str(entities), "rows": 4}
    assert out["md"].read_text().startswith("## ⛔ skewguard parity: BLOCK")
    assert 'name="replay_ran" value="true"' in out["xml"].read_text()
    assert "<title>skewguard parity: BLOCK</title>" in out["html"].read_text()


def test_unreachable_redis_cannot_evaluate(parity_repo, tmp_path, monkeypatch, capsys) -> None:
    load_scenario_online(parity_repo, Scenario.CLEAN, GeneratorConfig(end=TEST_END))
    monkeypatch.setenv("SKEWGUARD_REDIS", "127.0.0.1:1")  # nothing listens on port 1
    code = cli.main(["parity", "--repo", str(parity_repo), "--at", AT, "--entities", "10"])
    assert code == 2
    assert "skewguard parity: error:" in capsys.readouterr().err
