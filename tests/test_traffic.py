"""The demo traffic generator: deterministic realistic plans, replayed with logging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from skewguard.demo.traffic import TrafficConfig, plan_traffic, run_in_process
from skewguard.serving.logger import FeatureLogger
from skewguard.serving.writer import WriterConfig

END = datetime(2026, 11, 20, tzinfo=UTC)


def test_plan_is_deterministic_sorted_and_inside_the_window() -> None:
    config = TrafficConfig(requests=200, end=END, window=timedelta(hours=2), seed=5)
    plan = plan_traffic(config)
    assert plan == plan_traffic(config)
    assert len(plan) == 200
    times = [r.time for r in plan]
    assert times == sorted(times)
    assert all(END - timedelta(hours=2) <= t <= END for t in times)
    for r in plan:
        assert 1 <= len(r.product_ids) <= 6
        assert len(set(r.product_ids)) == len(r.product_ids)  # distinct candidates
        assert all(1 <= p <= config.products for p in r.product_ids)


def test_plan_has_busy_shoppers_sessions_and_unknown_customers() -> None:
    plan = plan_traffic(TrafficConfig(requests=2000, end=END, new_customer_rate=0.05, seed=1))
    customers = [r.customer_id for r in plan]
    counts = sorted((customers.count(c) for c in set(customers)), reverse=True)
    assert counts[0] >= 5 * (sum(counts) / len(counts))  # a few shoppers are much busier
    unknown = [c for c in customers if c > 400]
    assert 0 < len(unknown) < 0.15 * len(customers)


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TrafficConfig(products_per_request=(0, 3))
    with pytest.raises(ValueError):
        TrafficConfig(products=3, products_per_request=(1, 4))


def test_replay_in_process_logs_one_row_per_entity_at_planned_times(
    served_repo: Any, tmp_path: Path
) -> None:
    end = served_repo.data.end
    plan = plan_traffic(TrafficConfig(requests=25, end=end, customers=60, products=40))
    config = WriterConfig(flush_interval=60.0, handle_sigterm=False)
    with FeatureLogger(served_repo.store, writer_config=config, log_root=tmp_path) as logger:
        result = run_in_process(logger, plan)
        logger.flush()
    assert result.requests == 25
    assert result.rows == sum(len(r.product_ids) for r in plan)
    log = ds.dataset(tmp_path / "recommender_v1").to_table().to_pydict()
    assert len(log["__request_id"]) == result.rows
    by_id = dict(zip(log["__request_id"], log["__log_timestamp"], strict=True))
    assert [by_id[rid] for rid in result.request_ids] == [r.time for r in plan]
