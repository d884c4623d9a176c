"""Demo scenarios: one clean run and four ways training and serving come apart.

A scenario only says what happens; `skewguard.demo.run` makes it happen on the real Feast
and Redis path. Times are relative to the end E of the generated window (midnight UTC):
product batches land daily at about 02:00, customer profiles weekly, and the simulated
shoppers browse during the first half hour after E.

| scenario      | what goes wrong                                   | verdict it deserves |
|---------------|---------------------------------------------------|---------------------|
| clean         | nothing                                           | pass (or warn)      |
| stale         | product materialization one day behind            | block               |
| transform_bug | the online writer stores discount x100 (percent)  | block               |
| ttl_expiry    | product materialization two days behind (> TTL)   | block               |
| trend_shift   | model trained on the first three weeks            | retrain             |
| decay         | what shoppers buy changes (concept, not features) | performance: retrain |

`decay` is a story of its own (`skewguard.demo.decay`): no check of one log window decides
it, but the model's measured AUC once labels arrive, the retrain it triggers and the
recovery after it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from skewguard.vocabulary import Verdict

__all__ = ["Scenario", "ScenarioSpec", "SCENARIOS"]


class Scenario(enum.StrEnum):
    CLEAN = "clean"
    STALE = "stale"
    TRANSFORM_BUG = "transform_bug"
    TTL_EXPIRY = "ttl_expiry"
    TREND_SHIFT = "trend_shift"
    DECAY = "decay"


@dataclass(frozen=True)
class ScenarioSpec:
    name: Scenario
    story: str
    expected: Verdict
    # Training labels from these days of the window: [first, last) in days since its start.
    # The clean default: the last week, the world the model will serve.
    training_days: tuple[int, int] = (35, 42)
    # Per feature view: how far before E its materialization stops (default: at E).
    materialize_lag: Mapping[str, timedelta] = field(default_factory=dict)
    # Per feature column: a factor the online writer wrongly applies (the view's latest
    # rows are written to Redis by the online writer instead of by materialization).
    online_scale: Mapping[str, float] = field(default_factory=dict)


SCENARIOS: dict[Scenario, ScenarioSpec] = {
    Scenario.CLEAN: ScenarioSpec(
        Scenario.CLEAN,
        "materialized up to now; the model was trained on the last week",
        Verdict.PASS,
    ),
    Scenario.STALE: ScenarioSpec(
        Scenario.STALE,
        "product_stats materialization stopped a day ago: online serves yesterday's prices",
        Verdict.BLOCK,
        materialize_lag={"product_stats": timedelta(days=1)},
    ),
    Scenario.TRANSFORM_BUG: ScenarioSpec(
        Scenario.TRANSFORM_BUG,
        "the online writer stores discount as a percentage (x100); offline keeps a fraction",
        Verdict.BLOCK,
        online_scale={"product_stats__discount": 100.0},
    ),
    Scenario.TTL_EXPIRY: ScenarioSpec(
        Scenario.TTL_EXPIRY,
        "product_stats not materialized for two days: Redis serves values past their 2-day TTL",
        Verdict.BLOCK,
        materialize_lag={"product_stats": timedelta(days=2)},
    ),
    Scenario.TREND_SHIFT: ScenarioSpec(
        Scenario.TREND_SHIFT,
        "the model was trained on the first three weeks; sneakers have boomed since",
        Verdict.RETRAIN,
        training_days=(0, 21),
    ),
    Scenario.DECAY: ScenarioSpec(
        Scenario.DECAY,
        "from day 21 shoppers buy dearer items: the model's measured AUC drops, it is retrained",
        Verdict.RETRAIN,
    ),
}
