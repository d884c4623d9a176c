"""`skewguard serve`: `feast serve`, with every served feature service's lookups logged.

Takes `feast serve`'s options, short forms included (`-h` is the host, as in Feast; help is
`--help`), and adds the logging options. docs/logging.md describes the server.
"""

from __future__ import annotations

import argparse
import math

from skewguard.commands._common import add_repo_args, positive_float, positive_int, rate

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6566


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="feast serve, with every request of a logged feature service logged",
        description="Feast's feature server (every endpoint and option of `feast serve`) "
        "that also writes each sampled get-online-features request of a feature service with "
        "a logging_config to that service's log, in Feast's logging schema. Additions and "
        "the comparison with feast serve: docs/logging.md.",
        add_help=False,
    )
    p.add_argument("--help", action="help", help="show this help message and exit")
    add_repo_args(p, service=False)
    feast = p.add_argument_group("feast serve's options")
    feast.add_argument(
        "-h", "--host", default=DEFAULT_HOST, help=f"bind address (default: {DEFAULT_HOST})"
    )
    feast.add_argument(
        "-p", "--port", type=int, default=DEFAULT_PORT, help=f"(default: {DEFAULT_PORT})"
    )
    feast.add_argument(
        "-t", "--type", default="http", choices=["http"], help="server type (only http)"
    )
    feast.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        default=True,
        help="do not print one line per request",
    )
    feast.add_argument(
        "-w",
        "--workers",
        type=int,
        default=1,
        help="worker processes; -1: (2 x cores) + 1 (default: 1)",
    )
    feast.add_argument(
        "--worker-connections", type=int, default=1000, help="clients per worker (default: 1000)"
    )
    feast.add_argument(
        "--max-requests",
        type=int,
        default=1000,
        help="requests a worker serves before it is restarted; 0: never (default: 1000)",
    )
    feast.add_argument("--max-requests-jitter", type=int, default=50, help="(default: 50)")
    feast.add_argument("--keep-alive-timeout", type=int, default=30, help="seconds (default: 30)")
    feast.add_argument(
        "-r",
        "--registry_ttl_sec",
        "--registry-ttl-sec",
        dest="registry_ttl_sec",
        type=int,
        default=60,
        help="seconds between registry refreshes (default: 60)",
    )
    feast.add_argument("-k", "--key", default="", help="TLS private key (with --cert)")
    feast.add_argument("-c", "--cert", default="", help="TLS certificate (with --key)")
    feast.add_argument(
        "-m", "--metrics", action="store_true", help="start Feast's Prometheus metrics server"
    )
    ours = p.add_argument_group("logging (skewguard)")
    ours.add_argument(
        "--feature-service",
        action="append",
        default=None,
        metavar="NAME",
        help="log only this feature service (repeatable; default: every service with a "
        "logging_config)",
    )
    ours.add_argument(
        "--sample-rate",
        type=rate,
        default=None,
        help="share of requests logged, 0-1 (default: each service's LoggingConfig.sample_rate)",
    )
    ours.add_argument(
        "--flush-interval",
        type=positive_float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between log writes (default 1)",
    )
    ours.add_argument(
        "--flush-rows",
        type=positive_int,
        default=5_000,
        help="also write as soon as this many log rows are buffered (default 5000)",
    )
    ours.add_argument(
        "--log-root",
        default=None,
        help="write each service's log to LOG_ROOT/<service> instead of its declared destination",
    )
    ours.add_argument(
        "--access-log",
        dest="access_log",
        action="store_true",
        help="print one line per request (the default; the opposite of --no-access-log)",
    )
    ours.add_argument(
        "--max-body-bytes",
        type=_off_or_positive_int,
        default=4 << 20,
        help="answer 413 to larger bodies; 0: no limit, as feast serve (default: 4194304)",
    )
    ours.add_argument(
        "--header-timeout",
        type=_off_or_seconds,
        default=10.0,
        metavar="SECONDS",
        help="answer 408 and close a connection whose request headers take longer; "
        "0: wait forever, as feast serve (default: 10)",
    )
    ours.add_argument(
        "--body-timeout",
        type=_off_or_seconds,
        default=30.0,
        metavar="SECONDS",
        help="answer 408 to a request body that takes longer to arrive; 0: wait forever "
        "(default: 30)",
    )
    ours.add_argument(
        "--max-entities",
        type=positive_int,
        default=None,
        help="answer 413 to requests with more entity rows (default: no limit)",
    )
    ours.add_argument(
        "--fast-read",
        action="store_true",
        help="look feature services up straight from Redis, bypassing Feast's SDK: the "
        "same answer, faster; what it does not support goes to Feast, said once on stderr "
        "(docs/foundation.md)",
    )
    scoring = p.add_argument_group("scoring (skewguard)")
    scoring.add_argument(
        "--model",
        default=None,
        metavar="URI",
        help="also serve POST /predict with this registered model (models:/NAME@champion, "
        "resolved once at start-up): look up, score, log the features and the prediction "
        "under one request id (docs/lineage.md)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from skewguard.serving.launch import ServerOptions, check_tls_pair, run_server, worker_count
    from skewguard.serving.limits import RequestLimits
    from skewguard.serving.logs import SERVER_WRITER_CONFIG, LogOptions
    from skewguard.serving.server import create_app
    from skewguard.store.repo import open_store

    options = ServerOptions(
        host=args.host,
        port=args.port,
        workers=worker_count(args.workers),
        worker_connections=args.worker_connections,
        max_requests=args.max_requests,
        max_requests_jitter=args.max_requests_jitter,
        keep_alive_timeout=args.keep_alive_timeout,
        access_log=args.access_log,
        tls_key_path=args.key,
        tls_cert_path=args.cert,
        metrics=args.metrics,
        header_timeout=args.header_timeout,
    )
    check_tls_pair(options)
    store = open_store(args.repo)
    from dataclasses import replace

    log_options = LogOptions(
        writer=replace(
            SERVER_WRITER_CONFIG, flush_interval=args.flush_interval, flush_rows=args.flush_rows
        ),
        sample_rate=args.sample_rate,
        log_root=Path(args.log_root) if args.log_root else None,
        services=tuple(args.feature_service) if args.feature_service else None,
    )
    app = create_app(
        store,
        log_options=log_options,
        limits=RequestLimits(
            max_body_bytes=args.max_body_bytes,
            max_entities=args.max_entities,
            body_timeout=args.body_timeout,
            header_timeout=args.header_timeout,
        ),
        registry_ttl_sec=args.registry_ttl_sec,
        freeze_gc=True,
        fast_read=args.fast_read,
    )
    served = _add_model(app, store, args, log_options) if args.model else None
    layouts = app.state.serving_logs.layouts()  # a bad service or destination fails here
    print(f"skewguard serve: {options.url} ({options.workers} worker(s))", flush=True)
    if args.fast_read:
        print("  feature services read through the fast read path (--fast-read)", flush=True)
    for layout in layouts:
        print(f"  logs of {layout.service} -> {layout.folder}", flush=True)
    if not layouts:
        print("  no feature service declares a logging_config: nothing is logged", flush=True)
    if served is not None:
        model, folder = served
        print(f"  POST /predict with {model.uri} ({model.feature_service}) -> {folder}", flush=True)
    run_server(app, store, options)
    return 0


def _off_or_positive_int(text: str) -> int | None:
    """argparse type: 0 for no limit (None), else a whole number of at least 1."""
    return None if text.strip() == "0" else positive_int(text)


def _off_or_seconds(text: str) -> float | None:
    """argparse type: 0 for no timeout (None), else a finite number of seconds above 0."""
    if text.strip() in {"0", "0.0"}:
        return None
    value = positive_float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: use a finite number of seconds, or 0")
    return value


def _add_model(app, store, args: argparse.Namespace, log_options):  # noqa: ANN001, ANN202
    """Load the registered model (before the fork) and add POST /predict."""
    from skewguard.loop.registry import Registry
    from skewguard.serving.layout import describe_log
    from skewguard.serving.limits import RequestLimits
    from skewguard.serving.predict_route import ServedModel, add_predict_route
    from skewguard.serving.predictions import PredictionLog

    registry = Registry.open(store=store)
    registered = registry.resolve(args.model)
    service = registered.lineage.feature_service
    if not service:
        from skewguard.errors import InputError

        raise InputError(
            "the model's lineage names no feature service",
            where=registered.uri,
            hint="serve a model registered by `skewguard retrain`",
        )
    model = ServedModel(
        name=registered.name,
        version=registered.version,
        uri=registered.uri,
        feature_service=service,
        scorer=registry.load(registered),
    )
    layout = describe_log(store, service, log_options.log_root)
    predictions = PredictionLog(layout, model.name, model.version, log_options.writer)
    limits = RequestLimits(args.max_body_bytes, args.max_entities)
    add_predict_route(app, store, app.state.serving_logs, model, predictions, limits)
    return model, predictions.folder
