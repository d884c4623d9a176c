"""The joined replay wherever it can run: try it, and say why when it cannot.

`skewguard check` replays the logged requests through the offline store by default when it
can find the feature repo (`skewguard.store.location`: no Feast import for that). When
the replay cannot run, the check goes on with the distribution checks alone and the
report says why (`ReplayStatus`), unless the replay was asked for explicitly (`--replay`):
then the reason is raised as the package's error (exit 2).

Cheap reasons are settled before Feast is imported, so a check from parquet files with
no feature repo costs what it always did: no repo found, a repo never applied (its local
registry file does not exist: Feast would create an empty one inside the repo), or
serving data that is not in Feast's logging schema (no request time, no request id).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import FeatureRepoError, InputError, OnlineStoreError, SkewguardError
from skewguard.logschema import LOG_TIMESTAMP, REQUEST_ID

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.checking.joined import ReplayResult
    from skewguard.checking.reading import ServingInput

__all__ = ["ReplaySkip", "ReplayRequest", "ReplayStatus", "replay_if_possible"]


class ReplaySkip(enum.StrEnum):
    """Why the replay did not run."""

    OPTED_OUT = "opted_out"  # --no-replay
    NOT_REQUESTED = "not_requested"  # sg.check(..., replay=None)
    NO_FEATURE_REPO = "no_feature_repo"  # no feature_store.yaml found
    REPO_NOT_APPLIED = "repo_not_applied"  # its local registry file does not exist yet
    LOGS_NOT_REPLAYABLE = "logs_not_replayable"  # not Feast's logging schema of the service
    UNKNOWN_FEATURE_SERVICE = "unknown_feature_service"  # no such service, or which one?
    STORE_UNAVAILABLE = "store_unavailable"  # repo, registry or offline store failed


class ReplayRequest(enum.StrEnum):
    """How the replay came to be tried: by default, asked for, turned off, or by the API."""

    DEFAULT = "default"
    EXPLICIT = "explicit"
    OFF = "off"
    API = "api"


@dataclass(frozen=True)
class ReplayStatus:
    """Whether the replay ran; the report's `replay` section (docs/replay.md)."""

    ran: bool
    requested: ReplayRequest
    reason: ReplaySkip | None = None
    detail: str | None = None
    feature_service: str | None = None
    repo: str | None = None
    logged_rows: int | None = None
    replayed_rows: int | None = None
    seconds: float | None = None

    @classmethod
    def skipped(cls, requested: ReplayRequest, reason: ReplaySkip, detail: str) -> ReplayStatus:
        return cls(ran=False, requested=requested, reason=reason, detail=detail)

    @classmethod
    def from_result(
        cls, result: ReplayResult, requested: ReplayRequest, repo: str | None = None
    ) -> ReplayStatus:
        return cls(
            ran=True,
            requested=requested,
            feature_service=result.feature_service,
            repo=repo,
            logged_rows=result.logged_rows,
            replayed_rows=result.replayed_rows,
            seconds=round(result.seconds, 3),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "mode": "replay",
            "requested": str(self.requested),
            "reason": None if self.reason is None else str(self.reason),
            "detail": self.detail,
            "feature_service": self.feature_service,
            "repo": self.repo,
            "logged_rows": self.logged_rows,
            "replayed_rows": self.replayed_rows,
            "seconds": self.seconds,
        }


# What an error while replaying means for the report: the first class that matches.
_ERROR_REASONS: tuple[tuple[type[SkewguardError], ReplaySkip], ...] = (
    (InputError, ReplaySkip.LOGS_NOT_REPLAYABLE),
    (OnlineStoreError, ReplaySkip.STORE_UNAVAILABLE),
)


def replay_if_possible(
    *,
    requested: ReplayRequest,
    repo: str | Path | None,
    feature_service: str | None,
    serving: str | Path,
    training: Path | None = None,
    sample: int | None = None,
    seed: int = 0,
    announce: Callable[[str], None] | None = None,
) -> tuple[ReplayResult | None, ReplayStatus]:
    """Run the replay if it can run; else (None, the reason). With `requested` EXPLICIT
    every reason is raised instead (exit 2: the replay was asked for and cannot run)."""
    if requested is ReplayRequest.OFF:
        status = ReplayStatus.skipped(requested, ReplaySkip.OPTED_OUT, "--no-replay")
        return None, status
    explicit = requested is ReplayRequest.EXPLICIT

    def skip(reason: ReplaySkip, err: BaseException) -> tuple[None, ReplayStatus]:
        if explicit:
            if isinstance(err, SkewguardError):
                raise err
            raise FeatureRepoError(
                f"the replay failed: {type(err).__name__}: {err}",
                where=str(serving),
                hint="fix the offline store, or drop --replay to check distributions only",
            ) from err
        return None, ReplayStatus.skipped(requested, reason, _one_line(err))

    from skewguard.store.location import locate_repo

    try:
        location = locate_repo(repo)
    except FeatureRepoError as err:
        return skip(ReplaySkip.NO_FEATURE_REPO, err)
    try:
        _check_registry_exists(location.folder, location.config)
    except FeatureRepoError as err:
        return skip(ReplaySkip.REPO_NOT_APPLIED, err)
    try:
        opened = _open_logs(serving)
    except InputError as err:
        return skip(ReplaySkip.LOGS_NOT_REPLAYABLE, err)
    if announce is not None:
        announce(f"replaying the logged requests through the offline store of {location.folder}")
    from skewguard.store.repo import choose_feature_service, open_store

    try:
        store = open_store(location.folder)
    except SkewguardError as err:
        return skip(ReplaySkip.STORE_UNAVAILABLE, err)
    try:
        service = choose_feature_service(store, feature_service or _snapshot_service(training))
    except FeatureRepoError as err:
        return skip(ReplaySkip.UNKNOWN_FEATURE_SERVICE, err)
    except Exception as err:  # the registry could not be read
        return skip(ReplaySkip.STORE_UNAVAILABLE, err)
    try:
        _check_service_columns(store, service, opened, serving)
    except InputError as err:
        return skip(ReplaySkip.LOGS_NOT_REPLAYABLE, err)
    except Exception as err:  # the registry could not be read
        return skip(ReplaySkip.STORE_UNAVAILABLE, err)
    from skewguard.store.replay import read_opened_logs, replay

    try:
        logs = read_opened_logs(opened, serving)
        result = replay(store, service, logs, sample=sample, seed=seed, where=str(serving))
    except Exception as err:  # any failure of the offline store leaves the check standing
        reason = next(
            (r for kind, r in _ERROR_REASONS if isinstance(err, kind)),
            ReplaySkip.STORE_UNAVAILABLE,
        )
        return skip(reason, err)
    return result, ReplayStatus.from_result(result, requested, repo=str(location.folder))


def _check_registry_exists(folder: Path, config: Path) -> None:
    """A local registry file that does not exist means the repo was never applied; Feast
    would create an empty one inside the repo, and a check must not write there."""
    import yaml

    try:
        registry = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("registry")
    except (OSError, yaml.YAMLError, AttributeError):
        return  # Feast itself reports a broken file when it loads it
    if isinstance(registry, dict):
        if registry.get("registry_type", "file") != "file":
            return
        registry = registry.get("path")
    if not isinstance(registry, str) or "://" in registry:
        return  # remote registries are Feast's to reach
    path = Path(registry) if Path(registry).is_absolute() else folder / registry
    if not path.exists():
        raise FeatureRepoError(
            "the feature repo has no registry yet",
            where=str(path),
            hint="run `skewguard apply` (or `feast apply`) in the repo, or pass --no-replay",
        )


def _open_logs(serving: str | Path) -> ServingInput:
    """The serving logs, found and validated; data without a request time and id is not a
    log a replay can join."""
    from skewguard.checking.reading import open_serving

    opened = open_serving(serving if isinstance(serving, Path) else str(serving))
    names = set(opened.data.schema.names)
    missing = [c for c in (LOG_TIMESTAMP, REQUEST_ID) if c not in names]
    if missing:
        raise InputError(
            f"the serving data has no {' or '.join(missing)} column: not Feast's logging schema",
            where=str(serving),
            hint="log with skewguard's logging lookup or server to get replayable logs",
        )
    return opened


def _check_service_columns(
    store: FeatureStore, service: str, opened: ServingInput, serving: str | Path
) -> None:
    """Logs of another service are told from the parquet schema, before any row is read
    (a 10M-row log of the wrong service must not be loaded to find that out)."""
    from skewguard.store.service import describe_service

    spec = describe_service(store, service)
    names = set(opened.data.schema.names)
    missing = [c for c in [*spec.join_keys, *spec.columns] if c not in names]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise InputError(
            f"the serving logs lack column(s) {shown} of feature service {service!r}",
            where=str(serving),
            hint="pass --feature-service with the service these logs belong to",
        )


def _snapshot_service(training: Path | None) -> str | None:
    """The feature service a training snapshot's manifest names, if any."""
    if training is None:
        return None
    from skewguard.checking.reading import open_training

    manifest = open_training(training).manifest
    return manifest.feature_service if manifest else None


def _one_line(err: BaseException) -> str:
    text = str(err) if isinstance(err, SkewguardError) else f"{type(err).__name__}: {err}"
    from skewguard.store.redaction import redact

    return " ".join(redact(text).split())[:500]
