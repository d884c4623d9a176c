"""`skewguard parity`: online now against offline point-in-time now, before any traffic.

Samples entity rows, reads the online store as serving would and the offline store's
point-in-time values for the same moment, and classifies every difference with the
replay's causes (`skewguard.serving.parity`). Any difference blocks.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from skewguard.commands._common import REPO_HELP, SERVICE_HELP, positive_int, utc_time
from skewguard.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa
    from feast import FeatureStore

    from skewguard.report.model import Report

__all__ = ["register", "run"]

DEFAULT_ENTITIES = 1000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parity",
        help="compare the online store with the offline store now, for sampled entities "
        "(the gate before any traffic exists)",
        description=(
            "Sample N entity rows (from the offline sources of the feature service's views, "
            "or from --entities-from), read the online store for them (Feast "
            "get_online_features) and the offline store's point-in-time values for the same "
            "moment (get_historical_features at --at, default now), and compare feature by "
            "feature with the replay's causes: stale_online, ttl_exceeded, missing_online, "
            "scale, on_demand_transformation... Any difference blocks. Needs no serving logs."
        ),
        epilog="Exit codes: 0 every compared value agrees, 1 block (any online/offline "
        "difference), 2 could not evaluate (no repo, Redis or the offline store unreachable, "
        "no entities, nothing to compare).",
    )
    p.add_argument("--repo", default=None, metavar="DIR", help=REPO_HELP)
    p.add_argument("--feature-service", default=None, metavar="NAME", help=SERVICE_HELP)
    p.add_argument(
        "--entities",
        type=positive_int,
        default=DEFAULT_ENTITIES,
        metavar="N",
        help=f"entity rows to sample (default {DEFAULT_ENTITIES})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    p.add_argument(
        "--entities-from",
        type=Path,
        default=None,
        metavar="PATH",
        help="draw the entity rows from this training snapshot or parquet file/folder with "
        "the join keys (default: the offline sources, keys with a row inside the TTL)",
    )
    p.add_argument(
        "--at",
        type=utc_time,
        default=None,
        metavar="TIME",
        help="the moment the offline values are taken at and TTLs are judged at (ISO; "
        "default: now). Online values are always the store's current ones",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write the Markdown report here")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    p.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report here")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from skewguard import __version__
    from skewguard.report.files import ReportPaths, write_reports
    from skewguard.report.replay_note import replay_note
    from skewguard.report.summary import render_summary
    from skewguard.serving.parity import parity_report, run_parity
    from skewguard.store.repo import choose_feature_service, open_store

    at = args.at or datetime.now(UTC)
    store = open_store(args.repo)
    service = choose_feature_service(store, args.feature_service)
    entities, source = _entities(store, service, args, at)
    parity = run_parity(store, service, entities, at, entities_from=source)
    report = parity_report(parity, skewguard_version=__version__)
    paths = ReportPaths(json=args.json, markdown=args.markdown, junit=args.junit, html=args.html)
    written = write_reports(report, paths)
    if not args.quiet:
        head, _, rest = render_summary(report).partition("\n")
        head = head.replace("skewguard check", "skewguard parity", 1)
        n = parity.result.replayed_rows
        rest = rest.replace(
            f"training rows {n}, serving rows {n}", f"{n} entities, online against offline"
        )
        print(head + ("\n" + rest if rest else ""))
        print(f"  {replay_note(report.to_dict())}")
        for feature in parity.result.features:
            if feature.causes:
                top = ", ".join(f"{c.cause} {c.count}" for c in feature.causes[:2])
                print(f"  {feature.name}: {feature.diff_count} of {feature.rows} differ ({top})")
        for what, path in written:
            print(f"  {what} report: {path}")
    return _exit_code(report)


def _entities(
    store: FeatureStore, service: str, args: argparse.Namespace, at: datetime
) -> tuple[pa.Table, str]:
    """The entity rows to compare and, in words, where they came from."""
    from skewguard.serving.layout import describe_log
    from skewguard.store.entities import entities_from_table, read_entity_table, sample_entities
    from skewguard.store.service import describe_service

    spec = describe_service(store, service)
    request_fields = list(describe_log(store, service).request_fields)
    if args.entities_from is None:
        if request_fields:
            raise _needs_request_data(service, request_fields)
        table = sample_entities(store, spec, args.entities, seed=args.seed, at=at)
        return table, "the offline sources"
    columns = [*spec.join_keys, *request_fields]
    table = read_entity_table(args.entities_from, columns)
    picked = entities_from_table(
        table, columns, args.entities, seed=args.seed, where=str(args.entities_from)
    )
    return picked, str(args.entities_from)


def _needs_request_data(service: str, fields: list[str]) -> InputError:
    return InputError(
        f"feature service {service!r} needs request data {fields} that no offline source holds",
        where="--entities-from",
        hint="pass --entities-from FILE with the join keys and those columns",
    )


def _exit_code(report: Report) -> int:
    code = int(report.exit_code)
    if code == 2:
        print(
            "skewguard parity: could not evaluate: some features had no value on either side "
            "for any sampled entity. Hint: sample more entities (--entities) or check that the "
            "repo is materialized",
            file=sys.stderr,
        )
    return code
