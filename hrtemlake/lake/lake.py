"""The :class:`Lake`: named groups of one store, their writers and lazy xarray views."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from hrtemlake.errors import LakeError, SchemaError
from hrtemlake.lake.chunkio import create_arrays, read_items, write_items
from hrtemlake.lake.provenance import provenance_record
from hrtemlake.lake.schema import WRITE_SESSION, GroupSpec, VariableSpec, get_schema
from hrtemlake.lake.store import Mode, open_root, open_store, resolve_lake
from hrtemlake.lake.writer import (
    KIND_ATTR,
    AppendWriter,
    ItemWriter,
    RaggedWriter,
    fill_value,
)

__all__ = ["Lake", "open_lake", "COMPRESSOR"]

#: Default compression: Blosc/LZ4 with byte shuffle, fast enough to keep writes near disk
#: speed while roughly halving HR-TEM frames (see benchmarks/bench_lake.py).
COMPRESSOR = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")

_WRITERS = {"dense": ItemWriter, "append": AppendWriter, "ragged": RaggedWriter}


class Lake:
    """One hrtemlake store.

    Parameters
    ----------
    path
        Local path or fsspec URL; default ``$HRTEMLAKE_LAKE``, else ``./lake.zarr``.
    mode
        ``"r"`` to read (never modifies or creates anything) or ``"a"`` to read and write.

    Examples
    --------
    >>> lake = Lake("lake.zarr", mode="a")                          # doctest: +SKIP
    >>> writer = lake.writer("exitwaves", dataset="train", n_items=10,
    ...                      sizes={"y": 512, "x": 512}, ...)     # doctest: +SKIP
    >>> lake.dataset("exitwaves", dataset="train")                  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike | None = None, mode: Mode = "r"):
        self.location = resolve_lake(path)
        self.mode = mode
        self.root = open_root(self.location, mode)

    def __repr__(self) -> str:
        return f"Lake({self.location!r}, mode={self.mode!r})"

    # -- reading ---------------------------------------------------------------------------
    def path(self, kind: str, **names: str) -> str:
        """The store path of group ``kind`` for ``names`` (e.g. ``dataset="train"``)."""
        return get_schema().group(kind).format_path(**names)

    def exists(self, kind: str, **names: str) -> bool:
        """Whether the group has been created (not merely a parent of other groups)."""
        try:
            group = self.root[self.path(kind, **names)]
        except KeyError:
            return False
        return group.attrs.get(KIND_ATTR) == kind

    def group(self, kind: str, **names: str) -> zarr.Group:
        """The Zarr group of ``kind`` for ``names``; a clear error if absent."""
        path = self.path(kind, **names)
        try:
            group = self.root[path]
        except KeyError:
            group = None
        if not isinstance(group, zarr.Group) or group.attrs.get(KIND_ATTR) != kind:
            raise LakeError(f"{self.location}: no {kind} group at '{path}'")
        return group

    def names(self, kind: str) -> list[dict[str, str]]:
        """The names of every existing group of ``kind`` (e.g. all datasets with exit waves)."""
        spec = get_schema().group(kind)
        found = []
        for path, _ in _walk_groups(self.root):
            match = spec.match(path)
            if match is not None:
                found.append(match)
        return found

    def dataset(self, kind: str, complete_only: bool = False, **names: str) -> xr.Dataset:
        """A lazy (Dask-backed) :class:`xarray.Dataset` of one group.

        With ``complete_only``, items that are not yet written are dropped.
        """
        path = self.path(kind, **names)
        self.group(kind, **names)
        ds = xr.open_zarr(
            open_store(self.location, "r"),
            group=path,
            consolidated=False,
            zarr_format=3,
            chunks={},
        )
        spec = get_schema().group(kind)
        if complete_only and spec.item is not None:
            ds = ds.isel({spec.item: np.flatnonzero(ds[WRITE_SESSION].values > 0)})
        return ds

    def read(
        self, kind: str, variable: str, items: slice | np.ndarray | None = None, **names: str
    ) -> np.ndarray:
        """Items of one variable as a numpy array, read directly (no Dask graph).

        The fast path for streaming batches (training, analysis); use :meth:`dataset` or
        :func:`open_lake` for lazy, labelled access.
        """
        group = self.group(kind, **names)
        if variable not in group:
            raise LakeError(f"{self.path(kind, **names)} has no variable '{variable}'")
        return read_items(group[variable], slice(None) if items is None else items)

    def tree(self) -> xr.DataTree:
        """The whole lake as a lazy :class:`xarray.DataTree`."""
        return xr.open_datatree(
            open_store(self.location, "r"),
            engine="zarr",
            consolidated=False,
            zarr_format=3,
            chunks={},
        )

    def provenance(self, kind: str, **names: str) -> list[dict[str, Any]]:
        """The provenance records of a group, oldest first."""
        return list(self.group(kind, **names).attrs.get("provenance", []))

    # -- writing ---------------------------------------------------------------------------
    def writer(
        self,
        kind: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        seed: int | None = None,
        n_items: int | None = None,
        sizes: Mapping[str, int] | None = None,
        coords: Mapping[str, Any] | None = None,
        scalars: Mapping[str, Any] | None = None,
        attrs: Mapping[str, Any] | None = None,
        **names: str,
    ) -> ItemWriter | AppendWriter | RaggedWriter:
        """Create (or reopen) a group and start a write session on it.

        Parameters
        ----------
        kind
            Group kind from the catalog (``exitwaves``, ``structures``, ``frames``, ...).
        parameters
            What defines the group's content.  Reopening an existing group with different
            parameters is an error (use another name), so reruns cannot mix two datasets.
        seed
            The seed the content's randomness flows from (recorded in provenance).
        n_items
            Length of the item axis of a ``dense`` group; reopening with a larger value
            extends it (the new items are missing).
        sizes
            Lengths of the group's other dimensions (e.g. ``{"y": 512, "x": 512}``).
        coords, scalars
            Coordinate arrays and 0-d values written once at creation.
        attrs
            Group attributes the catalog requires (e.g. ``class_names``).
        names
            The group's path names, e.g. ``dataset="train"``.

        Returns
        -------
        A writer for the group's layout, picklable for Dask workers.
        """
        self._writable()
        spec = get_schema().group(kind)
        path = spec.format_path(**names)
        parameters = _jsonable(dict(parameters or {}))
        existing = self._bare_or_group(path)
        created = None
        record = provenance_record(parameters, seed)
        if existing is not None and KIND_ATTR in existing.attrs:
            group = self._reopen(spec, path, parameters, n_items)
            session = _start_session(group, record)
        else:
            # absent, or only a parent of other groups so far (e.g. experiments/S when
            # experiments/S/quarantine was written first): the declared group goes there
            group, created = self._create(spec, path, parameters, n_items, sizes, coords,
                                          scalars, attrs, record)  # fmt: skip
            session = 1
        writer = _WRITERS[spec.layout](self.location, path, kind, session)
        if created is not None:
            writer.adopt(group, created)  # new: no need to open its arrays again
        elif spec.layout != "dense":
            writer.n_items  # recovers an interrupted append before anyone writes
        return writer

    def remove(self, kind: str, **names: str) -> None:
        """Delete a group and everything under it, e.g. a derived group to be rebuilt."""
        self._writable()
        self.group(kind, **names)
        del self.root[self.path(kind, **names)]

    def grow(
        self, kind: str, dim: str, size: int, coords: Mapping[str, Any] | None = None, **names: str
    ) -> None:
        """Lengthen dimension ``dim`` (not the item axis) of every variable of a group.

        The new entries hold the variables' fill values (NaN, 0, False) until written;
        ``coords`` gives the full new values of coordinate variables along ``dim``.
        """
        self._writable()
        spec = get_schema().group(kind)
        if dim == spec.item:
            raise LakeError(f"{kind}: '{dim}' is the item axis; reopen the writer with n_items")
        group = self.group(kind, **names)
        for var in spec.variables.values():
            if dim not in var.dims or var.name not in group:
                continue
            array = group[var.name]
            axis = list(var.dims).index(dim)
            if array.shape[axis] > size:
                raise LakeError(f"{self.path(kind, **names)}/{var.name}: cannot shrink '{dim}' "
                                f"from {array.shape[axis]} to {size}")  # fmt: skip
            array.resize(tuple(size if i == axis else n for i, n in enumerate(array.shape)))
        for name, values in (coords or {}).items():
            group[name][...] = np.asarray(values)

    def _writable(self) -> None:
        if self.mode != "a":
            raise LakeError(f"{self.location}: opened read-only; use Lake(..., mode='a')")

    def _bare_or_group(self, path: str) -> zarr.Group | None:
        """The group at ``path`` if any; an error if it holds arrays of no declared kind."""
        try:
            group = self.root[path]
        except KeyError:
            return None
        if not isinstance(group, zarr.Group):
            raise LakeError(f"{self.location}: '{path}' is an array, not a group")
        if KIND_ATTR not in group.attrs and any(True for _ in group.array_keys()):
            raise LakeError(f"{self.location}: '{path}' holds arrays but is no hrtemlake group")
        return group

    def _create(
        self,
        spec: GroupSpec,
        path: str,
        parameters: dict[str, Any],
        n_items: int | None,
        sizes: Mapping[str, int] | None,
        coords: Mapping[str, Any] | None,
        scalars: Mapping[str, Any] | None,
        attrs: Mapping[str, Any] | None,
        record: dict[str, Any],
    ) -> tuple[zarr.Group, dict[str, zarr.Array]]:
        if spec.layout == "dense" and (n_items is None or n_items < 0):
            raise LakeError(f"{path}: a dense group needs n_items >= 0, got {n_items}")
        missing_attrs = [a for a in spec.attrs if a not in (attrs or {})]
        if missing_attrs:
            raise SchemaError(f"{path}: missing group attribute(s) {missing_attrs}")
        dim_sizes = _dimension_sizes(spec, path, n_items, sizes, coords)
        values = {**(coords or {}), **(scalars or {})}
        once = [v for v in spec.variables.values() if v.role != "data"]
        absent = [v.name for v in once if v.name not in values]
        if absent:
            raise SchemaError(f"{path}: missing coordinate/scalar value(s) {absent}")
        shapes = {v.name: tuple(dim_sizes[d] for d in v.dims) for v in spec.variables.values()}
        given = {name: spec.variables[name].coerce(value, path) for name, value in values.items()
                 if name in spec.variables}  # fmt: skip
        for name, value in given.items():  # checked before anything is written
            if value.shape != shapes[name]:
                raise SchemaError(f"{path}/{name}: expected shape {shapes[name]}, got {value.shape}")
        group = zarr.open_group(self.root.store, path=path, mode="a", zarr_format=3)
        arrays = _create_arrays(group, spec, shapes)
        for name, value in given.items():
            if value.ndim and value.size:
                write_items(arrays[name], 0, value)
            else:
                arrays[name][...] = value
        # last, in one write: readers take a group with its kind as complete (see exists())
        group.attrs.update({"parameters": parameters, **_jsonable(dict(attrs or {})),
                            "provenance": [{"session": 1, **record}], KIND_ATTR: spec.kind})  # fmt: skip
        return group, arrays

    def _reopen(
        self, spec: GroupSpec, path: str, parameters: dict[str, Any], n_items: int | None
    ) -> zarr.Group:
        group = zarr.open_group(self.root.store, path=path, mode="r+", zarr_format=3)
        if group.attrs.get(KIND_ATTR) != spec.kind:
            raise LakeError(
                f"{path} holds a '{group.attrs.get(KIND_ATTR)}' group, not '{spec.kind}'"
            )
        before = group.attrs.get("parameters", {})
        if before != parameters:
            diff = sorted(k for k in set(before) | set(parameters) if before.get(k) != parameters.get(k))
            raise LakeError(
                f"{path} already exists with different parameters ({', '.join(diff)}); "
                "write to a new name, or delete the group to start over"
            )
        if spec.layout == "dense" and n_items is not None:
            current = group[WRITE_SESSION].shape[0]
            if n_items < current:
                raise LakeError(f"{path} has {current} items; cannot shrink it to {n_items}")
            for var in spec.item_variables():
                array = group[var.name]
                if array.shape[0] != n_items:
                    array.resize((n_items, *array.shape[1:]))
        return group


def as_lake(lake: "Lake | str | os.PathLike | None", mode: Mode = "r") -> Lake:
    """``lake`` itself when it is a :class:`Lake`, else the lake at that location opened
    with ``mode`` (so library functions take a Lake or a path alike)."""
    return lake if isinstance(lake, Lake) else Lake(lake, mode=mode)


def open_lake(path: str | os.PathLike | None = None) -> xr.DataTree:
    """Open the whole lake as a lazy (Dask-backed) :class:`xarray.DataTree`.

    Parameters
    ----------
    path
        Local path or fsspec URL; default ``$HRTEMLAKE_LAKE``, else ``./lake.zarr``.

    Examples
    --------
    >>> tree = open_lake("lake.zarr")                                   # doctest: +SKIP
    >>> tree["simulations/train/exitwaves"].exit_wave                    # doctest: +SKIP
    """
    return Lake(path, mode="r").tree()


def _walk_groups(group: zarr.Group, prefix: str = ""):
    for name, child in group.groups():
        path = f"{prefix}{name}"
        yield path, child
        yield from _walk_groups(child, prefix=f"{path}/")


def _dimension_sizes(
    spec: GroupSpec,
    path: str,
    n_items: int | None,
    sizes: Mapping[str, int] | None,
    coords: Mapping[str, Any] | None,
) -> dict[str, int]:
    schema = get_schema()
    dim_sizes = dict(schema.fixed_sizes)
    dim_sizes.update({name: len(np.asarray(v)) for name, v in (coords or {}).items()
                      if spec.variables.get(name) and spec.variables[name].role == "coordinate"})
    dim_sizes.update(sizes or {})
    if spec.item is not None:
        dim_sizes[spec.item] = n_items if spec.layout == "dense" else 0
    if spec.ragged is not None:
        dim_sizes[spec.ragged] = 0
    needed = {d for v in spec.variables.values() for d in v.dims}
    unsized = sorted(needed - set(dim_sizes))
    if unsized:
        raise SchemaError(f"{path}: give the size of dimension(s) {unsized}")
    return dim_sizes


FLAT_CHUNK_KEYS = {"name": "default", "separator": "."}


def _create_arrays(group: zarr.Group, spec: GroupSpec, shapes: Mapping[str, tuple]) -> dict[str, zarr.Array]:
    """Create the group's arrays in one round (one by one, a group of 11 arrays took ~40 ms)."""
    return create_arrays(group, {name: _array_options(spec, spec.variables[name], shape)
                                 for name, shape in shapes.items()})  # fmt: skip


def _array_options(spec: GroupSpec, var: VariableSpec, shape: tuple) -> dict[str, Any]:
    numeric = not var.is_string
    return dict(
        shape=shape,
        chunks=spec.chunk_shape(var, shape) if shape else (),
        dtype=var.dtype if numeric else str,
        compressors=COMPRESSOR if numeric and shape else "auto",
        fill_value=fill_value(var),
        dimension_names=list(var.dims),
        attributes=var.attrs(),
        # flat chunk keys (c.7.0.0): nested ones make a directory per item, which cost
        # ~4x the file-system work of writing 200 frames (0.09 s against 0.02 s)
        chunk_key_encoding=FLAT_CHUNK_KEYS,
    )


def _start_session(group: zarr.Group, record: dict[str, Any]) -> int:
    records = list(group.attrs.get("provenance", []))
    record = {"session": len(records) + 1, **record}
    records.append(record)
    group.attrs["provenance"] = records
    return record["session"]


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and paths so attributes are plain JSON."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value
