"""The demo model: purchase probability learned from a training snapshot.

A scikit-learn pipeline (median imputation with missing-value indicators and scaling for
numbers and booleans, one-hot encoding for strings, then logistic regression) trained
on a snapshot folder's `data.parquet`. List features (for example recent categories)
are left out and named in the metadata.

Rows are ordered by `event_timestamp`; the last `holdout` share is held out to measure
ROC AUC and log loss, then the model is refitted on every row. An artifact is a folder
`<models>/<version>/` with `model.joblib` (the fitted pipeline) and `model.json`
(version, snapshot id = the manifest's `content_hash`, features, label, metrics,
library versions). Which model is deployed is the MLflow registry's `champion` alias
(`skewguard.loop.registry`), not a file.

Artifacts are pickles: load only those your own pipeline wrote.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from skewguard.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from skewguard.checking.reading import Manifest

__all__ = [
    "MODEL_FILE",
    "METADATA_FILE",
    "TrainedModel",
    "train",
    "save_model",
    "load_model",
    "write_json_atomic",
]

MODEL_FILE = "model.joblib"
METADATA_FILE = "model.json"
MODEL_KIND = "skewguard.loop.model"
DEFAULT_LABEL = "purchased"


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Any  # sklearn.pipeline.Pipeline
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def features(self) -> list[str]:
        return list(self.metadata["features"]["numeric"] + self.metadata["features"]["categorical"])

    def predict_proba(self, rows: pd.DataFrame | dict[str, list[Any]]) -> list[float]:
        """Purchase probability of each row (a frame or a dict of columns, e.g. online features)."""
        import pandas as pd

        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        x = _design(frame, self.metadata["features"])
        return [float(p) for p in self.pipeline.predict_proba(x)[:, 1]]


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write JSON beside `path`, fsync it and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as fh:
        fh.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _kinds(manifest: Manifest) -> tuple[list[str], list[str], list[str]]:
    numeric, categorical, ignored = [], [], []
    for feature in manifest.features:
        alias = feature.arrow_type or ""
        t = pa.type_for_alias(alias) if alias and "<" not in alias else None
        if t is None:
            ignored.append(feature.name)
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
            numeric.append(feature.name)
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            categorical.append(feature.name)
        else:
            ignored.append(feature.name)
    return numeric, categorical, ignored


def _design(frame: pd.DataFrame, features: dict[str, list[str]]) -> pd.DataFrame:
    import pandas as pd

    missing = [c for c in features["numeric"] + features["categorical"] if c not in frame]
    if missing:
        raise InputError(
            f"the rows lack feature column(s) {missing}",
            where="model input",
            hint="look the features up with full feature names (<view>__<feature>)",
        )
    out = pd.DataFrame(index=frame.index)
    for name in features["numeric"]:
        out[name] = pd.to_numeric(frame[name].astype("object"), errors="coerce").astype("float64")
    for name in features["categorical"]:
        out[name] = frame[name].astype("object").where(frame[name].notna(), "__missing__")
    return out


def _pipeline(numeric: list[str], categorical: list[str], seed: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline(
        [("columns", columns), ("model", LogisticRegression(max_iter=1000, random_state=seed))]
    )


def _metrics(y_true: Any, p: Any) -> dict[str, float | None]:
    from sklearn.metrics import log_loss, roc_auc_score

    both = len(set(y_true)) == 2
    return {
        "auc": round(float(roc_auc_score(y_true, p)), 4) if both else None,
        "log_loss": round(float(log_loss(y_true, p, labels=[0, 1])), 4),
    }


def train(
    snapshot: str | Path,
    *,
    label: str = DEFAULT_LABEL,
    holdout: float = 0.2,
    seed: int = 0,
) -> TrainedModel:
    """Train on a snapshot folder; metrics are measured on the latest `holdout` share."""
    import sklearn

    from skewguard.checking.reading import read_manifest
    from skewguard.store.snapshot import MANIFEST_NAME

    folder = Path(snapshot)
    manifest = read_manifest(folder / MANIFEST_NAME)
    table = pq.read_table(folder / manifest.data_file)
    if label not in table.column_names:
        raise InputError(
            f"the snapshot has no label column {label!r} (labels: {list(manifest.label_columns)})",
            where=str(folder),
            hint="pass the label column's name",
        )
    if not 0.0 < holdout < 1.0:
        raise ValueError("holdout must be between 0 and 1")
    frame = table.to_pandas().sort_values("event_timestamp", kind="stable")
    frame = frame[frame[label].notna()].reset_index(drop=True)
    y = frame[label].astype("int64").to_numpy()
    if len(frame) < 50 or len(set(y)) < 2:
        raise InputError(
            f"too few labelled rows to train on ({len(frame)} rows, classes {sorted(set(y))})",
            where=str(folder),
            hint="build the snapshot over a longer window",
        )
    numeric, categorical, ignored = _kinds(manifest)
    features = {"numeric": numeric, "categorical": categorical}
    x = _design(frame, features)
    cut = int(len(frame) * (1 - holdout))

    evaluation = _pipeline(numeric, categorical, seed).fit(x.iloc[:cut], y[:cut])
    metrics: dict[str, Any] = _metrics(y[cut:], evaluation.predict_proba(x.iloc[cut:])[:, 1])
    metrics.update(
        rows_train=cut,
        rows_holdout=len(frame) - cut,
        positive_rate=round(float(y.mean()), 4),
    )
    final = _pipeline(numeric, categorical, seed).fit(x, y)

    created = datetime.now(UTC)
    content_hash = str(manifest.content_hash)
    version = created.strftime("%Y%m%dT%H%M%S") + "-" + content_hash.split(":")[-1][:8]
    metadata = {
        "schema_version": 1,
        "kind": MODEL_KIND,
        "version": version,
        "created_at": created.isoformat(),
        "snapshot_id": content_hash,
        "snapshot_path": str(folder.resolve()),
        "snapshot_time_range": dict(manifest.time_range) if manifest.time_range else None,
        "feature_service": manifest.feature_service,
        "label": label,
        "features": features,
        "ignored_features": ignored,
        "estimator": "LogisticRegression",
        "metrics": metrics,
        "libraries": {"scikit-learn": sklearn.__version__},
    }
    return TrainedModel(pipeline=final, metadata=metadata)


def save_model(model: TrainedModel, models_dir: str | Path) -> Path:
    """Write `<models_dir>/<version>/` (model.joblib + model.json); return the folder."""
    import joblib

    folder = Path(models_dir) / model.version
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MODEL_FILE}.tmp-{os.getpid()}"
    joblib.dump(model.pipeline, tmp)
    os.replace(tmp, folder / MODEL_FILE)
    write_json_atomic(folder / METADATA_FILE, model.metadata)
    return folder


def load_model(folder: str | Path) -> TrainedModel:
    """Load an artifact folder written by `save_model`."""
    import joblib

    path = Path(folder)
    try:
        metadata = json.loads((path / METADATA_FILE).read_text())
        pipeline = joblib.load(path / MODEL_FILE)
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(
            f"cannot load the model: {err}",
            where=str(path),
            hint="point at a folder written by `skewguard retrain` (model.json + model.joblib)",
        ) from err
    if metadata.get("kind") != MODEL_KIND:
        raise InputError("not a skewguard model folder", where=str(path), hint="check the path")
    return TrainedModel(pipeline=pipeline, metadata=metadata)
