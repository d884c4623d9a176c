"""Is the training side what its manifest says? Content hashes and the reference profile.

A snapshot's `manifest.json` records the SHA-256 of its data file (`content_hash`), and
its reference profile records the hash of the data it was built from. Before a check
uses either, `verify_training`:

- hashes the data file (when present) and compares it with the manifest's hash;
- compares the reference profile's hash with the manifest's (and with the data's);
- checks the reference profile against the manifest: the same features, none missing
  and none extra, with the same types, and the same row count; a manifest that lists
  no features is refused.

Any mismatch is an `InputError` naming both hashes (or the feature), so a replaced data
file or an edited profile is exit 2, never a check against the wrong reference.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skewguard.errors import InputError

if TYPE_CHECKING:
    from pathlib import Path

    from skewguard.checking.profile import DatasetProfile
    from skewguard.checking.reading import ParquetSource, TrainingInput

__all__ = ["HASH_PREFIX", "Integrity", "content_hash", "verify_training"]

HASH_PREFIX = "sha256:"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Integrity:
    """What was verified, for the report's `inputs.training`."""

    data_hash: str | None  # the data file's hash, computed now (None: no data file)
    verified: bool  # the data and/or the profile matched a recorded hash

    def to_dict(self) -> dict[str, object]:
        return {"data_hash": self.data_hash, "content_hash_verified": self.verified}


def content_hash(source: ParquetSource, file: Path) -> str:
    """`sha256:<hex>` of one file of `source` (as the snapshot writer computes it)."""
    from pathlib import Path

    digest = hashlib.sha256()
    try:
        handle = source.open(file)
        if isinstance(handle, Path):
            with handle.open("rb") as fh:
                for block in iter(lambda: fh.read(_BLOCK), b""):
                    digest.update(block)
        else:  # a pyarrow NativeFile of a remote filesystem
            while chunk := handle.read(_BLOCK):
                digest.update(chunk)
    except OSError as err:
        raise InputError(
            f"cannot read the snapshot data to verify its content hash: {err}",
            where=str(file),
            hint="check the file's permissions",
        ) from err
    return HASH_PREFIX + digest.hexdigest()


def verify_training(training: TrainingInput, reference: DatasetProfile | None) -> Integrity:
    """Raise `InputError` unless the data, the manifest and the reference profile agree.

    `reference` is the profile read from the snapshot (None when the check profiles the
    data itself)."""
    manifest = training.manifest
    if manifest is None:
        return Integrity(None, False)
    where = str(manifest.path)
    if not manifest.features:
        raise InputError(
            "the snapshot manifest lists no features",
            where=where,
            hint="a snapshot without features cannot be checked; rebuild it (skewguard snapshot)",
        )
    recorded = manifest.content_hash
    data_hash = None
    verified = False
    if training.data is not None and len(training.data.files) == 1:
        data_file = training.data.files[0]
        data_hash = content_hash(training.data, data_file)
        if recorded is not None:
            if data_hash != recorded:
                raise InputError(
                    f"the snapshot data has content hash {data_hash}, but the manifest records "
                    f"{recorded}",
                    where=str(data_file),
                    hint="the data changed after the snapshot was written: restore it, or "
                    "rebuild the snapshot (skewguard snapshot)",
                )
            verified = True
    if reference is not None:
        _verify_reference(training, reference, data_hash)
        verified = verified or (recorded is not None or data_hash is not None)
    return Integrity(data_hash, verified)


def _verify_reference(
    training: TrainingInput, reference: DatasetProfile, data_hash: str | None
) -> None:
    from skewguard.checking.reading import normalise_type_name

    manifest = training.manifest
    assert manifest is not None
    where = str(training.reference_profile or manifest.path)
    rebuild = "rebuild the reference profile from the snapshot's data (skewguard snapshot)"
    recorded = manifest.content_hash
    # A manifest without a hash (written by hand) has nothing to compare with: the
    # check reports content_hash_verified false.
    if recorded is not None and reference.content_hash != recorded:
        raise InputError(
            f"the reference profile was built from data with content hash "
            f"{reference.content_hash}, but the manifest records {recorded}",
            where=where,
            hint=rebuild,
        )
    if data_hash is not None and reference.content_hash != data_hash:
        raise InputError(
            f"the reference profile was built from data with content hash "
            f"{reference.content_hash}, but the data file has {data_hash}",
            where=where,
            hint=rebuild,
        )
    declared = {f.name: f for f in manifest.features}
    profiled = {f.name: f for f in reference.features}
    missing = [name for name in declared if name not in profiled]
    if missing:
        raise InputError(
            f"the reference profile has no entry for {len(missing)} feature(s) of the manifest: "
            f"{', '.join(missing[:10])}",
            where=where,
            hint=rebuild,
        )
    extra = [name for name in profiled if name not in declared]
    if extra:
        raise InputError(
            f"the reference profile has feature(s) the manifest does not list: "
            f"{', '.join(extra[:10])}",
            where=where,
            hint=rebuild,
        )
    for name, decl in declared.items():
        if decl.arrow_type is None:
            continue
        want = normalise_type_name(decl.arrow_type)
        have = normalise_type_name(profiled[name].arrow_type)
        if want != have:
            raise InputError(
                f"feature {name!r} is {have} in the reference profile but {want} in the manifest",
                where=where,
                hint=rebuild,
            )
    if manifest.row_count is not None and reference.rows != manifest.row_count:
        raise InputError(
            f"the reference profile counts {reference.rows} rows, the manifest "
            f"{manifest.row_count}",
            where=where,
            hint=rebuild,
        )
