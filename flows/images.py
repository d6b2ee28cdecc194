"""Prefect flow: image epochs and labels of a dataset's exit waves (thesis §3.2).

Thin: the work is :mod:`hrtemlake.simulate.images`; this module batches models over the
Dask task runner and is resumable (a rerun computes only models whose images are
missing). Epoch ``e`` of model ``m`` has its own seed, so the result is the same with any
number of workers. ``debug: N`` in the parameter file writes N PNG previews beside the
lake (:mod:`hrtemlake.simulate.preview`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from hrtemlake.lake import ItemWriter, Lake
from hrtemlake.simulate.images import (
    compute_image_block,
    image_epochs,
    image_writer,
    missing_image_blocks,
)
from hrtemlake.simulate.params import ImageParameters, load_parameters
from hrtemlake.simulate.preview import preview_count, write_previews


@task(name="image-epochs", retries=1, retry_delay_seconds=5)
def image_task(
    writer: ItemWriter, dataset: str, block: range, params: ImageParameters, epochs: int,
    device: str,
) -> int:  # fmt: skip
    return compute_image_block(writer, dataset, block, params, epochs, device=device)


@flow(name="simulate-images", log_prints=True)
def simulate_images(
    dataset: str,
    params: dict[str, Any] | str,
    imageset: str | None = None,
    epochs: int | None = None,
    test: bool = False,
    models_per_task: int = 1,
    device: str = "cpu",
    debug_dir: str | None = None,
    lake: str | None = None,
) -> dict[str, int]:
    """Make the missing image epochs of ``dataset`` into ``images/<imageset>``.

    Parameters
    ----------
    dataset
        Dataset with exit waves (``simulations/<dataset>/exitwaves``).
    params
        Parameter file path (YAML/JSON) or its content as a mapping.
    imageset
        Image set name; default the parameter file's stem (``"images"`` for a mapping).
    epochs, test
        Image epochs per exit wave: ``epochs``, else 1 with ``test`` (validation/test
        data), else the file's ``image_epochs``.
    models_per_task
        Models per Dask task.
    device
        ``"cpu"`` or ``"gpu"`` (CuPy).
    debug_dir
        Folder (or URL) for the previews; default beside the lake.
    lake
        Lake location.

    Returns
    -------
    The numbers of models and images made by this run, and of previews written.
    """
    logger = get_run_logger()
    if isinstance(params, (str, Path)):
        parameters = load_parameters(params)
        imageset = imageset or Path(params).stem
    else:
        parameters = ImageParameters.from_dict(dict(params))
        imageset = imageset or "images"
    n_epochs = image_epochs(parameters, epochs, test)
    store = Lake(lake, mode="a")
    writer = image_writer(store, dataset, imageset, parameters, n_epochs)
    blocks = missing_image_blocks(writer, dataset, per_block=models_per_task)
    total = sum(len(b) for b in blocks)
    waiting = len(writer.missing()) - total
    logger.info("%s/%s: %d models to image (%d epochs each)%s", dataset, imageset, total,
                n_epochs, f"; {waiting} wait for exit waves" if waiting else "")  # fmt: skip
    futures = [
        image_task.submit(writer, dataset, block, parameters, n_epochs, device) for block in blocks
    ]
    done = 0
    for future in futures:
        done += future.result()
        logger.info("image epochs: %d/%d models", done, total)
    available = int(writer.completed().sum()) * n_epochs
    previews = write_previews(store.location, dataset, imageset,
                              preview_count(parameters.debug, available), debug_dir)  # fmt: skip
    images = done * n_epochs * parameters.num_focal
    create_markdown_artifact(
        key=f"images-{dataset}-{imageset}".lower().replace("_", "-").replace(".", "-"),
        markdown=(
            f"**{dataset}/{imageset}** ({parameters.label} labels, seed {parameters.seed}) in "
            f"`{store.location}`: {done} models, {images} images made this run; "
            f"{len(previews)} previews."
        ),
    )
    return {"models": done, "images": images, "previews": len(previews)}
