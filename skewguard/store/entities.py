"""Entity rows to look up when no serving logs exist yet: sampled, seeded, repeatable.

Two sources. The offline sources of the feature service's views: the join-key values
each view's source holds inside its TTL before the moment `at` (all rows up to `at` when
that window is empty). Or a table given (a training snapshot, labels, any parquet with
the join keys): its distinct join-key rows, at most N of them.

Views are taken with the most join keys first; a key a view shares with an earlier view
keeps the earlier view's values, so a compound-key view gives real key pairs. Keys of
different views are paired at random. When a key has fewer distinct values than the
number of rows asked for, its values repeat (shuffled): N rows are always returned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from skewguard.errors import InputError

if TYPE_CHECKING:
    from feast import FeatureStore

    from skewguard.store.service import ServiceSpec

__all__ = ["sample_entities", "entities_from_table", "read_entity_table"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sample_entities(
    store: FeatureStore, spec: ServiceSpec, size: int, *, seed: int, at: datetime
) -> pa.Table:
    """`size` entity rows of `spec`'s join keys drawn from its views' offline sources."""
    from feast.infra.offline_stores.offline_utils import get_offline_store_from_config

    offline = get_offline_store_from_config(store.config.offline_store)
    names = dict.fromkeys(f.view for f in spec.features if not f.on_demand)
    views = sorted(
        (store.get_feature_view(name) for name in names), key=lambda v: -len(v.join_keys)
    )
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {}
    for view in views:
        keys = [k for k in view.join_keys if k not in columns]
        if not keys:
            continue
        source = view.batch_source
        if source is None:  # a stream-only view: nothing offline to sample from
            continue
        distinct = pa.table({})
        starts = [at - view.ttl] if view.ttl else []
        for start in [*starts, _EPOCH]:
            job = offline.pull_all_from_table_or_query(
                config=store.config,
                data_source=source,
                join_key_columns=list(view.join_keys),
                feature_name_columns=[],
                timestamp_field=source.timestamp_field,
                created_timestamp_column=source.created_timestamp_column or None,
                start_date=start,
                end_date=at,
            )
            distinct = _distinct(job.to_arrow(), keys)
            if distinct.num_rows:
                break
        if not distinct.num_rows:
            raise InputError(
                f"the offline source of view {view.name!r} has no rows up to {at.isoformat()}",
                where=str(getattr(source, "path", source.name)),
                hint="generate or load the source data, or pass --at a later moment",
            )
        picked = _pick(distinct, size, rng)
        for key in keys:
            columns[key] = picked.column(key).combine_chunks()
    missing = [k for k in spec.join_keys if k not in columns]
    if missing:
        raise InputError(
            f"no feature view of {spec.name!r} provides join key(s) {missing}",
            where=spec.name,
            hint="pass --entities-from FILE with those columns",
        )
    return pa.table({k: columns[k] for k in spec.join_keys})


def entities_from_table(
    table: pa.Table, columns: list[str], size: int, *, seed: int, where: str
) -> pa.Table:
    """`size` rows of `table`'s distinct `columns` (join keys and request data), seeded;
    all of them, each once, when it has fewer."""
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(
            f"the entity table lacks column(s) {missing}",
            where=where,
            hint="pass a training snapshot or a parquet file with the service's join keys",
        )
    distinct = _distinct(table, columns)
    if not distinct.num_rows:
        raise InputError("the entity table has no rows", where=where, hint="pass a non-empty one")
    return _pick(distinct, min(size, distinct.num_rows), np.random.default_rng(seed))


def read_entity_table(path: Path, columns: list[str]) -> pa.Table:
    """The named columns of a parquet file or folder (a training snapshot, labels)."""
    import pyarrow.dataset as ds

    from skewguard.checking.reading import open_parquet

    source = open_parquet(path)
    dataset = ds.dataset(
        [str(f) for f in source.files], format="parquet", filesystem=source.filesystem
    )
    present = [c for c in columns if c in dataset.schema.names]
    return dataset.to_table(columns=present)


def _distinct(table: pa.Table, keys: list[str]) -> pa.Table:
    """Distinct key rows without nulls, sorted (the offline store's order is no order)."""
    subset = table.select(keys).drop_null()
    distinct = subset.group_by(keys, use_threads=False).aggregate([])
    return distinct.sort_by([(k, "ascending") for k in keys])


def _pick(distinct: pa.Table, size: int, rng: np.random.Generator) -> pa.Table:
    n = distinct.num_rows
    if size <= n:
        rows: Any = rng.choice(n, size=size, replace=False)  # random order: random pairs
    else:
        repeats = -(-size // n)
        rows = np.concatenate([rng.permutation(n) for _ in range(repeats)])[:size]
    return distinct.take(pa.array(rows))
