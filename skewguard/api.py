"""The front door: `skewguard.check` and `skewguard.snapshot` for Python callers.

`check` takes paths (str or Path), pyarrow Tables or pandas DataFrames for either side and
returns the `Report`. Tables and frames are written to a temporary parquet folder and go
through exactly the path the CLI takes, so the answer never depends on how data arrived.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from skewguard.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from skewguard.checking.joined import ReplayResult
    from skewguard.checking.policy import Policy
    from skewguard.report.model import Report
    from skewguard.store.snapshot import SnapshotResult

Data: TypeAlias = "str | os.PathLike[str] | pa.Table | pd.DataFrame"

__all__ = ["check", "snapshot"]


def check(
    training: Data,
    serving: Data,
    *,
    policy: Policy | str | os.PathLike[str] | None = None,
    replay: ReplayResult | None = None,
) -> Report:
    """Compare training with serving and decide; return the report.

    `training`: a snapshot folder, a parquet file or folder, a pyarrow Table or a pandas
    DataFrame whose features are `<view>__<feature>` columns. (A DataFrame with NumPy
    dtypes holds an integer column with nulls as float64, which the schema check reports
    as a type change: read parquet with `dtype_backend="pyarrow"` to keep the types.)
    `serving`: serving logs in Feast's feature-logging schema, in any of the same forms, or
    a URI pyarrow's filesystems read (`s3://...`, `gs://...`). `policy`: a `Policy`, a TOML
    file, or None for `./skewguard.toml`, then `[tool.skewguard]` in `./pyproject.toml`,
    then the shipped default. `replay`: a replay result (`skewguard.store.replay.replay`)
    to judge the joined comparison in the same report. Unlike `skewguard check`, this
    function never looks for a feature repo nor replays by itself (it imports no Feast):
    without `replay` the report's `replay` section says `ran: false, reason:
    not_requested`. `skewguard.store.replay_status.replay_if_possible` runs the replay
    the way the CLI does (docs/replay.md).
    """
    from skewguard.checking.pipeline import check as run_check
    from skewguard.checking.policy import Policy, load_policy
    from skewguard.store.replay_status import ReplayRequest, ReplaySkip, ReplayStatus

    if not isinstance(policy, Policy):
        policy = load_policy(None if policy is None else _path(policy, "policy"))
    with tempfile.TemporaryDirectory(prefix="skewguard-") as tmp:
        training_path, training_label = _as_parquet(training, Path(tmp), "training")
        serving_path, serving_label = _as_parquet(serving, Path(tmp), "serving")
        report = run_check(Path(training_path), serving_path, policy, replayed=replay)
    status = (
        ReplayStatus.from_result(replay, ReplayRequest.API)
        if replay is not None
        else ReplayStatus.skipped(
            ReplayRequest.API, ReplaySkip.NOT_REQUESTED, "sg.check(..., replay=None)"
        )
    )
    report = replace(report, replay=status.to_dict())
    if training_label is None and serving_label is None:
        return report
    inputs = {key: dict(value) for key, value in report.inputs.items()}
    for side, label in (("training", training_label), ("serving", serving_label)):
        if label is not None:
            inputs[side]["path"] = label
    return replace(report, inputs=inputs)


def snapshot(
    labels: str | os.PathLike[str] | pa.Table | pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    feature_service: str,
    repo: str | os.PathLike[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    overwrite: bool = False,
) -> SnapshotResult:
    """Build a point-in-time training snapshot of `feature_service` for a label frame.

    `labels` holds the join keys, a UTC `event_timestamp` and any label columns (a parquet
    or CSV path, a pyarrow Table or a DataFrame). Writes `out/` with `data.parquet`,
    `manifest.json` and `reference_profile.json`. `repo` is found as the CLI finds it
    when not given (`skewguard.store.location.locate_repo`).
    """
    from skewguard.store.repo import open_store
    from skewguard.store.snapshot import build_snapshot, filter_time_window, read_labels

    where = "labels"
    if isinstance(labels, str | os.PathLike):
        where = str(labels)
        labels = read_labels(Path(labels))
    labels = filter_time_window(labels, since, until, where=where)
    store = open_store(None if repo is None else Path(repo))
    return build_snapshot(
        store, feature_service, labels, Path(out), overwrite=overwrite, where=where
    )


def _path(value: Any, what: str) -> Path:
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise InputError(
        f"{what} is a {type(value).__name__}",
        where=f"skewguard.check({what}=...)",
        hint="pass a path (str or Path), a pyarrow Table or a pandas DataFrame",
    )


def _as_parquet(data: Any, tmp: Path, side: str) -> tuple[Path | str, str | None]:
    """A path (or URI) for `data`, and a label for the report when it was given in memory."""
    import pyarrow as pa

    if isinstance(data, str) and "://" in data and side == "serving":
        return data, None
    if isinstance(data, str | os.PathLike):
        return Path(data), None
    table: pa.Table
    if isinstance(data, pa.Table):
        table, kind = data, "pyarrow.Table"
    elif type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        table, kind = pa.Table.from_pandas(data, preserve_index=False), "pandas.DataFrame"
    else:
        _path(data, side)  # raises: names the type and what to pass instead
        raise AssertionError("unreachable")
    import pyarrow.parquet as pq

    folder = tmp / side
    folder.mkdir()
    pq.write_table(table, folder / "data.parquet")
    return folder, f"<{kind}: {table.num_rows} rows>"
