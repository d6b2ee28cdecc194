"""The lake: one chunked Zarr v3 store declared by ``catalog/lake.yaml``.

Use :class:`Lake` to write and :func:`open_lake` to read everything as an
:class:`xarray.DataTree`.
"""

from hrtemlake.lake.lake import COMPRESSOR, Lake, as_lake, open_lake
from hrtemlake.lake.schema import SCHEMA_VERSION, check_name, get_schema
from hrtemlake.lake.store import DEFAULT_LAKE, ENV_LAKE, resolve_lake
from hrtemlake.lake.writer import AppendWriter, ItemWriter, RaggedWriter, chunk_blocks

__all__ = [
    "COMPRESSOR",
    "DEFAULT_LAKE",
    "ENV_LAKE",
    "SCHEMA_VERSION",
    "AppendWriter",
    "ItemWriter",
    "Lake",
    "RaggedWriter",
    "as_lake",
    "check_name",
    "chunk_blocks",
    "get_schema",
    "open_lake",
    "resolve_lake",
]
