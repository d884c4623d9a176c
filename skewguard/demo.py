"""The end-to-end demo: data, apply, materialize, training snapshot, logged online traffic.

Each step prints one line of what it did and how long it took, so a new user sees the
whole loop of DESIGN.md §1 run on their machine in under a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from skewguard.datagen import GeneratorConfig

if TYPE_CHECKING:
    from skewguard.logged_lookup import FeatureLogger

__all__ = ["DemoConfig", "DemoResult", "run_demo"]

SERVICE = "recommender_v1"
TRAINING_DAYS = 28  # the model learns from the first four weeks of the window


@dataclass(frozen=True)
class DemoConfig:
    repo: Path | None = None
    out: Path = Path("out/demo")
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    lookups: int = 3
    traffic_requests: int = 200  # simulated shopper requests, logged like production


@dataclass(frozen=True)
class DemoResult:
    snapshot: Path
    window_start: datetime
    window_end: datetime
    online_sample: dict[str, list[object]]
    timings: dict[str, float]
    serving_log: Path | None = None  # folder of the serving log files
    logged_rows: int = 0


@contextmanager
def _step(name: str, timings: dict[str, float], say: Callable[[str], None]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started
    say(f"  [{timings[name]:5.1f}s] {name}")


def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo against the Redis in $SKEWGUARD_REDIS (the caller makes sure it answers)."""
    import pyarrow.parquet as pq

    from skewguard.datagen import generate
    from skewguard.logged_lookup import FeatureLogger
    from skewguard.online import materialize
    from skewguard.render_text import feature_table
    from skewguard.repo import apply_repo, data_dir, find_repo
    from skewguard.snapshot import build_snapshot, filter_time_window

    timings: dict[str, float] = {}
    repo = find_repo(config.repo)

    with _step("generate data (customers, products, labelled interactions)", timings, say):
        data = generate(data_dir(repo), config.generator)
    with _step("feast apply (registry + Redis tables)", timings, say):
        store = apply_repo(repo)
    longest_ttl = max(fv.ttl for fv in store.list_feature_views() if fv.ttl)
    with _step(f"materialize the last {longest_ttl.days} days into Redis", timings, say):
        materialize(store, data.end - longest_ttl, data.end)

    training_end = data.start + timedelta(days=TRAINING_DAYS)
    snapshot_dir = config.out / "snapshot"
    with _step(f"training snapshot of {SERVICE} (first {TRAINING_DAYS} days)", timings, say):
        labels = filter_time_window(
            pq.read_table(data.interactions), None, training_end, where=str(data.interactions)
        )
        snap = build_snapshot(store, SERVICE, labels, snapshot_dir, overwrite=True)
    say(
        f"           {snap.rows:,} rows, {len(snap.manifest['features'])} features, "
        f"{snap.rows_without_features:,} rows with no feature inside the TTL -> {snap.path}"
    )

    with FeatureLogger(store) as logger:
        logged_rows, log_folder = _serve_traffic(logger, config, timings, say)
        interactions = pq.read_table(data.interactions, columns=["customer_id", "product_id"])
        tail = interactions.slice(max(0, interactions.num_rows - config.lookups)).to_pylist()
        with _step(f"online lookup of {len(tail)} customer/product pairs", timings, say):
            online = dict(
                logger.get_online_features(SERVICE, tail, full_feature_names=True).to_dict()
            )
    say("")
    say(feature_table(online))
    return DemoResult(
        snapshot=snap.path,
        window_start=data.start,
        window_end=data.end,
        online_sample=online,
        timings=timings,
        serving_log=log_folder,
        logged_rows=logged_rows,
    )


def _serve_traffic(
    logger: FeatureLogger,
    config: DemoConfig,
    timings: dict[str, float],
    say: Callable[[str], None],
) -> tuple[int, Path | None]:
    """Simulated shoppers browsing now, every served feature logged; returns rows, folder."""
    from skewguard.traffic import TrafficConfig, plan_traffic, run_in_process

    plan = plan_traffic(
        TrafficConfig(
            requests=config.traffic_requests,
            customers=config.generator.customers,
            products=config.generator.products,
        )
    )
    label = f"serve {len(plan)} shopper requests now, logging every served feature"
    with _step(label, timings, say):
        result = run_in_process(logger, plan, SERVICE)
        logger.flush()
    stats = logger.stats().get(SERVICE)
    folder = logger.layout(SERVICE).folder
    if stats is None:
        return 0, folder
    say(
        f"           {result.rows:,} entity rows served, {stats.written:,} rows logged in "
        f"{stats.files} file(s), {stats.dropped} dropped -> {folder}"
    )
    return stats.written, folder
