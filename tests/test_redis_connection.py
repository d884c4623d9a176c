"""The Redis connection helper: both string forms, Feast compatibility, masked passwords.

Includes a property-based fuzzer (fixed example budget): whatever the string, parsing
either gives a target or raises the package's `InputError`, and never repeats a password.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard.errors import InputError
from skewguard.store.connection import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    RedisTarget,
    parse_target,
    resolve_target,
)
from skewguard.store.redaction import MASK, redact

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NASTY = "p@ss,w:rd #1/?=%&é"


@pytest.fixture(autouse=True, scope="module")
def _forget_the_secrets_registered_here() -> Iterator[None]:
    """Every password parsed here (fuzzed ones too, such as "report") is masked in every
    later message of the process: restore the registry for the tests that follow."""
    from skewguard.store import redaction

    saved_secrets, saved_order = set(redaction._secrets), redaction._ordered
    yield
    redaction._secrets.clear()
    redaction._secrets.update(saved_secrets)
    redaction._ordered = saved_order


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:6379", RedisTarget("127.0.0.1", 6379)),
        ("localhost", RedisTarget("localhost", 6379)),
        (
            "redis-prod:6380,password=s3cret,ssl=true,db=2",
            RedisTarget("redis-prod", 6380, db=2, password="s3cret", ssl=True),
        ),
        ('h:1,password="a\\u002cb"', RedisTarget("h", 1, password="a,b")),
        ("h:1,password=123", RedisTarget("h", 1, password="123")),
        ("h:1,socket_timeout=0.5,socket_connect_timeout=1", RedisTarget("h", 1)),
        ("redis://127.0.0.1:6379/3", RedisTarget("127.0.0.1", 6379, db=3)),
        ("redis://:p%40ss@h:7", RedisTarget("h", 7, password="p@ss")),
        ("redis://user:pw@h", RedisTarget("h", 6379, username="user", password="pw")),
        (
            "rediss://:pw@127.0.0.1:6380/0?ssl_cert_reqs=none",
            RedisTarget("127.0.0.1", 6380, password="pw", ssl=True, ssl_cert_reqs="none"),
        ),
        ("redis://[::1]:6379", RedisTarget("[::1]", 6379)),
    ],
)
def test_both_forms_parse(text: str, expected: RedisTarget) -> None:
    got = parse_target(text)
    for name in ("host", "port", "db", "username", "password", "ssl", "ssl_cert_reqs"):
        assert getattr(got, name) == getattr(expected, name), name


def test_timeouts_default_and_can_be_set() -> None:
    default = parse_target("h:1")
    assert (default.connect_timeout, default.read_timeout) == (CONNECT_TIMEOUT, READ_TIMEOUT)
    tuned = parse_target("redis://h:1?socket_timeout=0.25&socket_connect_timeout=0.5")
    assert (tuned.connect_timeout, tuned.read_timeout) == (0.5, 0.25)
    kwargs = tuned.redis_kwargs()
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (0.5, 0.25)


def test_every_client_has_timeouts_tls_and_no_retry_on_timeout() -> None:
    import redis

    client = parse_target("rediss://:pw@127.0.0.1:6380?ssl_cert_reqs=none").client()
    pool = client.connection_pool
    assert issubclass(pool.connection_class, redis.SSLConnection)
    assert pool.connection_kwargs["socket_timeout"] == READ_TIMEOUT
    retry = pool.connection_kwargs["retry"]
    assert retry._retries == 1
    assert redis.exceptions.TimeoutError not in retry._supported_errors
    client.close()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "h:x",
        "h:",
        "h:0",
        "h:70000",
        ":6379",
        "password=x",
        "h:1,foo=1",
        "h:1,db=-1",
        "h:1,db=x",
        "h:1,ssl=maybe",
        "h:1,socket_timeout=nan",
        "h:1,socket_timeout=0",
        "h:1,ssl_cert_reqs=sometimes",
        "h:1,password=a,b",
        'h:1,password="unterminated',
        "http://h:1",
        "unix:///tmp/redis.sock",
        "redis://:pa#ss@h:1",
        "redis://h:notaport",
        "redis://",
    ],
)
def test_unusable_strings_are_input_errors_naming_the_source(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_target(bad, source="$SKEWGUARD_REDIS")
    assert "$SKEWGUARD_REDIS" in str(caught.value) and "Hint:" in str(caught.value)


def test_errors_never_repeat_the_password() -> None:
    for text in (
        "h:1,password=hunter22,oops",
        "h:1,password=hunter22,nope=1",
        "h:1,password=hunter22,db=x",
    ):
        with pytest.raises(InputError) as caught:
            parse_target(text)
        assert "hunter22" not in str(caught.value)


def test_str_and_repr_mask_the_password() -> None:
    target = parse_target(f"redis://:{quote(NASTY, safe='')}@127.0.0.1:6379/1")
    assert target.password == NASTY
    for text in (str(target), repr(target), target.redacted()):
        assert NASTY not in text and MASK in text
    assert str(target) == "127.0.0.1:6379,password=***,db=1"


def test_feast_string_survives_feasts_parser_and_yaml() -> None:
    from feast.infra.online_stores.redis import RedisOnlineStore

    for password in (NASTY, "true", "123", "null", ' lead"quote\\', "😀"):
        target = RedisTarget("127.0.0.1", 6390, password=password, ssl=True, db=4)
        text = target.feast_string()
        nodes, params = RedisOnlineStore._parse_connection_string(text)
        assert nodes == [{"host": "127.0.0.1", "port": "6390"}]
        assert params["password"] == password and params["ssl"] is True and params["db"] == 4
        assert yaml.safe_load(f"connection_string: {text}")["connection_string"] == text
        again = parse_target(text)
        assert (again.password, again.ssl, again.db) == (password, True, 4)


def test_resolve_target_order_and_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKEWGUARD_EVENTS_REDIS", raising=False)
    monkeypatch.setenv("SKEWGUARD_REDIS", "h1:1")
    env = ("SKEWGUARD_EVENTS_REDIS", "SKEWGUARD_REDIS")
    assert resolve_target(env=env).host == "h1"
    assert resolve_target(env=env).source == "$SKEWGUARD_REDIS"
    monkeypatch.setenv("SKEWGUARD_EVENTS_REDIS", "h2:2")
    assert resolve_target(env=env).host == "h2"
    assert resolve_target("h3:3", env=env, flag="--events-redis").source == "--events-redis"
    monkeypatch.delenv("SKEWGUARD_EVENTS_REDIS")
    monkeypatch.delenv("SKEWGUARD_REDIS")
    assert resolve_target(env=env).address == "127.0.0.1:6379"


def test_redact_masks_known_passwords_and_connection_string_shapes() -> None:
    parse_target("h:1,password=correct-horse")
    assert "correct-horse" not in redact("AUTH failed for correct-horse at h:1")
    assert redact("redis://user:anything@h:1/0") == f"redis://user:{MASK}@h:1/0"
    assert redact("h:1,password=abc,db=2") == f"h:1,password={MASK},db=2"
    assert redact('h:1,password="a\\u002cb",db=2') == f"h:1,password={MASK},db=2"


# -- fuzzing -----------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [",", ":", "=", "@", "/", "?", "#", "%", "[", "]", '"', "\\", " ", "redis://", "rediss://",
     "password=", "ssl=", "db=", "socket_timeout=", "127.0.0.1", "6379", "true", "\x00", "é"]
)  # fmt: skip
_TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=12).map("".join),
)


@FUZZ
@given(_TEXT)
def test_fuzz_any_string_parses_or_is_an_input_error(text: str) -> None:
    try:
        target = parse_target(text)
    except InputError:
        return
    assert 1 <= target.port <= 65535 and target.db >= 0
    assert target.read_timeout > 0 and target.connect_timeout > 0
    if target.password is not None:
        assert MASK in target.redacted() and MASK in repr(target)
    # What parses can be written back in both the Feast form and redis-py's kwargs.
    again = parse_target(target.feast_string())
    assert (again.host, again.port, again.password, again.ssl, again.db) == (
        target.host,
        target.port,
        target.password,
        target.ssl,
        target.db,
    )
    target.redis_kwargs()


_SECRET = st.text(min_size=4, max_size=24).filter(lambda s: "\x00" not in s and "*" not in s)


@FUZZ
@given(password=_SECRET, db=st.integers(0, 15), ssl=st.booleans())
def test_fuzz_passwords_round_trip_through_url_and_feast_forms(
    password: str, db: int, ssl: bool
) -> None:
    scheme = "rediss" if ssl else "redis"
    from_url = parse_target(f"{scheme}://:{quote(password, safe='')}@127.0.0.1:6379/{db}")
    assert (from_url.password, from_url.db, from_url.ssl) == (password, db, ssl)
    from_feast = parse_target(from_url.feast_string())
    assert (from_feast.password, from_feast.db, from_feast.ssl) == (password, db, ssl)
    if "," not in password:  # Feast's form splits on commas before decoding JSON
        quoted = parse_target(f"127.0.0.1:6379,password={json.dumps(password)}")
        assert quoted.password == password
    message = f"cannot AUTH with {password} at {from_url.feast_string()}"
    assert password not in redact(message)


def test_log_records_are_redacted_once_installed() -> None:
    import subprocess
    import sys

    code = (
        "import logging\n"
        "from skewguard.store.connection import parse_target\n"
        "from skewguard.store.redaction import install_log_redaction\n"
        "install_log_redaction()\n"
        "parse_target('h:1,password=hunter2-secret')\n"
        "logging.getLogger('skewguard.x').warning('AUTH %s failed', 'hunter2-secret')\n"
        "logging.getLogger('other').warning('see redis://u:hunter3-other@h:1')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "hunter2" not in done.stderr and "hunter3" not in done.stderr
    assert "AUTH *** failed" in done.stderr
