"""Same-distribution samples pass under the default policy, small and large."""

from __future__ import annotations

from pathlib import Path

import pytest
from check_fixtures import write_serving, write_training

from skewguard.checking.pipeline import check
from skewguard.checking.policy import load_policy
from skewguard.vocabulary import Verdict


@pytest.mark.parametrize(("n", "seeds"), [(1_000, range(10)), (100_000, range(2))])
def test_no_false_alarm(tmp_path: Path, n: int, seeds: range) -> None:
    policy = load_policy(None)
    for seed in seeds:
        train = write_training(tmp_path / f"t{seed}", n, seed=100 + seed)
        logs = write_serving(tmp_path / f"s{seed}", n, seed=200 + seed, parts=3)
        report = check(train, logs, policy)
        not_passing = {
            f.name: [c.check for c in f.failing()] for f in report.features if f.failing()
        }
        assert report.verdict is Verdict.PASS, not_passing
