"""`check --model`: a check that knows which model it guards.

`resolve_model` reads a registered model's lineage from MLflow (`models:/NAME@champion` or
`models:/NAME/VERSION`): the training snapshot to check against and its feature service
(so neither `--training` nor `--feature-service` is needed). `lineage_report` adds the
lineage checks (`skewguard.checking.lineage`) to a finished report: which feature service
wrote the serving logs (the one whose logging destination holds them), which features
they hold, and the definition hashes in the registry now against those recorded when the
snapshot was built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skewguard.errors import InputError

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.checking.policy import Policy
    from skewguard.loop.registry import RegisteredModel, Registry
    from skewguard.report.model import Report

__all__ = ["ModelUnderCheck", "resolve_model", "lineage_report", "logging_service_of"]


@dataclass(frozen=True)
class ModelUnderCheck:
    model: RegisteredModel
    registry: Registry
    store: FeatureStore
    snapshot: Path
    feature_service: str


def resolve_model(uri: str, repo: str | Path | None = None) -> ModelUnderCheck:
    """The model a URI names, its snapshot and feature service, from its lineage."""
    from skewguard.loop.registry import Registry
    from skewguard.store.repo import open_store

    store = open_store(repo)
    registry = Registry.open(store=store)
    model = registry.resolve(uri)
    lineage = model.lineage
    if not lineage.snapshot_path or not lineage.feature_service:
        raise InputError(
            "the model's lineage names no training snapshot or feature service",
            where=model.uri,
            hint="register models with `skewguard retrain`, or pass --training",
        )
    return ModelUnderCheck(
        model=model,
        registry=registry,
        store=store,
        snapshot=Path(lineage.snapshot_path),
        feature_service=lineage.feature_service,
    )


def logging_service_of(store: FeatureStore, serving: str | Path) -> str | None:
    """The feature service whose logs `serving` holds: the one whose logging destination
    contains it, else the one its folder (or the folder above a day partition) is named
    after, as `--log-root ROOT` writes `ROOT/<service>`; None when neither says."""
    from skewguard.serving.layout import describe_log

    if "://" in str(serving):
        return None
    target = Path(serving).resolve()
    logged = [s.name for s in store.list_feature_services() if s.logging_config is not None]
    for name in logged:
        folder = describe_log(store, name).folder
        if folder is not None and target.is_relative_to(folder.resolve()):
            return str(name)
    for folder in (target, *list(target.parents)[:2]):
        if folder.name in logged:
            return str(folder.name)
    return None


def lineage_report(
    report: Report, under_check: ModelUnderCheck, serving: str | Path, policy: Policy
) -> Report:
    """`report` with the lineage checks of `under_check`'s model."""
    from skewguard.checking.lineage import ModelLineageFacts, apply_lineage, lineage_findings
    from skewguard.checking.reading import open_serving
    from skewguard.loop.registry import ServiceMismatch
    from skewguard.store.definitions import service_definitions

    model, store = under_check.model, under_check.store
    lineage = model.lineage
    service = under_check.feature_service
    current = service_definitions(store, service)
    note = None
    try:
        resolved = under_check.registry.feature_service_of(model)
        if resolved != service:
            note = f"Feast's resolver names feature service {resolved!r}"
    except ServiceMismatch as err:
        note = f"Feast's resolver: {err}"
    facts = ModelLineageFacts(
        model_service=service,
        model_service_version=lineage.feature_service_version,
        model_views={
            view: str(d.get("definition_hash"))
            for view, d in lineage.feature_views.items()
            if d.get("definition_hash")
        },
        model_features=lineage.features,
        serving_service=logging_service_of(store, serving),
        serving_features=open_serving(serving).features,
        current_views=current.views,
        current_service_version=current.service_hash,
        service_note=note,
    )
    return apply_lineage(report, lineage_findings(facts), policy, model=model.describe())
