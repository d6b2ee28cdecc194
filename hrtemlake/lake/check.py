"""Validating a whole store against the catalog, and describing what it holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import zarr

from hrtemlake.lake.lake import Lake
from hrtemlake.lake.schema import WRITE_SESSION, GroupSpec, get_schema
from hrtemlake.lake.writer import KIND_ATTR

__all__ = ["Problem", "check_lake", "describe_lake"]


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`check_lake`."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path or '/'}: {self.message}"


def check_lake(path: str | os.PathLike | None = None) -> list[Problem]:
    """Validate every group and variable of a lake against the catalog.

    Opening problems (not a lake, newer schema) raise :class:`~hrtemlake.errors.LakeError`;
    everything else is returned as a list of :class:`Problem` (empty when the store is valid).
    The store is only read.
    """
    lake = Lake(path, mode="r")
    schema = get_schema()
    problems: list[Problem] = []
    for name, _ in lake.root.arrays():
        problems.append(Problem(name, "array at the root; the catalog declares none"))
    for gpath, group in _walk(lake.root):
        found = schema.identify(gpath)
        if found is None:
            if not schema.is_container(gpath):
                problems.append(Problem(gpath, "group not declared in the catalog"))
            for name, _ in group.arrays():
                problems.append(Problem(f"{gpath}/{name}", "array in a container group"))
            continue
        problems.extend(_check_group(gpath, group, found[0]))
    return problems


def _walk(group: zarr.Group, prefix: str = "") -> Iterator[tuple[str, zarr.Group]]:
    for name, child in sorted(group.groups()):
        path = f"{prefix}{name}"
        yield path, child
        yield from _walk(child, f"{path}/")


def _check_group(gpath: str, group: zarr.Group, spec: GroupSpec) -> list[Problem]:
    problems: list[Problem] = []
    if group.attrs.get(KIND_ATTR) != spec.kind:
        problems.append(Problem(gpath, f"attribute {KIND_ATTR} should be '{spec.kind}'"))
    for attr in (*spec.attrs, "provenance"):
        if attr not in group.attrs:
            problems.append(Problem(gpath, f"missing group attribute '{attr}'"))
    arrays = dict(group.arrays())
    for name in sorted(set(arrays) - set(spec.variables)):
        problems.append(Problem(f"{gpath}/{name}", "variable not declared in the catalog"))
    lengths: dict[str, dict[str, int]] = {}
    for var in spec.variables.values():
        array = arrays.get(var.name)
        where = f"{gpath}/{var.name}"
        if array is None:
            if not var.optional:
                problems.append(Problem(where, "missing variable"))
            continue
        dims = tuple(array.metadata.dimension_names or ())
        if dims != var.dims:
            problems.append(Problem(where, f"dims {dims}, catalog declares {var.dims}"))
        if not _dtype_matches(array, var.dtype):
            problems.append(Problem(where, f"dtype {array.dtype}, catalog declares {var.dtype}"))
        if array.attrs.get("units") != var.units:
            problems.append(
                Problem(where, f"units {array.attrs.get('units')!r}, catalog declares {var.units!r}")
            )
        for dim, size in zip(dims, array.shape):
            lengths.setdefault(dim, {})[var.name] = size
    for dim, by_var in lengths.items():
        if len(set(by_var.values())) > 1:
            problems.append(
                Problem(gpath, f"variables disagree on the length of '{dim}': {by_var} "
                        "(an interrupted write; rerunning the writer recovers it)")
            )  # fmt: skip
    if not problems and spec.item is not None:
        problems.extend(_check_items(gpath, group, spec))
    return problems


def _dtype_matches(array: zarr.Array, declared) -> bool:
    if declared is str:
        return array.dtype.kind in "UTO" or "String" in type(array.dtype).__name__
    return np.dtype(array.dtype) == declared


def _check_items(gpath: str, group: zarr.Group, spec: GroupSpec) -> list[Problem]:
    problems = []
    sessions = group[WRITE_SESSION][:]
    n_records = len(group.attrs.get("provenance", []))
    if sessions.size and (sessions.min() < 0 or sessions.max() > n_records):
        problems.append(Problem(gpath, f"write_session outside [0, {n_records}]"))
    done = sessions > 0
    if spec.layout != "dense" and not done.all():
        problems.append(Problem(gpath, "items after the first missing one (interrupted append)"))
    elif (~done).any():
        problems.append(
            Problem(gpath, f"{int((~done).sum())} of {done.size} {spec.item} items missing "
                    "(resume the writer to complete them)", "warning")
        )  # fmt: skip
    if spec.layout == "ragged":
        ends = group[spec.offsets][:]
        flat = group[spec.ragged_variables()[0].name].shape[0]
        if np.any(np.diff(ends) < 0) or (ends.size and (ends[0] < 0 or ends[-1] != flat)):
            problems.append(
                Problem(gpath, f"offsets are not non-decreasing ending at {flat} {spec.ragged}s")
            )
    return problems


def describe_lake(path: str | os.PathLike | None = None) -> list[str]:
    """Lines describing the lake tree: groups, arrays with dims, shapes and sizes."""
    lake = Lake(path, mode="r")
    schema = get_schema()
    lines = [f"{lake.location}  (schema version {lake.root.attrs.get('hrtemlake_schema_version')})"]
    total = stored_total = 0
    for gpath, group in _walk(lake.root):
        depth = gpath.count("/")
        found = schema.identify(gpath)
        label = f"{gpath.rsplit('/', 1)[-1]}/"
        if found is not None:
            label += f"  [{found[0].kind}]" + _completion(group, found[0])
        lines.append("  " * (depth + 1) + label)
        for name, array in sorted(group.arrays()):
            nbytes = int(np.prod(array.shape, dtype=np.int64)) * _itemsize(array)
            stored = array.nbytes_stored()
            total, stored_total = total + nbytes, stored_total + stored
            dims = ", ".join(f"{d}: {n}" for d, n in zip(array.metadata.dimension_names or (), array.shape))
            lines.append(
                "  " * (depth + 2)
                + f"{name:<16} ({dims})  {array.dtype}  {_human(nbytes)} ({_human(stored)} stored)"
            )
    lines.append(f"total {_human(total)} ({_human(stored_total)} stored)")
    return lines


def _completion(group: zarr.Group, spec: GroupSpec) -> str:
    if spec.item is None or WRITE_SESSION not in group:
        return ""
    sessions = group[WRITE_SESSION][:]
    return f"  {int((sessions > 0).sum())}/{sessions.size} {spec.item}s complete"


def _itemsize(array: zarr.Array) -> int:
    try:
        return np.dtype(array.dtype).itemsize or 8
    except TypeError:
        return 8


def _human(nbytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"
