"""The latest offline row of each entity in a time window, as bounded Arrow batches.

Semantics are Feast's: rows with start <= event time <= end, and per entity key the row
with the newest event time, ties broken by the newest created time (Feast's
`pull_latest_from_table_or_query`, which its local engine reproduces with a sort).

Offline stores built on ibis (Feast's DuckDB store and skewguard's ASOF store) hand back
a query, not rows. For those, `pull_all_from_table_or_query` gives the query of the
window, Feast's own `deduplicate` keeps the newest row per key, and DuckDB streams the
result in record batches. The deduplication holds the rows it ranks in memory, so when
the window has more than `rows_per_pass` rows the entities are split into that many
hash buckets of their join keys and deduplicated one bucket per pass: memory stays that
of `rows_per_pass` rows whatever the table's size. Any other offline store is asked for
`pull_latest_from_table_or_query` and its result is cut into batches.
"""

from __future__ import annotations

import functools
import math
import operator
import queue
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TypeVar

import ibis
import pyarrow as pa
from feast.data_source import DataSource
from feast.infra.offline_stores.ibis import IbisRetrievalJob, deduplicate
from feast.infra.offline_stores.offline_store import OfflineStore
from feast.repo_config import RepoConfig

__all__ = ["latest_rows", "prefetched"]

T = TypeVar("T")
_DONE = object()


def latest_rows(
    offline_store: OfflineStore,
    config: RepoConfig,
    source: DataSource,
    join_keys: list[str],
    features: list[str],
    timestamp_field: str,
    created_timestamp_column: str | None,
    start: datetime,
    end: datetime,
    *,
    batch_size: int,
    rows_per_pass: int,
) -> Iterator[pa.RecordBatch]:
    """Record batches (at most batch_size rows) of the latest row per entity key."""
    window = offline_store.pull_all_from_table_or_query(
        config=config,
        data_source=source,
        join_key_columns=join_keys,
        feature_name_columns=features,
        timestamp_field=timestamp_field,
        created_timestamp_column=created_timestamp_column,
        start_date=start,
        end_date=end,
    )
    if isinstance(window, IbisRetrievalJob) and ibis.get_backend(window.table).name == "duckdb":
        yield from _duckdb_passes(
            window.table,
            join_keys,
            timestamp_field,
            created_timestamp_column,
            batch_size=batch_size,
            rows_per_pass=rows_per_pass,
        )
        return
    latest = offline_store.pull_latest_from_table_or_query(
        config=config,
        data_source=source,
        join_key_columns=join_keys,
        feature_name_columns=features,
        timestamp_field=timestamp_field,
        created_timestamp_column=created_timestamp_column,
        start_date=start,
        end_date=end,
    )
    yield from latest.to_arrow().to_batches(max_chunksize=batch_size)


def _bucket(table: ibis.Table, join_keys: list[str], buckets: int) -> ibis.Value:
    digest = functools.reduce(operator.xor, [table[key].hash() for key in join_keys])
    return ((digest % buckets) + buckets) % buckets  # never negative


def _duckdb_passes(
    table: ibis.Table,
    join_keys: list[str],
    timestamp_field: str,
    created_timestamp_column: str | None,
    *,
    batch_size: int,
    rows_per_pass: int,
) -> Iterator[pa.RecordBatch]:
    backend = ibis.get_backend(table)
    rows = int(backend.execute(table.count()))
    passes = max(1, math.ceil(rows / max(rows_per_pass, 1)))
    for bucket in range(passes):
        part = table if passes == 1 else table.filter(_bucket(table, join_keys, passes) == bucket)
        latest = deduplicate(
            table=part,
            group_by_cols=join_keys,
            event_timestamp_col=timestamp_field,
            created_timestamp_col=created_timestamp_column,
        )
        relation = backend.con.sql(backend.compile(latest))
        # duckdb >= 1.4 names it to_arrow_reader; older releases fetch_arrow_reader.
        reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
        yield from reader(batch_size)


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items, produced by a background thread up to `depth` ahead of the consumer.

    DuckDB computes a deduplication pass and decodes batches without holding the GIL, so
    the next batches are read while the current one is encoded and written. Errors of the
    producer are raised in the consumer; leaving the loop early stops the producer.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as err:  # handed to the consumer
            buffer.put(err)

    thread = threading.Thread(target=produce, name="skewguard offline read", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
