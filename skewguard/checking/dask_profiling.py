"""Profiles on a Dask cluster: the single-process profiles, computed per partition, merged.

`DaskEngine` cuts a parquet input into partitions of whole row groups (about
`partition_rows` rows each, never across files), has each Dask worker count its
partitions with the same code as the single-process path (`profile_batches`), and merges
the partial profiles on the client in partition order (`profile.merge`): counts add,
sketches merge. Training data takes the same two passes as on one process: the freezers'
sketches of all partitions are merged before the bins are frozen, then every partition is
counted into those bins.

Workers open the files themselves: a local path must be readable by every worker (a
shared disk, or a `LocalCluster` on this machine); a URI (s3://, gs://, an fsspec
protocol) is opened on each worker through the same filesystem, with the workers'
credentials. Workers need skewguard importable, at the same version as the client.
dask and distributed are imported only when an engine is used (`pip install
'skewguard[dask]'`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from skewguard.checking.counting import dataset_profile, profile_batches, usable_specs
from skewguard.checking.freezing import (
    Freezers,
    feed_freezers,
    finish_specs,
    merge_freezers,
    new_freezers,
)
from skewguard.checking.profile import DatasetProfile, Profile, merge
from skewguard.checking.reading import ParquetSource, ServingInput, TrainingInput, iter_batches
from skewguard.checking.specs import DEFAULT_BINS, ProfileSpec
from skewguard.checking.values import kll_stride
from skewguard.errors import EngineError, InputError

__all__ = ["DEFAULT_PARTITION_ROWS", "Partition", "DaskEngine", "plan_partitions"]

DEFAULT_PARTITION_ROWS = 1_000_000
Counted = tuple[int, dict[str, Profile], dict[str, tuple[int, ...]]]


@dataclass(frozen=True)
class Partition:
    """Whole row groups of one file: the unit of work a worker counts."""

    file: Path
    row_groups: tuple[int, ...]
    rows: int

    def selection(self) -> dict[Path, Sequence[int]]:
        return {self.file: self.row_groups}


def plan_partitions(source: ParquetSource, partition_rows: int) -> list[Partition]:
    """Consecutive row groups of each file, packed up to about `partition_rows` rows."""
    parts: list[Partition] = []
    for file in source.files:
        try:
            meta = pq.read_metadata(source.open(file))
        except (OSError, pa.ArrowException) as err:
            raise InputError(
                f"cannot read parquet file: {err}",
                where=str(file),
                hint="the file is corrupt or not parquet; rewrite or remove it",
            ) from err
        groups: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            groups.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= partition_rows:
                parts.append(Partition(file, tuple(groups), rows))
                groups, rows = [], 0
        if groups:
            parts.append(Partition(file, tuple(groups), rows))
    return parts


# -- what a worker runs (module-level functions: Dask pickles them by name) --------------


def _freeze_partition(part: Partition, source: ParquetSource, features: Sequence[str]) -> Freezers:
    # Freezers are made from the whole source, so their KLL feed matches one process's.
    freezers = new_freezers(source, features)
    if not freezers:
        return freezers
    batches = iter_batches(source, list(freezers), row_groups=part.selection())
    return feed_freezers(freezers, batches)


def _count_partition(
    part: Partition,
    source: ParquetSource,
    specs: Sequence[ProfileSpec],
    statuses: Mapping[str, str],
    stride: int,
) -> Counted:
    columns = [s.name for s in specs] + list(statuses.values())
    batches = iter_batches(source, columns, row_groups=part.selection())
    return profile_batches(batches, specs, statuses=statuses, stride=stride)


def _merge_counted(results: Sequence[Counted]) -> Counted:
    rows, profiles, statuses = results[0]
    profiles, statuses = dict(profiles), dict(statuses)
    for more_rows, more_profiles, more_statuses in results[1:]:
        rows += more_rows
        for name, profile in more_profiles.items():
            profiles[name] = merge(profiles[name], profile)
        for name, counts in more_statuses.items():
            summed = np.asarray(statuses[name], dtype=np.int64) + np.asarray(counts, np.int64)
            statuses[name] = tuple(int(c) for c in summed)
    return rows, profiles, statuses


class DaskEngine:
    """Profile inputs on a Dask cluster.

    `scheduler` is the address of a running scheduler (`tcp://host:8786`); without one,
    Dask's own setting (`DASK_SCHEDULER_ADDRESS`) is used, else a `LocalCluster` of
    `workers` processes (default: one per core) is started for as long as the engine is
    open. Use it as a context manager so both passes of a check share one connection.
    """

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        workers: int | None = None,
        partition_rows: int = DEFAULT_PARTITION_ROWS,
        connect_timeout: float = 10.0,
    ) -> None:
        if partition_rows < 1:
            raise InputError(
                f"partition_rows must be positive, not {partition_rows}",
                where="DaskEngine",
                hint="use about a million rows per partition",
            )
        self.scheduler = scheduler
        self.workers = workers
        self.partition_rows = partition_rows
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._cluster: Any = None

    def __repr__(self) -> str:
        return f"DaskEngine(scheduler={self.describe()!r})"

    def describe(self) -> str:
        """Where the work runs, for messages and reports."""
        if self._client is not None:
            return str(self._client.scheduler.address)
        return self.scheduler or _configured_scheduler() or "a local Dask cluster"

    # -- connection --------------------------------------------------------------------

    def __enter__(self) -> DaskEngine:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self._client is not None:
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:
            raise EngineError(
                f"the Dask engine needs dask.distributed: {err}",
                where="--engine dask",
                hint="pip install 'skewguard[dask]'",
            ) from err
        address = self.scheduler or _configured_scheduler()
        if address:
            try:
                self._client = Client(address, timeout=self.connect_timeout)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError, ValueError) as err:
                raise EngineError(
                    f"cannot reach the Dask scheduler: {err}",
                    where=address,
                    hint="check the address (tcp://host:8786) and that the scheduler runs",
                ) from err
            return
        self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=self.workers or _cores(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        self._client = Client(self._cluster)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @contextmanager
    def _connected(self) -> Iterator[Any]:
        opened_here = self._client is None
        self.open()
        try:
            yield self._client
        finally:
            if opened_here:
                self.close()

    def _run(self, client: Any, fn: Any, parts: Sequence[Partition], **kw: Any) -> list[Any]:
        futures = client.map(fn, parts, pure=False, **kw)
        try:
            return list(client.gather(futures))
        except (OSError, TimeoutError) as err:
            raise EngineError(
                f"the Dask cluster failed while profiling: {err}",
                where=self.describe(),
                hint="check the workers' logs; every worker must read the input's files",
            ) from err

    # -- profiles ----------------------------------------------------------------------

    def profile_source(
        self,
        source: ParquetSource,
        specs: Sequence[ProfileSpec],
        *,
        statuses: Mapping[str, str] | None = None,
    ) -> DatasetProfile:
        """Count `source` into frozen `specs` on the cluster (as `counting.profile_source`)."""
        usable = usable_specs(source, specs)
        names = {s.name for s in usable}
        statuses = {n: c for n, c in (statuses or {}).items() if n in names}
        parts = plan_partitions(source, self.partition_rows)
        with self._connected() as client:
            results = self._run(
                client,
                _count_partition,
                parts,
                source=source,
                specs=usable,
                statuses=statuses,
                stride=kll_stride(source.rows),
            )
        rows, profiles, status_counts = _merge_counted(results)
        if rows != source.rows:
            raise InputError(
                f"the partitions held {rows:,} rows but the footers say {source.rows:,}",
                where=str(source.path),
                hint="the files changed while they were read; run the check again",
            )
        return dataset_profile(source, usable, profiles, status_counts)

    def freeze_specs(
        self, source: ParquetSource, features: Sequence[str], *, bins: int = DEFAULT_BINS
    ) -> dict[str, ProfileSpec]:
        """First pass on the cluster: each partition's sketches, merged, then frozen."""
        new_freezers(source, features)  # unprofilable types fail here, before any work
        parts = plan_partitions(source, self.partition_rows)
        with self._connected() as client:
            results = self._run(
                client, _freeze_partition, parts, source=source, features=list(features)
            )
        freezers = results[0]
        for more in results[1:]:
            freezers = merge_freezers(freezers, more)
        return finish_specs(source, features, freezers, bins=bins)

    def profile_training(
        self, training: TrainingInput, *, bins: int = DEFAULT_BINS
    ) -> DatasetProfile:
        """As `counting.profile_training`: freeze, then count, both passes on the cluster."""
        if training.data is None:
            raise InputError(
                "the training snapshot has no data file to profile",
                where=str(training.path),
                hint="restore data.parquet or its reference profile",
            )
        features = training.features
        with self._connected():
            specs = self.freeze_specs(training.data, features, bins=bins)
            profile = self.profile_source(training.data, [specs[n] for n in features])
        content_hash = training.manifest.content_hash if training.manifest else None
        created = datetime.now(UTC).isoformat(timespec="seconds")
        return replace(profile, content_hash=content_hash, created_at=created)

    def profile_serving(
        self, serving: ServingInput, specs: Mapping[str, ProfileSpec]
    ) -> DatasetProfile:
        """As `counting.profile_serving`, on the cluster."""
        names = [n for n in serving.features if n in specs]
        statuses = {n: c for n in names if (c := serving.status_column(n)) is not None}
        return self.profile_source(serving.data, [specs[n] for n in names], statuses=statuses)


def _configured_scheduler() -> str | None:
    """Dask's own scheduler setting (`DASK_SCHEDULER_ADDRESS`, dask config files)."""
    try:
        import dask
    except ImportError:
        return None
    address = dask.config.get("scheduler-address", None)
    return str(address) if address else None


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
