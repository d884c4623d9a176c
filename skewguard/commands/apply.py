"""`skewguard apply`: register the feature repo (Feast's `apply`, in-process)."""

from __future__ import annotations

import argparse

from skewguard.commands._common import add_repo_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("apply", help="register the feature repo's objects (feast apply)")
    add_repo_args(p, service=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.store.repo import apply_repo

    store = apply_repo(args.repo)
    services = ", ".join(fs.name for fs in store.list_feature_services())
    print(f"applied {store.repo_path} (project {store.project}); feature services: {services}")
    return 0
