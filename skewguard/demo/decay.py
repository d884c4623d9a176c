"""`skewguard demo --scenario decay`: the model decays, performance says so, the loop heals it.

On the world of `skewguard.demo.decay_story` (shoppers turn from cheap to dear items on
day 21), on the real Feast and Redis path with the embedded MLflow store under the repo's
data folder:

1. model v1 is trained on days 0-14, registered with its lineage and made champion;
2. v1 serves days 14-28: features and predictions logged (scored from point-in-time
   features, see `decay_story`); labels arrive a day later;
3. `skewguard performance` on day 29: per day, v1's realised AUC; the days after the
   change say **retrain** (`auc_drop`), and the last one's event goes to a Redis Stream;
4. the training pipeline (`skewguard retrain`'s `Trainer`) takes it: a snapshot of the
   labelled week after the change, model v2 registered with its lineage, the new
   snapshot checked against the feature log of the day that fired, `champion` moved only
   if that check passes;
5. v2 serves days 28-42; once its labels arrive, its AUC per day has recovered.

Each watched log day is also checked for drift against the champion's snapshot (the
history page shows both). The result says whether the story held: a significant drop
detected after the change, a promoted v2 whose lineage names the snapshot the retrain
built, and a recovered AUC; `skewguard demo` exits 0 only then.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.demo.datagen import ConceptDrift
from skewguard.demo.decay_report import judge, say_windows, story_json, story_lines
from skewguard.demo.decay_story import (
    CHANGE_DAY,
    DRIFT,
    LABEL_DELAY,
    RETRAIN_LABEL_DAYS,
    V1_SERVING_DAYS,
    V1_TRAINING_DAYS,
    V2_SERVING_DAYS,
    Phase,
)
from skewguard.demo.run import SERVICE, _fresh_store, _step

if TYPE_CHECKING:
    import pandas as pd

    from skewguard.loop.registry import RegisteredModel, Registry
    from skewguard.loop.retrain import RetrainOutcome

__all__ = ["DecayConfig", "DecayResult", "run_decay", "MODEL_NAME"]

MODEL_NAME = "recommender_v1-purchased-decay"


@dataclass(frozen=True)
class DecayConfig:
    repo: Path | None = None
    out: Path = Path("out/demo")
    seed: int = 7
    end: datetime | None = None  # None: today at midnight UTC
    model_name: str = MODEL_NAME
    auc_floor: float = 0.05  # `performance --auc-floor`
    min_labels: int = 200  # `performance --min-labels`
    watch: bool = True  # check each log day for drift too (for the history page)
    drift: ConceptDrift | None = DRIFT  # None: nothing changes (a control: the story fails)


@dataclass(frozen=True)
class DecayResult:
    holds: bool
    problems: tuple[str, ...]
    out: Path
    figures: dict[str, Any]
    v1: RegisteredModel
    v2: RegisteredModel | None
    outcome: RetrainOutcome | None
    retrain_snapshot_hash: str | None
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def run_decay(config: DecayConfig, say: Callable[[str], None] = print) -> DecayResult:
    """Run the decay story against the Redis in $SKEWGUARD_REDIS."""
    import pyarrow.parquet as pq

    from skewguard.demo.datagen import generate
    from skewguard.demo.decay_story import decay_generator
    from skewguard.loop.registry import Registry
    from skewguard.loop.retrain import register_snapshot_model
    from skewguard.serving.layout import describe_log
    from skewguard.serving.predictions import prediction_folder
    from skewguard.store.repo import data_dir, find_repo
    from skewguard.store.snapshot import build_snapshot, filter_time_window

    say(
        f"scenario decay: from day {CHANGE_DAY} shoppers buy dearer items rather than cheaper "
        "ones; the features stay as they were, the label's dependence on them changes"
    )
    timings: dict[str, float] = {}
    repo = find_repo(config.repo)
    out = config.out / "decay"
    shutil.rmtree(out, ignore_errors=True)  # the scenario's own folder: a clean slate
    name = config.model_name

    with _step("generate data (600 interactions a day, concept change on day 21)", timings, say):
        data = generate(data_dir(repo), decay_generator(config.seed, config.end, config.drift))
    with _step("feast apply on a clean slate; embedded MLflow registry", timings, say):
        store = _fresh_store(repo)
        registry = Registry.open(store=store)
        _forget(registry, name)
    start = data.start
    labels = pq.read_table(data.interactions)

    def days(phase: tuple[int, int]) -> tuple[datetime, datetime]:
        return Phase(*phase).bounds(start)

    first, last = V1_TRAINING_DAYS
    with _step(
        f"model v1: snapshot of days {first}-{last}, train, register, champion", timings, say
    ):
        snap = build_snapshot(
            store,
            SERVICE,
            filter_time_window(labels, *days(V1_TRAINING_DAYS), where=str(data.interactions)),
            out / "snapshots" / "v1",
        )
        v1 = register_snapshot_model(
            registry, snap.path, out / "models", model_name=name, champion=True
        )
    v1_auc = v1.lineage.metrics["auc"]
    say(f"           {v1.uri} is {name}@champion: AUC {v1_auc} on its held-out rows")

    with _step(
        "point-in-time features of days 14-42 (what the server would have served)", timings, say
    ):
        served = build_snapshot(
            store,
            SERVICE,
            filter_time_window(labels, days(V1_SERVING_DAYS)[0], data.end, where="interactions"),
            out / "served",
        )
        rows = pq.read_table(served.path / "data.parquet").to_pandas()
    layout = describe_log(store, SERVICE, log_root=out / "logs")
    assert layout.folder is not None
    logs = {"features": layout.folder, "predictions": prediction_folder(layout)}

    # v1 serves days 14-28; its labels are known a day later.
    with _step("v1 serves days 14-28: features and predictions logged", timings, say):
        scored1 = _serve(registry, name, rows, start, Phase(*V1_SERVING_DAYS), layout, logs, "v1")
    now1 = days(V1_SERVING_DAYS)[1] + LABEL_DELAY
    with _step(
        f"skewguard performance of v1 on {now1:%Y-%m-%d} (labels of days 14-28)", timings, say
    ):
        doc1, perf1 = _performance(
            registry, name, scored1, now1, logs, out / "performance_v1.json", config
        )
    say_windows(doc1, start, say)

    watch = _watch_config(registry, name, logs["features"], out) if config.watch else None
    if watch is not None:
        with _step("drift checks of days 14-28 against the champion's snapshot", timings, say):
            drift1 = _watch(watch, now1)
        say(f"           {_count(drift1)}")

    with _step("retrain event -> skewguard retrain (the week after the change)", timings, say):
        outcome, event_window = _retrain(
            registry, store, doc1, perf1, scored1, now1, out, repo, name, say
        )
    v2 = registry.champion(name)
    built = (
        json.loads((Path(outcome.snapshot_path) / "manifest.json").read_text())["content_hash"]
        if outcome is not None and outcome.snapshot_path
        else None
    )
    problems: list[str] = []
    if outcome is None or v2 is None or v2.version == v1.version:
        problems.append(
            "no new champion: "
            + (outcome.reason if outcome is not None else "no retrain event (no window fired)")
        )
        return _result(
            config,
            out,
            problems,
            {"v1_training_auc": v1_auc},
            v1,
            None,
            outcome,
            built,
            doc1,
            {},
            say,
        )
    say(
        f"           champion {v2.uri}: snapshot {v2.lineage.snapshot_id}\n"
        f"           the retrain built              {built}"
    )

    with _step("v2 serves days 28-42: features and predictions logged", timings, say):
        scored2 = _serve(registry, name, rows, start, Phase(*V2_SERVING_DAYS), layout, logs, "v2")
    now2 = data.end + LABEL_DELAY
    with _step(
        f"skewguard performance of v2 on {now2:%Y-%m-%d} (labels of days 28-42)", timings, say
    ):
        doc2, perf2 = _performance(
            registry, name, scored2, now2, logs, out / "performance_v2.json", config
        )
    say_windows(doc2, start, say)
    if watch is not None:
        with _step("drift checks of days 28-42 against the new champion's snapshot", timings, say):
            drift2 = _watch(watch, now2)
        say(f"           {_count(drift2)}")

    figures = _figures(v1, v2, scored1, scored2, start, registry, event_window)
    problems += judge(doc1, doc2, figures, v2, built, config.auc_floor, start)
    files = {"performance_v1": perf1, "performance_v2": perf2}
    if watch is not None:
        files["history"] = _history(watch.state, [perf1, perf2], out)
    return _result(config, out, problems, figures, v1, v2, outcome, built, doc1, doc2, say, files)


def _forget(registry: Registry, name: str) -> None:
    """The scenario's registered model starts afresh (its own name, nobody else's)."""
    from mlflow.exceptions import MlflowException

    try:
        registry.client.delete_registered_model(name)
    except MlflowException:
        pass


def _serve(
    registry: Registry,
    name: str,
    rows: pd.DataFrame,
    start: datetime,
    phase: Phase,
    layout: Any,
    logs: dict[str, Path],
    prefix: str,
) -> pd.DataFrame:
    """The champion (resolved as `serve --model NAME@champion` does) scores the phase's rows."""
    from skewguard.demo.decay_story import split, write_served_logs

    champion = registry.champion(name)
    assert champion is not None
    scorer = registry.load(champion)
    return write_served_logs(
        split(rows, start, phase),
        layout,
        scorer,
        champion.name,
        champion.version,
        logs["features"],
        logs["predictions"],
        request_prefix=prefix,
    )


def _performance(
    registry: Registry,
    name: str,
    scored: pd.DataFrame,
    now: datetime,
    logs: dict[str, Path],
    path: Path,
    config: DecayConfig,
) -> tuple[dict[str, Any], Path]:
    """`skewguard performance --model NAME@champion` with the labels arrived by `now`."""
    from skewguard.checking.performance import PerformanceRule
    from skewguard.demo.decay_story import arrived, label_frame
    from skewguard.loop.performance import PerformanceConfig, evaluate

    champion = registry.champion(name)
    assert champion is not None
    labels_path = path.with_name(f"labels_{path.stem.split('_')[-1]}.parquet")
    arrived(label_frame(scored), now).to_parquet(labels_path)
    document = evaluate(
        PerformanceConfig(
            predictions=logs["predictions"],
            labels=labels_path,
            training=dict(champion.lineage.metrics),
            rule=PerformanceRule(auc_floor=config.auc_floor, min_labels=config.min_labels),
            model=champion.describe(),
            model_version=champion.version,
        )
    )
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document, path


def _watch_config(registry: Registry, name: str, serving: Path, out: Path) -> Any:
    from skewguard.checking.policy import load_policy
    from skewguard.loop.watch import WatchConfig

    def champion_snapshot() -> Path | None:
        champion = registry.champion(name)
        return (
            Path(champion.lineage.snapshot_path)
            if champion and champion.lineage.snapshot_path
            else None
        )

    return WatchConfig(
        serving=serving,
        state=out / "watch" / "state.json",
        policy=load_policy(None),
        champion_snapshot=champion_snapshot,
    )


def _watch(watch: Any, now: datetime) -> list[Any]:
    from skewguard.loop.watch import watch_once

    return watch_once(watch, now=now, say=lambda _: None)


def _count(outcomes: list[Any]) -> str:
    verdicts: dict[str, int] = {}
    for o in outcomes:
        verdicts[o.verdict] = verdicts.get(o.verdict, 0) + 1
    return "drift verdicts: " + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items()))


def _retrain(
    registry: Registry,
    store: Any,
    document: dict[str, Any],
    report: Path,
    scored: pd.DataFrame,
    now: datetime,
    out: Path,
    repo: Path,
    name: str,
    say: Callable[[str], None],
) -> tuple[RetrainOutcome | None, str | None]:
    """Publish the performance document's retrain event on a Redis Stream of its own and
    let the training pipeline consume it."""
    from skewguard.checking.policy import load_policy
    from skewguard.demo.decay_story import arrived, label_frame
    from skewguard.loop.events import publish
    from skewguard.loop.performance import performance_event
    from skewguard.loop.retrain import RetrainConfig, Trainer, consume
    from skewguard.loop.stream import RedisStream, redis_client

    champion = registry.champion(name)
    event = performance_event(document, champion.lineage if champion else None, report)
    if event is None:
        return None, None
    say(f"           event {event.event_id}: retrain, window {event.log_window['id']} (auc_drop)")
    # What the training pipeline can learn from: the labels known by now.
    known = arrived(label_frame(scored), now)
    labels = out / "labels_known.parquet"
    known[["customer_id", "product_id", "event_timestamp", "purchased"]].to_parquet(labels)
    client = redis_client()
    stream = RedisStream(client, f"skewguard:demo:decay:{uuid.uuid4().hex[:8]}", "trainers")
    try:
        if not publish(event, [stream]).ok:
            return None, str(event.log_window["id"])
        config = RetrainConfig(
            models=out / "models",
            policy=load_policy(None),
            repo=repo,
            labels=labels,
            label_days=RETRAIN_LABEL_DAYS,
            feature_service=SERVICE,
            # The logs were read from the offline store: a replay would compare it with itself.
            replay=False,
            model_name=name,
        )
        trainer = Trainer(config, stream, say=lambda line: say("           " + line.strip()))
        outcomes = consume(trainer, "decay-trainer")
    finally:
        client.delete(stream.stream, f"{stream.stream}:dead")
        client.close()
    return (outcomes[0] if outcomes else None), str(event.log_window["id"])


def _figures(
    v1: RegisteredModel,
    v2: RegisteredModel,
    scored1: pd.DataFrame,
    scored2: pd.DataFrame,
    start: datetime,
    registry: Registry,
    event_window: str | None,
) -> dict[str, Any]:
    """Pooled AUCs per phase (one number per stretch of days, from the logged scores)."""
    from skewguard.demo.decay_story import pooled_auc, split

    before = split(scored1, start, Phase(V1_SERVING_DAYS[0], CHANGE_DAY))
    after = split(scored1, start, Phase(CHANGE_DAY, V1_SERVING_DAYS[1]))
    v1_scorer = registry.load(v1)
    return {
        "v1_training_auc": v1.lineage.metrics["auc"],
        "v1_auc_before_change": pooled_auc(before, "__prediction"),
        "v1_auc_after_change": pooled_auc(after, "__prediction"),
        "v2_training_auc": v2.lineage.metrics["auc"],
        "v2_auc": pooled_auc(scored2, "__prediction"),
        # What v1 would have scored on v2's days (not logged: v1 no longer served).
        "v1_auc_on_v2_days": pooled_auc(scored2, v1_scorer.predict_proba(scored2)),
        "event_window": event_window,
        "change": (start + timedelta(days=CHANGE_DAY)).isoformat(),
        "rows": {"v1_served": len(scored1), "v2_served": len(scored2)},
    }


def _history(state: Path, performance: list[Path], out: Path) -> Path:
    from skewguard.loop.history import collect_history
    from skewguard.report.history import render_history_html

    history = collect_history(state, performance)
    page = out / "history.html"
    page.write_text(render_history_html(history), encoding="utf-8")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return page


def _result(
    config: DecayConfig,
    out: Path,
    problems: list[str],
    figures: dict[str, Any],
    v1: RegisteredModel,
    v2: RegisteredModel | None,
    outcome: RetrainOutcome | None,
    built: str | None,
    doc1: dict[str, Any],
    doc2: dict[str, Any],
    say: Callable[[str], None],
    files: dict[str, Path] | None = None,
) -> DecayResult:
    result = DecayResult(
        holds=not problems,
        problems=tuple(problems),
        out=out,
        figures=figures,
        v1=v1,
        v2=v2,
        outcome=outcome,
        retrain_snapshot_hash=built,
        documents={"v1": doc1, "v2": doc2},
        files=dict(files or {}),
    )
    (out / "story.json").write_text(json.dumps(story_json(result, config), indent=2) + "\n")
    say("")
    for line in story_lines(result):
        say(line)
    return result
