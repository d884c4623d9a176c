"""skewguard's ASOF offline store agrees with Feast's file store, and drops no row."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from skewguard.store.repo import apply_repo, data_dir, open_store
from tests.conftest import copy_feature_repo

BATCH_REFS = [
    "customer_profile:avg_order_value",
    "customer_profile:orders_90d",
    "customer_profile:loyalty_tier",
    "customer_profile:recent_categories",
    "product_stats:price",
    "product_stats:discount",
    "product_stats:views_7d",
    "product_stats:in_stock",
]


@pytest.fixture(scope="module")
def file_store_repo(small_repo, tmp_path_factory):
    """The same data and definitions, with Feast's own file offline store."""
    path = copy_feature_repo(
        tmp_path_factory.mktemp("filestore") / "repo", small_repo.project + "f"
    )
    yaml = path / "feature_store.yaml"
    yaml.write_text(
        yaml.read_text().replace(
            "type: skewguard.store.offline_store.AsofDuckDBOfflineStore", "type: file"
        )
    )
    shutil.copytree(
        data_dir(small_repo.path), data_dir(path), ignore=shutil.ignore_patterns("*.db")
    )
    apply_repo(path)
    return path


def _entity_df(small_repo):
    labels = pq.read_table(small_repo.data.interactions).to_pandas()
    entity_df = labels[["customer_id", "product_id", "event_timestamp"]].copy()
    entity_df["row"] = np.arange(len(entity_df))
    return entity_df


def test_same_values_as_feast_file_store_on_every_row_it_returns(small_repo, file_store_repo):
    entity_df = _entity_df(small_repo)
    ours = (
        open_store(small_repo.path)
        .get_historical_features(entity_df=entity_df, features=BATCH_REFS, full_feature_names=True)
        .to_df()
    )
    feast_file = (
        open_store(file_store_repo)
        .get_historical_features(entity_df=entity_df, features=BATCH_REFS, full_feature_names=True)
        .to_df()
    )
    # Ours keeps every row in order; Feast's file store drops rows with a view missing.
    assert ours["row"].tolist() == list(range(len(entity_df)))
    assert 0 < len(feast_file) < len(ours)
    ours = ours.set_index("row").loc[feast_file["row"]]
    feast_file = feast_file.set_index("row")
    for ref in BATCH_REFS:
        column = ref.replace(":", "__")
        got, want = ours[column].tolist(), feast_file[column].tolist()
        if column.endswith("recent_categories"):
            got, want = [list(v) for v in got], [list(v) for v in want]
        assert got == want, column


def test_sql_is_one_asof_join_per_view(small_repo):
    job = open_store(small_repo.path).get_historical_features(
        entity_df=_entity_df(small_repo), features=BATCH_REFS, full_feature_names=True
    )
    assert job.to_sql().count("ASOF LEFT JOIN") == 2


def test_a_yaml_naming_the_old_module_path_still_loads_with_a_warning(small_repo, tmp_path):
    """feature_store.yaml files written for the flat layout keep working, with a warning."""
    path = copy_feature_repo(tmp_path / "repo", small_repo.project)
    yaml = path / "feature_store.yaml"
    yaml.write_text(
        yaml.read_text().replace(
            "skewguard.store.offline_store.AsofDuckDBOfflineStore",
            "skewguard.offline_store.AsofDuckDBOfflineStore",
        )
    )
    shutil.copytree(data_dir(small_repo.path), data_dir(path))
    with pytest.warns(DeprecationWarning, match="skewguard.store.offline_store"):
        import importlib
        import sys

        sys.modules.pop("skewguard.offline_store", None)
        store = open_store(path)
        offline = store._get_provider().offline_store
    assert type(offline).__name__ == "AsofDuckDBOfflineStore"
    rows = store.get_historical_features(
        entity_df=_entity_df(small_repo).head(50), features=BATCH_REFS, full_feature_names=True
    ).to_arrow()
    assert rows.num_rows == 50
    assert importlib.import_module("skewguard.offline_store").AsofDuckDBOfflineStore is type(
        offline
    )


@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
@pytest.mark.parametrize("aware", [True, False], ids=["utc", "naive"])
def test_entity_times_of_any_unit_and_zone_form_give_the_same_rows(small_repo, unit, aware):
    # pandas hands out datetime64[ns, UTC] by default; naive times are taken as UTC.
    base = _entity_df(small_repo)
    want = (
        open_store(small_repo.path)
        .get_historical_features(entity_df=base, features=BATCH_REFS, full_feature_names=True)
        .to_df()
    )
    entity_df = base.copy()
    times = entity_df["event_timestamp"].dt.tz_convert("UTC")
    entity_df["event_timestamp"] = (times if aware else times.dt.tz_localize(None)).astype(
        f"datetime64[{unit}, UTC]" if aware else f"datetime64[{unit}]"
    )
    got = (
        open_store(small_repo.path)
        .get_historical_features(entity_df=entity_df, features=BATCH_REFS, full_feature_names=True)
        .to_df()
    )
    assert got["row"].tolist() == want["row"].tolist()
    for ref in BATCH_REFS:
        column = ref.replace(":", "__")

        def plain(values: list) -> list:  # NaN and None as None, arrays as lists
            return [
                None if v is None or (isinstance(v, float) and v != v) else
                list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v
                for v in values
            ]  # fmt: skip

        assert plain(got[column].tolist()) == plain(want[column].tolist()), (column, unit)
