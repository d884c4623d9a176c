"""Counting record batches into frozen bins: the profile of one input.

Training data is read twice (`freeze_specs`, then counting); serving data is read once,
into the bins frozen from training. Batches stream one parquet row group at a time, so
memory stays bounded; large inputs fan their columns out over one process per core.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing import get_context

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewguard.checking.freezing import freeze_specs
from skewguard.checking.profile import (
    FREQUENT_LG_MAX,
    HLL_LG_K,
    KLL_K,
    SAMPLE_SIZE,
    THETA_LG_K,
    ArrayProfile,
    CategoricalProfile,
    DatasetProfile,
    FeatureProfile,
    NumericProfile,
    Profile,
)
from skewguard.checking.reading import (
    ParquetSource,
    ServingInput,
    TrainingInput,
    iter_batches,
    type_name,
)
from skewguard.checking.specs import (
    DEFAULT_BINS,
    ArraySpec,
    CategoricalSpec,
    Kind,
    NumericSpec,
    ProfileSpec,
    element_kind,
    kind_of,
)
from skewguard.checking.values import Sampler, as_float, as_numpy, decode, kll_stride, strings
from skewguard.errors import InputError
from skewguard.logschema import FieldStatus

__all__ = [
    "profile_batches",
    "profile_source",
    "profile_training",
    "profile_serving",
    "sample_stride",
    "usable_specs",
    "dataset_profile",
]

# Above this many cells (rows x features) profiling fans out over worker processes.
PARALLEL_MIN_CELLS = 20_000_000


def _thin(values: np.ndarray) -> np.ndarray:
    if values.size <= SAMPLE_SIZE:
        return values
    return values[np.linspace(0, values.size - 1, SAMPLE_SIZE).astype(np.int64)]


class _NumericCounter:
    def __init__(self, spec: NumericSpec, stride: int = 1, sample_stride: int = 1) -> None:
        self.sampler = Sampler(stride)
        self.detail = Sampler(sample_stride)
        self.kept: list[np.ndarray] = []
        self.kept_size = 0
        self.negative = 0
        self.edges = [float(e) for e in spec.edges]
        self.count = self.nulls = self.nan = self.pos_inf = self.neg_inf = self.integral = 0
        self.finite = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.histogram = np.zeros(spec.buckets, dtype=np.int64)
        self.sketch = ds.kll_doubles_sketch(KLL_K)

    def update(self, arr: pa.Array) -> None:
        self.count += len(arr)
        if arr.null_count:
            self.nulls += arr.null_count
            arr = arr.drop_null()
        x = as_float(arr)
        if x.size == 0:
            return
        finite_mask = np.isfinite(x)
        n_finite = int(np.count_nonzero(finite_mask))
        if n_finite != x.size:
            self.nan += int(np.count_nonzero(np.isnan(x)))
            self.pos_inf += int(np.count_nonzero(x == np.inf))
            self.neg_inf += int(np.count_nonzero(x == -np.inf))
            x = x[finite_mask]
        if n_finite == 0:
            return
        lo, hi = float(x.min()), float(x.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        batch_mean = float(x.mean())
        dev = x - batch_mean
        batch_m2 = float(np.sum(dev * dev))  # not np.dot: BLAS threads spin under load
        total = self.finite + n_finite
        delta = batch_mean - self.mean
        self.mean += delta * n_finite / total
        self.m2 += batch_m2 + delta * delta * self.finite * n_finite / total
        self.finite = total
        self.integral += int(np.count_nonzero(np.floor(x) == x))
        if lo < 0:
            self.negative += int(np.count_nonzero(x < 0))
        kept = self.detail.take(x)
        if kept.size:
            self.kept.append(kept.copy())
            self.kept_size += kept.size
            if self.kept_size > 2 * SAMPLE_SIZE:  # bounded memory whatever the stride
                self.kept = [_thin(np.concatenate(self.kept))]
                self.kept_size = self.kept[0].size
        # Bucket counts from "how many below each edge": one cheap pass per edge beats a
        # binary search per value for the dozen edges used here.
        below = [0, *(int(np.count_nonzero(x < e)) for e in self.edges), n_finite]
        self.histogram += np.diff(np.asarray(below, dtype=np.int64)).astype(np.int64)
        sample = self.sampler.take(x)
        if sample.size:
            self.sketch.update(sample)

    def finish(self) -> NumericProfile:
        sample = _thin(np.concatenate(self.kept)) if self.kept else np.zeros(0, np.float64)
        return NumericProfile(
            count=self.count,
            nulls=self.nulls,
            nan=self.nan,
            pos_inf=self.pos_inf,
            neg_inf=self.neg_inf,
            min=self.min,
            max=self.max,
            mean=self.mean,
            m2=self.m2,
            integral=self.integral,
            histogram=tuple(int(c) for c in self.histogram),
            sketch=self.sketch.serialize(),
            negative=self.negative,
            sample=np.ascontiguousarray(sample, dtype=np.float64).tobytes(),
        )


class _CategoricalCounter:
    def __init__(self, spec: CategoricalSpec) -> None:
        self.vocab = pa.array(spec.labels, type=pa.string())
        self.count = self.nulls = 0
        self.counts = np.zeros(spec.buckets, dtype=np.int64)
        self.frequent = ds.frequent_strings_sketch(FREQUENT_LG_MAX)
        self.distinct = ds.hll_sketch(HLL_LG_K)
        self.theta = ds.update_theta_sketch(THETA_LG_K)
        self.halves = (ds.update_theta_sketch(THETA_LG_K), ds.update_theta_sketch(THETA_LG_K))
        self.row = 0  # rows seen before this batch: which half a row falls in

    def update(self, arr: pa.Array) -> None:
        start, self.row = self.row, self.row + len(arr)
        for half, sketch in enumerate(self.halves):
            rows = strings(arr[(start + half) % 2 :: 2]).drop_null()
            for value in pc.unique(rows).to_pylist():
                sketch.update(value)
        self.count += len(arr)
        self.nulls += arr.null_count
        values = strings(arr).drop_null()
        if len(values) == 0:
            return
        vc = pc.value_counts(values)
        uniques = vc.field("values").cast(pa.string())
        counts = as_numpy(vc.field("counts")).astype(np.int64)
        index = pc.index_in(uniques, value_set=self.vocab)
        idx = as_numpy(index.fill_null(len(self.vocab)))
        self.counts += np.bincount(idx, weights=counts, minlength=self.counts.size).astype(np.int64)
        for value, n in zip(uniques.to_pylist(), counts.tolist(), strict=True):
            self.frequent.update(value, n)
            self.distinct.update(value)
            self.theta.update(value)

    def finish(self) -> CategoricalProfile:
        return CategoricalProfile(
            count=self.count,
            nulls=self.nulls,
            counts=tuple(int(c) for c in self.counts),
            frequent=self.frequent.serialize(),
            distinct_sketch=self.distinct.serialize_compact(),
            theta=bytes(self.theta.compact().serialize()),
            theta_halves=(
                bytes(self.halves[0].compact().serialize()),
                bytes(self.halves[1].compact().serialize()),
            ),
        )


class _ArrayCounter:
    def __init__(self, spec: ArraySpec, stride: int = 1, sample_stride: int = 1) -> None:
        self.count = self.nulls = 0
        self.length = _NumericCounter(spec.length, stride, sample_stride)
        self.element: _NumericCounter | _CategoricalCounter = (
            _NumericCounter(spec.element, stride, sample_stride)
            if isinstance(spec.element, NumericSpec)
            else _CategoricalCounter(spec.element)
        )

    def update(self, arr: pa.Array) -> None:
        self.count += len(arr)
        self.nulls += arr.null_count
        self.length.update(pc.list_value_length(arr).drop_null())
        self.element.update(pc.list_flatten(arr))

    def finish(self) -> ArrayProfile:
        return ArrayProfile(
            count=self.count,
            nulls=self.nulls,
            length=self.length.finish(),
            element=self.element.finish(),
        )


def _counter(
    spec: ProfileSpec, stride: int, sample_stride: int
) -> _NumericCounter | _CategoricalCounter | _ArrayCounter:
    body = spec.body
    if isinstance(body, NumericSpec):
        return _NumericCounter(body, stride, sample_stride)
    if isinstance(body, CategoricalSpec):
        return _CategoricalCounter(body)
    return _ArrayCounter(body, stride, sample_stride)


def sample_stride(rows: int) -> int:
    """Every how many values the kept sample takes to hold about `SAMPLE_SIZE` of `rows`."""
    return max(1, -(-rows // SAMPLE_SIZE))


def _compatible(spec: ProfileSpec, arrow_type: pa.DataType) -> bool:
    """Can a column of `arrow_type` be counted into bins frozen for `spec`?"""
    kind = kind_of(arrow_type)
    if kind is None:
        return False
    if spec.kind is Kind.ARRAY:
        if kind is not Kind.ARRAY:
            return False
        assert isinstance(spec.body, ArraySpec)
        return element_kind(arrow_type) == spec.body.element_kind
    return kind == spec.kind


def profile_batches(
    batches: Iterable[pa.RecordBatch],
    specs: Sequence[ProfileSpec],
    *,
    statuses: Mapping[str, str] | None = None,
    stride: int = 1,
    sample_every: int = 1,
    keep: np.ndarray | None = None,
) -> tuple[int, dict[str, Profile], dict[str, tuple[int, ...]]]:
    """Count batches into frozen specs: (rows, profile per feature, status counts per feature).

    `statuses` maps a feature to its `__status` column, whose FieldStatus values are counted.
    `stride` thins what the KLL sketches see (see `KLL_FEED`); counts stay exact.
    `sample_every` thins the kept value sample (`sample_stride(rows)` keeps about
    `SAMPLE_SIZE`; the default keeps the first `SAMPLE_SIZE` values spread evenly).
    `keep` (one bool per row, in batch order) leaves rows out (duplicates).
    """
    statuses = statuses or {}
    counters = {s.name: _counter(s, stride, sample_every) for s in specs}
    status_counts = {name: np.zeros(len(FieldStatus), dtype=np.int64) for name in statuses}
    rows = 0
    offset = 0
    for batch in batches:
        if keep is not None:
            mask = keep[offset : offset + batch.num_rows]
            offset += batch.num_rows
            if not mask.all():
                batch = batch.filter(pa.array(mask))
        rows += batch.num_rows
        for name, counter in counters.items():
            counter.update(decode(batch.column(name)))
        for name, column in statuses.items():
            codes = as_numpy(decode(batch.column(column)).drop_null())
            found = [int(np.count_nonzero(codes == status)) for status in FieldStatus]
            # Codes outside FieldStatus count as INVALID rather than disappear.
            found[FieldStatus.INVALID] += codes.size - sum(found)
            status_counts[name] += np.asarray(found, dtype=np.int64)
    return (
        rows,
        {name: c.finish() for name, c in counters.items()},
        {name: tuple(int(x) for x in c) for name, c in status_counts.items()},
    )


def _profile_columns(
    source: ParquetSource,
    specs: Sequence[ProfileSpec],
    statuses: Mapping[str, str],
    keep: np.ndarray | None = None,
) -> tuple[int, dict[str, Profile], dict[str, tuple[int, ...]]]:
    columns = [s.name for s in specs] + list(statuses.values())
    return profile_batches(
        iter_batches(source, columns),
        specs,
        statuses=statuses,
        stride=kll_stride(source.rows),
        sample_every=sample_stride(source.rows),
        keep=keep,
    )


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def profile_source(
    source: ParquetSource,
    specs: Sequence[ProfileSpec],
    *,
    statuses: Mapping[str, str] | None = None,
    workers: int | None = None,
    keep: np.ndarray | None = None,
) -> DatasetProfile:
    """Second pass: count `source` into frozen `specs`, fanning columns out over processes
    when the input is large. Columns whose type cannot use the frozen bins are skipped.
    `keep` (one bool per row) leaves rows out."""
    statuses = dict(statuses or {})
    usable = usable_specs(source, specs)
    workers = workers if workers is not None else _workers()
    cells = source.rows * max(1, len(usable))
    groups: list[list[ProfileSpec]] = [[] for _ in range(max(1, min(workers, len(usable))))]
    for i, spec in enumerate(usable):
        groups[i % len(groups)].append(spec)
    if len(groups) > 1 and cells >= PARALLEL_MIN_CELLS:
        results = []
        with ProcessPoolExecutor(len(groups), mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(
                    _profile_columns,
                    source,
                    group,
                    {n: c for n, c in statuses.items() if n in {s.name for s in group}},
                    keep,
                )
                for group in groups
            ]
            results = [f.result() for f in futures]
    else:
        results = [_profile_columns(source, usable, statuses, keep)]
    profiles: dict[str, Profile] = {}
    status_counts: dict[str, tuple[int, ...]] = {}
    for _, p, s in results:
        profiles.update(p)
        status_counts.update(s)
    rows = source.rows if keep is None else int(np.count_nonzero(keep))
    return dataset_profile(source, usable, profiles, status_counts, rows=rows)


def usable_specs(source: ParquetSource, specs: Sequence[ProfileSpec]) -> list[ProfileSpec]:
    """The specs whose column in `source` can be counted into their frozen bins."""
    return [s for s in specs if _compatible(s, source.schema.field(s.name).type)]


def dataset_profile(
    source: ParquetSource,
    usable: Sequence[ProfileSpec],
    profiles: Mapping[str, Profile],
    status_counts: Mapping[str, tuple[int, ...]],
    *,
    rows: int | None = None,
) -> DatasetProfile:
    """The profile of all of `source` (or of its `rows` kept rows) from the counts of its
    `usable` features."""
    features = tuple(
        FeatureProfile(
            spec=spec,
            arrow_type=type_name(source.schema.field(spec.name).type),
            profile=profiles[spec.name],
            statuses=status_counts.get(spec.name),
        )
        for spec in usable
    )
    return DatasetProfile(
        source=str(source.path),
        rows=source.rows if rows is None else rows,
        files=len(source.files),
        features=features,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def profile_training(training: TrainingInput, *, bins: int = DEFAULT_BINS) -> DatasetProfile:
    """Profile a training snapshot from its data (two passes: freeze, then count)."""
    if training.data is None:
        raise InputError(
            "the training snapshot has no data file to profile",
            where=str(training.path),
            hint="restore data.parquet or its reference profile",
        )
    features = training.features
    specs = freeze_specs(training.data, features, bins=bins)
    profile = profile_source(training.data, [specs[n] for n in features])
    content_hash = training.manifest.content_hash if training.manifest else None
    return replace(profile, content_hash=content_hash, created_at=_now())


def profile_serving(
    serving: ServingInput, specs: Mapping[str, ProfileSpec], *, keep: np.ndarray | None = None
) -> DatasetProfile:
    """Profile serving logs into the bins frozen from training, counting statuses.
    `keep` (one bool per row) leaves rows out (`skewguard.checking.duplicates`)."""
    names = [n for n in serving.features if n in specs]
    statuses = {n: c for n in names if (c := serving.status_column(n)) is not None}
    return profile_source(serving.data, [specs[n] for n in names], statuses=statuses, keep=keep)
