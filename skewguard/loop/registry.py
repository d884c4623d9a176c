"""MLflow as the model registry and lineage store, through Feast's MLflow integration.

Where: `$MLFLOW_TRACKING_URI` (any MLflow server, or any store URI MLflow reads) when set;
otherwise an embedded store, no server: SQLite at `<repo>/data/mlflow.db`, artifacts under
`<repo>/data/mlartifacts/`.

What `log_training` writes for one trained model (one MLflow run in the experiment
`skewguard-<Feast project>`):
- Feast's run tags through `FeastMlflowClient.log_feature_retrieval` (`feast.project`,
  `feast.feature_service`, `feast.feature_refs`, `feast.feature_views`, ...);
- parameters (label, seed, holdout share, label window, estimator) and metrics (AUC, log
  loss, rows, positive rate, measured on the held-out latest rows);
- the model in MLflow's scikit-learn flavour through Feast's `log_model` (which adds
  `feast_features.json`), and `skewguard/model.json`, `skewguard/lineage.json`,
  `snapshot/manifest.json` and `check/check.json`;
- a registered model version (Feast's `register_model`, which tags it with
  `feast.feature_service`), tagged with the snapshot id.

`set_champion` moves the `champion` alias, only for a version whose lineage is complete
(`Lineage.gaps()`). `lineage(uri)` resolves `models:/NAME@ALIAS` or `models:/NAME/VERSION`
to its version and lineage. `import mlflow` takes seconds: it happens here only, inside
functions, never on the paths of a plain check.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError, SkewguardError
from skewguard.loop.lineage import Lineage

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.loop.model import TrainedModel

__all__ = [
    "TRACKING_ENV",
    "CHAMPION",
    "ModelRef",
    "RegisteredModel",
    "Registry",
    "parse_model_uri",
    "embedded_tracking_uri",
]

TRACKING_ENV = "MLFLOW_TRACKING_URI"
CHAMPION = "champion"
LINEAGE_ARTIFACT = "skewguard/lineage.json"
MODEL_JSON_ARTIFACT = "skewguard/model.json"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<ref>[^/@]+))$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    alias: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return (
            f"models:/{self.name}@{self.alias}"
            if self.alias
            else f"models:/{self.name}/{self.version}"
        )


def parse_model_uri(uri: str) -> ModelRef:
    """`models:/NAME@ALIAS`, `models:/NAME/VERSION` or `models:/NAME/ALIAS` (Feast's form)."""
    match = _URI.match(uri.strip())
    if not match:
        raise InputError(
            f"not a registered model URI: {uri!r}",
            where="--model",
            hint="pass models:/NAME@champion or models:/NAME/VERSION",
        )
    ref = match.group("ref")
    if ref is not None and not ref.isdigit():
        return ModelRef(match.group("name"), alias=ref)
    return ModelRef(match.group("name"), alias=match.group("alias"), version=ref)


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model version and its lineage."""

    name: str
    version: str
    run_id: str
    lineage: Lineage
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def describe(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "aliases": list(self.aliases),
            "snapshot_id": self.lineage.snapshot_id,
            "snapshot_path": self.lineage.snapshot_path,
            "feature_service": self.lineage.feature_service,
            "feature_service_version": self.lineage.feature_service_version,
        }


def embedded_tracking_uri(repo: Path) -> str:
    from skewguard.store.repo import data_dir

    return "sqlite:///" + str((data_dir(repo) / "mlflow.db").resolve())


def _quiet_mlflow() -> None:
    # MLflow warns about its own deprecations and logs each registration; skewguard says
    # what it registered itself.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")
    warnings.filterwarnings("ignore", message=r".*noload.*")
    # MLflow imports tqdm.auto; in a notebook without ipywidgets that warns once.
    warnings.filterwarnings("ignore", message=r"IProgress not found")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class Registry:
    """The MLflow registry of one feature repo (Feast's client when a store is given)."""

    def __init__(self, repo: Path, store: FeatureStore | None = None) -> None:
        _quiet_mlflow()
        import mlflow

        _quiet_mlflow()  # mlflow configures its loggers when imported
        self.repo = repo
        self.store = store
        configured = os.environ.get(TRACKING_ENV)
        self.embedded = not configured
        self.tracking_uri = configured or embedded_tracking_uri(repo)
        if self.embedded:
            from skewguard.store.repo import data_dir

            data_dir(repo).mkdir(parents=True, exist_ok=True)
        self.mlflow = mlflow
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self.client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        self._feast: Any = None

    @classmethod
    def open(cls, repo: str | Path | None = None, store: FeatureStore | None = None) -> Registry:
        from skewguard.store.repo import find_repo

        folder = Path(store.repo_path) if store is not None else find_repo(repo)
        return cls(folder, store)

    @property
    def feast(self) -> Any:
        """Feast's `FeastMlflowClient` on this store and tracking URI."""
        if self._feast is None:
            if self.store is None:
                raise SkewguardError(
                    "Feast's MLflow client needs the feature store",
                    where=str(self.repo),
                    hint="open the registry with the store",
                )
            from feast.mlflow_integration.client import FeastMlflowClient
            from feast.mlflow_integration.config import MlflowConfig

            # Feast reads its MLflow settings from feature_store.yaml; skewguard turns the
            # integration on for its own runs without making every lookup import mlflow.
            config = self.store.config
            config.mlflow_config = MlflowConfig(
                enabled=True, tracking_uri=self.tracking_uri, auto_log=False
            )
            config._mlflow = None
            self._feast = FeastMlflowClient(self.store)
        return self._feast

    def artifact_location(self) -> str | None:
        """Artifacts of a SQLite store go beside its database file (MLflow would put them
        in ./mlruns of whatever folder a command runs in); a server decides for itself."""
        if self.tracking_uri.startswith("sqlite:///"):
            database = Path(self.tracking_uri.removeprefix("sqlite:///")).resolve()
            return (database.parent / "mlartifacts").as_uri()
        return None

    def experiment_id(self) -> str:
        project = self.store.project if self.store is not None else self.repo.name
        name = f"skewguard-{project}"
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = self.artifact_location()
        return str(self.client.create_experiment(name, artifact_location=location))

    # -- writing --------------------------------------------------------------------------

    def log_training(
        self,
        model: TrainedModel,
        *,
        model_name: str,
        lineage: Lineage,
        snapshot_dir: Path,
        check_report: Path | None,
        params: dict[str, Any],
    ) -> RegisteredModel:
        """Log one trained model as a run, register it as a new version of `model_name`."""
        import sklearn

        from skewguard.store.service import describe_service
        from skewguard.store.snapshot import MANIFEST_NAME

        feast = self.feast
        assert self.store is not None and lineage.feature_service
        spec = describe_service(self.store, lineage.feature_service)
        refs = [f"{f.view}:{f.feature}" for f in spec.features]
        metrics = {k: float(v) for k, v in model.metadata["metrics"].items() if v is not None}
        with feast.start_run(run_name=model.version, experiment_id=self.experiment_id()) as run:
            run_id = run.info.run_id
            feast.log_feature_retrieval(
                feature_refs=refs,
                entity_count=int(lineage.snapshot_rows or 0),
                duration_seconds=0.0,
                retrieval_type="historical",
                feature_service_name=lineage.feature_service,
            )
            self.mlflow.log_params({k: str(v) for k, v in params.items()})
            self.mlflow.log_metrics(metrics)
            self.mlflow.set_tags(
                {
                    "skewguard.snapshot_id": str(lineage.snapshot_id),
                    "skewguard.snapshot_path": str(lineage.snapshot_path),
                    "skewguard.feature_service_version": str(lineage.feature_service_version),
                    "skewguard.check_verdict": str(lineage.check_verdict),
                    "skewguard.trained_version": model.version,
                }
            )
            feast.log_model(
                model.pipeline,
                "model",
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                # MLflow saves scikit-learn models with skops (no pickle); the pipeline's
                # dtypes are the one type skops does not trust by default.
                skops_trusted_types=["numpy.dtype"],
            )
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                (folder / "lineage.json").write_text(json.dumps(lineage.to_dict(), indent=2))
                (folder / "model.json").write_text(json.dumps(model.metadata, indent=2))
                self.client.log_artifact(run_id, str(folder / "lineage.json"), "skewguard")
                self.client.log_artifact(run_id, str(folder / "model.json"), "skewguard")
            self.client.log_artifact(run_id, str(snapshot_dir / MANIFEST_NAME), "snapshot")
            if check_report is not None:
                self.client.log_artifact(run_id, str(check_report), "check")
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints each registration
            version = feast.register_model(f"runs:/{run_id}/model", model_name)
        self.client.set_model_version_tag(
            model_name, version.version, "skewguard.snapshot_id", str(lineage.snapshot_id)
        )
        return RegisteredModel(model_name, str(version.version), run_id, lineage)

    def set_champion(self, model: RegisteredModel, alias: str = CHAMPION) -> None:
        """Point `alias` at this version; refused when its lineage is incomplete."""
        gaps = model.lineage.gaps()
        if gaps:
            raise LineageIncomplete(model, gaps)
        self.client.set_registered_model_alias(model.name, alias, model.version)

    # -- reading --------------------------------------------------------------------------

    def resolve(self, uri: str | ModelRef) -> RegisteredModel:
        """The model version a URI names, with its lineage."""
        from mlflow.exceptions import MlflowException

        ref = parse_model_uri(uri) if isinstance(uri, str) else uri
        try:
            if ref.alias:
                version = self.client.get_model_version_by_alias(ref.name, ref.alias)
            else:
                version = self.client.get_model_version(ref.name, str(ref.version))
        except MlflowException as err:
            raise InputError(
                f"no such registered model version: {err.message}",
                where=f"{ref} in {self.tracking_uri}",
                hint="list versions in the MLflow UI, or run `skewguard retrain` first",
            ) from err
        return RegisteredModel(
            name=ref.name,
            version=str(version.version),
            run_id=str(version.run_id),
            lineage=self._lineage(str(version.run_id), str(ref)),
            aliases=tuple(getattr(version, "aliases", ()) or ()),
        )

    def champion(self, name: str, alias: str = CHAMPION) -> RegisteredModel | None:
        """The version `alias` names, or None while there is none."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None
        return self.resolve(ModelRef(name, alias=alias))

    def feature_service_of(self, model: RegisteredModel) -> str:
        """The feature service Feast's resolver names for this version (it also checks that
        the service still serves the features the model was logged with)."""
        from feast.mlflow_integration.model_resolver import FeastMlflowModelResolutionError

        try:
            return str(self.feast.resolve_features(f"models:/{model.name}/{model.version}"))
        except FeastMlflowModelResolutionError as err:
            raise ServiceMismatch(str(err)) from err

    def load(self, model: RegisteredModel) -> TrainedModel:
        """The scoring model of a registered version (scikit-learn flavour + model.json)."""
        import mlflow.sklearn

        from skewguard.loop.model import TrainedModel

        pipeline = mlflow.sklearn.load_model(model.uri)
        metadata = self._artifact_json(model.run_id, MODEL_JSON_ARTIFACT, model.uri)
        return TrainedModel(pipeline=pipeline, metadata=metadata)

    def _lineage(self, run_id: str, where: str) -> Lineage:
        try:
            document = self._artifact_json(run_id, LINEAGE_ARTIFACT, where)
        except InputError:
            document = {}
        if not document:
            # A model registered elsewhere: no lineage at all, every item is a gap.
            return Lineage.from_dict({"schema_version": 1}, where=where)
        return Lineage.from_dict(document, where=f"{where}: {LINEAGE_ARTIFACT}")

    def _artifact_json(self, run_id: str, path: str, where: str) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        try:
            with tempfile.TemporaryDirectory() as tmp:
                local = self.mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=path, dst_path=tmp, tracking_uri=self.tracking_uri
                )
                return dict(json.loads(Path(local).read_text()))
        except (MlflowException, OSError, ValueError) as err:
            raise InputError(
                f"cannot read the run artifact {path}: {err}",
                where=where,
                hint="register models with `skewguard retrain`, which stores their lineage",
            ) from err


class LineageIncomplete(SkewguardError):
    """A model version whose lineage is incomplete cannot be made champion."""

    def __init__(self, model: RegisteredModel, gaps: list[str]) -> None:
        self.model = model
        self.gaps = gaps
        super().__init__(
            f"incomplete lineage: {'; '.join(gaps)}",
            where=model.uri,
            hint="retrain with `skewguard retrain`, which records the whole lineage",
        )


class ServiceMismatch(Exception):
    """Feast's resolver found the model's features and the service's apart."""
