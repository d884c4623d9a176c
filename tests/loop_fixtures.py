"""The world of the retraining-loop tests: a drifted repo on the real Redis, one log window.

`build_loop_world` generates the default 42-day data set, applies and materializes it
under its own Feast project on the shared Redis, builds the first model's snapshot
(days 14-28) and serves half of the pairs browsed in the last ten days at noon of the
window's last day (log partition `2026-11-19`).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import TEST_END, copy_feature_repo

SERVICE = "recommender_v1"
# Log days inside product_stats' 2-day TTL for products whose last daily batch (day 41,
# 02:00) never landed: their day-40 values expire at 02:00 of the day after the window.
WINDOW_A = TEST_END - timedelta(hours=12)  # 2026-11-19, the last day of the window
WINDOW_B = TEST_END  # 2026-11-20, right after it


@dataclass
class LoopWorld:
    root: Path
    repo: Path
    store: Any
    data: Any
    pairs: list[dict[str, int]]
    logs: Path  # the service's log folder (one partition per __log_date)
    first_snapshot: Path

    def window(self, day: str) -> Path:
        return self.logs / day

    def stream_name(self) -> str:
        return f"sgtest:loop:{uuid.uuid4().hex[:8]}"


def serve(
    world: LoopWorld, at: Any, part: int, parts: int = 2, log_root: Path | None = None
) -> int:
    from skewguard.demo.trend_story import serve_recent_pairs
    from skewguard.serving.logger import FeatureLogger
    from skewguard.serving.writer import WriterConfig

    config = WriterConfig(handle_sigterm=False)
    root = log_root or world.logs.parent
    with FeatureLogger(world.store, writer_config=config, log_root=root) as logger:
        rows = serve_recent_pairs(logger, world.pairs, at, part=part, parts=parts)
        logger.flush()
    return rows


def build_loop_world(root: Path) -> LoopWorld:
    import pyarrow.parquet as pq

    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.demo.trend_story import first_training_labels, recent_pairs
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir
    from skewguard.store.snapshot import build_snapshot

    repo = copy_feature_repo(root / "feature_repo", f"sgloop_{os.getpid()}")
    data = generate(data_dir(repo), GeneratorConfig(end=TEST_END))
    store = apply_repo(repo)
    materialize(store, data.end - timedelta(days=14), data.end)
    labels = pq.read_table(data.interactions)
    first = build_snapshot(
        store, SERVICE, first_training_labels(labels, data.start), root / "snapshots" / "first"
    )
    world = LoopWorld(
        root=root,
        repo=repo,
        store=store,
        data=data,
        pairs=recent_pairs(labels, data.end),
        logs=root / "logs" / SERVICE,
        first_snapshot=first.path,
    )
    serve(world, WINDOW_A, part=0)
    return world
