"""When no Redis answers, the demo gets a real embedded one, stopped by pid at the end."""

from __future__ import annotations

import os

from skewguard.store.online import EmbeddedRedis, redis_answers, redis_for_demo


def test_embedded_redis_starts_answers_and_stops() -> None:
    with EmbeddedRedis.start() as server:
        assert redis_answers(server.connection_string)
        pid = server.process.pid
    assert server.process.poll() is not None  # reaped: the pid is gone
    assert not redis_answers(server.connection_string)
    assert pid > 0


def test_demo_falls_back_to_embedded_when_configured_redis_is_down(monkeypatch) -> None:
    closed = EmbeddedRedis.start()
    closed.stop()
    monkeypatch.setenv("SKEWGUARD_REDIS", closed.connection_string)
    said: list[str] = []
    with redis_for_demo(announce=said.append) as target:
        assert target != closed.connection_string
        assert os.environ["SKEWGUARD_REDIS"] == target
        assert redis_answers(target)
    assert "started an embedded redis-server" in said[0]
    assert os.environ["SKEWGUARD_REDIS"] == closed.connection_string
    assert not redis_answers(target)


def test_demo_uses_the_configured_redis_when_it_answers(redis_connection) -> None:
    said: list[str] = []
    with redis_for_demo(announce=said.append) as target:
        assert target == redis_connection
    assert said == [f"Redis: using {redis_connection}"]
