"""A model's lineage: which snapshot, feature service and definitions it learned from.

`Lineage` is the document `skewguard retrain` stores with every model it registers in
MLflow (artifact `skewguard/lineage.json` of the training run): the snapshot (content hash,
folder, time range, rows), the feature service (name and version = the hash of its
definition) and the definition hash of each feature view, the features the model saw and
the ones it used, the metrics measured at training, and the check of the new snapshot
against the serving logs (verdict and report).

`gaps()` lists what is missing or no longer true (a snapshot folder gone, or whose content
hash no longer matches); a model with gaps is never made champion. The check is recorded
when there was one (a model trained before any serving logs exist has none); whether it
passed is the retrain pipeline's promotion rule, not part of lineage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skewguard.errors import InputError

__all__ = ["LINEAGE_SCHEMA_VERSION", "Lineage", "PASSING_VERDICTS"]

LINEAGE_SCHEMA_VERSION = 1
PASSING_VERDICTS = ("pass", "warn")


@dataclass(frozen=True)
class Lineage:
    snapshot_id: str | None
    snapshot_path: str | None
    snapshot_time_range: Mapping[str, str] | None
    snapshot_rows: int | None
    feature_service: str | None
    feature_service_version: str | None
    feature_views: Mapping[str, Mapping[str, Any]]  # view -> {definition_hash, version_number}
    features: tuple[str, ...]  # every feature column of the snapshot
    model_features: tuple[str, ...]  # the ones the model uses
    label: str | None
    metrics: Mapping[str, Any]
    check_verdict: str | None
    check_report: str | None
    trained_version: str | None  # skewguard's version string (<UTC time>-<hash8>)
    feast_project: str | None = None
    event_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": LINEAGE_SCHEMA_VERSION,
            "snapshot": {
                "id": self.snapshot_id,
                "path": self.snapshot_path,
                "time_range": dict(self.snapshot_time_range) if self.snapshot_time_range else None,
                "rows": self.snapshot_rows,
            },
            "feature_service": {
                "name": self.feature_service,
                "version": self.feature_service_version,
                "feature_views": {k: dict(v) for k, v in self.feature_views.items()},
            },
            "features": list(self.features),
            "model_features": list(self.model_features),
            "label": self.label,
            "metrics": dict(self.metrics),
            "check": {"verdict": self.check_verdict, "report": self.check_report},
            "trained_version": self.trained_version,
            "feast_project": self.feast_project,
            "event_id": self.event_id,
            **({"extra": dict(self.extra)} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "lineage.json") -> Lineage:
        if not isinstance(d, Mapping) or d.get("schema_version") != LINEAGE_SCHEMA_VERSION:
            raise InputError(
                "not a skewguard lineage document (schema_version 1)",
                where=where,
                hint="register the model with `skewguard retrain`",
            )
        snapshot = d.get("snapshot") or {}
        service = d.get("feature_service") or {}
        check = d.get("check") or {}
        return cls(
            snapshot_id=snapshot.get("id"),
            snapshot_path=snapshot.get("path"),
            snapshot_time_range=snapshot.get("time_range"),
            snapshot_rows=snapshot.get("rows"),
            feature_service=service.get("name"),
            feature_service_version=service.get("version"),
            feature_views=dict(service.get("feature_views") or {}),
            features=tuple(d.get("features") or ()),
            model_features=tuple(d.get("model_features") or ()),
            label=d.get("label"),
            metrics=dict(d.get("metrics") or {}),
            check_verdict=check.get("verdict"),
            check_report=check.get("report"),
            trained_version=d.get("trained_version"),
            feast_project=d.get("feast_project"),
            event_id=d.get("event_id"),
            extra=dict(d.get("extra") or {}),
        )

    def gaps(self) -> list[str]:
        """What keeps this lineage from being complete; empty when it is complete."""
        missing = []
        if not self.snapshot_id:
            missing.append("no snapshot content hash")
        if not self.snapshot_path:
            missing.append("no snapshot path")
        else:
            missing.extend(_snapshot_gaps(Path(self.snapshot_path), self.snapshot_id))
        if not self.feature_service:
            missing.append("no feature service")
        if not self.feature_service_version:
            missing.append("no feature service version")
        if not self.feature_views:
            missing.append("no feature view definition hashes")
        else:
            unhashed = sorted(
                v for v, d in self.feature_views.items() if not d.get("definition_hash")
            )
            if unhashed:
                missing.append(f"no definition hash for feature view(s) {', '.join(unhashed)}")
        if not self.features:
            missing.append("no feature list")
        if not self.model_features:
            missing.append("no list of the features the model uses")
        if self.metrics.get("auc") is None or self.metrics.get("log_loss") is None:
            missing.append("no training metrics (auc, log_loss)")
        return missing

    def view_of(self, feature: str) -> str:
        return feature.split("__", 1)[0]


def _snapshot_gaps(folder: Path, expected: str | None) -> list[str]:
    from skewguard.store.snapshot import MANIFEST_NAME

    manifest = folder / MANIFEST_NAME
    try:
        recorded = json.loads(manifest.read_text()).get("content_hash")
    except FileNotFoundError:
        return [f"the snapshot's manifest is gone ({manifest})"]
    except (OSError, ValueError) as err:
        return [f"the snapshot's manifest cannot be read ({manifest}: {err})"]
    if expected and recorded != expected:
        return [f"the snapshot at {folder} now has content hash {recorded}, not {expected}"]
    return []
