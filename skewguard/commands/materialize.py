"""`skewguard materialize`: load the latest offline values into Redis."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from skewguard.commands._common import add_repo_args, utc_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("materialize", help="load offline values in a time window into Redis")
    add_repo_args(p, service=False)
    p.add_argument("--end", type=utc_time, default=None, help="window end (default: now)")
    p.add_argument(
        "--start",
        type=utc_time,
        default=None,
        help="window start (default: end minus the longest TTL of the repo's views)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.store.online import materialize
    from skewguard.store.repo import open_store

    store = open_store(args.repo)
    end = args.end or datetime.now(UTC)
    ttls = [fv.ttl for fv in store.list_feature_views() if fv.ttl]
    start = args.start or end - max(ttls, default=timedelta(days=1))
    materialize(store, start, end)
    print(f"materialized {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC")
    return 0
