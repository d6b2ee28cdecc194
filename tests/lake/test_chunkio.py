"""Direct chunk reads (hrtemlake.lake.chunkio.read_items) against zarr's own reads."""

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec

from hrtemlake.lake.chunkio import _local_blosc, read_items, write_items


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
    assert _local_blosc(array) is not None  # the direct path is the one tested
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
    assert _local_blosc(tiled) is None
    np.testing.assert_array_equal(read_items(tiled, slice(0, 3)), data[:3])
    np.testing.assert_array_equal(read_items(tiled, slice(0, 4, 2)), data[::2])
    np.testing.assert_array_equal(read_items(tiled, np.array([3, 1])), data[[3, 1]])
