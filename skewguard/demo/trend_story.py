"""The retraining loop on generated data: which weeks train the first model, what is served.

The generator's world drifts (sneakers rise, knitwear fades, prices and order values
creep up). The story the loop tells on it, with the default policy:

- the first model learns from days 14-28 of the 42-day window (`TRAINING_DAYS`), when most
  shoppers who sign up during the window already have a profile;
- "now" is the end of the window: shoppers look up the customer/product pairs browsed
  in the last ten days (`serve_recent_pairs`), at request times around the end;
- the check of those logs against the first model's snapshot says **retrain**
  (`product_stats__views_7d` moved with the trends; the joined replay agrees online and
  offline, so the pipeline is sound);
- a snapshot of the last 14 days (`RETRAIN_LABEL_DAYS`) checked against the same logs
  **passes**, so the retrained model may be promoted.

docs/loop.md lists the measured values.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa

from skewguard.store.snapshot import filter_time_window

if TYPE_CHECKING:
    from skewguard.serving.logger import FeatureLogger

__all__ = [
    "SERVICE",
    "TRAINING_DAYS",
    "RETRAIN_LABEL_DAYS",
    "RECENT_DAYS",
    "first_training_labels",
    "recent_pairs",
    "serve_recent_pairs",
]

SERVICE = "recommender_v1"
TRAINING_DAYS = (14, 28)  # days after the start of the generated window
RETRAIN_LABEL_DAYS = 14  # the retrained model learns from the last two weeks
RECENT_DAYS = 10  # what shoppers browse "now": the pairs of the last ten days


def first_training_labels(labels: pa.Table, start: datetime) -> pa.Table:
    """The label rows of the first model: days `TRAINING_DAYS` after `start`."""
    first, last = TRAINING_DAYS
    return filter_time_window(
        labels, start + timedelta(days=first), start + timedelta(days=last), where="labels"
    )


def recent_pairs(labels: pa.Table, end: datetime, days: int = RECENT_DAYS) -> list[dict[str, int]]:
    """The customer/product pairs browsed in the last `days` before `end`, in time order."""
    recent = filter_time_window(labels, end - timedelta(days=days), end, where="labels")
    return recent.select(["customer_id", "product_id"]).to_pylist()


def serve_recent_pairs(
    logger: FeatureLogger,
    pairs: list[dict[str, int]],
    at: datetime,
    *,
    per_request: int = 4,
    spacing: timedelta = timedelta(seconds=1),
    part: int = 0,
    parts: int = 1,
    service: str = SERVICE,
) -> int:
    """Look up every `parts`-th pair (starting at `part`) through `logger`, `per_request`
    pairs per request, requests `spacing` apart from `at`; returns the rows served."""
    mine = pairs[part::parts]
    rows = 0
    for i in range(0, len(mine), per_request):
        chunk = mine[i : i + per_request]
        logger.get_online_features(
            service,
            chunk,
            full_feature_names=True,
            request_time=at + spacing * (i // per_request),
            request_id=uuid.uuid4().hex,
        )
        rows += len(chunk)
    return rows
