"""Running the feature-server app as `feast serve` runs its own: gunicorn, uvicorn workers.

`run_server` mirrors `feast.feature_server.start_server` for an app built elsewhere: the
same TLS pair check, Prometheus metrics server (`metrics`, or `feature_server.metrics` in
`feature_store.yaml`), authorization managers from `auth` in `feature_store.yaml`, and
gunicorn with uvicorn workers and the same settings (bind, access log, workers, worker
connections, max requests and jitter, keep-alive, TLS key and cert). The worker is
`uvicorn_worker.UvicornWorker` with a deadline on request headers
(`skewguard.serving.protocol.GuardedUvicornWorker`).
"""

from __future__ import annotations

import gc
import multiprocessing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skewguard.errors import InputError
from skewguard.serving.limits import DEFAULT_HEADER_TIMEOUT

if TYPE_CHECKING:
    from fastapi import FastAPI
    from feast import FeatureStore

__all__ = ["ServerOptions", "run_server", "worker_count"]


@dataclass(frozen=True)
class ServerOptions:
    """`feast serve`'s options, with its defaults."""

    host: str = "127.0.0.1"
    port: int = 6566
    workers: int = 1
    worker_connections: int = 1000
    max_requests: int = 1000
    max_requests_jitter: int = 50
    keep_alive_timeout: int = 30
    access_log: bool = True
    tls_key_path: str = ""
    tls_cert_path: str = ""
    metrics: bool = False
    header_timeout: float | None = DEFAULT_HEADER_TIMEOUT  # None: wait forever (as feast)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_key_path else "http"
        return f"{scheme}://{self.host}:{self.port}"


def worker_count(requested: int) -> int:
    """`--workers -1` means (2 x cores) + 1, as in `feast serve`."""
    return max(1, multiprocessing.cpu_count() * 2 + 1) if requested == -1 else requested


def check_tls_pair(options: ServerOptions) -> None:
    if bool(options.tls_key_path) != bool(options.tls_cert_path):
        raise InputError(
            "a TLS server needs both the key and the certificate",
            where="--key/--cert",
            hint="pass --key KEY.pem and --cert CERT.pem together, or neither",
        )


def run_server(app: FastAPI, store: FeatureStore, options: ServerOptions) -> None:
    """Serve `app` until gunicorn is told to stop (SIGTERM or SIGINT)."""
    from feast import metrics as feast_metrics
    from feast.permissions.server.utils import (
        ServerType,
        init_auth_manager,
        init_security_manager,
        str_to_auth_manager_type,
    )

    check_tls_pair(options)
    metrics_config = getattr(getattr(store.config, "feature_server", None), "metrics", None)
    metrics = options.metrics or bool(getattr(metrics_config, "enabled", False))
    if metrics:
        feast_metrics.start_metrics_server(
            store,
            metrics_config=feast_metrics.build_metrics_flags(metrics_config),
            start_resource_monitoring=False,  # per worker, after the fork
            start_freshness_monitoring=False,
        )
    auth_type = str_to_auth_manager_type(store.config.auth_config.type)
    init_security_manager(auth_type=auth_type, fs=store)
    init_auth_manager(
        auth_type=auth_type, server_type=ServerType.REST, auth_config=store.config.auth_config
    )
    settings: dict[str, Any] = {
        "bind": f"{options.host}:{options.port}",
        "accesslog": "-" if options.access_log else None,
        "workers": options.workers,
        "worker_connections": options.worker_connections,
        "max_requests": options.max_requests,
        "max_requests_jitter": options.max_requests_jitter,
        "keepalive": options.keep_alive_timeout,
    }
    if options.tls_key_path:
        settings["keyfile"] = options.tls_key_path
        settings["certfile"] = options.tls_cert_path
    from skewguard.serving.protocol import HeaderTimeoutProtocol

    # Set in the master, inherited by every worker it forks.
    HeaderTimeoutProtocol.header_timeout = options.header_timeout
    # Objects made so far are shared by every worker: frozen, the collector never scans
    # them (and copy-on-write pages stay shared).
    gc.collect()
    gc.freeze()
    _application(app, store, settings, metrics).run()


def _application(app: FastAPI, store: FeatureStore, settings: dict[str, Any], metrics: bool) -> Any:
    import functools

    import gunicorn.app.base
    from feast.feature_server import _gunicorn_child_exit, _gunicorn_post_worker_init

    class FeatureServerApplication(gunicorn.app.base.BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)
            # Feast's worker, with a deadline on request headers (skewguard.serving.protocol).
            self.cfg.set("worker_class", "skewguard.serving.protocol.GuardedUvicornWorker")
            if metrics:
                per_worker = functools.partial(_gunicorn_post_worker_init, store)
                self.cfg.set("post_worker_init", per_worker)
                self.cfg.set("child_exit", _gunicorn_child_exit)

        def load(self) -> FastAPI:
            return app

    return FeatureServerApplication()
