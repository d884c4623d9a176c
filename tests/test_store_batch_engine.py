"""skewguard's batch engine writes what Feast's own engine writes (real Redis, parquet, SDK).

Three copies of the feature repo hold the same data, with holes punched in every feature
column (None, NaN, empty lists), created-time ties, and an extra view with more types
and a composite string key. One materializes with Feast's local engine, one with
skewguard's engine, one with skewguard's engine cut into tiny batches and several
deduplication passes. All go through the same sequence of windows (newer data over
older, then older over newer, then equal times with changed values), and after each step
every Redis hash of the three projects is compared byte for byte; at the end Feast's
get_online_features must answer the same values, statuses and event times, and the
registry must hold the same materialization intervals.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import redis
from conftest import ROOT, TEST_END, copy_feature_repo
from store_fixtures import project_hashes

from skewguard.store.batch_engine import ENGINE_TYPE, fallback_reason

ENGINES = {
    "feast": "batch_engine: local\n",
    "ours": f"batch_engine:\n  type: {ENGINE_TYPE}\n",
    "ours_small": f"batch_engine:\n  type: {ENGINE_TYPE}\n  batch_size: 7\n  rows_per_pass: 50\n",
}

EXTRA_VIEWS = """
from datetime import timedelta
from pathlib import Path

from entities import customer
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bool, Bytes, Float32, Float64, Int64, String, UnixTimestamp

# A shop (string join key): customer_shop has a composite key.
shop = Entity(name="shop", join_keys=["shop_code"], value_type=ValueType.STRING)

extra_source = FileSource(
    name="extra_source",
    path=str(Path(__file__).resolve().parent / "data" / "extra.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

# Types the main repo does not use.
customer_shop = FeatureView(
    name="customer_shop",
    entities=[customer, shop],
    ttl=timedelta(days=30),
    schema=[
        Field(name="receipt", dtype=Bytes),
        Field(name="last_visit", dtype=UnixTimestamp),
        Field(name="basket_sizes", dtype=Array(Int64)),
        Field(name="scores", dtype=Array(Float32)),
        Field(name="flags", dtype=Array(Bool)),
        Field(name="spend", dtype=Float64),
        Field(name="note", dtype=String),
    ],
    source=extra_source,
    online=True,
)
"""

FEATURES = {
    "customer_profile": [
        "avg_order_value",
        "orders_90d",
        "age",
        "loyalty_tier",
        "is_premium",
        "recent_categories",
    ],
    "product_stats": [
        "price",
        "discount",
        "rating",
        "views_7d",
        "stock_level",
        "category",
        "in_stock",
    ],
    "customer_shop": [
        "receipt",
        "last_visit",
        "basket_sizes",
        "scores",
        "flags",
        "spend",
        "note",
    ],
}
SHOPS = ["north", "south", "é-east"]


def set_engine(repo: Path, engine_yaml: str) -> None:
    """Replace the repo's batch_engine block."""
    yaml = repo / "feature_store.yaml"
    text = re.sub(r"(?ms)^batch_engine:.*?(?=^\S|\Z)", "", yaml.read_text())
    yaml.write_text(text.rstrip("\n") + "\n" + engine_yaml)


def punch_holes(path: Path, seed: int) -> None:
    """Missing values in every feature column, and created-time ties on a few rows."""
    rng = np.random.default_rng(seed)
    table = pq.read_table(path)
    n = table.num_rows
    keep = {"customer_id", "product_id", "shop_code", "event_timestamp", "created_timestamp"}
    for i, name in enumerate(table.column_names):
        if name in keep:
            continue
        column = table.column(name)
        mask = pa.array(rng.random(n) < 0.12)
        holed = pc.if_else(mask, pa.nulls(n, column.type), column)
        if pa.types.is_floating(column.type):
            nan = pa.array(np.full(n, np.nan), column.type)
            holed = pc.if_else(pa.array(rng.random(n) < 0.05), nan, holed)
        if pa.types.is_list(column.type):
            empty = pa.array([[]] * n, column.type)
            holed = pc.if_else(pa.array(rng.random(n) < 0.05), empty, holed)
        table = table.set_column(i, name, holed)
    # The same entity and event time, created an hour later, other values: Feast keeps it.
    ties = table.take(pa.array(rng.choice(n, size=min(15, n), replace=False)))
    ties = ties.set_column(
        ties.column_names.index("created_timestamp"),
        "created_timestamp",
        pc.add(ties.column("created_timestamp"), pa.scalar(timedelta(hours=1))),
    )
    for name in ties.column_names:
        if pa.types.is_floating(ties.schema.field(name).type) and name not in keep:
            ties = ties.set_column(
                ties.column_names.index(name), name, pc.multiply(ties.column(name), 3)
            )
    pq.write_table(pa.concat_tables([table, ties]), path)


def write_extra_data(path: Path, start: datetime, end: datetime, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 600
    span = int((end - start).total_seconds())
    when = [start + timedelta(seconds=int(s)) for s in rng.integers(0, span, n)]

    def holes(values: list) -> list:
        return [None if rng.random() < 0.1 else v for v in values]

    table = pa.table(
        {
            "customer_id": pa.array(rng.integers(1, 80, n), pa.int64()),
            "shop_code": pa.array(rng.choice(SHOPS, n).tolist()),
            "event_timestamp": pa.array(when, pa.timestamp("us", tz="UTC")),
            "created_timestamp": pa.array(when, pa.timestamp("us", tz="UTC")),
            "receipt": pa.array(holes([rng.bytes(int(k)) for k in rng.integers(0, 9, n)])),
            "last_visit": pa.array(holes(when), pa.timestamp("us", tz="UTC")),
            "basket_sizes": pa.array(
                holes([rng.integers(-3, 9, int(k)).tolist() for k in rng.integers(0, 4, n)]),
                pa.list_(pa.int64()),
            ),
            "scores": pa.array(
                holes([rng.random(int(k)).tolist() for k in rng.integers(0, 4, n)]),
                pa.list_(pa.float32()),
            ),
            "flags": pa.array(
                holes([(rng.random(int(k)) < 0.5).tolist() for k in rng.integers(0, 4, n)]),
                pa.list_(pa.bool_()),
            ),
            "spend": pa.array(holes(rng.normal(50, 20, n).tolist())),
            "note": pa.array(holes(rng.choice(["", "gift", "ünïcode"], n).tolist())),
        }
    )
    pq.write_table(table, path)


def rewrite_values_keep_times(path: Path) -> None:
    """Other values, the same event and created times."""
    table = pq.read_table(path)
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type) and field.name not in ("event_timestamp",):
            table = table.set_column(i, field.name, pc.add(table.column(i), 1000))
    pq.write_table(table, path)


@dataclass
class Twin:
    name: str
    path: Path
    project: str
    store: Any  # feast.FeatureStore
    hashes: list[dict]  # after each step
    online: dict | None = None


def online_answer(store: Any, rows: list[dict]) -> dict[str, tuple]:
    """Per feature: values, statuses and event times as Feast's SDK returns them."""
    refs = [f"{view}:{name}" for view, names in FEATURES.items() for name in names]
    response = store.get_online_features(features=refs, entity_rows=rows).proto
    out = {}
    for name, result in zip(response.metadata.feature_names.val, response.results, strict=True):
        out[name] = (
            [v.SerializeToString() for v in result.values],
            list(result.statuses),
            [(t.seconds, t.nanos) for t in result.event_timestamps],
        )
    return out


def window_steps(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    middle = start + (end - start) / 2
    return [
        ("older data", start, middle),
        ("newer data over older", start, end),
        ("older data over newer", start, middle),
        ("equal times, other values", start, end),
    ]


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory, redis_connection: str):
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir

    client = redis.Redis.from_url(f"redis://{redis_connection}")
    config = GeneratorConfig(customers=70, products=40, days=21, events_per_day=5, end=TEST_END)
    built: dict[str, Twin] = {}
    for name, engine in ENGINES.items():
        project = f"sgeng_{name}_{os.getpid()}"
        path = copy_feature_repo(tmp_path_factory.mktemp(name) / "feature_repo", project)
        set_engine(path, engine)
        (path / "extra_views.py").write_text(EXTRA_VIEWS)
        data = generate(data_dir(path), config)
        punch_holes(data.customer_profile, seed=1)
        punch_holes(data.product_stats, seed=2)
        write_extra_data(data_dir(path) / "extra.parquet", data.start, data.end, seed=3)
        punch_holes(data_dir(path) / "extra.parquet", seed=4)
        store = apply_repo(path)
        built[name] = Twin(name, path, project, store, [])
    steps = window_steps(config.start, TEST_END)
    entity_rows = [
        {"customer_id": c, "product_id": p, "shop_code": s}
        for c, p, s in zip(range(1, 90), range(1, 90), SHOPS * 30, strict=False)
    ]
    try:
        for label, start, end in steps:
            for twin in built.values():
                if label.startswith("equal times"):
                    folder = data_dir(twin.path)
                    for file in ("customer_profile", "product_stats", "extra"):
                        rewrite_values_keep_times(folder / f"{file}.parquet")
                materialize(twin.store, start, end)
                twin.hashes.append(project_hashes(client, twin.project))
        for twin in built.values():
            twin.online = online_answer(twin.store, entity_rows)
        yield built
    finally:
        for twin in built.values():
            twin.store.teardown()


@pytest.mark.parametrize("ours", ["ours", "ours_small"])
def test_redis_hashes_equal_feasts_after_every_step(twins: dict[str, Twin], ours: str) -> None:
    feast, mine = twins["feast"], twins[ours]
    labels = [label for label, _, _ in window_steps(datetime.now(UTC), datetime.now(UTC))]
    for label, expected, got in zip(labels, feast.hashes, mine.hashes, strict=True):
        assert len(got) > 150, label  # customers, products and customer/shop pairs
        assert got == expected, label


def test_older_or_equal_event_times_never_overwrite(twins: dict[str, Twin]) -> None:
    after = twins["ours"].hashes
    # Step 3 materialized an older window, step 4 changed values at the same times.
    assert after[2] == after[1]
    assert after[3] == after[1]
    assert after[0] != after[1]


@pytest.mark.parametrize("ours", ["ours", "ours_small"])
def test_feast_reads_back_the_same_values_statuses_and_times(
    twins: dict[str, Twin], ours: str
) -> None:
    feast, mine = twins["feast"].online, twins[ours].online
    assert feast is not None and mine is not None
    assert set(mine) == set(feast)
    for name in feast:
        assert mine[name] == feast[name], name
    # The answers are not trivially empty: most features are present for most rows.
    values = feast["customer_profile__age"][0] if "customer_profile__age" in feast else None
    assert values is None or sum(v != b"" for v in values) > 30


def test_materialization_intervals_are_feasts(twins: dict[str, Twin]) -> None:
    for view in ("customer_profile", "product_stats", "customer_shop"):
        expected = twins["feast"].store.get_feature_view(view).materialization_intervals
        for name in ("ours", "ours_small"):
            got = twins[name].store.get_feature_view(view).materialization_intervals
            assert got == expected
        assert len(expected) == 4


def test_views_feast_must_handle_go_to_feasts_engine(twins: dict[str, Twin]) -> None:
    from feast import FeatureView
    from feast.infra.common.materialization_job import MaterializationTask

    store = twins["ours"].store
    view: FeatureView = store.get_feature_view("product_stats")
    now = datetime.now(UTC)
    assert fallback_reason(view, MaterializationTask("p", view, now, now), store.config) is None
    offline = view.__copy__()
    offline.offline = True
    reason = fallback_reason(offline, MaterializationTask("p", offline, now, now), store.config)
    assert reason == "it also writes to the offline store"
    every_row = MaterializationTask("p", view, now, now, only_latest=False)
    assert fallback_reason(view, every_row, store.config) is not None


def feast_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SKEWGUARD_REDIS": os.environ.get("SKEWGUARD_REDIS", "127.0.0.1:6379"),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-c", "from feast.cli.cli import cli; cli()", "-c", str(repo)]
    return subprocess.run(
        [*command, "--log-level", "INFO", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture
def applied_repo(tmp_path: Path, redis_connection: str):
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.repo import apply_repo, data_dir

    project = f"sgcli_{os.getpid()}_{tmp_path.name[-6:]}"
    path = copy_feature_repo(tmp_path / "feature_repo", project)
    generate(data_dir(path), GeneratorConfig(customers=30, products=20, days=21, end=TEST_END))
    store = apply_repo(path)
    yield path, store
    store.teardown()


def test_feast_cli_materialize_uses_the_engine(applied_repo: tuple[Path, Any]) -> None:
    path, _ = applied_repo
    start, end = TEST_END - timedelta(days=21), TEST_END
    result = feast_cli(path, "materialize", start.isoformat(), end.isoformat())
    assert result.returncode == 0, result.stderr
    assert "skewguard.store.batch_engine" in result.stderr
    assert "materialized customer_profile" in result.stderr
    from skewguard.store.repo import open_store

    store = open_store(path)
    for view in ("customer_profile", "product_stats"):
        intervals = store.get_feature_view(view).materialization_intervals
        assert intervals == [(start, end)]
    answer = store.get_online_features(
        features=["customer_profile:age"], entity_rows=[{"customer_id": 1}]
    ).to_dict()
    assert answer["age"][0] is not None

    # materialize-incremental starts where the last run ended.
    later = end + timedelta(hours=6)
    result = feast_cli(path, "materialize-incremental", later.isoformat())
    assert result.returncode == 0, result.stderr
    assert "materialized product_stats" in result.stderr
    store = open_store(path)
    intervals = store.get_feature_view("product_stats").materialization_intervals
    assert intervals == [(start, end), (end, later)]


def test_skewguard_materialize_uses_the_engine(
    applied_repo: tuple[Path, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from skewguard import cli

    path, store = applied_repo
    start, end = TEST_END - timedelta(days=3), TEST_END
    with caplog.at_level(logging.INFO, logger="skewguard.store.batch_engine"):
        code = cli.main(
            [
                "materialize",
                "--repo",
                str(path),
                "--start",
                start.isoformat(),
                "--end",
                end.isoformat(),
            ]
        )
    assert code == 0
    engine_logs = [
        r.getMessage() for r in caplog.records if r.name == "skewguard.store.batch_engine"
    ]
    assert any(m.startswith("materialized customer_profile") for m in engine_logs)
    assert store.get_feature_view("product_stats").materialization_intervals == [(start, end)]


def test_a_failed_materialization_records_no_interval(
    applied_repo: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from skewguard.errors import OnlineStoreError
    from skewguard.store.online import _free_port, materialize
    from skewguard.store.repo import open_store

    path, _ = applied_repo
    monkeypatch.setenv("SKEWGUARD_REDIS", f"127.0.0.1:{_free_port()}")  # nothing listens
    store = open_store(path)
    with pytest.raises(OnlineStoreError, match="unreachable"):
        materialize(store, TEST_END - timedelta(days=21), TEST_END)
    for view in ("customer_profile", "product_stats"):
        assert store.get_feature_view(view).materialization_intervals == []


def test_other_online_stores_are_materialized_by_feasts_engine(tmp_path: Path) -> None:
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir

    path = copy_feature_repo(tmp_path / "feature_repo", "sgsqlite")
    yaml = path / "feature_store.yaml"
    text = yaml.read_text().replace(
        "  type: redis\n  connection_string: ${SKEWGUARD_REDIS}\n",
        f"  type: sqlite\n  path: {tmp_path / 'online.db'}\n",
    )
    yaml.write_text(text)
    generate(data_dir(path), GeneratorConfig(customers=20, products=10, days=14, end=TEST_END))
    store = apply_repo(path)
    materialize(store, TEST_END - timedelta(days=14), TEST_END)
    answer = store.get_online_features(
        features=["product_stats:price"], entity_rows=[{"product_id": 1}]
    ).to_dict()
    assert answer["price"][0] is not None
