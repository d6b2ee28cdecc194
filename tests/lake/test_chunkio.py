"""Direct chunk reads, writes and resizes (hrtemlake.lake.chunkio) against zarr's own."""

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

from hrtemlake.lake.chunkio import _local_chunks, read_items, resize_items, write_items


def _array(path, shape, chunks, separator="/", fill=0.0, dtype="float32"):
    return zarr.create_array(
        str(path), shape=shape, chunks=chunks, dtype=dtype, fill_value=fill,
        compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
        chunk_key_encoding={"name": "default", "separator": separator},
    )  # fmt: skip


@pytest.mark.parametrize("separator", ["/", "."])
@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_every_slice_matches_zarr(tmp_path, separator, chunk):
    data = np.random.default_rng(chunk).normal(size=(7, 5, 4)).astype(np.float32)
    array = _array(tmp_path / "a", data.shape, (chunk, 5, 4), separator)
    array[:] = data
    assert _local_chunks(array) is not None  # the direct path is the one tested
    for start in range(8):
        for stop in range(start, 9):
            got = read_items(array, slice(start, stop))
            np.testing.assert_array_equal(got, data[start:stop])
            assert got.dtype == np.float32
    np.testing.assert_array_equal(read_items(array, slice(None)), data)
    np.testing.assert_array_equal(read_items(array, slice(-3, None)), data[-3:])


def test_unwritten_chunks_read_as_the_fill_value(tmp_path):
    array = _array(tmp_path / "a", (6, 3, 3), (2, 3, 3), fill=-1.0)
    array[2:4] = np.ones((2, 3, 3), np.float32)
    expected = np.full((6, 3, 3), -1.0, np.float32)
    expected[2:4] = 1.0
    np.testing.assert_array_equal(read_items(array, slice(1, 6)), expected[1:6])
    np.testing.assert_array_equal(read_items(array, slice(None)), zarr.open_array(str(tmp_path / "a"))[:])


def test_items_written_directly_read_back(tmp_path):
    data = np.arange(4 * 6 * 6, dtype=np.int32).reshape(4, 6, 6)
    array = _array(tmp_path / "a", data.shape, (1, 6, 6), dtype="int32")
    write_items(array, 0, data)
    np.testing.assert_array_equal(read_items(array, slice(1, 4)), data[1:4])
    np.testing.assert_array_equal(array[1:4], data[1:4])


def test_other_layouts_go_through_zarr(tmp_path):
    data = np.arange(4 * 6 * 6, dtype=np.float32).reshape(4, 6, 6)
    tiled = _array(tmp_path / "tiled", data.shape, (1, 3, 6))  # items split across chunks
    tiled[:] = data
    assert _local_chunks(tiled) is None
    np.testing.assert_array_equal(read_items(tiled, slice(0, 3)), data[:3])
    np.testing.assert_array_equal(read_items(tiled, slice(0, 4, 2)), data[::2])
    np.testing.assert_array_equal(read_items(tiled, np.array([3, 1])), data[[3, 1]])


def _text(path, shape, chunk, separator="."):
    return zarr.create_array(
        str(path), shape=shape, chunks=(chunk,), dtype=str, fill_value="",
        compressors=ZstdCodec(level=0, checksum=False),
        chunk_key_encoding={"name": "default", "separator": separator},
    )  # fmt: skip


@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_rows_written_directly_in_any_blocks_equal_zarrs(tmp_path, chunk):
    """Appends of 1-5 rows (chunks partly covered, read and written back) give exactly the
    array zarr writes, for numbers (NaN fill) and text."""
    rng = np.random.default_rng(chunk)
    n = 23
    values = rng.normal(size=n)
    names = np.array([f"frame_{i:03d}.dm4" * (i % 3) for i in range(n)])
    ours = _array(tmp_path / "f", (n,), (chunk,), ".", fill=np.nan, dtype="float64")
    text = _text(tmp_path / "s", (n,), chunk)
    assert _local_chunks(ours) is not None and _local_chunks(text).text
    start = 0
    while start < n:
        stop = min(n, start + int(rng.integers(1, 6)))
        write_items(ours, start, values[start:stop])
        write_items(text, start, names[start:stop])
        start = stop
    reference = _array(tmp_path / "ref", (n,), (chunk,), ".", fill=np.nan, dtype="float64")
    reference[:] = values
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "f"))[:], reference[:])
    assert list(zarr.open_array(str(tmp_path / "s"))[:]) == list(names)


def test_a_partly_written_chunk_keeps_the_fill_value(tmp_path):
    array = _array(tmp_path / "a", (10,), (8,), ".", fill=np.nan, dtype="float64")
    write_items(array, 2, np.array([1.0, 2.0]))
    got = zarr.open_array(str(tmp_path / "a"))[:]
    np.testing.assert_array_equal(got[2:4], [1.0, 2.0])
    assert np.isnan(np.delete(got, [2, 3])).all()
    text = _text(tmp_path / "s", (5,), 4)
    write_items(text, 3, np.array(["x", "y"]))
    assert list(zarr.open_array(str(tmp_path / "s"))[:]) == ["", "", "", "x", "y"]


def test_growing_rewrites_the_metadata_zarr_reads(tmp_path):
    array = _array(tmp_path / "a", (0, 2), (4, 2), ".", fill=np.nan, dtype="float64")
    text = _text(tmp_path / "s", (0,), 4)
    for length in (3, 7, 7, 12):
        resize_items([array, text], length)
        write_items(array, length - 3, np.ones((3, 2)) * length)
        write_items(text, length - 3, np.array(["a", "b", "c"]))
        assert array.shape == (length, 2) and text.shape == (length,)
        again = zarr.open_array(str(tmp_path / "a"))
        assert again.shape == (length, 2)
        np.testing.assert_array_equal(again[length - 3 :], np.ones((3, 2)) * length)
    assert zarr.open_array(str(tmp_path / "s")).shape == (12,)


def test_shrinking_drops_the_chunks_past_the_end(tmp_path):
    array = _array(tmp_path / "a", (8, 2), (2, 2), ".", dtype="float64")
    array[:] = np.ones((8, 2))
    resize_items([array], 3)
    assert sorted(p.name for p in (tmp_path / "a").glob("c.*")) == ["c.0.0", "c.1.0"]
    resize_items([array], 6)
    got = zarr.open_array(str(tmp_path / "a"))[:]
    np.testing.assert_array_equal(got[:3], 1.0)
    np.testing.assert_array_equal(got[4:], 0.0)  # chunk 2 was deleted: the fill value


def test_rows_and_growth_on_other_stores_go_through_zarr():
    from hrtemlake.lake.chunkio import write_rows

    store = zarr.storage.MemoryStore()
    numbers = zarr.create_array(store, name="n", shape=(2,), chunks=(4,), dtype="float64",
                                fill_value=np.nan)  # fmt: skip
    text = zarr.create_array(store, name="s", shape=(2,), chunks=(4,), dtype=str, fill_value="")
    assert _local_chunks(numbers) is None
    numbers[:2] = [1.0, 2.0]
    write_rows(2, {"n": (numbers, np.array([3.0, 4.0, 5.0])), "s": (text, np.array(["a", "b", "c"]))},
               grow=[numbers, text])  # fmt: skip
    assert numbers.shape == (5,) and text.shape == (5,)
    np.testing.assert_array_equal(numbers[:], [1, 2, 3, 4, 5])
    assert list(text[:]) == ["", "", "a", "b", "c"]
