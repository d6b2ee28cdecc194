import numpy as np
import pytest

from hrtemlake import backend


def test_numpy_arrays_get_numpy():
    assert backend.get_array_module(np.zeros(3)) is np
    assert backend.get_array_module(None) is np
    assert backend.get_array_module([1, 2]) is np
    assert backend.get_array_module("cpu") is np
    assert backend.get_array_module(np) is np


def test_fft_module_and_kwargs_for_numpy():
    import scipy.fft

    assert backend.get_fft_module(np.zeros(3)) is scipy.fft
    assert backend.fft_kwargs(np.zeros(3)) == {"workers": -1}


def test_asnumpy_passes_numpy_through():
    x = np.arange(4.0)
    assert backend.asnumpy(x) is x
    assert isinstance(backend.asnumpy([1, 2]), np.ndarray)


def test_bad_device_name():
    with pytest.raises(ValueError, match="device"):
        backend.get_array_module("tpu")


def test_gpu_without_cupy_is_a_clear_error():
    if backend.cupy_is_available():
        pytest.skip("CuPy is installed")
    with pytest.raises(RuntimeError, match="CuPy"):
        backend.get_array_module("gpu")


@pytest.mark.gpu
def test_cupy_arrays_get_cupy():
    cupy = pytest.importorskip("cupy")
    x = cupy.zeros(3)
    assert backend.get_array_module(x) is cupy
    assert isinstance(backend.asnumpy(x), np.ndarray)
