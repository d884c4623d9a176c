"""`--engine` and `--scheduler`: where `check` and `snapshot` compute their profiles.

`--engine local` (the default) profiles in this process and its process pool;
`--engine dask` on a Dask cluster: the scheduler at `--scheduler ADDRESS`, else the one
Dask's own settings name (`DASK_SCHEDULER_ADDRESS`), else a local cluster started for the
command (docs/scale.md).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from skewguard.errors import InputError

if TYPE_CHECKING:
    from skewguard.checking.dask_profiling import DaskEngine

__all__ = ["ENGINES", "add_engine_args", "engine_from_args"]

ENGINES = ("local", "dask")


def add_engine_args(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help=f"where to compute {what}: local (this machine, the default) or dask (partitions "
        "of the parquet input profiled on a Dask cluster and merged; same results)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="with --engine dask: the Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: "
        "DASK_SCHEDULER_ADDRESS, else a local cluster of one worker process per core)",
    )


def engine_from_args(args: argparse.Namespace) -> DaskEngine | None:
    """The Dask engine the flags ask for, or None for the local path."""
    engine = getattr(args, "engine", "local")
    scheduler = getattr(args, "scheduler", None)
    if engine != "dask":
        if scheduler:
            raise InputError(
                "--scheduler is only used with --engine dask",
                where=f"--scheduler {scheduler}",
                hint="add --engine dask, or drop --scheduler",
            )
        return None
    from skewguard.checking.dask_profiling import DaskEngine

    return DaskEngine(scheduler)
