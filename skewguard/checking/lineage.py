"""Lineage checks: do the serving logs and today's definitions match what the model learned?

`skewguard check --model` knows more than a snapshot: the model's feature service, the
features it saw and the definition hash of every feature view its snapshot was built from.
`lineage_findings` compares those with facts about the serving side (the feature service
whose log the serving rows come from, their feature columns, the current definition
hashes); `apply_lineage` records one `lineage` check per feature in the report, judged by
the policy (default: any finding blocks), each finding with its own cause in words.

Causes (`LineageCause`):
- `other_feature_service`: the logs were written for another feature service;
- `unseen_feature`: the logs hold a feature the model never saw in training;
- `definition_changed`: the feature's view changed since the snapshot (definition hash);
- `service_changed`: the feature service's own definition changed (which views and
  features it selects).

Pure: plain values in, a new report out. No Feast, no MLflow.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from skewguard.checking.comparing import Measurement
from skewguard.checking.deciding import judge
from skewguard.checking.policy import Policy
from skewguard.report.model import FeatureResult, Report
from skewguard.vocabulary import CheckName, Verdict

__all__ = [
    "LineageCause",
    "LineageFinding",
    "ModelLineageFacts",
    "lineage_findings",
    "apply_lineage",
]


class LineageCause(enum.StrEnum):
    OTHER_FEATURE_SERVICE = "other_feature_service"
    UNSEEN_FEATURE = "unseen_feature"
    DEFINITION_CHANGED = "definition_changed"
    SERVICE_CHANGED = "service_changed"


@dataclass(frozen=True)
class LineageFinding:
    feature: str | None  # None: every feature of the report
    cause: LineageCause
    detail: str


@dataclass(frozen=True)
class ModelLineageFacts:
    """What the model learned from, and what the serving side is now."""

    model_service: str
    model_service_version: str | None
    model_views: Mapping[str, str]  # view -> definition hash at snapshot time
    model_features: Sequence[str]  # every feature column of the snapshot
    serving_service: str | None  # None: unknown (logs outside every service's destination)
    serving_features: Sequence[str]
    current_views: Mapping[str, str]  # view -> definition hash in the registry now
    current_service_version: str | None
    service_note: str | None = None  # e.g. Feast's resolver's words on a feature mismatch


def _short(digest: str | None) -> str:
    if not digest:
        return "none"
    return digest.split(":", 1)[-1][:12]


def _view(feature: str) -> str:
    return feature.split("__", 1)[0]


def lineage_findings(facts: ModelLineageFacts) -> list[LineageFinding]:
    """Every way the serving side parts from the model's lineage."""
    found: list[LineageFinding] = []
    if facts.serving_service is not None and facts.serving_service != facts.model_service:
        found.append(
            LineageFinding(
                None,
                LineageCause.OTHER_FEATURE_SERVICE,
                f"{LineageCause.OTHER_FEATURE_SERVICE}: the serving logs come from feature "
                f"service {facts.serving_service!r}; the model was trained on "
                f"{facts.model_service!r}",
            )
        )
    if (
        facts.model_service_version
        and facts.current_service_version
        and facts.model_service_version != facts.current_service_version
    ) or facts.service_note:
        note = f" ({facts.service_note})" if facts.service_note else ""
        found.append(
            LineageFinding(
                None,
                LineageCause.SERVICE_CHANGED,
                f"{LineageCause.SERVICE_CHANGED}: feature service {facts.model_service!r} "
                f"changed since the snapshot (version {_short(facts.model_service_version)} "
                f"then, {_short(facts.current_service_version)} now){note}",
            )
        )
    seen = set(facts.model_features)
    for feature in facts.serving_features:
        if feature not in seen:
            found.append(
                LineageFinding(
                    feature,
                    LineageCause.UNSEEN_FEATURE,
                    f"{LineageCause.UNSEEN_FEATURE}: the serving logs hold {feature}, a "
                    "feature the model never saw in training",
                )
            )
    for feature in [*facts.model_features, *facts.serving_features]:
        view = _view(feature)
        then = facts.model_views.get(view)
        if then is None:
            continue
        now = facts.current_views.get(view)
        if now != then:
            what = "is gone from the registry" if now is None else "changed since the snapshot"
            found.append(
                LineageFinding(
                    feature,
                    LineageCause.DEFINITION_CHANGED,
                    f"{LineageCause.DEFINITION_CHANGED}: feature view {view!r} {what} "
                    f"(definition {_short(then)} then, {_short(now)} now)",
                )
            )
    unique: dict[tuple[str | None, LineageCause, str], LineageFinding] = {}
    for f in found:
        unique.setdefault((f.feature, f.cause, f.detail), f)
    return list(unique.values())


def apply_lineage(
    report: Report,
    findings: Sequence[LineageFinding],
    policy: Policy,
    *,
    model: Mapping[str, Any],
) -> Report:
    """The report with a `lineage` check on every feature, the verdicts recomputed, and
    the model under `inputs.model`."""
    features: list[FeatureResult] = []
    for result in report.features:
        mine = [f for f in findings if f.feature in (None, result.name)]
        rules = policy.rules_for(result.name)
        detail = "; ".join(f.detail for f in mine) if mine else "matches the model's lineage"
        check = judge(
            Measurement(CheckName.LINEAGE, float(len(mine)), detail=detail),
            rules.rule(CheckName.LINEAGE),
            rules.min_rows,
        )
        if policy.is_critical(result.name):
            escalated = policy.escalation.apply(check.verdict)
            check = replace(check, verdict=escalated)
        checks = (*result.checks, check)
        verdict = Verdict.worst([c.verdict for c in checks])
        features.append(replace(result, checks=checks, verdict=verdict))
    verdict = Verdict.worst([f.verdict for f in features]) if features else report.verdict
    inputs = {**report.inputs, "model": dict(model)}
    return replace(report, features=tuple(features), verdict=verdict, inputs=inputs, summary={})
