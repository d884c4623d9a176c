"""`skewguard traffic`: replay simulated browsing through the logging lookup or a server."""

from __future__ import annotations

import argparse
from datetime import timedelta

from skewguard.commands._common import add_repo_args, utc_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("traffic", help="send simulated shopper requests, logging what is served")
    add_repo_args(p)
    p.add_argument("--requests", type=int, default=300, help="how many requests (default 300)")
    p.add_argument(
        "--url",
        default=None,
        help="POST to this server (e.g. http://127.0.0.1:6566) instead of looking up in-process",
    )
    p.add_argument("--end", type=utc_time, default=None, help="window end (default: now)")
    p.add_argument("--window-minutes", type=float, default=10.0, help="window length (default 10)")
    p.add_argument("--customers", type=int, default=400, help="known customer ids 1..N")
    p.add_argument("--products", type=int, default=150, help="product ids 1..N")
    p.add_argument("--seed", type=int, default=11)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.demo.traffic import TrafficConfig, plan_traffic, run_in_process, run_over_http

    plan = plan_traffic(
        TrafficConfig(
            requests=args.requests,
            end=args.end,
            window=timedelta(minutes=args.window_minutes),
            customers=args.customers,
            products=args.products,
            seed=args.seed,
        )
    )
    from skewguard.store.repo import choose_feature_service, open_store

    if args.url:
        service = args.feature_service
        if service is None:  # the server's repo is usually this one
            service = choose_feature_service(open_store(args.repo))
        result = run_over_http(args.url, plan, service)
        print(
            f"sent {result.requests} requests ({result.rows} entity rows) to {args.url} "
            f"in {result.seconds:.1f}s; the server logs them"
        )
        return 0

    from skewguard.serving.logger import FeatureLogger

    store = open_store(args.repo)
    service = choose_feature_service(store, args.feature_service)
    with FeatureLogger(store) as logger:
        result = run_in_process(logger, plan, service)
        logger.flush()
        stats = logger.stats().get(service)
        folder = logger.layout(service).folder
    print(
        f"looked up {result.requests} requests ({result.rows} entity rows) in {result.seconds:.1f}s"
    )
    if stats is not None:
        print(
            f"logged {stats.written} rows in {stats.files} file(s) -> {folder} "
            f"(dropped {stats.dropped})"
        )
    return 0
