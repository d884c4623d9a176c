"""What the serving log's spool costs a request, on a private redis-server.

The spool appends each accepted response to a file in `<log folder>/.spool` inside
`ServingLogWriter.submit`, before the lookup returns (docs/reliability.md). Measured, with
the spool on and off in alternating blocks (so the machine's slow spells hit both):

1. `submit` alone, with real logged responses of `recommender_v1` (1 entity x 15
   features): microseconds per call;
2. a whole logged lookup, `FeatureLogger.get_online_features` for 1 entity: p50, p99 and
   mean milliseconds per request.

The script builds its own world: a copy of the feature repo under its own Feast project,
generated data, and a redis-server of its own on a free loopback port (stopped at the end).

    PYTHONPATH=. python benchmarks/bench_spool.py [--submits 20000] [--rounds 200] [--block 10]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "recommender_v1"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def build_world(work: Path) -> object:
    """Generate, apply and materialize a repo copy into the current $SKEWGUARD_REDIS."""
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir

    repo = work / "feature_repo"
    repo.mkdir()
    for item in (ROOT / "feature_repo").iterdir():
        if item.suffix in {".py", ".yaml"}:
            shutil.copy(item, repo / item.name)
    yaml = repo / "feature_store.yaml"
    yaml.write_text(yaml.read_text().replace("project: skewguard_demo", "project: bench_spool"))
    data = generate(data_dir(repo), GeneratorConfig())
    store = apply_repo(repo)
    materialize(store, data.end - timedelta(days=14), data.end)
    return store


def entity(i: int) -> dict[str, int]:
    return {"customer_id": 1 + (i * 7) % 400, "product_id": 1 + (i * 13) % 150}


def logged_items(store: object, n: int) -> list[tuple[object, ...]]:
    """Real logged responses, as `FeatureLogger` hands them to the writer."""
    from skewguard.serving.encoding import request_micros

    items = []
    for i in range(n):
        response = store.get_online_features(  # type: ignore[attr-defined]
            features=store.get_feature_service(SERVICE),  # type: ignore[attr-defined]
            entity_rows=[entity(i)],
            full_feature_names=True,
        )
        now = request_micros(datetime.now(UTC))
        items.append((response.proto.SerializeToString(), True, now, uuid.uuid4().hex, None))
    return items


def bench_submit(items: list[tuple[object, ...]], submits: int, block: int) -> dict[str, float]:
    import pyarrow as pa

    from skewguard.serving.writer import ServingLogWriter, WriterConfig

    def encode(batch: object) -> pa.Table:  # the cost measured is submit's: write nothing
        return pa.table({"__log_date": pa.array([], pa.date32())})

    config = dict(flush_rows=10**9, flush_interval=3600.0, capacity_rows=10**9)
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as logs:
        writers = {
            spool: ServingLogWriter(
                Path(logs) / str(spool),
                encode,
                WriterConfig(**config, spool=spool, separate_process=False, handle_sigterm=False),
            )
            for spool in (True, False)
        }
        for start in range(0, submits, block):
            for spool, writer in writers.items():
                began = time.perf_counter()
                for i in range(start, start + block):
                    writer.submit(items[i % len(items)], 1)
                times[spool].append((time.perf_counter() - began) / block * 1e6)
        for writer in writers.values():
            writer.close()
    return {
        "on": statistics.median(times[True]),
        "off": statistics.median(times[False]),
    }


def bench_lookup(store: object, rounds: int, block: int) -> dict[bool, list[float]]:
    from skewguard.serving.logger import FeatureLogger
    from skewguard.serving.writer import WriterConfig

    samples: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as logs:
        loggers = {
            spool: FeatureLogger(
                store,  # type: ignore[arg-type]
                log_root=Path(logs) / str(spool),
                writer_config=WriterConfig(spool=spool, flush_rows=173, flush_interval=3600.0),
            )
            for spool in (True, False)
        }
        for logger in loggers.values():  # warm-up: writer processes started, caches filled
            for i in range(100):
                logger.get_online_features(SERVICE, [entity(i)], full_feature_names=True)
        gc.collect()
        gc.freeze()
        for r in range(rounds):
            for spool, logger in loggers.items():
                for i in range(block):
                    began = time.perf_counter()
                    logger.get_online_features(
                        SERVICE, [entity(r * block + i)], full_feature_names=True
                    )
                    samples[spool].append((time.perf_counter() - began) * 1e3)
        for logger in loggers.values():
            logger.close()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=20_000, help="submit calls per variant")
    parser.add_argument("--rounds", type=int, default=200, help="alternating lookup rounds")
    parser.add_argument("--block", type=int, default=10, help="calls per block")
    args = parser.parse_args()

    from skewguard.store.online import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="bench-spool-") as tmp, EmbeddedRedis.start() as redis:
        os.environ["SKEWGUARD_REDIS"] = redis.connection_string
        store = build_world(Path(tmp))
        items = logged_items(store, 200)
        size = statistics.median(len(item[0]) for item in items)  # type: ignore[arg-type]
        submit = bench_submit(items, args.submits, args.block)
        print(
            f"submit of a logged response ({size:.0f}-byte proto, 1 entity x 15 features), "
            f"median of {args.submits // args.block} blocks of {args.block}:"
        )
        print(
            f"  spool on {submit['on']:.1f} us, off {submit['off']:.1f} us: "
            f"the spool costs {submit['on'] - submit['off']:.1f} us per request"
        )
        lookups = bench_lookup(store, args.rounds, args.block)
        print(f"logged lookup, 1 entity, {args.rounds * args.block} requests per variant:")
        for spool in (True, False):
            ms = lookups[spool]
            print(
                f"  spool {'on ' if spool else 'off'}: p50 {percentile(ms, 0.5):.3f} ms, "
                f"p99 {percentile(ms, 0.99):.3f} ms, mean {statistics.fmean(ms):.3f} ms"
            )
        on, off = lookups[True], lookups[False]
        print(
            f"  difference: p50 {percentile(on, 0.5) - percentile(off, 0.5):+.3f} ms, "
            f"mean {statistics.fmean(on) - statistics.fmean(off):+.3f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
