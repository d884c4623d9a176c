"""Reading parquet inputs for `skewguard check`: files, schemas, manifests and batches.

This is the I/O edge of the check path. It finds parquet files (a file, or a folder searched
recursively, hive partitions included), reads their footers to learn schemas and row counts,
reads a training snapshot's `manifest.json`, and streams record batches of chosen columns.
Nothing here holds a whole input in memory, and nothing here imports Feast.

Serving logs may also be a URI that pyarrow's filesystems understand (`s3://bucket/logs`,
`gs://bucket/logs`, `file:///srv/logs`; `pyarrow.fs.FileSystem.from_uri`): the files are
listed and streamed through that filesystem, credentials coming from its usual sources.

Every failure raises `InputError` (or `TimestampError`) naming the file and, where it
applies, the column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from skewguard.errors import InputError, TimestampError
from skewguard.logschema import feature_columns, status_column

__all__ = [
    "MANIFEST_NAME",
    "REFERENCE_PROFILE_NAME",
    "FeatureDecl",
    "Manifest",
    "ParquetSource",
    "TrainingInput",
    "ServingInput",
    "find_parquet_files",
    "find_files_at",
    "is_uri",
    "open_parquet",
    "read_manifest",
    "open_training",
    "open_serving",
    "iter_batches",
    "type_name",
]

MANIFEST_NAME = "manifest.json"
REFERENCE_PROFILE_NAME = "reference_profile.json"
MANIFEST_KIND = "skewguard.training_snapshot"
DEFAULT_BATCH_ROWS = 1 << 17  # small batches stay in cache; large ones page-fault


@dataclass(frozen=True)
class FeatureDecl:
    """One feature as a snapshot manifest declares it."""

    name: str
    arrow_type: str | None = None
    feast_type: str | None = None


@dataclass(frozen=True)
class Manifest:
    """The parts of a training snapshot's `manifest.json` that a check uses."""

    path: Path
    feature_service: str | None
    join_keys: tuple[str, ...]
    label_columns: tuple[str, ...]
    features: tuple[FeatureDecl, ...]
    row_count: int | None
    content_hash: str | None
    data_file: str
    reference_profile: str | None
    time_range: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ParquetSource:
    """A set of parquet files read as one table: their merged schema and total rows.

    With a `filesystem`, `path` is the URI given and `files` are paths inside it.
    """

    path: Path | str
    files: tuple[Path, ...]
    schema: pa.Schema
    rows: int
    filesystem: pafs.FileSystem | None = None

    def open(self, file: Path) -> Path | pa.NativeFile:
        """What pyarrow's parquet readers take for one of `files`."""
        return file if self.filesystem is None else self.filesystem.open_input_file(str(file))


@dataclass(frozen=True)
class TrainingInput:
    """A training snapshot: its data (absent when only the reference profile is kept)."""

    path: Path
    data: ParquetSource | None
    manifest: Manifest | None
    reference_profile: Path | None

    @property
    def features(self) -> list[str]:
        if self.manifest is not None:
            return [f.name for f in self.manifest.features]
        assert self.data is not None
        return feature_columns(self.data.schema.names)

    def declared_type(self, feature: str) -> str | None:
        if self.manifest is not None:
            for decl in self.manifest.features:
                if decl.name == feature and decl.arrow_type:
                    return normalise_type_name(decl.arrow_type)
        if self.data is not None and feature in self.data.schema.names:
            return type_name(self.data.schema.field(feature).type)
        return None


@dataclass(frozen=True)
class ServingInput:
    """Serving logs in Feast's feature-logging schema."""

    data: ParquetSource

    @property
    def features(self) -> list[str]:
        return feature_columns(self.data.schema.names)

    def status_column(self, feature: str) -> str | None:
        name = status_column(feature)
        return name if name in self.data.schema.names else None


_LIST_FIELD = re.compile(r"(list|large_list)<[^:<>]+: ")


def normalise_type_name(name: str) -> str:
    """Canonical spelling of an Arrow type name: list field names and `large_` dropped."""
    name = _LIST_FIELD.sub("list<", name.strip())
    name = name.replace("large_list<", "list<").replace("large_string", "string")
    name = name.replace("large_binary", "binary").replace("float64", "double")
    return name.replace("float32", "float").replace("utf8", "string")


def type_name(arrow_type: pa.DataType) -> str:
    """Arrow type as a comparable string; `string` and `large_string` are the same type."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return normalise_type_name(str(arrow_type))


def _pyarrow_or_fsspec(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for `uri`; a scheme pyarrow lacks goes to fsspec (az://,
    abfs://, hf://, ...), wrapped as a pyarrow filesystem."""
    try:
        filesystem, base = pafs.FileSystem.from_uri(uri)
        return filesystem, str(base)
    except pa.ArrowInvalid as err:
        if "Unrecognized filesystem type" not in str(err):
            raise
        try:
            import fsspec
        except ImportError:
            raise err from None
        try:
            fs, base = fsspec.core.url_to_fs(uri)
        except (ImportError, ValueError) as fs_err:  # unknown protocol or missing driver
            raise InputError(
                f"no filesystem for this URI: {fs_err}",
                where=uri,
                hint="use a path, or install the fsspec package of that scheme",
            ) from fs_err
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), base


# Named here so a test can stand another filesystem in.
filesystem_from_uri = _pyarrow_or_fsspec
HIDDEN_PREFIXES = (".", "_")  # files skipped in a folder, as pyarrow's dataset discovery does


def find_parquet_files(path: Path) -> tuple[Path, ...]:
    """`path` itself when it is a file, else every `*.parquet` below it, sorted (hidden
    files and `_`-prefixed ones skipped)."""
    if not path.exists():
        raise InputError("no such file or folder", where=str(path), hint="check the path")
    if path.is_file():
        return (path,)
    files = sorted(
        p for p in path.rglob("*.parquet") if p.is_file() and not p.name.startswith(HIDDEN_PREFIXES)
    )
    if not files:
        raise InputError(
            "no parquet files found", where=str(path), hint="point at a .parquet file or a folder"
        )
    return tuple(files)


def is_uri(path: Path | str) -> bool:
    """True for `scheme://...` (s3, gs, file, ...), False for a plain path."""
    return "://" in str(path)


def find_files_at(uri: str) -> tuple[pafs.FileSystem, tuple[Path, ...]]:
    """The filesystem of `uri` and its parquet files: the file itself, or every `*.parquet`
    below the folder (hidden files and `_`-prefixed ones skipped, as pyarrow does)."""
    try:
        filesystem, base = filesystem_from_uri(uri)
        info = filesystem.get_file_info(base)
        if info.type == pafs.FileType.NotFound:
            raise InputError("no such file or folder", where=uri, hint="check the URI")
        if info.type == pafs.FileType.File:
            return filesystem, (Path(base),)
        found = filesystem.get_file_info(pafs.FileSelector(base, recursive=True))
    except (OSError, pa.ArrowException) as err:
        raise InputError(
            f"cannot list {uri}: {err}",
            where=uri,
            hint="check the URI and the credentials of its filesystem (pyarrow.fs)",
        ) from err
    files = sorted(
        Path(f.path)
        for f in found
        if f.type == pafs.FileType.File
        and f.base_name.endswith(".parquet")
        and not f.base_name.startswith(HIDDEN_PREFIXES)
    )
    if not files:
        raise InputError(
            "no parquet files found", where=uri, hint="point at a .parquet file or a folder"
        )
    return filesystem, tuple(files)


def _check_timestamps(schema: pa.Schema, file: Path) -> None:
    for field in schema:
        field_type = field.type
        if pa.types.is_timestamp(field_type) and field_type.tz is None:
            raise TimestampError(
                f"timestamp column {field.name!r} has no time zone (naive)",
                where=str(file),
                hint="write timestamps as UTC, e.g. timestamp[us, tz=UTC]",
            )


def open_parquet(path: Path | str, files: Sequence[Path] | None = None) -> ParquetSource:
    """Read the footers of the parquet files under `path` (a path or a URI); check their
    schemas agree."""
    filesystem: pafs.FileSystem | None = None
    if files is not None:
        files = tuple(files)
    elif is_uri(path):
        filesystem, files = find_files_at(str(path))
    else:
        files = find_parquet_files(Path(path))
    source = ParquetSource(path, files, pa.schema([]), 0, filesystem)
    merged: dict[str, pa.Field] = {}
    rows = 0
    for file in files:
        try:
            meta = pq.read_metadata(source.open(file))
            schema = pq.read_schema(source.open(file))
        except (OSError, pa.ArrowException) as err:
            raise InputError(
                f"cannot read parquet file: {err}",
                where=str(file),
                hint="the file is corrupt or not parquet; rewrite or remove it",
            ) from err
        _check_timestamps(schema, file)
        rows += meta.num_rows
        for field in schema:
            known = merged.get(field.name)
            if known is None:
                merged[field.name] = field
            elif type_name(known.type) != type_name(field.type):
                raise InputError(
                    f"column {field.name!r} is {field.type} here but {known.type} in earlier files",
                    where=str(file),
                    hint="files of one input must share a schema; check them separately",
                )
    return ParquetSource(path, files, pa.schema(merged.values()), rows, filesystem)


def read_manifest(path: Path) -> Manifest:
    """Parse a snapshot `manifest.json`; raise `InputError` naming the file when unusable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(
            f"cannot read snapshot manifest: {err}", where=str(path), hint="rewrite the snapshot"
        ) from err
    if not isinstance(raw, dict) or raw.get("kind") != MANIFEST_KIND:
        raise InputError(
            f"not a training snapshot manifest (kind is not {MANIFEST_KIND!r})",
            where=str(path),
            hint="point --training at a snapshot folder or a parquet file",
        )
    if raw.get("schema_version") != 1 or isinstance(raw.get("schema_version"), bool):
        raise InputError(
            f"unsupported manifest schema_version {raw.get('schema_version')!r}",
            where=str(path),
            hint="this skewguard reads schema_version 1",
        )
    from skewguard.checking.manifest_schema import validate_manifest

    validate_manifest(raw, str(path))
    features = tuple(
        FeatureDecl(name=f["name"], arrow_type=f.get("arrow_type"), feast_type=f.get("feast_type"))
        for f in raw["features"]
    )
    return Manifest(
        path=path,
        feature_service=raw.get("feature_service"),
        join_keys=tuple(raw.get("join_keys") or ()),
        label_columns=tuple(raw.get("label_columns") or ()),
        features=features,
        row_count=raw.get("row_count"),
        content_hash=raw.get("content_hash"),
        data_file=str(raw.get("data_file") or "data.parquet"),
        reference_profile=raw.get("reference_profile"),
        time_range=raw.get("time_range"),
    )


def open_training(path: Path) -> TrainingInput:
    """A snapshot folder (with `manifest.json`), a folder of parquet files, or one file.

    When the manifest names a reference profile that exists, the data file need not exist:
    a check can run from the profile alone.
    """
    manifest: Manifest | None = None
    if path.is_dir() and (path / MANIFEST_NAME).is_file():
        manifest = read_manifest(path / MANIFEST_NAME)
        folder = path
        data_path = path / manifest.data_file
    elif path.is_file() and (path.parent / MANIFEST_NAME).is_file():
        candidate = read_manifest(path.parent / MANIFEST_NAME)
        if candidate.data_file == path.name:
            manifest = candidate
        folder = path.parent
        data_path = path
    else:
        folder = path if path.is_dir() else path.parent
        data_path = path

    reference: Path | None = None
    if manifest is not None and manifest.reference_profile:
        candidate_ref = folder / manifest.reference_profile
        if candidate_ref.is_file():
            reference = candidate_ref
    if reference is not None and not data_path.exists():
        return TrainingInput(path=path, data=None, manifest=manifest, reference_profile=reference)
    data = open_parquet(data_path)
    if manifest is not None:
        missing = [f.name for f in manifest.features if f.name not in data.schema.names]
        if missing:
            raise InputError(
                f"manifest lists features absent from the data: {', '.join(missing)}",
                where=str(data_path),
                hint="the snapshot is inconsistent; rewrite it",
            )
    return TrainingInput(path=path, data=data, manifest=manifest, reference_profile=reference)


def open_serving(path: Path | str) -> ServingInput:
    """Serving logs (a path or a URI); raise `InputError` when there are no rows, no
    feature columns, or a column of Feast's logging schema is missing or mistyped."""
    from skewguard.checking.log_columns import validate_log_columns

    data = open_parquet(path)
    if data.rows == 0:
        raise InputError(
            "serving logs have no rows",
            where=str(path),
            hint="log some traffic first, or point --serving at the right folder",
        )
    serving = ServingInput(data=data)
    if not serving.features:
        raise InputError(
            "serving logs have no '<view>__<feature>' columns",
            where=str(path),
            hint="serving logs must use Feast's feature-logging schema",
        )
    validate_log_columns(data)
    return serving


def iter_batches(
    source: ParquetSource,
    columns: Sequence[str],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    row_groups: Mapping[Path, Sequence[int]] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream `columns` from every file of `source`, one record batch at a time.

    A column absent from a file yields nulls of the merged type for that file's rows.
    With `row_groups` (file -> row group numbers), only those files and groups are read.
    """
    for file in source.files if row_groups is None else row_groups:
        try:
            handle = pq.ParquetFile(source.open(file))
            present = [c for c in columns if c in handle.schema_arrow.names]
            absent = [c for c in columns if c not in present]
            # One row group at a time: over a whole file, pyarrow pre-buffers every row
            # group it is about to read, which costs hundreds of MB on large files.
            groups = range(handle.num_row_groups) if row_groups is None else row_groups[file]
            batches = (
                batch
                for group in groups
                for batch in handle.iter_batches(
                    batch_size=batch_rows, columns=present, row_groups=[group]
                )
            )
            for batch in batches:
                if absent:
                    arrays = [batch.column(c) for c in present]
                    names = list(present)
                    for c in absent:
                        arrays.append(pa.nulls(batch.num_rows, source.schema.field(c).type))
                        names.append(c)
                    batch = pa.RecordBatch.from_arrays(arrays, names=names)
                yield batch
        except (OSError, pa.ArrowException) as err:
            raise InputError(
                f"cannot read parquet data: {err}",
                where=str(file),
                hint="the file is corrupt; rewrite or remove it",
            ) from err
