"""The end-to-end demo: the whole loop of docs/architecture.md on generated data, one scenario.

generate data -> reset the project's online state -> feast apply -> materialize (as the
scenario says) -> training snapshot -> simulated shoppers served through the logging
lookup -> skewguard check with replay -> JSON, Markdown, JUnit and HTML reports.

Each step prints one line of what it did and how long it took. The demo's result carries
the report, so `skewguard demo` exits with the check's exit code: 0 for the clean
scenario, 1 for a broken pipeline, 3 for a world that moved.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from skewguard.demo.datagen import GeneratorConfig
from skewguard.demo.scenarios import SCENARIOS, Scenario, ScenarioSpec
from skewguard.errors import SkewguardError

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.demo.datagen import GeneratedData
    from skewguard.report.model import Report
    from skewguard.serving.logger import FeatureLogger

__all__ = ["DemoConfig", "DemoResult", "run_demo", "load_scenario_online", "SERVICE"]

SERVICE = "recommender_v1"
SERVING_WINDOW = timedelta(minutes=30)  # shoppers browse during the first half hour after E
FLUSH_TIMEOUT_S = 600.0  # the demo's wait for its serving log on disk
RECENT_MIX = timedelta(days=7)  # traffic follows the customer/product mix of the last week


@dataclass(frozen=True)
class DemoConfig:
    repo: Path | None = None
    out: Path = Path("out/demo")
    scenario: Scenario = Scenario.CLEAN
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    lookups: int = 3
    traffic_requests: int = 600  # simulated shopper requests, logged like production


@dataclass(frozen=True)
class DemoResult:
    scenario: ScenarioSpec
    snapshot: Path
    window_start: datetime
    window_end: datetime
    online_sample: dict[str, list[object]]
    timings: dict[str, float]
    serving_log: Path
    logged_rows: int
    report: Report
    reports: dict[str, Path]


@contextmanager
def _step(name: str, timings: dict[str, float], say: Callable[[str], None]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started
    say(f"  [{timings[name]:5.1f}s] {name}")


def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> DemoResult:
    """Run one scenario against the Redis in $SKEWGUARD_REDIS (the caller makes sure it answers)."""
    import pyarrow.parquet as pq

    from skewguard.demo.datagen import generate
    from skewguard.serving.logger import FeatureLogger
    from skewguard.store.repo import data_dir, find_repo
    from skewguard.store.snapshot import build_snapshot, filter_time_window
    from skewguard.store.tables import feature_table

    spec = SCENARIOS[config.scenario]
    if spec.name is Scenario.DECAY:
        raise ValueError("the decay scenario is a story of its own: run skewguard.demo.decay")
    say(f"scenario {spec.name}: {spec.story}")
    timings: dict[str, float] = {}
    repo = find_repo(config.repo)
    out = config.out / spec.name

    with _step("generate data (customers, products, labelled interactions)", timings, say):
        data = generate(data_dir(repo), config.generator)
    with _step("feast apply on a clean slate (registry, Redis keys, serving logs)", timings, say):
        store = _fresh_store(repo)
    with _step(_materialize_label(spec), timings, say):
        _load_online(store, data, spec)

    first, last = spec.training_days
    since, until = data.start + timedelta(days=first), data.start + timedelta(days=last)
    with _step(f"training snapshot of {SERVICE} (days {first}-{last} of the window)", timings, say):
        labels = filter_time_window(
            pq.read_table(data.interactions), since, until, where=str(data.interactions)
        )
        snap = build_snapshot(store, SERVICE, labels, out / "snapshot", overwrite=True)
    say(
        f"           {snap.rows:,} rows, {len(snap.manifest['features'])} features, "
        f"{snap.rows_without_features:,} rows with no feature inside the TTL -> {snap.path}"
    )

    with FeatureLogger(store) as logger:
        logged_rows, log_folder = _serve_traffic(logger, config, data, timings, say)
        online = _sample_lookup(logger, data, config.lookups, timings, say)

    with _step("skewguard check --replay (distribution + joined comparison)", timings, say):
        report, paths = _check(store, snap.path, log_folder, out)
    say("")
    say(feature_table(online))
    say("")
    _say_outcome(report, paths, spec, say)
    return DemoResult(
        scenario=spec,
        snapshot=snap.path,
        window_start=data.start,
        window_end=data.end,
        online_sample=online,
        timings=timings,
        serving_log=log_folder,
        logged_rows=logged_rows,
        report=report,
        reports=paths,
    )


def load_scenario_online(
    repo: Path, scenario: Scenario, generator: GeneratorConfig | None = None
) -> tuple[FeatureStore, GeneratedData]:
    """The demo's world right after materialization, as `scenario` loads the online store
    (no traffic, no snapshot): what `skewguard parity` is the gate for."""
    from skewguard.demo.datagen import generate
    from skewguard.store.repo import data_dir, find_repo

    path = find_repo(repo)
    data = generate(data_dir(path), generator or GeneratorConfig())
    store = _fresh_store(path)
    _load_online(store, data, SCENARIOS[scenario])
    return store, data


def _fresh_store(repo: Path) -> FeatureStore:
    """Apply the repo with nothing left online or in the logs from an earlier run.

    Feast's Redis store never overwrites a value with an older or equally old one, so
    values an earlier run left under this project (in a shared Redis they outlive the
    checkout, and a fresh clone has no registry to find them with) would shadow what
    this run materializes. Apply, tear the project's online data down, apply again.
    """
    from skewguard.store.repo import apply_repo, data_dir

    shutil.rmtree(data_dir(repo) / "logs", ignore_errors=True)
    apply_repo(repo).teardown()
    return apply_repo(repo)


def _materialize_label(spec: ScenarioSpec) -> str:
    if spec.online_scale:
        return "materialize, then the online writer stores " + ", ".join(
            f"{column} x{factor:g}" for column, factor in spec.online_scale.items()
        )
    lags = ", ".join(
        f"{view} stops {lag.days} day(s) early" for view, lag in spec.materialize_lag.items()
    )
    return "materialize into Redis" + (f" ({lags})" if lags else "")


def _load_online(store: FeatureStore, data: GeneratedData, spec: ScenarioSpec) -> None:
    """Materialize each view up to its lag; scaled views go through the online writer."""
    from skewguard.store.online import materialize

    scaled_views = {column.partition("__")[0] for column in spec.online_scale}
    for view in store.list_feature_views():
        if view.name in scaled_views:
            _write_scaled_latest(store, view.name, data, spec.online_scale)
            continue
        end = data.end - spec.materialize_lag.get(view.name, timedelta(0))
        start = end - (view.ttl or timedelta(days=30))
        materialize(store, start, end, views=[view.name])


def _write_scaled_latest(
    store: FeatureStore, view: str, data: GeneratedData, scale: Mapping[str, float]
) -> None:
    """What a buggy online writer does: the latest row per entity, some columns scaled."""
    import pyarrow.parquet as pq

    source = {"product_stats": data.product_stats, "customer_profile": data.customer_profile}
    frame = pq.read_table(source[view]).to_pandas()
    key = frame.columns[0]
    latest = frame.sort_values("event_timestamp").groupby(key).tail(1)
    for column, factor in scale.items():
        feature = column.partition("__")[2]
        latest[feature] = latest[feature] * factor
    store.write_to_online_store(view, latest)


def _serve_traffic(
    logger: FeatureLogger,
    config: DemoConfig,
    data: GeneratedData,
    timings: dict[str, float],
    say: Callable[[str], None],
) -> tuple[int, Path]:
    """Simulated shoppers browsing just after E, every served feature logged."""
    from skewguard.demo.traffic import TrafficConfig, plan_traffic, run_in_process

    customers, products = _recent_mix(data, config.generator)
    plan = plan_traffic(
        TrafficConfig(
            requests=config.traffic_requests,
            end=data.end + SERVING_WINDOW,
            window=SERVING_WINDOW,
            customers=config.generator.customers,
            products=config.generator.products,
            customer_weights=customers,
            product_weights=products,
            # The shoppers are the customers of the data: training saw no customer without
            # a profile, so unknown ones here would be a real rise in missing values.
            new_customer_rate=0.0,
        )
    )
    label = f"serve {len(plan)} shopper requests, logging every served feature"
    with _step(label, timings, say):
        result = run_in_process(logger, plan, SERVICE)
        # The first flush also starts the writer process: on a busy machine that alone can
        # take longer than a serving flush is allowed to; the demo waits, then says so.
        if not logger.flush(timeout=FLUSH_TIMEOUT_S):
            pending = logger.stats()[SERVICE].pending
            raise SkewguardError(
                f"the serving log writer did not finish in {FLUSH_TIMEOUT_S:.0f} s "
                f"({pending:,} rows still pending)",
                where=str(logger.layout(SERVICE).folder),
                hint="the machine may be overloaded; run the demo again",
            )
    stats = logger.stats()[SERVICE]
    folder = logger.layout(SERVICE).folder
    assert folder is not None
    say(
        f"           {result.rows:,} entity rows served, {stats.written:,} rows logged in "
        f"{stats.files} file(s), {stats.dropped} dropped -> {folder}"
    )
    return stats.written, folder


def _recent_mix(
    data: GeneratedData, generator: GeneratorConfig
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """How often each customer and product appeared in the last week's interactions:
    the shoppers of the demo browse like the shoppers of the data."""
    import numpy as np
    import pyarrow.parquet as pq

    from skewguard.store.snapshot import filter_time_window

    recent = filter_time_window(
        pq.read_table(data.interactions), data.end - RECENT_MIX, None, where="interactions"
    )
    customers = np.bincount(
        recent.column("customer_id").to_numpy(), minlength=generator.customers + 1
    )
    products = np.bincount(recent.column("product_id").to_numpy(), minlength=generator.products + 1)
    return tuple(customers[1:].astype(float)), tuple(products[1:].astype(float))


def _sample_lookup(
    logger: FeatureLogger,
    data: GeneratedData,
    lookups: int,
    timings: dict[str, float],
    say: Callable[[str], None],
) -> dict[str, list[object]]:
    import pyarrow.parquet as pq

    interactions = pq.read_table(data.interactions, columns=["customer_id", "product_id"])
    tail = interactions.slice(max(0, interactions.num_rows - lookups)).to_pylist()
    with _step(f"online lookup of {len(tail)} customer/product pairs", timings, say):
        response = logger.get_online_features(
            SERVICE, tail, full_feature_names=True, request_time=data.end + SERVING_WINDOW
        )
    return dict(response.to_dict())


def _check(
    store: FeatureStore, snapshot: Path, logs: Path, out: Path
) -> tuple[Report, dict[str, Path]]:
    from skewguard.checking.pipeline import check
    from skewguard.checking.policy import load_policy
    from skewguard.report.files import ReportPaths, write_reports
    from skewguard.store.replay import read_serving_logs, replay
    from skewguard.store.replay_status import ReplayRequest, ReplayStatus

    replayed = replay(store, SERVICE, read_serving_logs(logs), where=str(logs))
    report = check(snapshot, logs, load_policy(None), replayed=replayed)
    status = ReplayStatus.from_result(replayed, ReplayRequest.DEFAULT, repo=str(store.repo_path))
    report = replace(report, replay=status.to_dict())
    paths = ReportPaths.in_folder(out)
    write_reports(report, paths)
    return report, paths.as_dict()


def _say_outcome(
    report: Report, paths: dict[str, Path], spec: ScenarioSpec, say: Callable[[str], None]
) -> None:
    from skewguard.report.summary import render_summary
    from skewguard.vocabulary import exit_code_for

    say(render_summary(report))
    for feature in report.features:
        joined = feature.joined or {}
        causes = joined.get("causes") or []
        if causes:
            top = ", ".join(f"{c['cause']} {c['count']}" for c in causes[:2])
            differ = f"{joined['diff_count']} of {joined['rows']} rows differ"
            say(f"  joined {feature.name}: {differ} ({top})")
    as_expected = exit_code_for(report.verdict) == exit_code_for(spec.expected)
    expected = "as expected" if as_expected else f"expected {spec.expected}"
    say(f"verdict: {report.verdict} ({expected}); reports: {paths['html'].parent}")
