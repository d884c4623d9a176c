"""Latency of an online lookup with the on-demand view, beside Feast's plain lookup.

In-process, Feast's SDK (`FeatureStore.get_online_features`, full feature names), on the
Redis at $SKEWGUARD_REDIS (default 127.0.0.1:6379), three feature services:

- plain:  customer_profile + product_stats (13 features), no on-demand view;
- python: recommender_v1 as the repo defines it (the same 13 features plus the two of
          customer_product_fit, in python mode);
- pandas: the same 15 features, customer_product_fit as it was before, in pandas mode;
- fast:   recommender_v1 through skewguard's fast read path (`FastReader`, what
          `FeatureLogger(fast_read=True)` and `--fast-read` use): the same answer as
          python's, read straight from Redis without Feast's SDK on the request path.

Each for 1 and for 100 entity pairs per request. The benchmark builds its own repo copy
in a temporary folder (generated data, its own Feast project, applied and materialized)
and removes that project's keys from Redis at the end.

Latency on a shared 2-core machine drifts, so (as in bench_serving.py) the variants run
in short alternating blocks, the order rotating every round, and each percentile is
taken over all of a variant's requests in a trial; `--trials` repeats the whole
measurement and the medians over trials are printed, with the CPU time per request of
the benchmark process (less sensitive to other work on the machine than latency).

    PYTHONPATH=. python benchmarks/bench_lookup.py [--trials 5] [--rounds 200] [--block 10]
        [--json FILE]

`--json FILE` also writes the medians over trials there (for benchmarks/run_all.py).

`--profile` prints instead where the time of a lookup goes (cProfile, per stage of
Feast's online path), for the python and pandas views. `--offline ROWS` times instead
the on-demand features of ROWS rows computed offline: by Feast's `transform_arrow` (what
`get_historical_features` runs) for both views, and by the snapshot's and replay's step.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_serving import block, percentile

ROOT = Path(__file__).resolve().parent.parent

# The view's former pandas-mode definition and the services compared, added to the copy.
BENCH_OBJECTS = """
import pandas as pd
from feast import FeatureService, Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Bool, Float64
from feature_views import customer_profile, product_stats


@on_demand_feature_view(
    sources=[
        customer_profile[["avg_order_value", "recent_categories"]],
        product_stats[["price", "discount", "category"]],
    ],
    schema=[
        Field(name="price_vs_aov", dtype=Float64),
        Field(name="category_match", dtype=Bool),
    ],
    mode="pandas",
)
def customer_product_fit_pandas(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=inputs.index)
    aov = inputs["avg_order_value"].astype("float64").where(lambda v: v != 0)
    discount = inputs["discount"].astype("float64").fillna(0.0)
    out["price_vs_aov"] = inputs["price"].astype("float64") * (1.0 - discount) / aov
    recent = inputs["recent_categories"].explode()
    hits = recent.eq(inputs["category"].reindex(recent.index)) & recent.notna()
    out["category_match"] = hits.groupby(level=0).any().reindex(inputs.index, fill_value=False)
    return out


bench_plain = FeatureService(name="bench_plain", features=[customer_profile, product_stats])
bench_pandas = FeatureService(
    name="bench_pandas",
    features=[customer_profile, product_stats, customer_product_fit_pandas],
)
"""
VARIANTS = {
    "plain": "bench_plain",
    "python": "recommender_v1",
    "pandas": "bench_pandas",
    "fast": "recommender_v1",
}
ON_DEMAND = {"python": "customer_product_fit", "pandas": "customer_product_fit_pandas"}


def build_repo(folder: Path, customers: int, products: int) -> tuple[Any, Any]:
    """A generated, applied and materialized copy of the feature repo."""
    from skewguard.demo.datagen import GeneratorConfig, generate
    from skewguard.store.online import materialize
    from skewguard.store.repo import apply_repo, data_dir

    repo = folder / "feature_repo"
    repo.mkdir()
    for source in (ROOT / "feature_repo").iterdir():
        if source.suffix in {".py", ".yaml"}:
            shutil.copy(source, repo / source.name)
    (repo / "bench_objects.py").write_text(BENCH_OBJECTS)
    yaml = repo / "feature_store.yaml"
    project = f"bench_lookup_{os.getpid()}"
    yaml.write_text(yaml.read_text().replace("project: skewguard_demo", f"project: {project}"))
    config = GeneratorConfig(
        customers=customers,
        products=products,
        days=14,
        events_per_day=10,
        end=datetime(2026, 11, 20, tzinfo=UTC),
    )
    data = generate(data_dir(repo), config)
    store = apply_repo(repo)
    materialize(store, data.start, data.end)
    return store, data


def caller(
    store: Any, service: str, entities: int, customers: int, products: int, fast: bool = False
) -> Any:
    features = store.get_feature_service(service)
    lookup = store.get_online_features
    if fast:
        from skewguard.store.redis_reader import FastReader

        reader = FastReader(store)
        reason = reader.supports(features, True)
        if reason is not None:
            raise SystemExit(f"the fast read path cannot serve {service}: {reason}")
        lookup = reader.get_online_features

    def call(i: int) -> object:
        rows = [
            {
                "customer_id": (i * entities + k) % customers + 1,
                "product_id": (i + 7 * k) % products + 1,
            }
            for k in range(entities)
        ]
        return lookup(features=features, entity_rows=rows, full_feature_names=True)

    return call


def check_same_values(calls: dict[str, Callable[[int], Any]]) -> None:
    """The python and pandas views serve the same values, and the fast path Feast's whole
    answer (a benchmark of wrong code is moot)."""
    from skewguard.store.fast_response import FastResponse

    for i in range(20):
        feast, fast = calls["python"](i), calls["fast"](i)
        if not isinstance(fast, FastResponse) or fast.proto != feast.proto:
            raise SystemExit(f"the fast path and Feast answer request {i} differently")
        python = feast.to_dict()
        pandas = calls["pandas"](i).to_dict()
        for feature in ("price_vs_aov", "category_match"):
            a = python[f"{ON_DEMAND['python']}__{feature}"]
            b = pandas[f"{ON_DEMAND['pandas']}__{feature}"]
            if a != b:
                raise SystemExit(f"python and pandas views differ on {feature}: {a} != {b}")


def trial(
    calls: dict[str, Callable[[int], Any]], rounds: int, n: int
) -> dict[str, tuple[float, float, float]]:
    """`rounds` rounds of one block per variant, the order rotating every round.

    Per variant: p50 and p99 latency, and CPU time of this process per request (ms). The
    CPU time leaves out waiting for a core, which other work on a busy machine inflates.
    """
    names = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    cpu = dict.fromkeys(names, 0.0)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.process_time()
            samples[name].extend(block(calls[name], n, r * n))
            cpu[name] += time.process_time() - started
    return {
        name: (percentile(s, 0.50), percentile(s, 0.99), 1e3 * cpu[name] / len(s))
        for name, s in samples.items()
    }


def report(
    entities: int, requests: int, trials: list[dict[str, tuple[float, float, float]]]
) -> dict[str, dict[str, float]]:
    print(f"{entities} entity pair(s) per request, {requests} requests per variant per trial:")
    for i, figures in enumerate(trials, 1):
        cells = ", ".join(
            f"{name} {p50:6.2f} / {p99:6.2f} / {cpu:5.2f}"
            for name, (p50, p99, cpu) in figures.items()
        )
        print(f"  trial {i}: p50 / p99 / CPU ms: {cells}")
    medians: dict[str, dict[str, float]] = {}
    for name, service in VARIANTS.items():
        p50, p99, cpu = (statistics.median(t[name][k] for t in trials) for k in range(3))
        print(
            f"  {name:<7} ({service:<14}) p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
            f"CPU {cpu:5.2f} ms per request  (medians of trials)"
        )
        medians[name] = {"p50_ms": p50, "p99_ms": p99, "cpu_ms": cpu, "trials": len(trials)}
    load = os.getloadavg()[0]
    print(f"  load average (1 min) at the end: {load:.2f} on {os.cpu_count()} CPUs")
    return medians


_AUGMENT = "_augment_response_with_on_demand_transforms"
STAGES = [  # (label, function, file suffix, calling function or None for any), call order
    ("whole lookup", "get_online_features", "feast/feature_store.py", None),
    ("  entity keys, request set-up", "_prepare_entities_to_read_from_online_store", "", None),
    ("  Redis read and decode", "_read_features_per_fv", "online_stores/redis.py", None),
    ("  on-demand view, all of it", _AUGMENT, "feast/utils.py", None),
    ("    response to Python dict", "to_dict", "feast/online_response.py", _AUGMENT),
    ("    response to Arrow", "to_arrow", "feast/online_response.py", _AUGMENT),
    ("    transform_dict (python)", "transform_dict", "on_demand_feature_view.py", _AUGMENT),
    ("      the UDF itself", ON_DEMAND["python"], "", None),
    ("    transform_arrow (pandas)", "transform_arrow", "on_demand_feature_view.py", _AUGMENT),
    ("      the UDF itself", ON_DEMAND["pandas"], "", None),
    ("    outputs to protobuf", "python_values_to_proto_values", "feast/type_map.py", _AUGMENT),
]


def profile(calls: dict[str, Callable[[int], Any]], requests: int) -> None:
    print(f"cProfile, 1 entity pair, {requests} requests (times under the profiler, inflated):")
    for name in ("python", "pandas"):
        block(calls[name], 200, 0)
        profiler = cProfile.Profile()
        profiler.enable()
        block(calls[name], requests, 0)
        profiler.disable()
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        total = None
        print(f"  {name}:")
        for label, function, suffix, caller in STAGES:
            seconds = 0.0
            found = False
            for (file, _, func), (_, _, _, cumulative, callers) in stats.items():
                if func != function or not file.endswith(suffix):
                    continue
                found = True
                if caller is None:
                    seconds += cumulative
                else:  # only the time spent under `caller`
                    seconds += sum(t[3] for (_, _, f), t in callers.items() if f == caller)
            if not found or seconds == 0.0:
                continue
            ms = 1e3 * seconds / requests
            total = total or ms
            print(f"    {label:<32} {ms:6.3f} ms per call  {100 * ms / total:5.1f}%")


def offline(store: Any, data: Any, rows: int, runs: int) -> None:
    """Seconds to compute the on-demand features of `rows` rows, the variants alternating."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skewguard.store.service import describe_service
    from skewguard.store.snapshot import _on_demand  # the snapshot's and replay's own step

    rng = np.random.default_rng(0)
    columns = {}
    for view, path in (
        ("customer_profile", data.customer_profile),
        ("product_stats", data.product_stats),
    ):
        source = pq.read_table(path)
        picked = rng.integers(0, source.num_rows, rows)
        for feature in store.get_feature_view(view).features:
            columns[f"{view}__{feature.name}"] = source.column(feature.name).take(picked)
    table = pa.table(columns)
    python = store.get_on_demand_feature_view(ON_DEMAND["python"])
    pandas = store.get_on_demand_feature_view(ON_DEMAND["pandas"])
    outputs = [f for f in describe_service(store, "recommender_v1").features if f.on_demand]
    variants: dict[str, Callable[[], object]] = {
        "python, Feast's transform_arrow": lambda: python.transform_arrow(table, True),
        "pandas, Feast's transform_arrow": lambda: pandas.transform_arrow(table, True),
        "python, snapshot and replay": lambda: _on_demand(python, table, outputs),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for run in range(runs):
        shift = run % len(variants)
        names = list(variants)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            variants[name]()
            seconds[name].append(time.perf_counter() - started)
    print(f"offline, on-demand features of {rows} rows ({table.num_columns} batch features):")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(
            f"  {name:<32} median {median:6.2f} s ({rows / median:9,.0f} rows/s); "
            f"runs {', '.join(f'{v:.2f}' for v in values)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="whole measurements repeated")
    parser.add_argument("--rounds", type=int, default=200, help="rounds per trial, 1 entity")
    parser.add_argument("--batch-rounds", type=int, default=20, help="rounds, 100 entities")
    parser.add_argument("--block", type=int, default=10, help="requests per block")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--products", type=int, default=150)
    parser.add_argument("--profile", action="store_true", help="see the module docstring")
    parser.add_argument("--offline", type=int, metavar="ROWS", help="see the module docstring")
    parser.add_argument("--offline-runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the medians here too")
    args = parser.parse_args()
    results: dict[str, Any] = {"variants": VARIANTS}

    import skewguard

    os.environ.setdefault("SKEWGUARD_REDIS", "127.0.0.1:6379")
    folder = Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    store = None
    try:
        store, data = build_repo(folder, args.customers, args.products)
        print(
            f"skewguard from {Path(skewguard.__file__).parent}; Redis "
            f"{os.environ['SKEWGUARD_REDIS']}; project {store.project}; "
            f"full_feature_names=True"
        )
        if args.offline:
            offline(store, data, args.offline, args.offline_runs)
            return 0
        c, p = args.customers, args.products
        for entities, rounds in ((1, args.rounds), (100, args.batch_rounds)):
            calls = {
                name: caller(store, service, entities, c, p, fast=name == "fast")
                for name, service in VARIANTS.items()
            }
            check_same_values(calls)
            if args.profile:
                if entities == 1:
                    profile(calls, 2000)
                continue
            for call in calls.values():
                block(call, args.warmup // entities or 5, 0)
            gc.collect()
            gc.freeze()  # what a server does after start-up (skewguard serve does)
            measured = [trial(calls, rounds, args.block) for _ in range(args.trials)]
            gc.unfreeze()
            results[f"entities_{entities}"] = report(entities, rounds * args.block, measured)
        if args.json is not None:
            results["load_average"] = list(os.getloadavg())
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if store is not None:
            store.teardown()  # this project's keys leave Redis
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
