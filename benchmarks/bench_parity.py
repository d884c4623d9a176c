"""Benchmark: `skewguard parity` steps for N sampled entities on the clean demo world.

    python benchmarks/bench_parity.py [--entities 1000 10000] [--runs 2]

Copies the feature repo to a temp folder under its own Feast project (the Redis at
$SKEWGUARD_REDIS, default 127.0.0.1:6379, is shared: the project's keys are torn down at
the end), generates the demo world, materializes it, then times the three steps of a
parity run one after the other, in-process (Feast imported once): sampling the entities
from the offline sources, reading the online store and encoding the response as log rows,
and the replay (the point-in-time join and the comparison). Prints one line per run and
the number of differing values (0 on the clean world).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("SKEWGUARD_REDIS", "127.0.0.1:6379")

    from skewguard.demo.datagen import GeneratorConfig
    from skewguard.demo.run import load_scenario_online
    from skewguard.demo.scenarios import Scenario
    from skewguard.serving.parity import online_as_log
    from skewguard.store.entities import sample_entities
    from skewguard.store.replay import replay
    from skewguard.store.service import describe_service
    from tests.conftest import copy_feature_repo

    end = datetime(2026, 11, 20, tzinfo=UTC)
    at = end + timedelta(minutes=30)
    with tempfile.TemporaryDirectory(prefix="bench-parity-") as tmp:
        repo = copy_feature_repo(Path(tmp) / "repo", f"sgbenchpar_{os.getpid()}")
        store, _ = load_scenario_online(repo, Scenario.CLEAN, GeneratorConfig(end=end))
        try:
            spec = describe_service(store, "recommender_v1")
            print(f"load average {os.getloadavg()[0]:.1f}")
            for _ in range(args.runs):
                for n in args.entities:
                    t0 = time.perf_counter()
                    entities = sample_entities(store, spec, n, seed=0, at=at)
                    t1 = time.perf_counter()
                    logs = online_as_log(store, spec.name, entities, at)
                    t2 = time.perf_counter()
                    result = replay(store, spec.name, logs)
                    t3 = time.perf_counter()
                    differ = sum(f.diff_count for f in result.features)
                    print(
                        f"{n:>7,} entities: sample {t1 - t0:5.2f} s, online read + encode "
                        f"{t2 - t1:5.2f} s, replay {t3 - t2:5.2f} s, total {t3 - t0:5.2f} s, "
                        f"{differ} values differ"
                    )
            print(f"load average {os.getloadavg()[0]:.1f}")
        finally:
            store.teardown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
