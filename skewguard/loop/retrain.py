"""The training pipeline: consume trigger events, retrain, promote only what checks clean.

For each event taken from the stream's consumer group:

- **block**: the serving path is broken, and a model trained on broken data would bake
  the bug in. The event is acknowledged without training and recorded as
  "blocked: not retraining".
- **retrain**:
  1. build a fresh snapshot through Feast from the labels of the last `label_days`
     before the end of the event's log window (`<models>/snapshots/<event id>`);
  2. train the demo model on it (`skewguard.loop.model`), save it as a new version;
  3. check the new snapshot against the serving logs the event names, with the joined
     replay when the feature repo is at hand;
  4. promote the new version (`<models>/current.json`) only if that check passes (pass
     or warn), then acknowledge the event.

  If the check does not pass or a step fails, the event is not acknowledged: it stays
  pending and is tried again (by this consumer after a restart, or by another one once
  it has been idle `claim_idle`). After `max_attempts` deliveries it is moved to the
  dead-letter stream `<stream>:dead`.

Every outcome is appended to `<models>/retrain.jsonl` (what, why, which version).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError, SkewguardError
from skewguard.store.redaction import redact

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.checking.policy import Policy
    from skewguard.loop.events import Event
    from skewguard.loop.stream import Delivery, RedisStream

__all__ = ["Outcome", "RetrainConfig", "RetrainOutcome", "Trainer", "consume", "JOURNAL"]

JOURNAL = "retrain.jsonl"
PASSING = ("pass", "warn")


@dataclass(frozen=True)
class RetrainConfig:
    models: Path
    policy: Policy
    repo: Path | None = None
    labels: Path | None = None  # default: <repo>/data/interactions.parquet
    label_days: float = 14.0
    feature_service: str | None = None  # default: the event's
    label: str = "purchased"
    replay: bool = True
    sample: int | None = None
    seed: int = 0
    max_attempts: int = 3
    claim_idle: timedelta = timedelta(minutes=5)


class Outcome(enum.StrEnum):
    """What the training pipeline did with one event."""

    PROMOTED = "promoted"  # retrained, the new snapshot checked clean, promoted; acked
    REJECTED = "rejected"  # retrained, but the new snapshot did not check clean; pending
    BLOCKED = "blocked"  # a block event (or no retrain verdict): not retrained; acked
    FAILED = "failed"  # could not retrain (an error); pending, retried
    DEAD_LETTER = "dead_letter"  # failed max_attempts times; moved to the dead stream


@dataclass(frozen=True)
class RetrainOutcome:
    entry_id: str
    event_id: str | None
    outcome: Outcome
    reason: str
    acknowledged: bool
    version: str | None = None
    check_verdict: str | None = None
    check_report: str | None = None
    snapshot_path: str | None = None
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trainer:
    """Handles one delivery at a time; opens the feature store on first need."""

    def __init__(
        self, config: RetrainConfig, stream: RedisStream, say: Callable[[str], None] = print
    ) -> None:
        self.config = config
        self.stream = stream
        self.say = say
        self._store: FeatureStore | None = None

    @property
    def store(self) -> FeatureStore:
        if self._store is None:
            from skewguard.store.repo import open_store

            self._store = open_store(self.config.repo)
        return self._store

    def handle(self, delivery: Delivery) -> RetrainOutcome:
        """Act on one delivery. Any exception while handling it (a poison event, a bug, a
        failed step) is recorded as a failure: the entry stays pending and, after
        `max_attempts` deliveries, goes to the dead-letter stream; the consumer moves on.
        (An events Redis that cannot be reached fails the next stream call, which raises.)"""
        try:
            return self._handle(delivery)
        except Exception as err:
            return self._failed(delivery, _describe(err))

    def _handle(self, delivery: Delivery) -> RetrainOutcome:
        event = delivery.event
        if event is None:
            return self._failed(delivery, f"malformed entry: {delivery.error}")
        window = event.log_window.get("id") or event.serving_path
        self.say(
            f"claimed entry {delivery.entry_id} (event {event.event_id}, {event.verdict}, "
            f"window {window}, delivery {delivery.deliveries})"
        )
        if event.verdict == "block":
            self.stream.ack(delivery.entry_id)
            return self._record(
                delivery,
                Outcome.BLOCKED,
                "blocked: not retraining (the serving path disagrees with the offline "
                f"path for {', '.join(event.failing_features) or 'some features'})",
                acknowledged=True,
            )
        if event.verdict != "retrain":
            self.stream.ack(delivery.entry_id)
            return self._record(
                delivery, Outcome.BLOCKED, f"verdict {event.verdict!r}: nothing to do", True
            )
        return self._retrain(delivery, event)

    def _retrain(self, delivery: Delivery, event: Event) -> RetrainOutcome:
        import pyarrow.parquet as pq

        from skewguard.checking.pipeline import check
        from skewguard.loop.model import promote, save_model, train
        from skewguard.report.model import write_json
        from skewguard.store.replay import read_serving_logs, replay
        from skewguard.store.repo import choose_feature_service, data_dir, find_repo
        from skewguard.store.snapshot import build_snapshot, filter_time_window

        cfg = self.config
        store = self.store
        service = choose_feature_service(store, cfg.feature_service or event.feature_service)
        labels_path = cfg.labels or data_dir(find_repo(cfg.repo)) / "interactions.parquet"
        end_text = event.log_window.get("end")
        until = datetime.fromisoformat(end_text) if end_text else datetime.now(UTC)
        since = until - timedelta(days=cfg.label_days)
        labels = filter_time_window(
            pq.read_table(labels_path), since, until, where=str(labels_path)
        )
        if labels.num_rows == 0:
            raise InputError(
                f"no labels between {since.isoformat()} and {until.isoformat()}",
                where=str(labels_path),
                hint="pass --labels with recent labelled data, or a longer --label-days",
            )
        snapshot_dir = cfg.models / "snapshots" / event.event_id
        self.say(
            f"  building snapshot of {labels.num_rows:,} labels "
            f"[{since:%Y-%m-%d %H:%M}, {until:%Y-%m-%d %H:%M}) -> {snapshot_dir}"
        )
        build_snapshot(store, service, labels, snapshot_dir, overwrite=True, where=str(labels_path))

        model = train(snapshot_dir, label=cfg.label, seed=cfg.seed)
        folder = save_model(model, cfg.models)
        metrics = model.metadata["metrics"]
        self.say(
            f"  trained {model.version}: AUC {metrics['auc']}, log loss "
            f"{metrics['log_loss']} on {metrics['rows_holdout']} held-out rows"
        )

        serving = Path(event.serving_path)
        replayed = None
        if cfg.replay:
            replayed = replay(
                store,
                service,
                read_serving_logs(serving),
                sample=cfg.sample,
                seed=cfg.seed,
                where=str(serving),
            )
        report = check(snapshot_dir, serving, cfg.policy, replayed=replayed)
        report_path = folder / "check.json"
        write_json(report, report_path)
        verdict = str(report.verdict)
        self.say(f"  check of the new snapshot against {serving}: {verdict.upper()}")
        common = dict(
            version=model.version,
            check_verdict=verdict,
            check_report=str(report_path),
            snapshot_path=str(snapshot_dir),
        )
        if verdict not in PASSING:
            failing = [f.name for f in report.features if str(f.verdict) not in PASSING]
            reason = (
                f"not promoted: the check of the new snapshot says {verdict} ({', '.join(failing)})"
            )
            return self._failed(delivery, reason, **common)
        pointer = promote(
            cfg.models,
            folder,
            event_id=event.event_id,
            entry_id=delivery.entry_id,
            check_report=str(report_path),
        )
        self.stream.ack(delivery.entry_id)
        self.say(f"  promoted {pointer['version']}; acknowledged {delivery.entry_id}")
        return self._record(delivery, Outcome.PROMOTED, f"check {verdict}", True, **common)

    def _failed(self, delivery: Delivery, reason: str, **extra: Any) -> RetrainOutcome:
        outcome = Outcome.REJECTED if extra.get("check_verdict") else Outcome.FAILED
        if delivery.deliveries >= self.config.max_attempts:
            self.stream.dead_letter(delivery, reason)
            reason = (
                f"{reason}; moved to {self.stream.stream}:dead after "
                f"{delivery.deliveries} deliveries"
            )
            return self._record(delivery, Outcome.DEAD_LETTER, reason, True, **extra)
        return self._record(delivery, outcome, reason + "; left pending", False, **extra)

    def _record(
        self, delivery: Delivery, outcome: Outcome, reason: str, acknowledged: bool, **extra: Any
    ) -> RetrainOutcome:
        result = RetrainOutcome(
            entry_id=delivery.entry_id,
            event_id=delivery.event.event_id if delivery.event else None,
            outcome=outcome,
            reason=redact(reason),
            acknowledged=acknowledged,
            at=datetime.now(UTC).isoformat(),
            **extra,
        )
        self.config.models.mkdir(parents=True, exist_ok=True)
        with (self.config.models / JOURNAL).open("a") as fh:
            fh.write(json.dumps(result.to_dict(), sort_keys=True) + "\n")
        self.say(f"  {outcome}: {result.reason}")
        return result


def _describe(err: BaseException) -> str:
    if isinstance(err, SkewguardError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def consume(
    trainer: Trainer,
    consumer: str,
    *,
    once: bool = True,
    block_ms: int = 5000,
    limit: int | None = None,
) -> list[RetrainOutcome]:
    """Handle events until none is left (`once`) or forever.

    Order: this consumer's own pending entries (left by a run that died), then entries
    other consumers left idle for `claim_idle`, then new ones. With `once` an entry is
    handled at most once; a long-running consumer tries an entry it failed on again after
    `claim_idle`. `limit` stops after that many outcomes.
    """
    import time

    stream = trainer.stream
    idle_s = trainer.config.claim_idle.total_seconds()
    idle_ms = int(idle_s * 1000)
    handled: dict[str, float] = {}  # entry id -> when this call last handled it

    def due(entry_id: str) -> bool:
        if entry_id not in handled:
            return True
        return not once and time.monotonic() - handled[entry_id] >= idle_s

    outcomes: list[RetrainOutcome] = []
    while limit is None or len(outcomes) < limit:
        # Pending ids are listed without counting a delivery; `take` counts one per attempt.
        own = [i for i in stream.pending_ids(consumer) if due(i)]
        taken = stream.take(consumer, own[0]) if own else None
        batch = [taken] if taken is not None else []
        if not batch:
            batch = [
                d
                for d in stream.claim_stale(consumer, min_idle_ms=idle_ms, count=10)
                if due(d.entry_id)
            ]
        if not batch:
            batch = stream.read_new(consumer, count=1, block_ms=None if once else block_ms)
            if not batch and once:
                break
        for delivery in batch:
            if limit is not None and len(outcomes) >= limit:
                break
            handled[delivery.entry_id] = time.monotonic()
            outcomes.append(trainer.handle(delivery))
    return outcomes
