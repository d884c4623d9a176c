"""`skewguard snapshot`: point-in-time training data plus manifest for a feature service."""

from __future__ import annotations

import argparse
from pathlib import Path

from skewguard.commands._common import add_repo_args, utc_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="build a training snapshot (parquet + manifest)")
    add_repo_args(p)
    p.add_argument(
        "--labels",
        required=True,
        type=Path,
        help="entity/label frame: parquet or CSV with the join keys and a UTC event_timestamp",
    )
    p.add_argument("--out", required=True, type=Path, help="snapshot folder to write")
    p.add_argument("--since", type=utc_time, default=None, help="keep labels at or after this time")
    p.add_argument("--until", type=utc_time, default=None, help="keep labels before this time")
    p.add_argument("--overwrite", action="store_true", help="replace an existing snapshot folder")
    p.add_argument(
        "--feast-baseline",
        action="store_true",
        help="also save the snapshot's feature metrics as Feast's monitoring baseline (what "
        "`feast monitor run --set-baseline` writes, and Feast's UI compares serving logs with; "
        "docs/feast.md)",
    )
    from skewguard.commands._engine import add_engine_args

    add_engine_args(p, "the reference profile")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.commands._engine import engine_from_args
    from skewguard.store.repo import choose_feature_service, open_store
    from skewguard.store.snapshot import build_snapshot, filter_time_window, read_labels

    engine = engine_from_args(args)
    labels = read_labels(args.labels)
    labels = filter_time_window(labels, args.since, args.until, where=str(args.labels))
    store = open_store(args.repo)
    result = build_snapshot(
        store,
        choose_feature_service(store, args.feature_service),
        labels,
        args.out,
        overwrite=args.overwrite,
        where=str(args.labels),
        engine=engine,
    )
    m = result.manifest
    print(
        f"snapshot {result.path}: {result.rows:,} rows, {len(m['features'])} features, "
        f"{m['time_range']['start']} .. {m['time_range']['end']}"
    )
    print(f"  rows with no feature value inside the TTL: {result.rows_without_features:,}")
    print(f"  content hash: {m['content_hash']}")
    if args.feast_baseline:
        from skewguard.store.feast_baseline import write_feast_baseline

        baseline = write_feast_baseline(store, result.path)
        features = sum(len(names) for names in baseline.views.values())
        print(
            f"  Feast monitoring baseline ({baseline.metric_date}): {features} features of "
            f"{', '.join(baseline.views)}"
            + (
                f"; not measured by Feast: {', '.join(baseline.skipped)}"
                if baseline.skipped
                else ""
            )
        )
    return 0
