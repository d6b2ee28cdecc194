"""hrtemlake: a batch data lake and analysis platform for deep learning on HR-TEM."""

from hrtemlake._version import __version__

__all__ = ["__version__", "open_lake"]


def open_lake(path=None):
    """Open the whole lake as a lazy (Dask-backed) :class:`xarray.DataTree`.

    See :func:`hrtemlake.lake.open_lake`.
    """
    from hrtemlake.lake import open_lake as _open_lake

    return _open_lake(path)
