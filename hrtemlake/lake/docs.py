"""Rendering the catalog as Markdown (``hrtemlake lake schema`` and ``catalog/README.md``)."""

from __future__ import annotations

from hrtemlake.lake.schema import get_schema

__all__ = ["schema_markdown"]


def schema_markdown() -> str:
    """The whole catalog as a Markdown document."""
    schema = get_schema()
    lines = [
        "# The hrtemlake lake schema",
        "",
        f"Schema version **{schema.version}**. Generated from `catalog/lake.yaml` by "
        "`hrtemlake lake schema`; do not edit by hand.",
        "",
        "Lengths are in Å, energies in eV, times in s. Every group with an item dimension has "
        "`write_session` (item): 0 while the item is missing, else the 1-based index of the "
        "provenance record (group attribute `provenance`) of the session that wrote it.",
        "",
        "## Dimensions",
        "",
        "| dimension | size | meaning |",
        "|---|---|---|",
    ]
    for dim, text in schema.dimensions.items():
        lines.append(f"| `{dim}` | {schema.fixed_sizes.get(dim, '')} | {text} |")
    for spec in schema.groups.values():
        lines += [
            "",
            f"## `{spec.path}` ({spec.kind})",
            "",
            spec.description,
            "",
            f"Layout **{spec.layout}**"
            + (f", item dimension `{spec.item}` in chunks of {spec.item_chunk}" if spec.item else "")
            + (f"; required attributes: {', '.join(f'`{a}`' for a in spec.attrs)}" if spec.attrs else "")
            + ".",
            "",
            "| variable | dims | dtype | units | role | description |",
            "|---|---|---|---|---|---|",
        ]
        for var in spec.variables.values():
            dtype = "str" if var.is_string else str(var.dtype)
            role = var.role + (", optional" if var.optional else "")
            lines.append(
                f"| `{var.name}` | ({', '.join(var.dims)}) | {dtype} | {var.units} | {role} | "
                f"{var.description} |"
            )
    return "\n".join(lines) + "\n"
