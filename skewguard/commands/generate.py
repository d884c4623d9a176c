"""`skewguard generate`: write the synthetic parquet sources into the repo's data folder."""

from __future__ import annotations

import argparse

from skewguard.commands._common import add_repo_args, utc_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate the deterministic demo data (parquet)")
    add_repo_args(p, service=False)
    p.add_argument("--customers", type=int, default=400)
    p.add_argument("--products", type=int, default=150)
    p.add_argument("--days", type=int, default=42, help="length of the simulated window")
    p.add_argument("--events-per-day", type=int, default=150, help="labelled interactions per day")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--end", type=utc_time, default=None, help="end of the window (default: today 00:00 UTC)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.repo import data_dir, find_repo

    config = GeneratorConfig(
        customers=args.customers,
        products=args.products,
        days=args.days,
        events_per_day=args.events_per_day,
        seed=args.seed,
        end=args.end,
    )
    result = generate(data_dir(find_repo(args.repo)), config)
    print(f"generated {result.start:%Y-%m-%d} .. {result.end:%Y-%m-%d} into {result.folder}")
    for name, rows in result.rows.items():
        print(f"  {name:<17} {rows:>10,} rows")
    return 0
