"""`skewguard serve`: a `feast serve`-compatible HTTP feature server that logs what it serves."""

from __future__ import annotations

import argparse

from skewguard.commands._common import add_repo_args, positive_float, positive_int

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6566


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve POST /get-online-features over HTTP, logging every served feature"
    )
    add_repo_args(p)
    p.add_argument("--host", default=DEFAULT_HOST, help=f"bind address (default: {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"(default: {DEFAULT_PORT})")
    p.add_argument(
        "--max-body-bytes", type=positive_int, default=1_048_576, help="larger bodies get 413"
    )
    p.add_argument(
        "--max-entities", type=positive_int, default=1_000, help="more entity rows get 413"
    )
    p.add_argument(
        "--flush-interval",
        type=positive_float,
        default=1.0,
        help="seconds between log writes (default 1)",
    )
    p.add_argument(
        "--flush-rows",
        type=positive_int,
        default=5_000,
        help="also write as soon as this many log rows are buffered (default 5000)",
    )
    p.add_argument(
        "--log-root",
        default=None,
        help="write each service's log to LOG_ROOT/<service> instead of its declared destination",
    )
    p.add_argument("--access-log", action="store_true", help="print one line per request")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    from skewguard.serving.logger import FeatureLogger
    from skewguard.serving.server import ServerLimits, create_app
    from skewguard.serving.writer import WriterConfig
    from skewguard.store.repo import open_store

    store = open_store(args.repo)
    logger = FeatureLogger(
        store,
        writer_config=WriterConfig(flush_interval=args.flush_interval, flush_rows=args.flush_rows),
        log_root=args.log_root,
    )
    # Resolve the default service now: a typo fails here, not on the first request, and
    # its writer (with the atexit and SIGTERM hooks) starts on the main thread.
    layout = logger.layout(args.feature_service)
    app = create_app(
        logger, ServerLimits(max_body_bytes=args.max_body_bytes, max_entities=args.max_entities)
    )
    where = layout.folder or "nowhere (the feature service declares no logging)"
    # Start-up objects (Feast, pandas, the registry) never die: keep the garbage collector
    # from scanning them again and again while serving, a visible cost at p99.
    gc.collect()
    gc.freeze()
    print(f"skewguard serve: http://{args.host}:{args.port}  logs of {layout.service} -> {where}")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=args.access_log,
        timeout_graceful_shutdown=10,
    )
    return 0
