"""The fast read path on a faulty Redis fails as Feast's path does, and recovers: a paused
server fails a lookup within the socket timeout, a restarted one serves the same reader
again (its pooled connection reconnects once). Private servers only, stopped by pid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fault_fixtures import PrivateRedis, kill, paused, restart, timed
from test_redis_faults import FAST, ROWS, _no_leftover_env, _store_on, within  # noqa: F401

from skewguard.errors import OnlineStoreError
from skewguard.serving.logger import FeatureLogger
from skewguard.serving.writer import WriterConfig
from skewguard.store.fast_response import FastResponse
from skewguard.store.online import lookup

pytestmark = pytest.mark.fault
QUIET = WriterConfig(handle_sigterm=False)


def test_a_paused_redis_fails_a_fast_lookup_fast_then_recovers(
    served_repo: Any, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = _store_on(served_repo, private_redis.connection_string + FAST, monkeypatch)
    with FeatureLogger(store, log_root=tmp_path, writer_config=QUIET, fast_read=True) as logger:
        assert isinstance(
            logger.get_online_features("recommender_v1", ROWS, full_feature_names=True),
            FastResponse,
        )
        with paused(private_redis):
            with timed() as took, pytest.raises(OnlineStoreError, match="did not answer within"):
                within(
                    10,
                    lambda: logger.get_online_features(
                        "recommender_v1", ROWS, full_feature_names=True
                    ),
                )
            assert took[0] < 5
            with pytest.raises(OnlineStoreError, match="did not answer within"):
                within(10, lambda: lookup(store, "recommender_v1", ROWS, fast_read=True))
        answer = within(
            10, lambda: logger.get_online_features("recommender_v1", ROWS, full_feature_names=True)
        )
        assert answer.to_dict()["product_stats__price"][0] is not None


def test_a_restarted_redis_serves_the_same_fast_reader_again(
    served_repo: Any, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = _store_on(served_repo, private_redis.connection_string + FAST, monkeypatch)
    with FeatureLogger(store, log_root=tmp_path, writer_config=QUIET, fast_read=True) as logger:
        assert logger.get_online_features("recommender_v1", ROWS, full_feature_names=True).to_dict()
        kill(private_redis)
        with pytest.raises(OnlineStoreError, match="unreachable"):
            within(
                10,
                lambda: logger.get_online_features("recommender_v1", ROWS, full_feature_names=True),
            )
        again = restart(private_redis)
        try:
            _store_on(served_repo, again.connection_string, monkeypatch)  # materialized again
            answer = within(
                10,
                lambda: logger.get_online_features("recommender_v1", ROWS, full_feature_names=True),
            )
            assert isinstance(answer, FastResponse)
            assert answer.to_dict()["product_stats__price"][0] is not None
        finally:
            again.stop()
