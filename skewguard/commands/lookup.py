"""`skewguard lookup`: online features for entities, straight from Redis."""

from __future__ import annotations

import argparse
import json

from skewguard.commands._common import add_repo_args
from skewguard.errors import InputError


def _entity(text: str) -> dict[str, int | str]:
    row: dict[str, int | str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{text!r}: use key=value[,key=value]")
        row[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    return row


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lookup", help="look features up online (Redis)")
    add_repo_args(p)
    p.add_argument(
        "--entity",
        action="append",
        type=_entity,
        required=True,
        help="join keys of one entity row, e.g. customer_id=1,product_id=3 (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the response as JSON")
    p.add_argument(
        "--fast-read",
        action="store_true",
        help="read straight from Redis, bypassing Feast's SDK (the same answer; what it does "
        "not support goes to Feast, said on stderr; docs/foundation.md)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard.store.online import lookup
    from skewguard.store.repo import choose_feature_service, open_store
    from skewguard.store.tables import feature_table

    keys = {tuple(sorted(row)) for row in args.entity}
    if len(keys) != 1:
        raise InputError(
            "every --entity must name the same join keys",
            where="--entity",
            hint="e.g. --entity customer_id=1,product_id=3 --entity customer_id=2,product_id=5",
        )
    store = open_store(args.repo)
    service = choose_feature_service(store, args.feature_service)
    response = lookup(store, service, args.entity, fast_read=args.fast_read)
    print(json.dumps(response, default=str) if args.json else feature_table(response))
    return 0
