"""The lake schema as typed objects, built from ``catalog/lake.yaml``.

Everything that needs to know what a group or variable looks like asks this module; nothing
else in the code base spells out dims, dtypes or units of stored data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import numpy as np

from hrtemlake.catalog import load_declaration
from hrtemlake.errors import LakeError, SchemaError

__all__ = [
    "SCHEMA_VERSION",
    "GroupSpec",
    "VariableSpec",
    "Schema",
    "get_schema",
    "check_name",
]

WRITE_SESSION = "write_session"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class VariableSpec:
    """One declared variable of a group."""

    name: str
    dims: tuple[str, ...]
    dtype: np.dtype | type[str]
    units: str
    description: str = ""
    chunks: dict[str, int] = field(default_factory=dict)
    role: Literal["data", "coordinate", "scalar"] = "data"
    optional: bool = False

    @property
    def is_string(self) -> bool:
        return self.dtype is str

    def attrs(self) -> dict[str, str]:
        """Attributes stored on the array (read by xarray as ``.attrs``)."""
        return {"units": self.units, "long_name": self.description}

    def coerce(self, value: Any, where: str) -> np.ndarray:
        """``value`` as an array of the declared dtype; :class:`SchemaError` if it can't be.

        Floats never become integers, complex never becomes real, and integers must fit
        the declared integer type.
        """
        array = np.asarray(value)
        if self.is_string:
            if array.dtype.kind not in "UTO":
                raise SchemaError(f"{where}: variable '{self.name}' holds text, got {array.dtype}")
            return array.astype(str)
        target = np.dtype(self.dtype)
        kind = array.dtype.kind
        if target.kind in "iu" and kind in "biu":
            if array.size and kind != "b":
                info = np.iinfo(target)
                lo, hi = array.min(), array.max()
                if lo < info.min or hi > info.max:
                    raise SchemaError(
                        f"{where}: variable '{self.name}' ({target}) cannot hold values "
                        f"in [{lo}, {hi}]"
                    )
            return array.astype(target, copy=False)
        if target.kind in "fc" and np.can_cast(array.dtype, target, casting="same_kind"):
            return array.astype(target, copy=False)
        if target.kind == "b" and kind == "b":
            return array
        raise SchemaError(f"{where}: variable '{self.name}' is declared {target}, got {array.dtype}")


@dataclass(frozen=True)
class GroupSpec:
    """One declared group kind (e.g. ``exitwaves`` at ``simulations/{dataset}/exitwaves``)."""

    kind: str
    path: str
    description: str
    item: str | None
    item_chunk: int
    layout: Literal["dense", "append", "ragged"]
    variables: dict[str, VariableSpec]
    attrs: tuple[str, ...] = ()
    ragged: str | None = None
    offsets: str | None = None

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    def format_path(self, **names: str) -> str:
        """The concrete group path for user-chosen ``names`` (validated)."""
        missing = [p for p in self.placeholders if p not in names]
        extra = [n for n in names if n not in self.placeholders]
        if missing or extra:
            raise LakeError(
                f"group '{self.kind}' ({self.path}) needs names {list(self.placeholders)}, "
                f"got {sorted(names)}"
            )
        for key, value in names.items():
            check_name(value, what=key)
        return self.path.format(**names)

    def match(self, path: str) -> dict[str, str] | None:
        """The placeholder values if ``path`` is an instance of this group, else None."""
        m = re.match(_regex(self.path, capture=True), path)
        return m.groupdict() if m else None

    def item_variables(self) -> list[VariableSpec]:
        """Variables whose first dimension is the item dimension."""
        return [v for v in self.variables.values() if v.dims[:1] == (self.item,)]

    def ragged_variables(self) -> list[VariableSpec]:
        """Variables along the flat (CSR) dimension of a ragged group."""
        return [v for v in self.variables.values() if v.dims[:1] == (self.ragged,)]

    def chunk_shape(self, var: VariableSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Chunk shape for an array of ``shape``.

        ``item_chunk`` along the item dimension, the declared chunk along other declared
        dimensions (growing ones start empty), else the whole dimension.
        """
        chunks = []
        for dim, size in zip(var.dims, shape):
            if dim == self.item:
                chunks.append(var.chunks.get(dim, self.item_chunk))
            elif dim in var.chunks:
                chunks.append(var.chunks[dim])
            else:
                chunks.append(size)
        return tuple(max(c, 1) for c in chunks)


@dataclass(frozen=True)
class Schema:
    """The whole declared lake schema."""

    version: int
    groups: dict[str, GroupSpec]
    dimensions: dict[str, str]
    fixed_sizes: dict[str, int]

    def group(self, kind: str) -> GroupSpec:
        """The spec of group ``kind``; a clear error for an unknown kind."""
        try:
            return self.groups[kind]
        except KeyError:
            raise LakeError(
                f"unknown group kind '{kind}'; the catalog declares: {', '.join(self.groups)}"
            ) from None

    def identify(self, path: str) -> tuple[GroupSpec, dict[str, str]] | None:
        """Which declared group a concrete store path is, with its names."""
        for spec in self.groups.values():
            names = spec.match(path)
            if names is not None:
                return spec, names
        return None

    def is_container(self, path: str) -> bool:
        """True if ``path`` is a parent of some declared group (e.g. ``simulations/train``)."""
        depth = len(path.split("/"))
        for spec in self.groups.values():
            prefix = "/".join(spec.path.split("/")[:depth])
            if depth < len(spec.path.split("/")) and _glob_match(prefix, path):
                return True
        return False


def _regex(pattern: str, capture: bool) -> str:
    """A regular expression for a group path with {placeholders}."""
    parts = _PLACEHOLDER.split(pattern)  # literal, name, literal, name, ...
    out = [
        (f"(?P<{part}>[^/]+)" if capture else "[^/]+") if i % 2 else re.escape(part)
        for i, part in enumerate(parts)
    ]
    return "^" + "".join(out) + "$"


def _glob_match(pattern: str, path: str) -> bool:
    return re.match(_regex(pattern, capture=False), path) is not None


def check_name(name: str, what: str = "name") -> str:
    """Validate a user-chosen name (dataset, series, run, network).

    Names become path components of the store, so separators, ``..`` and empty names are
    refused before anything touches the store.
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise LakeError(
            f"invalid {what} {name!r}: use letters, digits, '_', '-', '.' "
            "(starting with a letter or digit, no path separators or '..')"
        )
    return name


def _variable(name: str, raw: dict[str, Any]) -> VariableSpec:
    dtype = str if raw["dtype"] == "str" else np.dtype(raw["dtype"])
    return VariableSpec(
        name=name,
        dims=tuple(raw["dims"]),
        dtype=dtype,
        units=str(raw.get("units", "1")),
        description=raw.get("description", ""),
        chunks=dict(raw.get("chunks", {})),
        role=raw.get("role", "data"),
        optional=bool(raw.get("optional", False)),
    )


def _group(kind: str, raw: dict[str, Any]) -> GroupSpec:
    variables = {name: _variable(name, v) for name, v in raw["variables"].items()}
    item = raw.get("item")
    layout = raw.get("layout", "dense")
    if layout == "dense" and any(item in v.chunks for v in variables.values()):
        raise SchemaError(f"catalog group '{kind}': a dense group's items must use item_chunk")
    if item is not None:
        variables[WRITE_SESSION] = VariableSpec(
            name=WRITE_SESSION,
            dims=(item,),
            dtype=np.dtype("int32"),
            units="1",
            description="provenance record that wrote the item (0 = missing)",
            chunks={} if layout == "dense" else {item: 4096},
        )
    return GroupSpec(
        kind=kind,
        path=raw["path"],
        description=" ".join(raw.get("description", "").split()),
        item=item,
        item_chunk=int(raw.get("item_chunk", 1)),
        layout=layout,
        variables=variables,
        attrs=tuple(raw.get("attrs", ())),
        ragged=raw.get("ragged"),
        offsets=raw.get("offsets"),
    )


@cache
def get_schema() -> Schema:
    """The schema declared in ``catalog/lake.yaml``."""
    raw = load_declaration()
    groups = {kind: _group(kind, g) for kind, g in raw["groups"].items()}
    dims = {k: v if isinstance(v, dict) else {"description": v} for k, v in raw["dimensions"].items()}
    return Schema(
        version=int(raw["schema_version"]),
        groups=groups,
        dimensions={k: v["description"] for k, v in dims.items()},
        fixed_sizes={k: int(v["size"]) for k, v in dims.items() if "size" in v},
    )


SCHEMA_VERSION = get_schema().version
