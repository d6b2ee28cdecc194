"""Array backend helpers: NumPy on the CPU, CuPy on a GPU when it is installed.

The idea follows abTEM's ``abtem.core.backend``: every kernel asks its input which array
module made it (:func:`get_array_module`) and uses that module, so the same code runs on
NumPy and CuPy arrays. CuPy is optional and only imported when a CuPy array (or the
``"gpu"`` device name) is actually seen, so importing this module never needs a GPU.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "asnumpy",
    "cupy_is_available",
    "fft_kwargs",
    "get_array_module",
    "get_fft_module",
    "is_cupy_array",
]


def _import_cupy() -> ModuleType:
    try:
        return importlib.import_module("cupy")
    except ImportError as error:  # pragma: no cover - depends on the machine
        raise RuntimeError(
            "CuPy is not installed (or cannot load CUDA); GPU arrays are unavailable"
        ) from error


def cupy_is_available() -> bool:
    """Whether CuPy can be imported (and therefore GPU arrays can be made)."""
    try:
        importlib.import_module("cupy")
    except Exception:  # ImportError, or CUDA libraries that fail to load
        return False
    return True


def is_cupy_array(x: Any) -> bool:
    """Whether ``x`` is a CuPy array, decided without importing CuPy."""
    return type(x).__module__.split(".")[0] == "cupy"


def get_array_module(x: Any = None) -> ModuleType:
    """Return the array module (``numpy`` or ``cupy``) that belongs to ``x``.

    Parameters
    ----------
    x : array, module, str or None
        An array (a CuPy array gives ``cupy``, anything else ``numpy``), an array
        module (returned as is), a device name (``"cpu"`` or ``"gpu"``), or None
        (``numpy``).

    Returns
    -------
    module
        ``numpy`` or ``cupy``.
    """
    if x is None:
        return np
    if isinstance(x, ModuleType):
        if x.__name__ in ("numpy", "cupy"):
            return x
        raise ValueError(f"not an array module: {x.__name__}")
    if isinstance(x, str):
        if x == "cpu":
            return np
        if x == "gpu":
            return _import_cupy()
        raise ValueError(f"device must be 'cpu' or 'gpu', got {x!r}")
    if is_cupy_array(x):
        return _import_cupy()
    return np


def get_fft_module(x: Any = None) -> ModuleType:
    """Return the FFT module for ``x``: ``scipy.fft`` for NumPy, ``cupyx.scipy.fft``
    for CuPy.

    Both have the same ``fft2``/``ifft2`` interface; ``scipy.fft`` additionally takes
    ``workers`` (use ``workers=-1`` for all cores), see :func:`fft_kwargs`.
    """
    xp = get_array_module(x)
    if xp is np:
        return importlib.import_module("scipy.fft")
    return importlib.import_module("cupyx.scipy.fft")  # pragma: no cover


def fft_kwargs(x: Any = None) -> dict:
    """Keyword arguments for the FFT module of ``x`` (all CPU cores for ``scipy.fft``)."""
    return {"workers": -1} if get_array_module(x) is np else {}


def asnumpy(x: Any) -> np.ndarray:
    """Return ``x`` as a NumPy array (copied from the GPU if it is a CuPy array)."""
    if is_cupy_array(x):
        return _import_cupy().asnumpy(x)
    return np.asarray(x)
