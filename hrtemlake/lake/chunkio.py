"""Writing whole chunks fast, and reading items without Dask.

zarr-python 3.1 spends about 2 ms per chunk in its indexing and async machinery, four times
what compressing and writing a 1 MB frame costs (measured by benchmarks/bench_lake.py).
Lake writes are almost always whole chunks of whole items, so for that case on a local store
this module encodes the chunks itself with the array's own Blosc codec, in a thread pool,
and writes the chunk files where zarr expects them.  zarr reads them back unchanged (the
round trip is tested); anything else — remote stores, other codecs, partial chunks — goes
through zarr.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import zarr
from numcodecs import Blosc
from zarr.codecs import BloscCodec, BytesCodec
from zarr.core.sync import sync
from zarr.storage import LocalStore

__all__ = ["write_items", "write_rows", "resize_items", "read_items", "ItemStack"]

_SHUFFLE = {"noshuffle": Blosc.NOSHUFFLE, "shuffle": Blosc.SHUFFLE, "bitshuffle": Blosc.BITSHUFFLE}


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="lake-io")


def write_items(array: zarr.Array, start: int, data: np.ndarray) -> None:
    """Write ``data`` to ``array[start:start + len(data)]``."""
    blosc = _fast_codec(array, start, data)
    if blosc is None:
        array[start : start + len(data)] = data
        return
    step = array.chunks[0]
    data = np.ascontiguousarray(data, dtype=array.dtype)
    root = os.path.join(str(array.store_path.store.root), array.path)
    rest = (0,) * (array.ndim - 1)

    def put(offset: int) -> None:
        key = array.metadata.encode_chunk_key(((start + offset) // step, *rest))
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.{threading.get_ident()}.partial"
        with open(partial, "wb") as fh:
            fh.write(blosc.encode(data[offset : offset + step]))
        os.replace(partial, path)  # atomic, as zarr's own LocalStore writes

    list(_pool().map(put, range(0, len(data), step)))


def write_rows(start: int, rows: dict[str, tuple[zarr.Array, np.ndarray]]) -> None:
    """Write the same item rows of several arrays: whole chunks directly, the rest
    through zarr in one batch of concurrent writes (one event-loop round trip, not one each).
    """
    slow = []
    for array, data in rows.values():
        if _fast_codec(array, start, data) is not None:
            write_items(array, start, data)
        else:
            slow.append(array.async_array.setitem(slice(start, start + len(data)), data))
    if slow:
        sync(_gather(slow))


def resize_items(arrays: list[zarr.Array], length: int) -> None:
    """Set the item-axis length of several arrays concurrently."""
    pending = [a.async_array.resize((length, *a.shape[1:])) for a in arrays if a.shape[0] != length]
    if pending:
        sync(_gather(pending))


async def _gather(coroutines) -> None:
    await asyncio.gather(*coroutines)


def read_items(array: zarr.Array, items: slice | np.ndarray) -> np.ndarray:
    """Items of ``array`` as a numpy array, straight from zarr (no Dask graph).

    A step-1 slice of a local Blosc array whose chunks hold whole items is decoded here,
    chunk files in a thread pool straight into the result (zarr's own read path costs
    about five times the decoding of a 64 MB frame); anything else goes through zarr."""
    if not isinstance(items, slice):
        return array.get_orthogonal_selection((np.asarray(items),))
    start, stop, step = items.indices(array.shape[0])
    blosc = _local_blosc(array)
    if blosc is None or step != 1 or stop <= start:
        return array[items]
    out = np.empty((stop - start, *array.shape[1:]), dtype=array.dtype)
    chunk = array.chunks[0]
    root = os.path.join(str(array.store_path.store.root), array.path)
    rest = (0,) * (array.ndim - 1)

    def get(index: int) -> None:
        first = index * chunk
        lo, hi = max(first, start), min(first + chunk, stop)  # items of this chunk wanted
        path = os.path.join(root, array.metadata.encode_chunk_key((index, *rest)))
        try:
            with open(path, "rb") as fh:
                encoded = fh.read()
        except FileNotFoundError:  # never written: zarr's fill value
            out[lo - start : hi - start] = array.metadata.fill_value
            return
        if lo == first and hi == first + chunk:
            blosc.decode(encoded, out=out[lo - start : hi - start])
        else:
            whole = np.frombuffer(blosc.decode(encoded), dtype=array.dtype)
            whole = whole.reshape(chunk, *array.shape[1:])
            out[lo - start : hi - start] = whole[lo - first : hi - first]

    list(_pool().map(get, range(start // chunk, (stop - 1) // chunk + 1)))
    return out


class ItemStack:
    """A zarr array read item by item through :func:`read_items`: ``stack[t]`` and
    ``stack[a:b]`` are numpy arrays, for code that indexes a (time, ...) stack one frame
    at a time and must not load it whole; ``length`` keeps only the first items."""

    def __init__(self, array: zarr.Array, length: int | None = None):
        self.array = array
        n = array.shape[0] if length is None else min(length, array.shape[0])
        self.shape, self.dtype, self.ndim = (n, *array.shape[1:]), array.dtype, array.ndim

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice) -> np.ndarray:
        if isinstance(key, slice):
            return read_items(self.array, slice(*key.indices(self.shape[0])))
        index = range(self.shape[0])[key]  # negative indices, IndexError out of range
        return read_items(self.array, slice(index, index + 1))[0]


def _fast_codec(array: zarr.Array, start: int, data: np.ndarray) -> Blosc | None:
    """The Blosc codec to encode with, if this write can bypass zarr; else None."""
    step = array.chunks[0]
    whole = data.shape[1:] == array.shape[1:]
    aligned = start % step == 0 and len(data) % step == 0 and start + len(data) <= array.shape[0]
    if not (whole and aligned and np.dtype(data.dtype) == np.dtype(array.dtype) and data.size):
        return None
    return _local_blosc(array)


def _local_blosc(array: zarr.Array) -> Blosc | None:
    """The array's Blosc codec, if its chunks can be read and written as plain files here:
    a local store, little-endian bytes then Blosc, and chunks holding whole items."""
    if not isinstance(array.store_path.store, LocalStore) or sys.byteorder != "little":
        return None
    meta = array.metadata
    codecs = getattr(meta, "codecs", ())
    if len(codecs) != 2 or not isinstance(codecs[0], BytesCodec) or not isinstance(codecs[1], BloscCodec):
        return None
    if codecs[0].endian is not None and codecs[0].endian.value != "little":
        return None
    if array.chunks[1:] != array.shape[1:]:
        return None
    blosc = codecs[1]
    return _blosc(blosc.cname.value, blosc.clevel, _SHUFFLE[blosc.shuffle.value])


@cache
def _blosc(cname: str, clevel: int, shuffle: int) -> Blosc:
    return Blosc(cname=cname, clevel=clevel, shuffle=shuffle, blocksize=0)
