"""Locating and opening the lake: one Zarr v3 store, local or any fsspec URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import zarr
import zarr.storage

from hrtemlake.errors import LakeError
from hrtemlake.lake.schema import SCHEMA_VERSION

__all__ = ["DEFAULT_LAKE", "ENV_LAKE", "resolve_lake", "open_store", "open_root"]

DEFAULT_LAKE = "./lake.zarr"
ENV_LAKE = "HRTEMLAKE_LAKE"
VERSION_ATTR = "hrtemlake_schema_version"

Mode = Literal["r", "a"]


def resolve_lake(path: str | os.PathLike | None = None) -> str:
    """The lake location: ``path``, else ``$HRTEMLAKE_LAKE``, else ``./lake.zarr``."""
    if path is not None and str(path) != "":
        return str(path)
    return os.environ.get(ENV_LAKE) or DEFAULT_LAKE


def _is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def open_store(location: str, mode: Mode) -> zarr.storage.StoreLike:
    """A Zarr store for ``location`` (a local path or an fsspec URL).

    Raises :class:`LakeError` for a local path that is a regular file, or for a lake that
    does not exist when opened read-only.
    """
    if _is_url(location):
        try:
            return zarr.storage.FsspecStore.from_url(location, read_only=(mode == "r"))
        except (ImportError, ValueError) as err:
            raise LakeError(f"cannot open lake URL {location!r}: {err}") from err
    path = Path(location.removeprefix("file://")).expanduser()
    if path.exists() and not path.is_dir():
        raise LakeError(f"lake path {str(path)!r} is a regular file, not a Zarr store directory")
    if mode == "r" and not path.exists():
        raise LakeError(f"no lake at {str(path)!r} (set --lake or ${ENV_LAKE})")
    return zarr.storage.LocalStore(path, read_only=(mode == "r"))


def open_root(location: str, mode: Mode) -> zarr.Group:
    """Open the lake's root group, checking (and on first write, stamping) its version.

    A store written by a newer schema is refused before anything is modified, and so is a
    non-empty Zarr store that is not an hrtemlake lake.
    """
    store = open_store(location, mode)
    try:
        root = zarr.open_group(store, mode="r", zarr_format=3)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        if mode == "r":
            raise LakeError(f"no lake at {location!r}: the store has no root group") from None
        root = zarr.open_group(store, mode="a", zarr_format=3)
        root.attrs[VERSION_ATTR] = SCHEMA_VERSION
        return root
    except (ValueError, KeyError) as err:
        raise LakeError(f"{location!r} is not a Zarr v3 store: {err}") from err
    _check_version(location, root)
    if mode == "a":
        root = zarr.open_group(store, mode="r+", zarr_format=3)
        if VERSION_ATTR not in root.attrs:
            root.attrs[VERSION_ATTR] = SCHEMA_VERSION
    return root


def _check_version(location: str, root: zarr.Group) -> None:
    version = root.attrs.get(VERSION_ATTR)
    if version is None:
        if any(True for _ in root.keys()):
            raise LakeError(
                f"{location!r} is a Zarr store but not an hrtemlake lake "
                f"(its root has no '{VERSION_ATTR}' attribute)"
            )
        return
    if int(version) > SCHEMA_VERSION:
        raise LakeError(
            f"lake {location!r} was written with schema version {version}, newer than this "
            f"hrtemlake understands ({SCHEMA_VERSION}); upgrade hrtemlake to use it"
        )
