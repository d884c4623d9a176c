"""The event parser against hostile input: an event or an `InputError`, nothing else.

Property-based (hypothesis, fixed example budget): stream entries of arbitrary bytes or
text, and JSON values of any shape where an event is expected.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard.errors import InputError
from skewguard.loop.events import Event

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD = Event(
    verdict="retrain",
    failing_features=("product_stats__price",),
    failing_checks={"product_stats__price": ("psi",)},
    snapshot_id="sha256:abc",
    snapshot_path="/snap",
    feature_service="recommender_v1",
    serving_path="/logs/2026-11-19",
    log_window={"id": "2026-11-19", "start": None, "end": "2026-11-20T00:00:00+00:00"},
    report_path=None,
)
FIELDS = list(GOOD.to_fields())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _parse_fields(fields: dict[Any, Any]) -> Event | None:
    try:
        return Event.from_fields(fields)
    except InputError:
        return None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("failing_checks", '["psi"]', "failing_checks"),
        ("log_window", "[1]", "log_window"),
        ("failing_features", '{"a": 1}', "failing_features"),
        ("failing_features", "[1, 2]", "failing_features"),
        ("serving_path", b"\xff\xfe", "not UTF-8"),
        ("schema_version", "x", "schema_version"),
        ("schema_version", "2", "schema_version"),
        ("event_id", "", "event_id"),
        ("failing_checks", "{", "malformed event entry"),
    ],
)
def test_each_malformed_field_is_an_input_error(field: str, value: Any, message: str) -> None:
    fields: dict[Any, Any] = {**GOOD.to_fields(), field: value}
    with pytest.raises(InputError, match=message):
        Event.from_fields(fields)


def test_a_list_is_not_an_event() -> None:
    with pytest.raises(InputError, match="must be a JSON object"):
        Event.from_dict([GOOD.to_dict()])


def test_good_events_still_round_trip() -> None:
    assert Event.from_fields(GOOD.to_fields()) == GOOD
    as_bytes = {k.encode(): v.encode() for k, v in GOOD.to_fields().items()}
    assert Event.from_fields(as_bytes) == GOOD
    assert Event.from_dict(json.loads(json.dumps(GOOD.to_dict()))) == GOOD


@FUZZ
@given(st.dictionaries(st.binary(max_size=12), st.binary(max_size=40), max_size=14))
def test_fuzz_arbitrary_byte_entries(fields: dict[bytes, bytes]) -> None:
    _parse_fields(fields)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(FIELDS),
        st.one_of(json_values.map(json.dumps), st.text(max_size=30), st.binary(max_size=30)),
        max_size=len(FIELDS),
    )
)
def test_fuzz_known_fields_with_any_value(overrides: dict[str, Any]) -> None:
    event = _parse_fields({**GOOD.to_fields(), **overrides})
    if event is not None:
        assert isinstance(event.failing_checks, dict) and isinstance(event.log_window, dict)
        assert all(isinstance(f, str) for f in event.failing_features)
        event.to_fields()  # what parses can be published again


@FUZZ
@given(json_values)
def test_fuzz_any_json_where_an_event_is_expected(value: Any) -> None:
    try:
        Event.from_dict(value)
    except InputError:
        pass
