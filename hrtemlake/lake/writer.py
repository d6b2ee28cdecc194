"""Writers that fill a group's item axis safely from many workers and across crashes.

Three layouts (declared per group in ``catalog/lake.yaml``):

``dense``
    Item arrays are preallocated.  Any number of workers write disjoint, chunk-aligned
    blocks of items in any order (:meth:`ItemWriter.write`); no two blocks share a chunk.
``append``
    One writer grows the item axis at its end (:meth:`AppendWriter.append`).
``ragged``
    One writer appends CSR rows (:meth:`RaggedWriter.append`).

Every layout marks an item complete by writing ``write_session[item]`` *after* its data, so an
item whose data was half written when a process died reads as missing and is redone by the
next run; a complete item is never written again.  ``write_session`` holds the index of the
group's provenance record that wrote the item, so completion and provenance are one array.

Writers pickle to a few strings and reopen the store lazily, so they can be shipped to Dask
workers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import zarr

from hrtemlake.errors import LakeError, SchemaError
from hrtemlake.lake.chunkio import resize_items, write_rows
from hrtemlake.lake.schema import WRITE_SESSION, GroupSpec, VariableSpec, get_schema
from hrtemlake.lake.store import open_store

__all__ = ["ItemWriter", "AppendWriter", "RaggedWriter", "chunk_blocks", "fill_value"]

KIND_ATTR = "hrtemlake_kind"


def fill_value(var: VariableSpec) -> Any:
    """The value a never-written element reads as: NaN for floats, 0 or "" otherwise."""
    if var.is_string:
        return ""
    kind = np.dtype(var.dtype).kind
    if kind == "f":
        return np.nan
    if kind == "c":
        return complex(np.nan, np.nan)
    return 0


class _GroupWriter:
    """Shared state of all writers: where the group is and which session this is."""

    def __init__(self, location: str, path: str, kind: str, session: int):
        self.location = location
        self.path = path
        self.kind = kind
        self.session = session
        self._group: zarr.Group | None = None
        self._arrays: dict[str, zarr.Array] = {}

    @property
    def spec(self) -> GroupSpec:
        return get_schema().group(self.kind)

    @property
    def group(self) -> zarr.Group:
        if self._group is None:
            store = open_store(self.location, "a")
            self._group = zarr.open_group(store, path=self.path, mode="r+", zarr_format=3)
        return self._group

    def array(self, name: str) -> zarr.Array:
        """The group's array ``name``, opened once per process."""
        if name not in self._arrays:
            self._arrays[name] = self.group[name]
        return self._arrays[name]

    def adopt(self, group: zarr.Group, arrays: Mapping[str, zarr.Array]) -> None:
        """Use a group and arrays just created in this process (it holds no item yet)."""
        self._group, self._arrays = group, dict(arrays)
        if hasattr(self, "_n"):
            self._n = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_group"] = None
        state["_arrays"] = {}
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r}, {self.path!r}, session={self.session})"

    def _write_rows(self, start: int, arrays: Mapping[str, np.ndarray], grow: bool = False) -> None:
        """Write item rows, then mark them complete (the order makes crashes safe); with
        ``grow``, every item array grows to the write's end with the rows."""
        count = len(next(iter(arrays.values()))) if arrays else 0
        grown = [self.array(v.name) for v in self.spec.item_variables()] if grow else []
        write_rows(start, {name: (self.array(name), a) for name, a in arrays.items()}, grown)
        done = np.full(count, self.session, dtype=np.int32)
        write_rows(start, {WRITE_SESSION: (self.array(WRITE_SESSION), done)})

    def _where(self, name: str | None = None) -> str:
        return f"{self.path}/{name}" if name else self.path

    def _check_values(
        self, values: Mapping[str, Any], variables: Sequence[VariableSpec], count: int | None
    ) -> tuple[dict[str, np.ndarray], int]:
        """Validate a write against the declaration; return arrays and the leading length."""
        allowed = {v.name: v for v in variables}
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise SchemaError(
                f"{self._where()}: unknown variable(s) {unknown}; declared: {sorted(allowed)}"
            )
        missing = [n for n, v in allowed.items() if n not in values and not v.optional]
        if missing:
            raise SchemaError(f"{self._where()}: missing variable(s) {missing}")
        arrays: dict[str, np.ndarray] = {}
        for name, value in values.items():
            var = allowed[name]
            array = var.coerce(value, self._where())
            stored = self.array(name)
            if array.ndim != len(var.dims) or array.shape[1:] != stored.shape[1:]:
                raise SchemaError(
                    f"{self._where(name)}: expected shape (n, {', '.join(map(str, stored.shape[1:]))})"
                    f" over dims {var.dims}, got {array.shape}"
                )
            count = array.shape[0] if count is None else count
            if array.shape[0] != count:
                raise SchemaError(
                    f"{self._where(name)}: {array.shape[0]} rows where the write has {count}"
                )
            arrays[name] = array
        return arrays, int(count or 0)


class ItemWriter(_GroupWriter):
    """Writes chunk-aligned blocks of items of a preallocated (``dense``) group."""

    @property
    def n_items(self) -> int:
        return int(self.array(WRITE_SESSION).shape[0])

    def completed(self) -> np.ndarray:
        """Boolean mask over items: True where the item is complete."""
        return self.array(WRITE_SESSION)[:] > 0

    def missing(self) -> np.ndarray:
        """Indices of the items still to be written (ascending)."""
        return np.flatnonzero(~self.completed())

    def write(self, start: int, values: Mapping[str, Any]) -> None:
        """Write items ``start, start+1, ...`` (one row per item in each array of ``values``).

        The block must be chunk-aligned so that concurrent writers never share a chunk:
        ``start`` a multiple of the group's ``item_chunk`` and the block a whole number of
        chunks (or ending at the last item).
        """
        arrays, count = self._check_values(values, self._data_variables(), None)
        self._check_block(start, count)
        self._write_rows(start, arrays)

    def _data_variables(self) -> list[VariableSpec]:
        return [v for v in self.spec.item_variables() if v.name != WRITE_SESSION]

    def _check_block(self, start: int, count: int) -> None:
        chunk, n = self.spec.item_chunk, self.n_items
        stop = start + count
        if start < 0 or stop > n or count <= 0:
            raise LakeError(f"{self._where()}: items [{start}, {stop}) outside [0, {n})")
        if start % chunk or (count % chunk and stop != n):
            raise LakeError(
                f"{self._where()}: items [{start}, {stop}) are not aligned to chunks of "
                f"{chunk} items; concurrent writers must own whole chunks"
            )


class _SequentialWriter(_GroupWriter):
    """A single writer that grows the item axis; recovers from an interrupted append."""

    def __init__(self, location: str, path: str, kind: str, session: int):
        super().__init__(location, path, kind, session)
        self._n: int | None = None

    @property
    def n_items(self) -> int:
        """Items committed so far."""
        if self._n is None:
            self._n = self.recover()
        return self._n

    def recover(self) -> int:
        """Trim what an interrupted append left past the last complete item.

        Returns the number of complete items (a prefix: items are appended in order).
        """
        spec = self.spec
        done = self.array(WRITE_SESSION)[:] > 0
        n = int(np.argmin(done)) if not done.all() else done.size
        resize_items([self.array(v.name) for v in spec.item_variables()], n)
        if spec.layout == "ragged":
            end = int(self.array(spec.offsets)[n - 1]) if n else 0
            resize_items([self.array(v.name) for v in spec.ragged_variables()], end)
        return n

    def truncate(self, n: int) -> None:
        """Drop the items from ``n`` on (e.g. a learning curve past a restart epoch).

        ``write_session`` shrinks first, so a crash part-way leaves a store that
        :meth:`recover` trims to the same ``n`` items.
        """
        if not 0 <= n <= self.n_items:
            raise LakeError(f"{self._where()}: cannot truncate {self.n_items} items to {n}")
        resize_items([self.array(WRITE_SESSION)], n)
        self._n = self.recover()


class AppendWriter(_SequentialWriter):
    """Appends items at the end of an ``append`` group (one writer at a time)."""

    def append(self, values: Mapping[str, Any]) -> range:
        """Append one row per item in each array of ``values``; return the new indices."""
        variables = [v for v in self.spec.item_variables() if v.name != WRITE_SESSION]
        arrays, count = self._check_values(values, variables, None)
        start = self.n_items
        stop = start + count
        self._write_rows(start, arrays, grow=True)
        self._n = stop
        return range(start, stop)


class RaggedWriter(_SequentialWriter):
    """Appends items made of variable-length rows to a ``ragged`` (CSR) group."""

    def append(
        self, rows: Sequence[Mapping[str, Any]], per_item: Mapping[str, Any] | None = None
    ) -> range:
        """Append ``len(rows)`` items.

        Parameters
        ----------
        rows
            One mapping per item of its variables along the flat (ragged) dimension.
        per_item
            Variables over the item dimension, one row per item (e.g. ``cell``).
        """
        spec = self.spec
        ragged_vars = self._ragged_variables(rows)
        flat = [self._check_values(r, ragged_vars, None) for r in rows]
        lengths = np.array([n for _, n in flat], dtype=np.int64)
        item_vars = [
            v for v in spec.item_variables() if v.name not in (WRITE_SESSION, spec.offsets)
        ]
        items, count = self._check_values(per_item or {}, item_vars, len(rows))
        start_item = self.n_items
        begin = int(self.array(spec.offsets)[start_item - 1]) if start_item else 0
        end = begin + int(lengths.sum())
        # every flat array keeps the length of `atom`, also those this write leaves out
        resize_items([self.array(v.name) for v in spec.ragged_variables()
                      if v in ragged_vars or v.name in self.group], end)  # fmt: skip
        if end > begin:
            write_rows(begin, {
                v.name: (self.array(v.name), np.concatenate([a[v.name] for a, _ in flat]))
                for v in ragged_vars
            })  # fmt: skip
        stop_item = start_item + count
        items[spec.offsets] = begin + np.cumsum(lengths)
        self._write_rows(start_item, items, grow=True)
        self._n = stop_item
        return range(start_item, stop_item)

    def _ragged_variables(self, rows: Sequence[Mapping[str, Any]]) -> list[VariableSpec]:
        """The flat-dimension variables of this write: the required ones, and the optional
        ones every row gives (all or none: a partial column would misalign the rows).
        An optional variable a group made before it was declared lacks is refused."""
        chosen = []
        for var in self.spec.ragged_variables():
            given = sum(var.name in r for r in rows)
            if var.optional and given == 0:
                continue
            if var.optional and given != len(rows):
                raise SchemaError(f"{self._where(var.name)}: given for {given} of {len(rows)} "
                                  "items; give it for all or none")  # fmt: skip
            if var.optional and var.name not in self.group:
                raise SchemaError(f"{self._where(var.name)}: this group predates the variable; "
                                  "write to a new dataset to store it")  # fmt: skip
            chosen.append(var)
        return chosen

    def row_slices(self) -> Iterator[slice]:
        """The flat-dimension slice of each item."""
        ends = self.array(self.spec.offsets)[:]
        starts = np.concatenate([[0], ends[:-1]])
        for a, b in zip(starts, ends):
            yield slice(int(a), int(b))


def chunk_blocks(
    items: Sequence[int] | np.ndarray, item_chunk: int, per_block: int = 1, n_items: int | None = None
) -> list[range]:
    """Group item indices into chunk-aligned blocks for parallel writers.

    Each block is a ``range`` covering whole chunks (``per_block`` chunks at most) that
    contains only requested items' chunks, so blocks can be handed to different workers.
    ``n_items`` clips the last block to the length of the item axis.

    Examples
    --------
    >>> [list(b) for b in chunk_blocks([0, 1, 2, 5], item_chunk=1, per_block=2)]
    [[0, 1], [2], [5]]
    """
    if per_block < 1 or item_chunk < 1:
        raise ValueError("per_block and item_chunk must be positive")
    chunks = sorted({int(i) // item_chunk for i in items})
    end = n_items if n_items is not None else (chunks[-1] + 1) * item_chunk if chunks else 0
    runs: list[list[int]] = []
    for c in chunks:
        if runs and c == runs[-1][-1] + 1 and len(runs[-1]) < per_block:
            runs[-1].append(c)
        else:
            runs.append([c])
    return [range(r[0] * item_chunk, min((r[-1] + 1) * item_chunk, end)) for r in runs]
