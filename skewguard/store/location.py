"""Where the Feast feature repo is: found the way the `feast` CLI finds it, and a bit more.

The folder, first that applies:
1. the folder given (`--repo DIR`, or `skewguard -c/--chdir DIR` as `feast -c DIR`);
2. `$SKEWGUARD_REPO`, then `$FEATURE_REPO_DIR_ENV_VAR` (the variable behind `feast -c`);
3. the current folder when it holds `feature_store.yaml` (or `$FEAST_FS_YAML_FILE_PATH`
   is set: Feast then takes the current folder as the repo), else `./feature_repo` when it
   holds one, else the nearest parent folder holding one.

The configuration file is `$FEAST_FS_YAML_FILE_PATH` when set (as in Feast), else the
folder's `feature_store.yaml`. Nothing here imports Feast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from skewguard.errors import FeatureRepoError

__all__ = [
    "CONFIG_NAME",
    "FEAST_REPO_ENV",
    "FEAST_YAML_ENV",
    "REPO_ENV",
    "RepoLocation",
    "locate_repo",
]

CONFIG_NAME = "feature_store.yaml"
REPO_ENV = "SKEWGUARD_REPO"
FEAST_REPO_ENV = "FEATURE_REPO_DIR_ENV_VAR"  # feast -c/--chdir reads it
FEAST_YAML_ENV = "FEAST_FS_YAML_FILE_PATH"  # feast's override of the yaml file
DEFAULT_FOLDER = "feature_repo"


@dataclass(frozen=True)
class RepoLocation:
    """A feature repo folder, its configuration file, and how they were found."""

    folder: Path
    config: Path
    found_by: str


def locate_repo(repo: str | Path | None = None, *, cwd: Path | None = None) -> RepoLocation:
    """The feature repo to use (module docstring); FeatureRepoError when there is none."""
    here = (cwd or Path.cwd()).resolve()
    yaml_override = os.environ.get(FEAST_YAML_ENV) or None
    explicit = [
        (repo, "the folder given"),
        (os.environ.get(REPO_ENV), f"${REPO_ENV}"),
        (os.environ.get(FEAST_REPO_ENV), f"${FEAST_REPO_ENV}"),
    ]
    for given, how in explicit:
        if given:
            folder = (here / Path(given).expanduser()).resolve()
            return _checked(folder, yaml_override, how)
    if yaml_override or (here / CONFIG_NAME).is_file():
        return _checked(here, yaml_override, "the current folder")
    if (here / DEFAULT_FOLDER / CONFIG_NAME).is_file():
        return _checked(here / DEFAULT_FOLDER, None, f"./{DEFAULT_FOLDER}")
    for parent in here.parents:
        if (parent / CONFIG_NAME).is_file():
            return _checked(parent, None, "a parent of the current folder")
    raise FeatureRepoError(
        f"no {CONFIG_NAME} here, in ./{DEFAULT_FOLDER} or in any parent folder",
        where=str(here),
        hint="run from the feature repo (or a folder below it), or pass -c/--chdir DIR "
        f"(or --repo DIR, or set {REPO_ENV} or {FEAST_YAML_ENV})",
    )


def _checked(folder: Path, yaml_override: str | None, how: str) -> RepoLocation:
    config = Path(yaml_override).expanduser().resolve() if yaml_override else folder / CONFIG_NAME
    if not folder.is_dir():
        raise FeatureRepoError(
            "the feature repo folder does not exist",
            where=f"{folder} ({how})",
            hint=f"pass -c/--chdir DIR or --repo DIR with the folder that holds {CONFIG_NAME}",
        )
    if not config.is_file():
        raise FeatureRepoError(
            f"no {config.name} found",
            where=f"{config} ({how})",
            hint="pass -c/--chdir DIR or --repo DIR with the folder that holds "
            f"{CONFIG_NAME}" + (f", or fix ${FEAST_YAML_ENV}" if yaml_override else ""),
        )
    return RepoLocation(folder=folder, config=config, found_by=how)
