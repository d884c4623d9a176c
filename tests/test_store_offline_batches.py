"""The engine reads the rows Feast's pull_latest_from_table_or_query returns, in batches."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyarrow as pa
import pytest

from skewguard.store.offline_batches import latest_rows, prefetched
from skewguard.store.repo import open_store


def sorted_rows(table: pa.Table, key: str) -> list[dict]:
    columns = sorted(table.column_names)
    return table.select(columns).sort_by(key).to_pylist()


@pytest.mark.parametrize("rows_per_pass", [1_000_000, 97, 1])
@pytest.mark.parametrize("view_name", ["customer_profile", "product_stats"])
def test_latest_rows_are_feasts_pull_latest(small_repo, view_name: str, rows_per_pass: int) -> None:
    from feast.utils import _get_column_names

    store = open_store(small_repo.path)
    view = store.get_feature_view(view_name)
    entities = [store.get_entity(name) for name in view.entities]
    keys, features, ts, created = _get_column_names(view, entities)
    offline = store._get_provider().offline_store
    end = small_repo.data.end
    start = end - timedelta(days=9)
    args = (store.config, view.batch_source, keys, features, ts, created, start, end)
    batches = list(latest_rows(offline, *args, batch_size=13, rows_per_pass=rows_per_pass))
    assert all(b.num_rows <= 13 for b in batches)
    ours = pa.Table.from_batches(batches)
    feast = offline.pull_latest_from_table_or_query(
        config=store.config,
        data_source=view.batch_source,
        join_key_columns=keys,
        feature_name_columns=features,
        timestamp_field=ts,
        created_timestamp_column=created,
        start_date=start,
        end_date=end,
    ).to_arrow()
    assert ours.num_rows == feast.num_rows > 10
    assert sorted_rows(ours, keys[0]) == sorted_rows(feast.cast(ours.schema), keys[0])


def test_prefetched_keeps_order_and_raises_the_producers_error() -> None:
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise RuntimeError("offline store went away")

    with pytest.raises(RuntimeError, match="went away"):
        list(prefetched(failing()))


def test_leaving_early_stops_the_producer() -> None:
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    for item in prefetched(endless(), depth=2):
        if item == 5:
            break
    assert threading.active_count() == before
    assert len(produced) <= 5 + 1 + 2 + 1  # at most depth ahead (plus one in hand)
