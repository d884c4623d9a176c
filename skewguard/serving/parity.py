"""Parity: the online store now against the offline store's point-in-time values now.

The gate for a change to a transformation or to materialization before any traffic
exists. For sampled entity rows (`skewguard.store.entities`) it reads the online store
through Feast's `get_online_features`, as serving would at the moment `at`, and encodes
the response in Feast's logging schema exactly as the serving log does
(`skewguard.serving.encoding`: served values, their event times, true statuses judged at
`at`). That table is then replayed (`skewguard.store.replay`): the offline store's
point-in-time values for the same entities at the same moment, compared feature by
feature with the replay's own classification (stale online value, TTL exceeded, missing
online, scale, on-demand transformation, ...). No second comparison exists.

Parity is exact, not statistical: any differing entity blocks (`PARITY_RULE`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from skewguard.checking.comparing import Measurement
from skewguard.checking.deciding import judge
from skewguard.checking.policy import CheckRule
from skewguard.report.model import FeatureResult, Report, build_report
from skewguard.vocabulary import Action, CheckName, Verdict

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.checking.joined import ReplayResult

__all__ = ["PARITY_RULE", "ParityRun", "online_as_log", "run_parity", "parity_report"]

# Any online/offline difference blocks; one compared row is enough to judge.
PARITY_RULE = CheckRule(action=Action.BLOCK, threshold=0.0)
PARITY_MIN_ROWS = 1
LOOKUP_BATCH = 500  # entity rows per get_online_features call


@dataclass(frozen=True)
class ParityRun:
    result: ReplayResult
    at: datetime
    entities_from: str  # where the entity rows came from


def online_as_log(store: FeatureStore, service: str, entities: pa.Table, at: datetime) -> pa.Table:
    """Feast's online response for `entities`, as rows of the service's serving log at `at`."""
    import redis

    from skewguard.serving.encoding import LogEncoder, request_micros
    from skewguard.serving.layout import describe_log
    from skewguard.store.repo import get_feature_service, redis_failure

    layout = describe_log(store, service)
    encoder = LogEncoder(layout)
    feature_service = get_feature_service(store, service)
    request_fields = [f for f in layout.request_fields if f in entities.column_names]
    micros = request_micros(at)
    run_id = uuid.uuid4().hex[:12]
    items: list[tuple[Any, ...]] = []
    for start in range(0, entities.num_rows, LOOKUP_BATCH):
        batch = entities.slice(start, LOOKUP_BATCH).to_pydict()
        try:
            response = store.get_online_features(
                features=feature_service, entity_rows=batch, full_feature_names=True
            )
        except redis.exceptions.RedisError as err:
            raise redis_failure(err, store, "read the online store for parity") from err
        request_data = {f: batch[f] for f in request_fields} or None
        items.append(
            (
                response.proto.SerializeToString(),
                True,
                micros,
                f"parity-{run_id}-{start // LOOKUP_BATCH}",
                request_data,
            )
        )
    return encoder(items)


def run_parity(
    store: FeatureStore, service: str, entities: pa.Table, at: datetime, *, entities_from: str
) -> ParityRun:
    """Online at `at` against offline point-in-time at `at`, for every entity row."""
    from skewguard.store.replay import replay

    logs = online_as_log(store, service, entities, at)
    result = replay(store, service, logs, where="the online store")
    return ParityRun(result=result, at=at, entities_from=entities_from)


def parity_report(run: ParityRun, *, skewguard_version: str) -> Report:
    """The parity run as a report: one `joined_mismatch_rate` check per feature, blocking
    on any mismatch, with the replay's counts and causes in each feature's `joined`."""
    features = []
    for joined in run.result.features:
        worst = joined.causes[0] if joined.causes else None
        check = judge(
            Measurement(
                check=CheckName.JOINED_MISMATCH_RATE,
                value=joined.mismatch_rate,
                n_training=joined.compared,
                n_serving=joined.compared,
                detail=f"mostly {worst.cause} ({worst.count})" if worst else None,
            ),
            PARITY_RULE,
            PARITY_MIN_ROWS,
        )
        features.append(
            FeatureResult(
                name=joined.name,
                kind=None,
                verdict=check.verdict,
                critical=False,
                training_type=None,
                serving_type=None,
                rows_training=joined.base_count,
                rows_serving=joined.test_count,
                checks=(check,),
                joined=joined.to_dict(),
            )
        )
    rows = run.result.replayed_rows
    at = run.at.isoformat()
    report = build_report(
        Verdict.worst([f.verdict for f in features]),
        tuple(features),
        inputs={
            "training": {"path": f"offline store, point-in-time at {at}", "rows": rows},
            "serving": {"path": f"online store, read as at {at}", "rows": rows},
            "entities": {"from": run.entities_from, "rows": rows},
        },
        policy={"parity": PARITY_RULE.to_dict(), "defaults": {"min_rows": PARITY_MIN_ROWS}},
        skewguard_version=skewguard_version,
    )
    return replace(report, replay=_parity_section(run))


def _parity_section(run: ParityRun) -> dict[str, Any]:
    result = run.result
    return {
        "ran": True,
        "mode": "parity",
        "requested": "explicit",
        "reason": None,
        "detail": f"entities from {run.entities_from}",
        "feature_service": result.feature_service,
        "at": run.at.isoformat(),
        "logged_rows": result.logged_rows,
        "replayed_rows": result.replayed_rows,
        "seconds": round(result.seconds, 3),
    }
