"""Feast 0.67 loses python-mode on-demand outputs online under full feature names.

Why, in Feast's code (feast/utils.py, `_augment_response_with_on_demand_transforms`):

- the names it will keep are the caller's: `<view>__<feature>` when
  full_feature_names=True (utils.py:898-902), else the bare feature name;
- python mode runs `OnDemandFeatureView.transform_dict` (on_demand_feature_view.py:1101),
  which returns the UDF's output names as they are, merged into its input mapping
  (python_transformation.py:85-88); nothing renames them (pandas mode goes through
  `transform_arrow`, whose `_postprocess_arrow_table` adds or strips the prefix);
- outputs are then picked by exact name (utils.py:1031): a UDF that returns the bare
  names it declared loses every output under full names, silently. Feast's feature
  server calls the same code. The declared types are also looked up by bare name
  (utils.py:1034), so under full names a type is inferred from the values.

Offline, `transform_arrow` keeps only the UDF's returned mapping and renames either
form, so returning both forms there makes duplicate columns (a KeyError). Singleton mode
selects the same way (and computes only a request's first row); answering in the name
form the inputs came in fails `feast apply`'s schema check. What works on every path is
in the last test, and is what `customer_product_fit` does.

These tests pin Feast's behaviour: if the first one fails after a Feast upgrade, the bug
is fixed and the workaround in feature_repo/on_demand_feature_views.py can go.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from skewguard.store.repo import open_store
from tests.conftest import TEST_END

ROWS = [{"customer_id": 1, "product_id": 1}, {"customer_id": 2, "product_id": 5}]


# The UDFs are module-level functions without decorators: Feast stores their source text
# and runs it alone when it reads them back from the registry.
def naming_short(inputs: dict[str, list]) -> dict[str, list]:
    ratio = [
        p / a if p is not None and a else None
        for p, a in zip(inputs["price"], inputs["avg_order_value"], strict=True)
    ]
    return {"ratio": ratio}


def naming_both(inputs: dict[str, list]) -> dict[str, list]:
    ratio = [
        p / a if p is not None and a else None
        for p, a in zip(inputs["price"], inputs["avg_order_value"], strict=True)
    ]
    return {"ratio": ratio, "naming_both__ratio": ratio}


def naming_inputs(inputs: dict[str, list]) -> dict[str, list]:
    ratio = [
        p / a if p is not None and a else None
        for p, a in zip(inputs["price"], inputs["avg_order_value"], strict=True)
    ]
    inputs["naming_inputs__ratio"] = ratio  # online, Feast returns the inputs too
    return {"ratio": ratio}


def naming_singleton(inputs: dict[str, Any]) -> dict[str, Any]:
    price, aov = inputs["price"], inputs["avg_order_value"]
    return {"ratio": price / aov if price is not None and aov else None}


def naming_input_form(inputs: dict[str, list]) -> dict[str, list]:
    ratio = [
        p / a if p is not None and a else None
        for p, a in zip(inputs["price"], inputs["avg_order_value"], strict=True)
    ]
    first = next(k for k in inputs if k.endswith("avg_order_value"))  # the caller's form?
    return {"ratio" if first == "avg_order_value" else "naming_input_form__ratio": ratio}


def _view(store: Any, udf: Callable[..., Any], singleton: bool = False) -> Any:
    from feast import Field
    from feast.on_demand_feature_view import OnDemandFeatureView
    from feast.types import Float64

    return OnDemandFeatureView(
        name=udf.__name__,
        sources=[
            store.get_feature_view("customer_profile")[["avg_order_value"]],
            store.get_feature_view("product_stats")[["price"]],
        ],
        schema=[Field(name="ratio", dtype=Float64)],
        mode="python",
        singleton=singleton,
        udf=udf,
        udf_string=inspect.getsource(udf),
    )


@pytest.fixture(scope="module")
def store(small_repo: Any) -> Iterator[Any]:
    """The small repo's store with the views applied; removed again afterwards."""
    store = open_store(small_repo.path)
    views = [_view(store, udf) for udf in (naming_short, naming_both, naming_inputs)]
    views.append(_view(store, naming_singleton, singleton=True))
    store.apply(views)
    yield store
    store.apply([], objects_to_delete=views, partial=False)


def online(store: Any, view: str, full_feature_names: bool) -> dict[str, list]:
    return store.get_online_features(
        features=[f"{view}:ratio"], entity_rows=ROWS, full_feature_names=full_feature_names
    ).to_dict()


def offline(store: Any, view: str, full_feature_names: bool) -> Any:
    entity_df = pd.DataFrame(
        {
            "customer_id": [r["customer_id"] for r in ROWS],
            "product_id": [r["product_id"] for r in ROWS],
            "event_timestamp": pd.Series([TEST_END] * len(ROWS), dtype="datetime64[us, UTC]"),
        }
    )
    return store.get_historical_features(
        entity_df=entity_df, features=[f"{view}:ratio"], full_feature_names=full_feature_names
    ).to_arrow()


def test_bare_output_names_are_lost_online_under_full_feature_names(store: Any) -> None:
    assert online(store, "naming_short", full_feature_names=False)["ratio"][0] is not None
    served = online(store, "naming_short", full_feature_names=True)
    assert "naming_short__ratio" not in served  # the bug: no column, no error
    assert sorted(served) == ["customer_id", "product_id"]


def test_offline_renames_bare_output_names_itself(store: Any) -> None:
    assert "naming_short__ratio" in offline(store, "naming_short", True).column_names
    assert "ratio" in offline(store, "naming_short", False).column_names


def test_both_forms_returned_survive_online_but_break_offline(store: Any) -> None:
    assert online(store, "naming_both", True)["naming_both__ratio"][0] is not None
    assert online(store, "naming_both", False)["ratio"][0] is not None
    for full_feature_names in (True, False):
        with pytest.raises(KeyError, match="exists 2 times"):
            offline(store, "naming_both", full_feature_names)


def test_singleton_mode_has_the_same_bug_and_computes_one_row(store: Any) -> None:
    assert "naming_singleton__ratio" not in online(store, "naming_singleton", True)
    bare = online(store, "naming_singleton", False)
    assert len(bare["customer_id"]) == 2 and len(bare["ratio"]) == 1


def test_answering_in_the_inputs_name_form_fails_feast_apply(store: Any) -> None:
    from feast.errors import SpecifiedFeaturesNotPresentError

    # The schema check passes full input names first and expects bare names back.
    with pytest.raises(SpecifiedFeaturesNotPresentError):
        store.apply([_view(store, naming_input_form)])


def test_full_names_put_in_the_input_mapping_survive_every_path(store: Any) -> None:
    full = online(store, "naming_inputs", True)["naming_inputs__ratio"]
    bare = online(store, "naming_inputs", False)["ratio"]
    assert full == bare and None not in full
    assert offline(store, "naming_inputs", True).column("naming_inputs__ratio").to_pylist()
    assert "ratio" in offline(store, "naming_inputs", False).column_names
