"""Lineage on a real MLflow store (embedded SQLite) and the real Redis: a model registered
with its lineage, `check --model` resolving its snapshot, the lineage checks blocking logs
of another feature service and a changed feature view, `promote` refusing a model whose
lineage is incomplete."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import _EXTRA_SERVICES, TEST_END, copy_feature_repo

from skewguard import cli

pytestmark = pytest.mark.redis

SERVICE = "recommender_v1"


@dataclass
class LineageWorld:
    repo: Path
    store: Any
    registry: Any
    model: Any  # RegisteredModel, champion
    name: str
    logs: Path  # recommender_v1's serving logs
    other_logs: Path  # batch_sampled's serving logs


def _serve(store: Any, service: str, log_root: Path, pairs: list[dict[str, int]]) -> None:
    from skewguard.serving.logger import FeatureLogger
    from skewguard.serving.writer import WriterConfig

    config = WriterConfig(handle_sigterm=False)
    with FeatureLogger(store, writer_config=config, log_root=log_root, sample_rate=1.0) as logger:
        for i in range(0, len(pairs), 20):
            logger.get_online_features(
                service, pairs[i : i + 20], full_feature_names=True, request_time=TEST_END
            )
        logger.flush()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, redis_connection: str
) -> Iterator[LineageWorld]:
    import pyarrow.parquet as pq

    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.loop.registry import Registry
    from skewguard.loop.retrain import register_snapshot_model
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir
    from skewguard.store.snapshot import build_snapshot

    root = tmp_path_factory.mktemp("lineage")
    repo = copy_feature_repo(root / "feature_repo", f"sglineage_{os.getpid()}")
    (repo / "extra_services.py").write_text(_EXTRA_SERVICES)
    data = generate(
        data_dir(repo),
        GeneratorConfig(customers=120, products=60, days=21, events_per_day=80, end=TEST_END),
    )
    store = apply_repo(repo)
    materialize(store, data.start, data.end)
    labels = pq.read_table(data.interactions)
    snapshot = build_snapshot(store, SERVICE, labels, root / "snapshot")
    registry = Registry.open(store=store)
    name = f"sgtest-{uuid.uuid4().hex[:8]}"
    model = register_snapshot_model(
        registry, snapshot.path, root / "models", model_name=name, champion=True
    )
    frame = labels.to_pandas()
    pairs = [
        {"customer_id": int(c), "product_id": int(p)}
        for c, p in zip(frame["customer_id"][-800:], frame["product_id"][-800:], strict=True)
    ]
    _serve(store, SERVICE, root / "logs", pairs)
    _serve(store, "batch_sampled", root / "logs", pairs)
    yield LineageWorld(
        repo, store, registry, model, name, root / "logs" / SERVICE, root / "logs" / "batch_sampled"
    )
    store.teardown()


def _check(world: LineageWorld, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "report.json"
    code = cli.main(
        ["check", "--model", f"models:/{world.name}@champion", "--repo", str(world.repo)]
        + ["--json", str(out), "-q", *extra]
    )
    return code, json.loads(out.read_text())


def _lineage_checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f["name"]: next(c for c in f["checks"] if c["check"] == "lineage")
        for f in report["features"]
    }


def test_the_registered_model_carries_its_lineage(world: LineageWorld) -> None:
    lineage = world.model.lineage
    assert lineage.gaps() == []
    manifest = json.loads((Path(lineage.snapshot_path) / "manifest.json").read_text())
    assert lineage.snapshot_id == manifest["content_hash"]
    assert lineage.feature_service == SERVICE
    assert lineage.feature_service_version.startswith("sha256:")
    assert set(lineage.feature_views) == {
        "customer_profile",
        "product_stats",
        "customer_product_fit",
    }
    assert list(lineage.features) == [f["name"] for f in manifest["features"]]
    champion = world.registry.champion(world.name)
    assert champion.version == world.model.version and "champion" in champion.aliases


def test_check_model_resolves_the_snapshot_from_lineage(
    world: LineageWorld, tmp_path: Path
) -> None:
    code, report = _check(world, tmp_path, "--serving", str(world.logs))
    assert report["inputs"]["training"]["content_hash"] == world.model.lineage.snapshot_id
    model = report["inputs"]["model"]
    assert model["uri"] == f"models:/{world.name}/{world.model.version}"
    assert model["feature_service"] == SERVICE
    checks = _lineage_checks(report)
    assert len(checks) == len(world.model.lineage.features)
    assert all(c["verdict"] == "pass" and c["value"] == 0 for c in checks.values()), checks
    assert code != 1  # no block: whatever the distributions say, lineage holds


def test_logs_of_another_feature_service_block(world: LineageWorld, tmp_path: Path) -> None:
    # Under the other service's logging destination the logs are that service's.
    code, report = _check(world, tmp_path, "--serving", str(world.other_logs))
    assert code == 1 and report["verdict"] == "block"
    for check in _lineage_checks(report).values():
        assert check["verdict"] == "block"
        assert "other_feature_service" in check["detail"]
        assert "'batch_sampled'" in check["detail"]


def test_a_feature_the_model_never_saw_blocks(world: LineageWorld, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skewguard.checking.reading import find_parquet_files

    copied = tmp_path / "logs"
    for i, file in enumerate(find_parquet_files(world.logs)):
        table = pq.read_table(file)
        n = table.num_rows
        table = (
            table.append_column("product_stats__shiny", pa.array([1.5] * n))
            .append_column("product_stats__shiny__timestamp", table.column("__log_timestamp"))
            .append_column("product_stats__shiny__status", pa.array([1] * n, pa.int32()))
        )
        copied.mkdir(exist_ok=True)
        pq.write_table(table, copied / f"part-{i}.parquet")
    code, report = _check(world, tmp_path, "--serving", str(copied))
    assert code == 1
    shiny = _lineage_checks(report)["product_stats__shiny"]
    assert shiny["verdict"] == "block"
    assert "unseen_feature: the serving logs hold product_stats__shiny" in shiny["detail"]
    assert _lineage_checks(report)["product_stats__views_7d"]["verdict"] == "pass"


def test_a_changed_feature_view_blocks_with_its_cause(world: LineageWorld, tmp_path: Path) -> None:
    from skewguard.store.repo import apply_repo

    views = world.repo / "feature_views.py"
    original = views.read_text()
    changed = original.replace("ttl=timedelta(days=2)", "ttl=timedelta(days=3)")
    assert changed != original
    views.write_text(changed)
    try:
        apply_repo(world.repo)
        code, report = _check(world, tmp_path, "--serving", str(world.logs))
    finally:
        views.write_text(original)
        apply_repo(world.repo)
    assert code == 1 and report["verdict"] == "block"
    checks = _lineage_checks(report)
    stats = checks["product_stats__views_7d"]
    assert stats["verdict"] == "block"
    assert (
        "definition_changed: feature view 'product_stats' changed since the snapshot"
        in (stats["detail"])
    )
    age = checks["customer_profile__age"]
    assert age["verdict"] == "pass", age["detail"]
    # Once the definition is back, the same check holds again.
    _, again = _check(world, tmp_path, "--serving", str(world.logs))
    assert all(c["verdict"] == "pass" for c in _lineage_checks(again).values())


def test_check_model_and_training_together_is_bad_input(
    world: LineageWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["check", "--model", f"models:/{world.name}@champion", "--training", str(tmp_path)]
        + ["--repo", str(world.repo), "--serving", str(world.logs)]
    )
    assert code == 2
    assert "--training and --model both name the training data" in capsys.readouterr().err
    assert cli.main(["check", "--serving", str(world.logs)]) == 2
    unknown = ["check", "--model", "models:/no-such-model@champion", "--repo", str(world.repo)]
    assert cli.main(unknown) == 2
    assert "no such registered model version" in capsys.readouterr().err


def test_promote_refuses_incomplete_lineage(
    world: LineageWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.linear_model import LogisticRegression

    from skewguard.loop.retrain import register_snapshot_model

    registry = world.registry
    # A model registered by hand, without skewguard's lineage.
    bare = f"sgtest-bare-{uuid.uuid4().hex[:6]}"
    with registry.mlflow.start_run(experiment_id=registry.experiment_id()) as run:
        registry.mlflow.sklearn.log_model(
            LogisticRegression().fit([[0.0], [1.0]], [0, 1]), name="model"
        )
    registry.mlflow.register_model(f"runs:/{run.info.run_id}/model", bare)
    assert cli.main(["promote", f"models:/{bare}/1", "--repo", str(world.repo)]) == 1
    err = capsys.readouterr().err
    assert "REFUSED" in err and "no snapshot content hash" in err
    assert "no feature view definition hashes" in err
    assert registry.champion(bare) is None

    # A complete lineage whose snapshot folder is gone is refused too.
    snapshot = tmp_path / "snapshot"
    shutil.copytree(world.model.lineage.snapshot_path, snapshot)
    moved = register_snapshot_model(registry, snapshot, tmp_path / "models", model_name=bare)
    shutil.rmtree(snapshot)
    assert cli.main(["promote", moved.uri, "--repo", str(world.repo)]) == 1
    assert "the snapshot's manifest is gone" in capsys.readouterr().err

    # A complete one is promoted.
    assert cli.main(["promote", world.model.uri, "--repo", str(world.repo)]) == 0
    assert "is now" in capsys.readouterr().out
    assert registry.champion(world.name).version == world.model.version


def test_lineage_findings_name_each_cause() -> None:
    from skewguard.checking.lineage import LineageCause, ModelLineageFacts, lineage_findings

    facts = ModelLineageFacts(
        model_service="s1",
        model_service_version="sha256:aaa",
        model_views={"v": "sha256:111", "w": "sha256:222"},
        model_features=["v__a", "w__b"],
        serving_service="s1",
        serving_features=["v__a", "w__b"],
        current_views={"v": "sha256:111", "w": "sha256:222"},
        current_service_version="sha256:aaa",
    )
    assert lineage_findings(facts) == []
    from dataclasses import replace

    causes = {
        (f.feature, f.cause)
        for f in lineage_findings(
            replace(
                facts,
                serving_service="s2",
                serving_features=["v__a", "w__b", "v__new"],
                current_views={"v": "sha256:999"},
                current_service_version="sha256:bbb",
            )
        )
    }
    assert causes == {
        (None, LineageCause.OTHER_FEATURE_SERVICE),
        (None, LineageCause.SERVICE_CHANGED),
        ("v__new", LineageCause.UNSEEN_FEATURE),
        ("v__a", LineageCause.DEFINITION_CHANGED),
        ("v__new", LineageCause.DEFINITION_CHANGED),
        ("w__b", LineageCause.DEFINITION_CHANGED),  # w is gone from the registry
    }


def test_definition_hashes_survive_a_reapply(world: LineageWorld) -> None:
    from skewguard.store.definitions import service_definitions
    from skewguard.store.repo import apply_repo

    before = service_definitions(world.store, SERVICE)
    after = service_definitions(apply_repo(world.repo), SERVICE)
    assert after == before
    assert before.to_dict()["feature_views"] == dict(world.model.lineage.feature_views)
