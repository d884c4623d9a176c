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
  4. log the run and register the model version in MLflow with its lineage
     (`skewguard.loop.registry`: snapshot, feature service and definition hashes, metrics,
     the check report);
  5. move the `champion` alias to it only if that check passes (pass or warn) and its
     lineage is complete, then acknowledge the event.

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
    from skewguard.loop.lineage import Lineage
    from skewguard.loop.registry import RegisteredModel, Registry
    from skewguard.loop.stream import Delivery, RedisStream

__all__ = ["Outcome", "RetrainConfig", "RetrainOutcome", "Trainer", "consume", "JOURNAL"]

JOURNAL = "retrain.jsonl"


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
    model_name: str | None = None  # default: <feature service>-<label>
    holdout: float = 0.2


def default_model_name(service: str, label: str) -> str:
    """The registered model's name when none is given: `<feature service>-<label>`."""
    return f"{service}-{label}"


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
    model_uri: str | None = None  # the registered version, models:/NAME/VERSION
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
        self._registry: Registry | None = None

    @property
    def store(self) -> FeatureStore:
        if self._store is None:
            from skewguard.store.repo import open_store

            self._store = open_store(self.config.repo)
        return self._store

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from skewguard.loop.registry import Registry

            self._registry = Registry.open(store=self.store)
        return self._registry

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
        from skewguard.loop.lineage import PASSING_VERDICTS
        from skewguard.loop.model import save_model, train
        from skewguard.report.model import write_json
        from skewguard.store.definitions import service_definitions
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
        # The definitions the snapshot is built from, read just before building it.
        definitions = service_definitions(store, service)
        snapshot = build_snapshot(
            store, service, labels, snapshot_dir, overwrite=True, where=str(labels_path)
        )

        model = train(snapshot_dir, label=cfg.label, seed=cfg.seed, holdout=cfg.holdout)
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

        lineage = lineage_of(model, snapshot.manifest, definitions, verdict, report_path, event)
        registered = self.registry.log_training(
            model,
            model_name=cfg.model_name or default_model_name(service, cfg.label),
            lineage=lineage,
            snapshot_dir=snapshot_dir,
            check_report=report_path,
            params={
                "label": cfg.label,
                "label_days": cfg.label_days,
                "labels_since": since.isoformat(),
                "labels_until": until.isoformat(),
                "holdout": cfg.holdout,
                "seed": cfg.seed,
                "estimator": model.metadata["estimator"],
                "feature_service": service,
                "replay": cfg.replay,
            },
        )
        self.say(f"  registered {registered.uri} (run {registered.run_id})")
        common = dict(
            version=model.version,
            check_verdict=verdict,
            check_report=str(report_path),
            snapshot_path=str(snapshot_dir),
            model_uri=registered.uri,
        )
        if verdict not in PASSING_VERDICTS:
            failing = [f.name for f in report.features if str(f.verdict) not in PASSING_VERDICTS]
            reason = (
                f"not promoted: the check of the new snapshot says {verdict} ({', '.join(failing)})"
            )
            return self._failed(delivery, reason, **common)
        self.registry.set_champion(registered)
        self.stream.ack(delivery.entry_id)
        self.say(
            f"  {registered.uri} is now {registered.name}@champion; "
            f"acknowledged {delivery.entry_id}"
        )
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


def lineage_of(
    model: Any,
    manifest: dict[str, Any],
    definitions: Any,
    verdict: str | None,
    report_path: Path | None,
    event: Event | None = None,
) -> Lineage:
    """The lineage of a model trained on a snapshot built from `definitions`."""
    from skewguard.loop.lineage import Lineage

    service = definitions.to_dict()
    return Lineage(
        snapshot_id=manifest.get("content_hash"),
        snapshot_path=str(model.metadata["snapshot_path"]),
        snapshot_time_range=manifest.get("time_range"),
        snapshot_rows=manifest.get("row_count"),
        feature_service=definitions.service,
        feature_service_version=definitions.service_hash,
        feature_views=service["feature_views"],
        features=tuple(f["name"] for f in manifest.get("features", [])),
        model_features=tuple(model.features),
        label=model.metadata["label"],
        metrics=dict(model.metadata["metrics"]),
        check_verdict=verdict,
        check_report=str(report_path) if report_path is not None else None,
        trained_version=model.version,
        feast_project=manifest.get("project"),
        event_id=event.event_id if event is not None else None,
    )


def register_snapshot_model(
    registry: Registry,
    snapshot: Path,
    models: Path,
    *,
    model_name: str,
    label: str = "purchased",
    seed: int = 0,
    holdout: float = 0.2,
    champion: bool = False,
) -> RegisteredModel:
    """Train on an existing snapshot and register the model with its lineage (the first
    model of a loop, before any serving logs exist: no check is recorded). The definition
    hashes are read from the registry now: the snapshot's views must not have changed
    since it was built. `champion` moves the alias to it (its lineage must be complete)."""
    from skewguard.checking.reading import read_manifest
    from skewguard.loop.model import save_model, train
    from skewguard.store.definitions import service_definitions
    from skewguard.store.snapshot import MANIFEST_NAME

    if registry.store is None:
        raise SkewguardError("registering needs the feature store", where=str(snapshot))
    manifest_path = Path(snapshot) / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    service = read_manifest(manifest_path).feature_service
    if not service:
        raise InputError("the snapshot names no feature service", where=str(manifest_path))
    definitions = service_definitions(registry.store, service)
    model = train(snapshot, label=label, seed=seed, holdout=holdout)
    save_model(model, models)
    lineage = lineage_of(model, manifest, definitions, None, None)
    registered = registry.log_training(
        model,
        model_name=model_name,
        lineage=lineage,
        snapshot_dir=Path(snapshot),
        check_report=None,
        params={"label": label, "seed": seed, "holdout": holdout, "feature_service": service},
    )
    if champion:
        registry.set_champion(registered)
    return registered


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
