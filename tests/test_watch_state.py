"""The watch state file against bad content: the package's `InputError` naming the file,
never a crash (and through the CLI: exit 2 with one line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from check_fixtures import write_serving, write_training
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard import cli
from skewguard.errors import InputError
from skewguard.loop.watch import read_state

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRIGGER = {"window": "2026-11-19", "window_end": "2026-11-20T00:00:00+00:00", "event_id": "e"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[]", "holds a list, not an object"),
        (b'"text"', "holds a string"),
        (b"null", "holds a null"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"schema_version": 2, "windows": {}, "last_trigger": {}}', "unsupported"),
        (b'{"schema_version": true}', "unsupported"),
        (b'{"schema_version": 1, "windows": []}', "'windows' must map"),
        (b'{"schema_version": 1, "windows": {"d": 3}}', "'windows' must map"),
        (b'{"schema_version": 1, "last_trigger": []}', "'last_trigger' must map"),
        (b'{"schema_version": 1, "last_trigger": {"retrain": 1}}', "must be an object"),
        (
            b'{"schema_version": 1, "last_trigger": {"retrain": {"window": "d", "event_id": "e",'
            b' "window_end": "yesterday"}}}',
            "not an ISO time",
        ),
        (
            b'{"schema_version": 1, "last_trigger": {"retrain": {"window": "d", "event_id": "e",'
            b' "window_end": "2026-11-20T00:00:00"}}}',
            "no time zone",
        ),
    ],
)
def test_bad_state_is_an_input_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        read_state(path)
    assert str(path) in str(caught.value) and "Hint:" in str(caught.value)


def test_good_state_round_trips(tmp_path: Path) -> None:
    from skewguard.loop.watch_state import empty_state, write_state

    path = tmp_path / "state.json"
    assert read_state(path) == empty_state()
    state = {**empty_state(), "windows": {"d": {"verdict": "pass"}}}
    state["last_trigger"]["retrain"] = TRIGGER
    write_state(path, state)
    assert read_state(path) == state


def test_watch_with_a_state_file_holding_a_list_exits_2(tmp_path: Path, capsys: Any) -> None:
    snapshot = write_training(tmp_path / "snap", 500)
    logs = tmp_path / "logs"
    write_serving(logs / "2026-11-10", 300)
    state = tmp_path / "state.json"
    state.write_text("[]")
    argv = ["watch", "--serving", str(logs), "--training", str(snapshot)]
    code = cli.main([*argv, "--state", str(state), "--once"])
    err = capsys.readouterr().err
    assert code == 2
    assert "watch state file holds a list" in err and str(state) in err
    assert err.count("\n") == 1 and "Traceback" not in err


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
state_like = st.fixed_dictionaries(
    {},
    optional={
        "schema_version": st.one_of(st.just(1), json_values),
        "windows": json_values,
        "last_trigger": st.one_of(
            json_values,
            st.dictionaries(st.text(max_size=6), st.one_of(json_values, st.just(TRIGGER))),
        ),
    },
)


@FUZZ
@given(st.one_of(json_values, state_like))
def test_fuzz_any_json_state(tmp_path_factory: pytest.TempPathFactory, value: Any) -> None:
    path = tmp_path_factory.mktemp("state") / "state.json"
    path.write_text(json.dumps(value))
    try:
        state = read_state(path)
    except InputError:
        return
    assert isinstance(state["windows"], dict) and isinstance(state["last_trigger"], dict)
