"""`--engine dask`: profiles of partitioned parquet on a real dask.distributed cluster.

A `LocalCluster` of three worker processes profiles hive-partitioned serving logs with
several files and row groups per file, and a snapshot's training data cut into row
groups. What must hold against the single-process path:

- every count is identical (rows, nulls, NaN, infinities, integral values, histogram
  buckets, category counts, statuses), min and max too; mean and variance agree to
  rounding (they are merged in another order);
- on inputs small enough that the KLL sketches hold every value (no compaction), the
  whole report is identical, KS and Wasserstein included;
- on larger inputs, quantiles agree within the sketch's rank error (KLL compaction is
  randomized: two single-process runs differ as much), and the verdicts are the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import file_hash, serving_table, write_training

import skewguard.checking
from skewguard import cli
from skewguard.checking.counting import profile_serving, profile_training
from skewguard.checking.dask_profiling import DaskEngine, plan_partitions
from skewguard.checking.profile import ArrayProfile, CategoricalProfile, NumericProfile
from skewguard.checking.reading import open_parquet, open_serving, open_training
from skewguard.checking.reference import read_reference_profile, write_reference_profile
from skewguard.errors import EngineError, InputError

pytestmark = pytest.mark.slow
DEFAULT_POLICY = Path(skewguard.checking.__file__).parent / "default_policy.toml"

WORKERS = 3
# Below KLL_K (400) values a KLL sketch keeps every value: frozen edges and quantiles are
# then exact on both paths. 140 rows keep the list elements (0-5 per row) below it too.
SMALL = 140


def assert_small(profile: Any) -> None:
    for feature in profile.features:
        inner = feature.profile
        if isinstance(inner, ArrayProfile):
            inner = inner.element
        assert inner.count < 400, f"{feature.name}: the sketches compact; use fewer rows"


@pytest.fixture(scope="module")
def scheduler() -> Any:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def write_logs(folder: Path, n: int, seed: int, *, days: int, files: int, group: int) -> Path:
    """Serving logs as a logging job leaves them: a folder per day, several files per day,
    each cut into row groups of `group` rows; one file lacks a feature column."""
    table = serving_table(n, seed, not_found_rate=0.02)
    values = table.column("product_stats__rating").to_numpy(zero_copy_only=False).copy()
    values[::97] = np.nan
    values[::389] = np.inf
    values[::401] = -np.inf
    mask = table.column("product_stats__rating").is_null().to_numpy(zero_copy_only=False)
    rating = pa.array(values, mask=mask)
    table = table.set_column(
        table.schema.get_field_index("product_stats__rating"), "product_stats__rating", rating
    )
    bounds = np.linspace(0, n, days * files + 1).astype(int)
    for i in range(days * files):
        part = folder / f"__log_date=2026-11-{1 + i // files:02d}"
        part.mkdir(parents=True, exist_ok=True)
        piece = table.slice(bounds[i], bounds[i + 1] - bounds[i])
        if i == 1:
            piece = piece.drop_columns(["product_stats__price"])
        pq.write_table(piece, part / f"part-{i % files}.parquet", row_group_size=group)
    return folder


def rechunk(snapshot: Path, group: int) -> None:
    """Rewrite the snapshot's data in smaller row groups, its manifest's hash with it."""
    data = snapshot / "data.parquet"
    pq.write_table(pq.read_table(data), data, row_group_size=group)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    manifest["content_hash"] = file_hash(data)
    (snapshot / "manifest.json").write_text(json.dumps(manifest))


def assert_same_counts(a: Any, b: Any, exact_sketches: bool) -> None:
    assert type(a) is type(b)
    if isinstance(a, NumericProfile):
        for field in ("count", "nulls", "nan", "pos_inf", "neg_inf", "integral", "histogram"):
            assert getattr(a, field) == getattr(b, field), field
        assert (a.min, a.max) == (b.min, b.max)
        assert a.mean == pytest.approx(b.mean, rel=1e-12, abs=1e-12)
        assert a.m2 == pytest.approx(b.m2, rel=1e-9, abs=1e-9)
        ranks = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
        if exact_sketches:
            assert a.quantiles(ranks) == b.quantiles(ranks)
        elif a.finite:
            # within the rank error: each quantile of one lies between the other's
            # quantiles 1.5% of rank either side
            qa = a.quantiles(ranks)
            lo = b.quantiles([max(0.0, r - 0.015) for r in ranks])
            hi = b.quantiles([min(1.0, r + 0.015) for r in ranks])
            assert qa is not None and lo is not None and hi is not None
            for q, low, high in zip(qa, lo, hi, strict=True):
                assert low <= q <= high
    elif isinstance(a, CategoricalProfile):
        assert (a.count, a.nulls, a.counts) == (b.count, b.nulls, b.counts)
        assert a.top() == b.top()
        assert a.distinct == pytest.approx(b.distinct, rel=0.02)
    else:
        assert isinstance(a, ArrayProfile)
        assert (a.count, a.nulls) == (b.count, b.nulls)
        assert_same_counts(a.length, b.length, exact_sketches)
        assert_same_counts(a.element, b.element, exact_sketches)


def assert_same_profiles(dask_side: Any, local: Any, *, exact_sketches: bool) -> None:
    assert (dask_side.rows, dask_side.files) == (local.rows, local.files)
    assert [f.name for f in dask_side.features] == [f.name for f in local.features]
    for d, s in zip(dask_side.features, local.features, strict=True):
        assert d.spec == s.spec, d.name
        assert (d.arrow_type, d.statuses) == (s.arrow_type, s.statuses), d.name
        assert_same_counts(d.profile, s.profile, exact_sketches)


def test_partitions_are_whole_row_groups_of_one_file(tmp_path: Path) -> None:
    logs = write_logs(tmp_path / "logs", 1_000, 1, days=2, files=2, group=100)
    source = open_parquet(logs)
    parts = plan_partitions(source, 150)
    assert sum(p.rows for p in parts) == source.rows == 1_000
    assert {p.file for p in parts} == set(source.files)
    # 250 rows per file in row groups of 100, 100, 50: two groups reach 150, one is left
    assert [len(p.row_groups) for p in parts] == [2, 1] * 4
    for part in parts:
        meta = pq.read_metadata(part.file)
        assert part.rows == sum(meta.row_group(g).num_rows for g in part.row_groups)
    by_file: dict[Path, list[int]] = {}
    for part in parts:
        by_file.setdefault(part.file, []).extend(part.row_groups)
    for file, groups in by_file.items():
        assert groups == list(range(pq.read_metadata(file).num_row_groups))


def test_serving_profile_on_the_cluster_equals_one_process(scheduler: str, tmp_path: Path) -> None:
    training = write_training(tmp_path / "train", 40_000, seed=1, reference=True)
    reference = read_reference_profile(training / "reference_profile.json")
    logs = write_logs(tmp_path / "logs", 60_000, 2, days=3, files=2, group=3_000)
    serving = open_serving(logs)
    local = profile_serving(serving, reference.specs)
    with DaskEngine(scheduler, partition_rows=7_000) as engine:
        assert len(plan_partitions(serving.data, 7_000)) >= 6
        on_dask = engine.profile_serving(serving, reference.specs)
    assert_same_profiles(on_dask, local, exact_sketches=False)


def test_training_profile_on_the_cluster_equals_one_process(scheduler: str, tmp_path: Path) -> None:
    snapshot = write_training(tmp_path / "train", SMALL, seed=4)
    rechunk(snapshot, 20)  # 7 row groups, each its own partition
    training = open_training(snapshot)
    local = profile_training(training)
    on_dask = DaskEngine(scheduler, partition_rows=1).profile_training(training)
    assert_small(local)
    assert_same_profiles(on_dask, local, exact_sketches=True)


def _check(args: list[str], report: Path) -> tuple[int, dict[str, Any]]:
    code = cli.main(["check", *args, "--json", str(report), "-q"])
    return code, json.loads(report.read_text())


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("generated_at", "created_at", "run")}


def assert_same_document(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON documents; floats equal to rounding (means and deviations are merged
    from partitions in another order than one process adds its batches)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), where
        for key in a:
            assert_same_document(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_document(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12, nan_ok=True), where
    else:
        assert a == b, where


def test_check_engine_dask_gives_the_same_report(scheduler: str, tmp_path: Path) -> None:
    """Small inputs (no sketch compaction): the whole report is identical."""
    snapshot = write_training(tmp_path / "train", SMALL, seed=5)
    rechunk(snapshot, 20)
    logs = write_logs(tmp_path / "logs", SMALL, 6, days=2, files=2, group=15)
    assert_small(profile_training(open_training(snapshot)))
    policy = tmp_path / "policy.toml"
    policy.write_text(DEFAULT_POLICY.read_text().replace("min_rows = 500", "min_rows = 100"))
    inputs = ["--training", str(snapshot), "--serving", str(logs), "--policy", str(policy)]
    code_local, local = _check(inputs, tmp_path / "local.json")
    code_dask, on_dask = _check(
        [*inputs, "--engine", "dask", "--scheduler", scheduler], tmp_path / "dask.json"
    )
    assert code_dask == code_local
    assert local["verdict"] != "insufficient_data"
    assert_same_document(_comparable(on_dask), _comparable(local))


def test_check_engine_dask_on_larger_logs_keeps_the_verdicts(
    scheduler: str, tmp_path: Path
) -> None:
    snapshot = write_training(tmp_path / "train", 30_000, seed=7, reference=True)
    logs = write_logs(tmp_path / "logs", 80_000, 8, days=4, files=2, group=5_000)
    uri = logs.as_uri()  # through pyarrow's filesystem on every worker
    inputs = ["--training", str(snapshot), "--serving", uri]
    code_local, local = _check(inputs, tmp_path / "local.json")
    code_dask, on_dask = _check(
        [*inputs, "--engine", "dask", "--scheduler", scheduler], tmp_path / "dask.json"
    )
    assert code_dask == code_local
    assert on_dask["verdict"] == local["verdict"]
    assert on_dask["sample_sizes"] == local["sample_sizes"]
    assert on_dask["inputs"] == local["inputs"]

    def verdicts(report: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
        return {
            f["name"]: [(c["check"], c["verdict"]) for c in f["checks"]] for f in report["features"]
        }

    assert verdicts(on_dask) == verdicts(local)


def test_snapshot_reference_profile_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    snapshot = write_training(tmp_path / "train", SMALL, seed=9)
    rechunk(snapshot, 30)
    local = read_reference_profile(write_reference_profile(snapshot))
    engine = DaskEngine(scheduler, partition_rows=100)
    on_dask = read_reference_profile(write_reference_profile(snapshot, engine=engine))
    assert_same_profiles(on_dask, local, exact_sketches=True)


def test_an_unreachable_scheduler_is_an_engine_error_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = write_training(tmp_path / "train", 100, seed=1)
    logs = write_logs(tmp_path / "logs", 100, 2, days=1, files=1, group=50)
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler"):
        DaskEngine("tcp://127.0.0.1:9", connect_timeout=1).open()
    code = cli.main(
        [
            "check",
            "--training",
            str(snapshot),
            "--serving",
            str(logs),
            "--engine",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "-q",
        ]
    )
    assert code == 2
    assert "Dask scheduler" in capsys.readouterr().err


def test_scheduler_without_engine_dask_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["check", "--training", str(tmp_path), "--serving", str(tmp_path), "--scheduler", "x"]
    )
    assert code == 2
    assert "--engine dask" in capsys.readouterr().err


def test_partition_rows_must_be_positive() -> None:
    with pytest.raises(InputError, match="partition_rows"):
        DaskEngine(partition_rows=0)


def test_a_scheme_pyarrow_lacks_is_read_through_fsspec(tmp_path: Path) -> None:
    """memory:// has no pyarrow filesystem: fsspec's, wrapped for pyarrow, reads it."""
    import fsspec

    memory = fsspec.filesystem("memory")
    logs = write_logs(tmp_path / "logs", 500, 3, days=1, files=2, group=100)
    for file in sorted(logs.rglob("*.parquet")):
        memory.pipe(f"/sg-dask/{file.relative_to(logs)}", file.read_bytes())
    try:
        by_uri = open_serving("memory://sg-dask")
        by_path = open_serving(logs)
        assert by_uri.data.rows == by_path.data.rows == 500
        assert len(by_uri.data.files) == 2
        reference = read_reference_profile(
            write_reference_profile(write_training(tmp_path / "t", 300, seed=1))
        )
        assert_same_profiles(
            profile_serving(by_uri, reference.specs),
            profile_serving(by_path, reference.specs),
            exact_sketches=False,
        )
    finally:
        memory.rm("/sg-dask", recursive=True)


def test_skewguard_snapshot_engine_dask(scheduler: str, small_repo: Any, tmp_path: Path) -> None:
    """The CLI on a real Feast repo: same data, and a reference profile with the same
    counts as the one built in one process (bin edges come from randomized sketches on
    both paths, so only what does not depend on them is compared)."""
    labels = small_repo.path / "data" / "interactions.parquet"
    argv = ["snapshot", "--repo", str(small_repo.path), "--labels", str(labels)]
    assert cli.main([*argv, "--out", str(tmp_path / "local")]) == 0
    dask_argv = [*argv, "--out", str(tmp_path / "dask"), "--engine", "dask"]
    assert cli.main([*dask_argv, "--scheduler", scheduler]) == 0
    manifests = [
        json.loads((tmp_path / s / "manifest.json").read_text()) for s in ("local", "dask")
    ]
    assert manifests[0]["content_hash"] == manifests[1]["content_hash"]
    local, on_dask = (
        read_reference_profile(tmp_path / s / m["reference_profile"])
        for s, m in zip(("local", "dask"), manifests, strict=True)
    )
    assert on_dask.rows == local.rows == manifests[0]["row_count"]
    for d, s in zip(on_dask.features, local.features, strict=True):
        assert (d.name, d.spec.kind, d.arrow_type) == (s.name, s.spec.kind, s.arrow_type)
        a, b = d.profile, s.profile
        assert (a.count, a.nulls) == (b.count, b.nulls), d.name
        if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
            assert (a.nan, a.min, a.max) == (b.nan, b.min, b.max), d.name
            assert a.mean == pytest.approx(b.mean, rel=1e-12), d.name
            assert sum(a.histogram) == sum(b.histogram) == a.finite, d.name
        elif isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
            assert a.top() == b.top(), d.name


def test_without_a_scheduler_a_local_cluster_runs_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--engine dask` alone: a LocalCluster of worker processes for the call, then gone."""
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    training = write_training(tmp_path / "train", 2_000, seed=3, reference=True)
    reference = read_reference_profile(training / "reference_profile.json")
    serving = open_serving(write_logs(tmp_path / "logs", 3_000, 4, days=2, files=1, group=500))
    engine = DaskEngine(workers=2, partition_rows=1_000)
    assert engine.describe() == "a local Dask cluster"
    on_dask = engine.profile_serving(serving, reference.specs)
    assert engine._client is None and engine._cluster is None  # closed after the call
    assert_same_profiles(on_dask, profile_serving(serving, reference.specs), exact_sketches=False)
