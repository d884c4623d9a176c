"""The serving logs of one server process: which requests are logged, and their writers.

`ServingLogs` decides, for each response the feature server serves, whether it goes to a
serving log: a request that names a feature service (`"feature_service"`) whose
`LoggingConfig` declares a destination is logged through a `FeatureLogger` (sampled at the
service's rate, or `LogOptions.sample_rate`); a request with a `"features"` list names no
service, so its rows belong to no service's log and it is served without logging, as is a
request for a service that declares no logging. Both are counted.

`open()` runs once per server process (after a fork, never before) and starts the
writers; `close()` flushes every accepted row.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewguard.errors import SkewguardError
from skewguard.serving.writer import WriterConfig

if TYPE_CHECKING:
    from feast import FeatureStore
    from feast.online_response import OnlineResponse

    from skewguard.serving.layout import LogLayout
    from skewguard.serving.logger import EntityRows, FeatureLogger

__all__ = ["LogOptions", "ServingLogs"]

# uvicorn turns SIGTERM into a graceful shutdown that closes the logs: the writers must not
# install their own handler.
SERVER_WRITER_CONFIG = WriterConfig(handle_sigterm=False)


@dataclass(frozen=True)
class LogOptions:
    """How a server logs: writer settings, an optional sample rate, and where to."""

    writer: WriterConfig = field(default_factory=lambda: SERVER_WRITER_CONFIG)
    sample_rate: float | None = None  # None: each service's LoggingConfig.sample_rate
    log_root: Path | None = None  # None: each service's FileLoggingDestination
    services: tuple[str, ...] | None = None  # None: every service with a LoggingConfig
    seed: int | None = None  # repeatable sampling (tests)


class ServingLogs:
    """Logs served responses per feature service; counts the requests it does not log."""

    def __init__(self, store: FeatureStore, options: LogOptions) -> None:
        self.store = store
        self.options = options
        self.logger: FeatureLogger | None = None
        self._lock = threading.Lock()
        self._features_list = 0
        self._without_logging = 0

    def layouts(self) -> list[LogLayout]:
        """The log layout of every service this server logs (errors name a bad service)."""
        from skewguard.serving.layout import describe_log
        from skewguard.store.repo import get_feature_service

        wanted = self.options.services
        if wanted is not None:
            for name in wanted:
                get_feature_service(self.store, name)  # raises, listing the services
            names = list(wanted)
        else:
            names = [
                s.name for s in self.store.list_feature_services() if s.logging_config is not None
            ]
        return [describe_log(self.store, name, self.options.log_root) for name in names]

    def open(self) -> None:
        """Start the writers of every logged service (once per server process)."""
        from skewguard.serving.logger import FeatureLogger

        self.logger = FeatureLogger(
            self.store,
            writer_config=self.options.writer,
            sample_rate=self.options.sample_rate,
            seed=self.options.seed,
            log_root=self.options.log_root,
            only_services=self.options.services,
        )
        for layout in self.layouts():
            self.logger.layout(layout.service)

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()

    def now(self) -> datetime:
        return self.logger.clock() if self.logger is not None else datetime.now(UTC)

    def record(
        self,
        features: Any,
        response: OnlineResponse,
        entity_rows: EntityRows,
        *,
        full_feature_names: bool,
        request_time: datetime,
        request_id: str,
        corrected_statuses: bool,
    ) -> bool:
        """Log one served response when it belongs to a logged service; True if logged.

        `features` is what Feast served: a FeatureService, or a list of feature references.
        """
        from feast import FeatureService

        if not isinstance(features, FeatureService):
            with self._lock:
                self._features_list += 1
            return False
        if self.logger is None:
            raise SkewguardError(
                "the serving logs are not open",
                where=features.name,
                hint="serve the app through its lifespan (uvicorn or gunicorn start it)",
            )
        logged = self.logger.record(
            features,
            response,
            entity_rows,
            full_feature_names=full_feature_names,
            request_time=request_time,
            request_id=request_id,
            corrected_statuses=corrected_statuses,
        )
        if not logged and self.logger.layout(features).folder is None:
            with self._lock:
                self._without_logging += 1
        return logged

    def readiness(self) -> dict[str, dict[str, Any]]:
        """Per logged service: can its writer keep answered rows (`ok`), and why not."""
        if self.logger is None:
            return {"*": {"ok": False, "detail": "the serving logs are not open"}}
        return {
            name: {"ok": problem is None, "detail": problem}
            for name, problem in self.logger.problems().items()
        }

    def counters(self) -> dict[str, Any]:
        """Writer counters per service, and the requests served without logging."""
        stats = self.logger.stats() if self.logger is not None else {}
        with self._lock:
            not_logged = {
                "features_list": self._features_list,
                "service_without_logging": self._without_logging,
            }
        return {
            "serving_logs": {name: s.to_dict() for name, s in stats.items()},
            "requests_not_logged": not_logged,
        }
