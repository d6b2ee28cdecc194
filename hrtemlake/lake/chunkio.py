"""Writing item rows and resizing fast, and reading items without Dask.

zarr-python 3.1 spends about 2 ms per chunk write and 0.7 ms per resize in its indexing and
async machinery, four times what compressing and writing a 1 MB frame costs (measured by
benchmarks/bench_lake.py). Lake writes are rows of whole items, so on a local store this
module encodes the chunks itself with numcodecs codecs equal to the array's own (bytes +
Blosc for numbers, vlen-utf8 + Zstd for text), in a thread pool, and writes the chunk files
where zarr expects them; a chunk the write covers only partly is read, updated and written
back, as zarr does. Growing arrays rewrites their ``zarr.json`` the same way. zarr reads
all of it back unchanged (the round trips are tested); anything else (remote stores, other
codecs, shrinking) goes through zarr.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial

import numpy as np
import zarr
from numcodecs import Blosc, VLenUTF8, Zstd
from zarr.codecs import BloscCodec, BytesCodec, VLenUTF8Codec, ZstdCodec
from zarr.core.array import AsyncArray
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore, MemoryStore, StorePath

__all__ = ["write_items", "write_rows", "resize_items", "read_items", "ItemStack", "create_arrays"]

_SHUFFLE = {"noshuffle": Blosc.NOSHUFFLE, "shuffle": Blosc.SHUFFLE, "bitshuffle": Blosc.BITSHUFFLE}


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="lake-io")


def _put_file(path: str, payload: bytes) -> None:
    """Write a file atomically, as zarr's own LocalStore does (a reader sees old or new);
    its folder is made only when the first try finds none (a mkdir per chunk costs as
    much as writing it)."""
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.partial"
    try:
        fh = open(temporary, "wb")
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fh = open(temporary, "wb")
    with fh:
        fh.write(payload)
    os.replace(temporary, path)


def _run(tasks: list) -> None:
    """Run tasks that each return the files they encoded, as ``(path, bytes)`` pairs:
    encoding in the thread pool, the files put by this thread as they come.

    One thread puts all files because creating and renaming files in one folder takes
    the folder's lock: two threads doing it at once spin on each other in the kernel
    instead of encoding (9 % of a profiled lake write was that spinning)."""
    results = (task() for task in tasks) if len(tasks) == 1 else _pool().map(_call, tasks)
    for files in results:
        for path, payload in files:
            _put_file(path, payload)


def _call(task):
    return task()


class _LocalChunks:
    """The chunk files of a local array whose chunks hold whole items, read and written
    with numcodecs codecs equal to the array's zarr codecs."""

    def __init__(self, array: zarr.Array, codecs: list, text: bool):
        self.array, self.codecs, self.text = array, codecs, text
        self.root = os.path.join(str(array.store_path.store.root), array.path)
        self.step = array.chunks[0]
        self.shape = (self.step, *array.shape[1:])
        self.rest = (0,) * (array.ndim - 1)

    def path(self, index: int) -> str:
        key = self.array.metadata.encode_chunk_key((index, *self.rest))
        return os.path.join(self.root, key)

    def encode(self, block: np.ndarray) -> bytes:
        data = block.astype(object) if self.text else np.ascontiguousarray(block)
        for codec in self.codecs:
            data = codec.encode(data)
        return bytes(data)

    def decode(self, raw: bytes, out: np.ndarray | None = None) -> np.ndarray:
        """One chunk's items; numeric chunks can decode straight into ``out``."""
        if not self.text:
            if out is not None:
                return self.codecs[-1].decode(raw, out=out)
            flat = np.frombuffer(self.codecs[-1].decode(raw), dtype=self.array.dtype)
            return flat.reshape(self.shape).copy()
        flat = self.codecs[0].decode(self.codecs[1].decode(raw))
        return flat.reshape(self.shape).astype(self.array.dtype)

    def load(self, index: int) -> np.ndarray:
        """A chunk's items (the fill value where it was never written)."""
        try:
            with open(self.path(index), "rb") as fh:
                return self.decode(fh.read())
        except FileNotFoundError:
            return np.full(self.shape, self.array.metadata.fill_value, dtype=self.array.dtype)

    def encoded(self, index: int, block: np.ndarray) -> tuple[str, bytes]:
        """Chunk ``index`` holding ``block``: its file's path and encoded bytes."""
        return self.path(index), self.encode(block)


def write_items(array: zarr.Array, start: int, data: np.ndarray) -> None:
    """Write ``data`` to ``array[start:start + len(data)]`` (rows of whole items)."""
    write_rows(start, {"": (array, data)})


def write_rows(start: int, rows: dict[str, tuple[zarr.Array, np.ndarray]],
               grow: list[zarr.Array] = ()) -> None:  # fmt: skip
    """Write the same item rows of several arrays, growing ``grow`` to the write's end.

    On a local store the growth and the chunk files of every array are written in one
    round of the thread pool (a crash part-way leaves rows that no ``write_session``
    marks complete, which the writers trim); anything else goes through zarr, its writes
    in one batch of concurrent coroutines (one event-loop round trip, not one each).
    """
    stop = start + max((len(data) for _, data in rows.values()), default=0)
    growing = [a for a in grow if a.shape[0] < stop]
    local = [a for a in growing if _is_local(a)]
    resize_items([a for a in growing if not _is_local(a)], stop)
    tasks = [partial(_grow, a, stop) for a in local]
    slow = []
    for array, data in rows.values():
        grown = any(array is a for a in local)
        chunks = _writable(array, start, data, stop if grown else None)
        if chunks is None:
            slow.append((array, data))
        else:
            tasks += _chunk_writes(chunks, start, data)
    _run(tasks)
    if slow:
        sync(_gather([a.async_array.setitem(slice(start, start + len(d)), d) for a, d in slow]))


def _chunk_writes(chunks: _LocalChunks, start: int, data: np.ndarray) -> list:
    """One task per chunk file that rows ``start, ...`` of ``data`` touch."""
    if not chunks.text:
        data = np.ascontiguousarray(data, dtype=chunks.array.dtype)
    step, stop = chunks.step, start + len(data)

    def put(index: int) -> list[tuple[str, bytes]]:
        first = index * step
        lo, hi = max(first, start), min(first + step, stop)  # items of this chunk written
        if lo == first and hi == first + step:
            block = data[lo - start : hi - start]
        else:  # part of a chunk: read, update, write back (this writer owns the chunk)
            block = chunks.load(index)
            block[lo - first : hi - first] = data[lo - start : hi - start]
        return [chunks.encoded(index, block)]

    return [partial(put, index) for index in range(start // step, (stop - 1) // step + 1)]


def resize_items(arrays: list[zarr.Array], length: int) -> None:
    """Set the item-axis length of several arrays: growing local arrays by rewriting their
    metadata here, anything else through zarr, concurrently."""
    changed = [a for a in arrays if a.shape[0] != length]
    local = [a for a in changed if length > a.shape[0] and _is_local(a)]
    pending = [a.async_array.resize((length, *a.shape[1:])) for a in changed
               if not any(a is b for b in local)]  # fmt: skip
    _run([partial(_grow, a, length) for a in local])
    if pending:
        sync(_gather(pending))


def _grow(array: zarr.Array, length: int) -> list[tuple[str, bytes]]:
    """zarr's own resize of a growing array (nothing to delete): new metadata, set on the
    array object in place; returns the metadata files to save."""
    metadata = array.metadata.update_shape((length, *array.shape[1:]))
    object.__setattr__(array.async_array, "metadata", metadata)
    return _metadata_files(array.store_path.store, array.path, metadata)


def _metadata_files(store: LocalStore, path: str, metadata) -> list[tuple[str, bytes]]:
    """The metadata documents (``zarr.json``) of the array at ``path``, as files to put."""
    root = os.path.join(str(store.root), path)
    buffers = metadata.to_buffer_dict(default_buffer_prototype())
    return [(os.path.join(root, key), buffer.to_bytes()) for key, buffer in buffers.items()]


async def _gather(coroutines) -> list:
    return await asyncio.gather(*coroutines)


def create_arrays(group: zarr.Group, options: dict[str, dict]) -> dict[str, zarr.Array]:
    """Create new arrays ``name: create_array options`` in an existing group.

    zarr's ``create_array`` checks that no node is there and that every parent group
    exists, eight store round trips per array (~4 ms each here). On a local store the
    arrays are made by zarr on a memory store instead and their ``zarr.json`` documents
    written here, into the group just made, in one round; anything else goes through zarr,
    concurrently."""
    from zarr.api.asynchronous import create_array

    prefix = f"{group.path}/" if group.path else ""
    local = isinstance(group.store, LocalStore)
    target = MemoryStore() if local else group.store
    made = sync(_gather([create_array(target, name=prefix + name, **kwargs)
                         for name, kwargs in options.items()]))  # fmt: skip
    if not local:
        return {name: zarr.Array(a) for name, a in zip(options, made)}
    _run([partial(_metadata_files, group.store, a.path, a.metadata) for a in made])
    return {name: zarr.Array(AsyncArray(metadata=a.metadata, store_path=StorePath(group.store, a.path)))
            for name, a in zip(options, made)}  # fmt: skip


def read_items(array: zarr.Array, items: slice | np.ndarray) -> np.ndarray:
    """Items of ``array`` as a numpy array, straight from zarr (no Dask graph).

    A step-1 slice of a local numeric array whose chunks hold whole items is decoded here,
    chunk files in a thread pool straight into the result (zarr's own read path costs
    about five times the decoding of a 64 MB frame); anything else goes through zarr."""
    if not isinstance(items, slice):
        return array.get_orthogonal_selection((np.asarray(items),))
    start, stop, step = items.indices(array.shape[0])
    chunks = _local_chunks(array)
    if chunks is None or chunks.text or step != 1 or stop <= start:
        return array[items]
    out = np.empty((stop - start, *array.shape[1:]), dtype=array.dtype)
    size = chunks.step

    def get(index: int) -> None:
        first = index * size
        lo, hi = max(first, start), min(first + size, stop)  # items of this chunk wanted
        try:
            with open(chunks.path(index), "rb") as fh:
                encoded = fh.read()
        except FileNotFoundError:  # never written: zarr's fill value
            out[lo - start : hi - start] = array.metadata.fill_value
            return
        if lo == first and hi == first + size:
            chunks.decode(encoded, out=out[lo - start : hi - start])
        else:
            out[lo - start : hi - start] = chunks.decode(encoded)[lo - first : hi - first]

    list(_pool().map(get, range(start // size, (stop - 1) // size + 1)))
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


def _writable(array: zarr.Array, start: int, data: np.ndarray,
              length: int | None = None) -> _LocalChunks | None:  # fmt: skip
    """The array's chunk files, if this write of whole item rows can bypass zarr; else None.
    ``length``: the item-axis length the array has, or is growing to with this write."""
    length = array.shape[0] if length is None else length
    fits = data.shape[1:] == array.shape[1:] and 0 <= start and start + len(data) <= length
    if not (fits and data.size):
        return None
    chunks = _local_chunks(array)
    if chunks is None:
        return None
    kind = np.dtype(data.dtype).kind
    same = kind in "UTO" if chunks.text else np.dtype(data.dtype) == np.dtype(array.dtype)
    return chunks if same else None


def _is_local(array: zarr.Array) -> bool:
    return isinstance(array.store_path.store, LocalStore)


def _local_chunks(array: zarr.Array) -> _LocalChunks | None:
    """The array's chunk files, if they can be read and written as plain files here: a
    local store, chunks holding whole items, and codecs numcodecs can stand in for
    (little-endian bytes then Blosc, or vlen-utf8 then Zstd)."""
    if not _is_local(array) or sys.byteorder != "little" or array.chunks[1:] != array.shape[1:]:
        return None
    codecs = tuple(getattr(array.metadata, "codecs", ()))
    kinds = tuple(type(c) for c in codecs)
    if kinds == (BytesCodec, BloscCodec):
        if codecs[0].endian is not None and codecs[0].endian.value != "little":
            return None
        b = codecs[1]
        return _LocalChunks(array, [_blosc(b.cname.value, b.clevel, _SHUFFLE[b.shuffle.value])], False)
    if kinds == (VLenUTF8Codec, ZstdCodec):
        return _LocalChunks(array, [VLenUTF8(), _zstd(codecs[1].level, codecs[1].checksum)], True)
    return None


@cache
def _blosc(cname: str, clevel: int, shuffle: int) -> Blosc:
    return Blosc(cname=cname, clevel=clevel, shuffle=shuffle, blocksize=0)


@cache
def _zstd(level: int, checksum: bool) -> Zstd:
    return Zstd(level=level, checksum=checksum)
