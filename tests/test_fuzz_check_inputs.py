"""Property-based fuzzing of every input a check reads: serving logs, the snapshot
manifest, the reference profile and the policy.

Each fuzzer starts from a valid input (a check on it passes) and breaks it at random.
Two properties hold for every example: nothing but the package's own errors is raised
(no traceback, exit 2 from the CLI), and an input broken where it matters never gives
a passing verdict. Budgets are fixed (`FUZZ`) and the examples derandomised (the
`skewguard` hypothesis profile in conftest.py), so CI runs the same cases every time.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from check_fixtures import serving_table, write_training
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skewguard as sg
from skewguard.checking.policy import Policy, parse_policy
from skewguard.errors import InputError, PolicyError, SkewguardError

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
N = 300
PRICE = "product_stats__price"
CATEGORY = "product_stats__category"
POLICY = parse_policy({"defaults": {"min_rows": 50}}, source="fuzz")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    write_training(root / "snapshot", N, seed=1, reference=True)
    pq.write_table(serving_table(N, seed=2), root / "serving.parquet")
    report = sg.check(root / "snapshot", root / "serving.parquet", policy=POLICY)
    assert report.exit_code == 0  # the baseline every fuzzer breaks passes
    return root


def _outcome(run: Callable[[], Any]) -> Any:
    """The report, or the package's own error; anything else fails the test."""
    try:
        return run()
    except SkewguardError as err:
        return err


# -- serving logs ---------------------------------------------------------------------

META = ["__log_timestamp", "__log_date", "__request_id"]
COLUMNS = [*META, PRICE + "__status", PRICE + "__timestamp", PRICE, CATEGORY, "customer_id"]
ACTIONS = ["drop", "string", "int", "float", "bool", "naive_ts", "nulls", "list", "dict"]
# The replacement each column keeps its meaning under (anything else breaks it).
SAME_TYPE = {PRICE: "float", CATEGORY: "string", "customer_id": "int"}


def _array(action: str, n: int, rng: np.random.Generator) -> pa.Array:
    if action == "string":
        return pa.array([f"v{x}" for x in rng.integers(0, 20, n)])
    if action == "int":
        return pa.array(rng.integers(-5, 5, n), type=pa.int32())
    if action == "float":
        return pa.array(rng.normal(size=n))
    if action == "bool":
        return pa.array(rng.random(n) < 0.5)
    if action == "naive_ts":
        return pa.array(rng.integers(0, 10**15, n), type=pa.timestamp("us"))
    if action == "nulls":
        return pa.nulls(n)
    if action == "list":
        return pa.array([[int(x)] for x in rng.integers(0, 3, n)])
    return pa.array([{"k": int(x)} for x in rng.integers(0, 3, n)])


def _breaks(column: str, action: str) -> bool:
    """Does this mutation leave a log Feast's schema does not describe?"""
    if action == "naive_ts":
        return True  # a naive timestamp anywhere is refused
    if column in META:
        return not (column in ("__request_id", "__log_date") and action == "string")
    if column.endswith("__status"):
        return action not in ("drop", "int")
    if column.endswith("__timestamp"):
        return action != "drop"
    return False


@FUZZ
@given(
    mutations=st.dictionaries(st.sampled_from(COLUMNS), st.sampled_from(ACTIONS), max_size=4),
    extra=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_fuzz_serving_logs(base: Path, mutations: dict[str, str], extra: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    table = serving_table(N, seed=2)
    for column, action in mutations.items():
        index = table.schema.get_field_index(column)
        if action == "drop":
            table = table.remove_column(index)
        else:
            table = table.set_column(index, column, _array(action, N, rng))
    if extra:
        table = table.append_column("zz_view__unknown", _array("float", N, rng))
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(table, Path(tmp) / "s.parquet")
        outcome = _outcome(lambda: sg.check(base / "snapshot", Path(tmp), policy=POLICY))
    if any(_breaks(c, a) for c, a in mutations.items()):
        assert isinstance(outcome, InputError), (mutations, outcome)
        return
    changed = [c for c, a in mutations.items() if c in SAME_TYPE and a != SAME_TYPE[c]]
    if any(c in (PRICE, CATEGORY) for c in changed) and not isinstance(outcome, SkewguardError):
        assert outcome.exit_code != 0, mutations  # a changed type is a finding


# -- the snapshot manifest ------------------------------------------------------------

CHECKED = {"kind", "schema_version", "features", "row_count", "content_hash", "data_file"}


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from(
            [*CHECKED, "reference_profile", "join_keys", "label_columns", "feature_service",
             "time_range", "created_at"]
        ),
        st.one_of(json_values, st.just("__delete__")),
        max_size=3,
    ),
    whole=st.one_of(st.none(), json_values),
)  # fmt: skip
def test_fuzz_manifest(base: Path, changes: dict[str, Any], whole: Any) -> None:
    original = json.loads((base / "snapshot" / "manifest.json").read_text())
    doc: Any = dict(original)
    for key, value in changes.items():
        if value == "__delete__":
            doc.pop(key, None)
        else:
            doc[key] = value
    if whole is not None:
        doc = whole
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "snapshot"
        shutil.copytree(base / "snapshot", snapshot)
        (snapshot / "manifest.json").write_text(json.dumps(doc))
        outcome = _outcome(lambda: sg.check(snapshot, base / "serving.parquet", policy=POLICY))
    broken = doc != original and (
        not isinstance(doc, dict) or any(doc.get(k) != original.get(k) for k in CHECKED)
    )
    if broken and not isinstance(outcome, SkewguardError):
        # A manifest whose checked fields changed must not be trusted silently: if the
        # check ran, it ran on a verified snapshot (the data's hash matched).
        training = outcome.to_dict()["inputs"]["training"]
        assert training["content_hash_verified"] or doc.get("content_hash") is None, doc


def test_a_manifest_cannot_point_outside_its_snapshot(base: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(base / "snapshot", snapshot)
    outside = [
        ("data_file", "/"),
        ("data_file", "../x.parquet"),
        ("reference_profile", "../../profile.json"),
        ("data_file", 3),
    ]
    for field, value in outside:
        doc = json.loads((base / "snapshot" / "manifest.json").read_text())
        doc[field] = value
        (snapshot / "manifest.json").write_text(json.dumps(doc))
        with pytest.raises(InputError, match=field):
            sg.check(snapshot, base / "serving.parquet", policy=POLICY)


# -- the reference profile ------------------------------------------------------------


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (keys and list indexes)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:6]):
            found += _paths(value, (*prefix, i))
    return found


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = _set(copy[head], rest, value)
    return copy


@FUZZ
@given(data=st.data())
def test_fuzz_reference_profile(base: Path, data: st.DataObject) -> None:
    doc = json.loads((base / "snapshot" / "reference_profile.json").read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        doc = _set(doc, path, data.draw(json_values))
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "snapshot"
        shutil.copytree(base / "snapshot", snapshot)
        (snapshot / "reference_profile.json").write_text(json.dumps(doc))
        (snapshot / "data.parquet").unlink()  # the check reads the profile alone
        _outcome(lambda: sg.check(snapshot, base / "serving.parquet", policy=POLICY))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("features", 0, "spec", "edges", 1), float("nan")),
        (("features", 0, "spec", "edges", 1), float("inf")),
        (("features", 0, "profile", "histogram", 0), -5),
        (("features", 0, "profile", "count"), -1),
        (("features", 0, "profile", "sketch"), "bm90IGEgc2tldGNo"),
        (("rows",), 1e400),
    ],
    ids=["nan-edge", "inf-edge", "negative-count", "negative-total", "bad-sketch", "inf-rows"],
)
def test_a_corrupt_profile_value_is_an_input_error(
    base: Path, tmp_path: Path, path: tuple[Any, ...], value: Any
) -> None:
    doc = json.loads((base / "snapshot" / "reference_profile.json").read_text())
    numeric = next(i for i, f in enumerate(doc["features"]) if f["kind"] == "numeric")
    path = tuple(numeric if p == 0 and i == 1 else p for i, p in enumerate(path))
    snapshot = tmp_path / "snapshot"
    shutil.copytree(base / "snapshot", snapshot)
    (snapshot / "reference_profile.json").write_text(json.dumps(_set(doc, path, value)))
    (snapshot / "data.parquet").unlink()
    with pytest.raises(InputError, match="reference_profile.json"):
        sg.check(snapshot, base / "serving.parquet", policy=POLICY)


# -- the policy -------------------------------------------------------------------------

CHECK_NAMES = ["null_rate", "nan_rate", "psi", "js_distance", "ks_statistic", "schema", "nope"]
numbers = st.one_of(
    st.floats(),
    st.integers(-10, 10**6),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e400, -0.0, 0.5]),
    st.text(max_size=4),
    st.booleans(),
)
rules = st.fixed_dictionaries(
    {},
    optional={
        "min_rows": numbers,
        "checks": st.dictionaries(
            st.sampled_from(CHECK_NAMES),
            st.fixed_dictionaries(
                {},
                optional={
                    "threshold": numbers,
                    "warn_threshold": numbers,
                    "action": st.sampled_from(["block", "retrain", "warn", "pass", "", 1]),
                },
            ),
            max_size=3,
        ),
        "surprise": json_values,
    },
)
policies = st.fixed_dictionaries(
    {},
    optional={
        "defaults": rules,
        "features": st.dictionaries(st.sampled_from([PRICE, CATEGORY, "x"]), rules, max_size=2),
        "critical": st.fixed_dictionaries(
            {},
            optional={
                "features": st.one_of(st.lists(st.text(max_size=5), max_size=2), json_values),
                "warn": st.sampled_from(["retrain", "block", "nope"]),
            },
        ),
    },
)


def _sound(policy: Policy) -> None:
    """Every rule the checks will use is finite, ordered and has a usable min_rows."""
    for rules_ in (policy.defaults, *policy.features.values()):
        assert isinstance(rules_.min_rows, int) and rules_.min_rows >= 1
        for name in CHECK_NAMES[:-2]:
            rule = rules_.rule(name)  # type: ignore[arg-type]
            for value in (rule.threshold, rule.warn_threshold):
                assert value is None or (math.isfinite(value) and value >= 0), rule
            if rule.threshold is not None and rule.warn_threshold is not None:
                assert rule.warn_threshold <= rule.threshold, rule


@FUZZ
@given(policies)
def test_fuzz_policy(raw: dict[str, Any]) -> None:
    try:
        policy = parse_policy(raw, source="fuzz.toml")
    except PolicyError:
        return
    _sound(policy)


@SMALL
@given(policies)
def test_fuzz_policy_in_a_check_never_raises_anything_else(base: Path, raw: dict[str, Any]) -> None:
    try:
        policy = parse_policy(raw, source="fuzz.toml")
    except PolicyError:
        return
    _outcome(lambda: sg.check(base / "snapshot", base / "serving.parquet", policy=policy))


@pytest.mark.parametrize(
    "raw",
    [
        {"defaults": {"checks": {"psi": {"warn_threshold": 0.5}}}},  # over the default 0.25
        {"features": {PRICE: {"checks": {"psi": {"threshold": 0.01}}}}},  # under its warn 0.1
    ],
    ids=["warn-over-default-threshold", "threshold-under-default-warn"],
)
def test_rules_stay_ordered_after_merging_over_the_default(raw: dict[str, Any]) -> None:
    _sound(parse_policy(raw, source="fuzz.toml"))  # an inherited warn band above is dropped
