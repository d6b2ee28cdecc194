"""Small image sets for the network tests: a synthetic one with an easy task, and a real one."""

from __future__ import annotations

import numpy as np

from hrtemlake.lake import Lake
from hrtemlake.simulate import ImageParameters
from hrtemlake.simulate.images import store_image_set


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
    yy, xx = np.mgrid[:size, :size]
    label = np.zeros((n_models, epochs, 1, size, size), np.float32)
    for m in range(n_models):
        for e in range(epochs):
            for _ in range(3):
                cy, cx = rng.uniform(4, size - 4, 2)
                disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(2, 4) ** 2
                label[m, e, 0] = np.maximum(label[m, e, 0], disc)
    image = rng.poisson(20 + 40 * np.repeat(label, focus, axis=2)).astype(np.float32)
    values = {"image": image, "label": label, "sampling": np.full((n_models, epochs), 0.5)}
    return store_image_set(lake, dataset, imageset, params, ["mask"], values)


def stripe_image_set(lake: Lake, dataset: str, n_models: int = 8, size: int = 32,
                     seed: int = 0, imageset: str = "stripes") -> str:  # fmt: skip
    """Stripes whose period [pixels] is the Regression target ``"defocus"`` (a stand-in)."""
    rng = np.random.default_rng(seed)
    params = ImageParameters(label="Regression", image_size=(size, size), image_epochs=1,
                             normalizedistance=8.0, regression_targets=("defocus",),
                             debug=None)  # fmt: skip
    period = rng.uniform(4, 12, n_models)
    xx = np.arange(size)[None, :]
    stripes = 50 + 20 * np.cos(2 * np.pi * xx / period[:, None, None])
    image = rng.poisson(np.broadcast_to(stripes, (n_models, size, size))).astype(np.float32)
    values = {"image": image[:, None, None], "targets": period[:, None, None].astype(np.float32),
              "sampling": np.full((n_models, 1), 0.5)}
    return store_image_set(lake, dataset, imageset, params, ["defocus"], values)
