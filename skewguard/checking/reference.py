"""Reference profiles on disk: the training side of a check, stored with its snapshot.

The snapshot writer profiles `data.parquet` once and stores `reference_profile.json` next
to it, so a check in CI needs neither the raw training rows nor the time to profile them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from skewguard.checking.counting import profile_training
from skewguard.checking.profile import DatasetProfile
from skewguard.checking.reading import MANIFEST_NAME, REFERENCE_PROFILE_NAME, open_training
from skewguard.checking.specs import DEFAULT_BINS
from skewguard.errors import InputError

if TYPE_CHECKING:
    from skewguard.checking.dask_profiling import DaskEngine

__all__ = ["write_reference_profile", "read_reference_profile"]


def write_reference_profile(
    snapshot_dir: Path, *, bins: int = DEFAULT_BINS, engine: DaskEngine | None = None
) -> Path:
    """Profile a snapshot folder's data and write `reference_profile.json` next to it.

    Reads `manifest.json` and its data file in a streaming pass, freezes bin edges and
    vocabularies, and writes the profile. Returns the path written. The caller records
    the file name in the manifest (`"reference_profile": "reference_profile.json"`).
    With `engine`, the profile is built on its Dask cluster.
    """
    snapshot_dir = Path(snapshot_dir)
    if not (snapshot_dir / MANIFEST_NAME).is_file():
        raise InputError(
            "no manifest.json in the snapshot folder",
            where=str(snapshot_dir),
            hint="write the snapshot manifest before its reference profile",
        )
    training = open_training(snapshot_dir)
    if training.data is None:
        raise InputError(
            "the snapshot's data file is missing",
            where=str(snapshot_dir),
            hint="a reference profile is built from data.parquet",
        )
    from skewguard.checking.integrity import content_hash

    if engine is not None:
        profile = engine.profile_training(training, bins=bins)
    else:
        profile = profile_training(training, bins=bins)
    # The hash of the data actually profiled, checked against the manifest's at every check.
    data_file = training.data.files[0]
    profile = replace(
        profile, source=data_file.name, content_hash=content_hash(training.data, data_file)
    )
    out = snapshot_dir / REFERENCE_PROFILE_NAME
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(profile.to_dict(), separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)
    return out


def read_reference_profile(path: Path) -> DatasetProfile:
    """Load a reference profile; raise `InputError` naming the file when unusable (not
    JSON, the wrong shape, or numbers that cannot be right: `profile_schema`)."""
    from skewguard.checking.profile_schema import validate_profile

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError) as err:
        raise _unreadable(path, err) from err
    try:
        profile = DatasetProfile.from_dict(json.loads(text))
    except RecursionError as err:
        raise _unreadable(path, "nested too deep") from err
    except Exception as err:  # any shape from_dict cannot build from: the file is bad
        raise _unreadable(path, f"{type(err).__name__}: {err}") from err
    validate_profile(profile, str(path))
    return profile


def _unreadable(path: Path, reason: object) -> InputError:
    return InputError(
        f"cannot read reference profile: {reason}",
        where=str(path),
        hint="rebuild it from the snapshot's data (skewguard snapshot)",
    )
