"""Redis faults on private servers: URLs, passwords, TLS, paused, killed, restarted.

Every call that could hang runs under `within(seconds)`, so a regression fails the test
instead of hanging it. Each server is this test's own (`private_redis`, or one started
here), stopped by its pid; the shared server is never touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from check_fixtures import replace_column, write_serving, write_training
from fault_fixtures import NASTY_PASSWORD, PrivateRedis, kill, paused, restart, timed

from skewguard import cli
from skewguard.errors import OnlineStoreError
from skewguard.loop.events import Event, publish
from skewguard.loop.stream import RedisStream, redis_client
from skewguard.serving.logger import FeatureLogger
from skewguard.serving.writer import WriterConfig
from skewguard.store.online import lookup, materialize, redis_for_demo
from skewguard.store.repo import open_store

pytestmark = pytest.mark.fault
T = TypeVar("T")
ROWS = [{"customer_id": 1, "product_id": 1}, {"customer_id": 2, "product_id": 5}]
FAST = ",socket_connect_timeout=1,socket_timeout=1"  # seconds: faults show within them


def within(seconds: float, fn: Callable[[], T]) -> T:
    """Run `fn` on a thread; fail (instead of hanging) when it takes longer than `seconds`."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # handed to the caller
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still waiting after {seconds:g} s: no timeout")
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture()
def use_redis(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def point(connection_string: str) -> None:
        monkeypatch.setenv("SKEWGUARD_REDIS", connection_string)

    return point


def _store_on(served_repo: Any, connection_string: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The served repo's registry, its online store on another Redis, materialized."""
    monkeypatch.setenv("SKEWGUARD_REDIS", connection_string)
    store = open_store(served_repo.path)
    materialize(store, served_repo.data.start, served_repo.data.end)
    return store


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = within(60, lambda: cli.main(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _lookup_args(repo: Path) -> list[str]:
    return [
        "lookup",
        "--repo",
        str(repo),
        "--feature-service",
        "recommender_v1",
        "--json",
        "--entity",
        "customer_id=1,product_id=1",
    ]


# -- connection strings: URLs, passwords, TLS ---------------------------------------------


@pytest.mark.parametrize("form", ["redis://127.0.0.1:{port}/0", "redis://127.0.0.1:{port}"])
def test_lookup_and_materialize_accept_a_redis_url(
    served_repo: Any, private_redis: PrivateRedis, use_redis: Any, capsys: Any, form: str
) -> None:
    use_redis(form.format(port=private_redis.port))
    code, out, err = _cli(["materialize", "--repo", str(served_repo.path)], capsys)
    assert code == 0, err
    code, out, err = _cli(_lookup_args(served_repo.path), capsys)
    assert code == 0, err
    assert json.loads(out)["product_stats__price"][0] is not None


def test_rediss_url_with_a_password_serves_over_tls(
    served_repo: Any, tmp_path: Path, use_redis: Any, capsys: Any
) -> None:
    server = PrivateRedis.start(password=NASTY_PASSWORD, tls_dir=tmp_path)
    try:
        cert = server.cert
        secret = quote(NASTY_PASSWORD, safe="")
        use_redis(f"rediss://:{secret}@127.0.0.1:{server.port}/0?ssl_ca_certs={cert}")
        code, _, err = _cli(["materialize", "--repo", str(served_repo.path)], capsys)
        assert code == 0, err
        code, out, err = _cli(_lookup_args(served_repo.path), capsys)
        assert code == 0, err
        assert json.loads(out)["product_stats__price"][0] is not None
        # Feast's async path (its feature server's) goes through the same helper.
        response = within(30, lambda: asyncio.run(_lookup_async(open_store(served_repo.path))))
        assert response["product_stats__price"][0] is not None
        # The same server without TLS: refused as such, not taken for "nothing answers".
        use_redis(f"127.0.0.1:{server.port},password={secret}{FAST}")
        code, out, err = _cli(_lookup_args(served_repo.path), capsys)
        assert code == 2
        assert "TLS" in err or "closed by server" in err
        assert NASTY_PASSWORD not in err + out and secret not in err + out
    finally:
        server.stop()


@pytest.mark.parametrize("command", ["lookup", "materialize"])
def test_a_wrong_password_is_reported_as_such_and_never_shown(
    served_repo: Any, tmp_path: Path, use_redis: Any, capsys: Any, command: str
) -> None:
    with PrivateRedis.start(password=NASTY_PASSWORD) as server:
        wrong = "not-the-" + NASTY_PASSWORD
        use_redis(f"redis://:{quote(wrong, safe='')}@127.0.0.1:{server.port}")
        args = (
            _lookup_args(served_repo.path)
            if command == "lookup"
            else ["materialize", "--repo", str(served_repo.path)]
        )
        code, out, err = _cli(args, capsys)
        assert code == 2
        assert "Redis rejected the password" in err and "unreachable" not in err
        assert "not-the-" not in err + out and quote(wrong, safe="") not in err + out
        assert err.count("\n") == 1 and "Hint:" in err

        use_redis(f"127.0.0.1:{server.port}")
        code, _, err = _cli(args, capsys)
        assert code == 2 and "Redis requires a password" in err


def test_the_demo_refuses_a_redis_that_rejects_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    with PrivateRedis.start(password=NASTY_PASSWORD) as server:
        monkeypatch.setenv("SKEWGUARD_REDIS", f"127.0.0.1:{server.port},password=wrong-one")
        said: list[str] = []
        with pytest.raises(OnlineStoreError, match="rejected the password"):
            with redis_for_demo(announce=said.append):
                pass
        assert said == []  # no embedded server started behind the user's back
        monkeypatch.setenv("SKEWGUARD_REDIS", server.connection_string)
        with redis_for_demo(announce=said.append) as target:
            assert target == server.connection_string
        assert said == [f"Redis: using 127.0.0.1:{server.port},password=***"]
        monkeypatch.setenv("SKEWGUARD_REDIS", f"127.0.0.1:{server.port},password=wrong-one")
        code, out, err = _cli(["demo", "--out", "unused"], capsys)
        assert code == 2 and "rejected the password" in err
        assert "embedded" not in out and "wrong-one" not in out + err


def _drifted_inputs(tmp_path: Path) -> tuple[Path, Path]:
    import pyarrow.compute as pc

    def shifted(values: dict) -> dict:
        aov = values["customer_stats__avg_order_value"]
        return replace_column(values, "customer_stats__avg_order_value", pc.add(aov, 10.0))

    snapshot = write_training(tmp_path / "snap", 2000)
    drifted = write_serving(tmp_path / "drifted", 1000, transform=shifted)
    return snapshot, drifted


def test_check_publish_over_tls_with_a_password_never_prints_it(
    tmp_path: Path, capsys: Any
) -> None:
    snapshot, drifted = _drifted_inputs(tmp_path)
    server = PrivateRedis.start(password=NASTY_PASSWORD, tls_dir=tmp_path)
    secret = quote(NASTY_PASSWORD, safe="")
    url = f"rediss://:{secret}@127.0.0.1:{server.port}?ssl_ca_certs={server.cert}"
    stream = f"sgtest:tls:{uuid.uuid4().hex[:8]}"
    try:
        argv = ["check", "--training", str(snapshot), "--serving", str(drifted), "--publish"]
        code, out, err = _cli([*argv, "--events-redis", url, "--stream", stream], capsys)
        assert code == 3
        assert "retrain event" in out and "could not publish" not in err
        client = server.client(decode_responses=True)
        ((_, fields),) = client.xrange(stream)
        assert fields["verdict"] == "retrain"
        client.close()
        # Down: the warning names the target, masked.
        down = f"redis://:{secret}@127.0.0.1:9/0"
        code, out, err = _cli([*argv, "--events-redis", down, "--stream", stream], capsys)
        assert code == 3 and "could not publish" in err
        assert NASTY_PASSWORD not in out + err and secret not in out + err
    finally:
        server.stop()


# -- paused (a partition), killed, restarted ----------------------------------------------


def test_a_paused_redis_fails_lookups_and_materialize_fast_then_recovers(
    served_repo: Any, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = _store_on(served_repo, private_redis.connection_string + FAST, monkeypatch)
    assert lookup(store, "recommender_v1", ROWS)["product_stats__price"][0] is not None
    with paused(private_redis):
        with timed() as looked, pytest.raises(OnlineStoreError, match="did not answer within 1 s"):
            within(10, lambda: lookup(store, "recommender_v1", ROWS))
        assert looked[0] < 5
        with timed() as loaded, pytest.raises(OnlineStoreError, match="did not answer"):
            within(10, lambda: materialize(store, served_repo.data.start, served_repo.data.end))
        assert loaded[0] < 5
        quiet = WriterConfig(handle_sigterm=False)
        with FeatureLogger(store, log_root=tmp_path, writer_config=quiet) as logger:
            with pytest.raises(OnlineStoreError, match="did not answer within 1 s"):
                within(10, lambda: logger.get_online_features("recommender_v1", ROWS))
    # Resumed: the same store answers again.
    with timed() as resumed:
        response = within(10, lambda: lookup(store, "recommender_v1", ROWS))
    assert response["product_stats__price"][0] is not None
    print(
        f"\npaused Redis, socket_timeout=1: lookup failed after {looked[0]:.2f} s, materialize "
        f"after {loaded[0]:.2f} s; after SIGCONT the next lookup took {resumed[0]:.3f} s"
    )


def test_a_paused_redis_fails_an_async_lookup_fast(
    served_repo: Any, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    store = _store_on(served_repo, private_redis.connection_string + FAST, monkeypatch)
    loop = asyncio.new_event_loop()  # one loop: the store keeps its async client

    def look() -> dict[str, Any]:
        return loop.run_until_complete(_lookup_async(store))

    try:
        assert look()["product_stats__price"][0] is not None
        with paused(private_redis):
            with timed() as took, pytest.raises(redis.exceptions.TimeoutError):
                within(10, look)
        assert took[0] < 5
        assert within(10, look)["product_stats__price"][0] is not None
    finally:
        loop.close()
    print(f"\npaused Redis, async lookup, socket_timeout=1: failed after {took[0]:.2f} s")


async def _lookup_async(store: Any) -> dict[str, Any]:
    response = await store.get_online_features_async(
        features=store.get_feature_service("recommender_v1"),
        entity_rows=ROWS,
        full_feature_names=True,
    )
    return dict(response.to_dict())


def test_a_paused_redis_fails_a_lookup_within_the_default_timeout(
    served_repo: Any, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store_on(served_repo, private_redis.connection_string, monkeypatch)
    lookup(store, "recommender_v1", ROWS)
    with paused(private_redis):
        with timed() as took, pytest.raises(OnlineStoreError, match="did not answer within 5 s"):
            within(20, lambda: lookup(store, "recommender_v1", ROWS))
    assert took[0] < 12
    print(f"\npaused Redis, default timeouts: lookup failed after {took[0]:.2f} s")


def test_a_paused_events_redis_fails_publishing_fast(private_redis: PrivateRedis) -> None:
    stream = RedisStream(redis_client(private_redis.connection_string + FAST), "sgtest:paused")
    event = Event(
        verdict="retrain",
        failing_features=("f",),
        failing_checks={"f": ("psi",)},
        snapshot_id=None,
        snapshot_path=None,
        feature_service=None,
        serving_path="/logs",
        log_window={},
        report_path=None,
    )
    assert publish(event, [stream]).ok
    with paused(private_redis):
        with timed() as took:
            outcome = within(10, lambda: publish(event, [stream]))
        assert not outcome.ok and "did not answer" in outcome.failed[0][1]
        assert took[0] < 5
    assert within(10, lambda: publish(event, [stream])).ok
    print(f"\npaused events Redis, socket_timeout=1: publishing failed after {took[0]:.2f} s")


def test_a_killed_redis_is_unreachable_and_a_restarted_one_serves_again(
    served_repo: Any, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store_on(served_repo, private_redis.connection_string + FAST, monkeypatch)
    assert lookup(store, "recommender_v1", ROWS)["product_stats__price"][0] is not None
    kill(private_redis)
    with timed() as took, pytest.raises(OnlineStoreError, match="Redis is unreachable"):
        within(10, lambda: lookup(store, "recommender_v1", ROWS))
    assert took[0] < 5
    again = restart(private_redis)
    try:
        # The same store, its pooled connections dead: it reconnects on its own.
        within(30, lambda: materialize(store, served_repo.data.start, served_repo.data.end))
        response = within(10, lambda: lookup(store, "recommender_v1", ROWS))
        assert response["product_stats__price"][0] is not None
    finally:
        again.stop()
    print(f"\nkilled Redis: lookup failed after {took[0]:.3f} s; the restarted one serves again")


def test_a_redis_restarted_between_two_calls_is_not_an_error(
    served_repo: Any, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store_on(served_repo, private_redis.connection_string + FAST, monkeypatch)
    assert lookup(store, "recommender_v1", ROWS)["product_stats__price"][0] is not None
    kill(private_redis)
    again = restart(private_redis)
    try:
        reload = _store_on(served_repo, again.connection_string, monkeypatch)
        assert reload is not store
        response = within(10, lambda: lookup(store, "recommender_v1", ROWS))
        assert response["product_stats__price"][0] is not None
    finally:
        again.stop()


@pytest.fixture(autouse=True)
def _no_leftover_env() -> Iterator[None]:
    before = os.environ.get("SKEWGUARD_REDIS")
    yield
    if before is None:
        os.environ.pop("SKEWGUARD_REDIS", None)
    else:
        os.environ["SKEWGUARD_REDIS"] = before
