"""Small image sets for the network tests: a synthetic one with an easy task, and a real one."""

from __future__ import annotations

import numpy as np

from hrtemlake.lake import Lake
from hrtemlake.lake.schema import WRITE_SESSION, get_schema
from hrtemlake.simulate import ImageParameters


def disc_image_set(
    lake: Lake, dataset: str, n_models: int = 8, epochs: int = 2, size: int = 32,
    focus: int = 1, seed: int = 0, imageset: str = "discs",
) -> str:  # fmt: skip
    """Bright discs on a noisy background; the Mask label marks the discs.

    Returns ``DATASET/IMAGESET``. Every drawn parameter of the schema is stored (zeros but
    ``sampling`` = 0.5 Å), so the set is a valid ``images`` group.
    """
    rng = np.random.default_rng(seed)
    params = ImageParameters(label="Mask", image_size=(size, size), image_epochs=epochs,
                             normalizedistance=4.0, debug=None)  # fmt: skip
    writer = lake.writer(
        "images", dataset=dataset, imageset=imageset, n_items=n_models,
        sizes={"epoch": epochs, "focus": focus, "y": size, "x": size, "channel": 1, "target": 0},
        parameters={"parameter_file": params.to_dict(), "epochs": epochs},
        attrs={"parameter_file": params.to_dict(), "label": "Mask", "channel_names": ["mask"]},
    )  # fmt: skip
    yy, xx = np.mgrid[:size, :size]
    label = np.zeros((n_models, epochs, 1, size, size), np.float32)
    for m in range(n_models):
        for e in range(epochs):
            for _ in range(3):
                cy, cx = rng.uniform(4, size - 4, 2)
                disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(2, 4) ** 2
                label[m, e, 0] = np.maximum(label[m, e, 0], disc)
    image = rng.poisson(20 + 40 * np.repeat(label, focus, axis=2)).astype(np.float32)
    values = {"image": image, "label": label}
    spec = get_schema().group("images")
    for var in spec.item_variables():
        if var.name not in values and var.name != WRITE_SESSION and not var.optional:
            shape = (n_models, epochs, focus)[: len(var.dims)]
            values[var.name] = np.full(shape, 0.5 if var.name == "sampling" else 0.0)
    writer.write(0, values)
    return f"{dataset}/{imageset}"


def stripe_image_set(lake: Lake, dataset: str, n_models: int = 8, size: int = 32,
                     seed: int = 0, imageset: str = "stripes") -> str:  # fmt: skip
    """Stripes whose period [pixels] is the Regression target ``"defocus"`` (a stand-in)."""
    rng = np.random.default_rng(seed)
    params = ImageParameters(label="Regression", image_size=(size, size), image_epochs=1,
                             normalizedistance=8.0, regression_targets=("defocus",),
                             debug=None)  # fmt: skip
    writer = lake.writer(
        "images", dataset=dataset, imageset=imageset, n_items=n_models,
        sizes={"epoch": 1, "focus": 1, "y": size, "x": size, "channel": 0, "target": 1},
        parameters={"parameter_file": params.to_dict(), "epochs": 1},
        attrs={"parameter_file": params.to_dict(), "label": "Regression",
               "channel_names": ["defocus"]},
    )  # fmt: skip
    period = rng.uniform(4, 12, n_models)
    xx = np.arange(size)[None, :]
    stripes = 50 + 20 * np.cos(2 * np.pi * xx / period[:, None, None])
    image = rng.poisson(np.broadcast_to(stripes, (n_models, size, size))).astype(np.float32)
    values = {"image": image[:, None, None], "targets": period[:, None, None].astype(np.float32)}
    spec = get_schema().group("images")
    for var in spec.item_variables():
        if var.name not in values and var.name not in (WRITE_SESSION, "label"):
            values[var.name] = np.full((n_models, 1, 1)[: len(var.dims)],
                                       0.5 if var.name == "sampling" else 0.0)  # fmt: skip
    writer.write(0, values)
    return f"{dataset}/{imageset}"
