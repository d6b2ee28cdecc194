"""The Prefect deployments of every flow, declared in one place.

``hrtemlake serve`` serves them from this process (Prefect's ``serve``: no work pool needed)
against ``$PREFECT_API_URL`` or a local temporary server.  Parameters are validated by Prefect
from the flows' type hints; each deployment's ``concurrency_limit`` keeps two runs of it from
writing the same lake groups at once, and reruns skip what the lake already holds.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hrtemlake.lake import resolve_lake

__all__ = ["deployments"]


def deployments(
    lake: str | None = None,
    watch: str | None = None,
    series: str = "live",
    interval: float = 60.0,
    pixel_size: float | None = None,
    analyze: list[str] | None = None,
):
    """Build the deployments.

    Parameters
    ----------
    lake
        Lake the deployments write (default: ``$HRTEMLAKE_LAKE``, else ``./lake.zarr``).
    watch
        Acquisition folder the scheduled ingest watches (no scheduled ingest when None).
    series
        Series name of the watched folder.
    interval
        Seconds between scheduled ingests.
    pixel_size
        Pixel size (Å) of watched frames whose files carry no calibration (e.g. plain TIFF).
    analyze
        Networks to analyse the watched series' new frames with, on the same schedule
        (analysis run ``SERIES-auto``; each run segments only the frames not yet analysed).
    """
    from hrtemlake.flows.analysis import analysis_flow
    from hrtemlake.flows.images import simulate_images
    from hrtemlake.flows.ingest import ingest_flow
    from hrtemlake.flows.md import md_flow
    from hrtemlake.flows.simulate import simulate_dataset
    from hrtemlake.flows.train import evaluate_flow, train_flow

    lake = os.path.abspath(resolve_lake(lake)) if "://" not in resolve_lake(lake) else resolve_lake(lake)
    found = [
        simulate_dataset.to_deployment(
            name="simulate-dataset", parameters={"dataset": "train", "lake": lake},
            concurrency_limit=1, tags=["simulate"],
            description="Atomic models and abTEM exit waves of a named dataset (resumable).",
        ),
        md_flow.to_deployment(
            name="md-run", parameters={"run": "mos2-300K", "lake": lake}, concurrency_limit=1,
            tags=["md"], description="GPAW molecular dynamics into md/RUN (continues a run).",
        ),
        simulate_images.to_deployment(
            name="simulate-images", parameters={"dataset": "train", "params": {}, "lake": lake},
            concurrency_limit=1, tags=["simulate"],
            description="Image epochs and labels of a dataset's exit waves (resumable).",
        ),
        train_flow.to_deployment(
            name="train-network",
            parameters={"name": "net", "train": "train", "validation": "test", "epochs": 10,
                        "lake": lake},
            concurrency_limit=1, tags=["train", "gpu"],
            description="Train a network on image sets and register it as networks/NAME "
                        "(restart=EPOCH continues it).",
        ),
        evaluate_flow.to_deployment(
            name="evaluate-network", parameters={"network": "net", "image_set": "test", "lake": lake},
            concurrency_limit=1, tags=["train"],
            description="Per-image scores of a network on an image set.",
        ),
        analysis_flow.to_deployment(
            name="analyze-series",
            parameters={"series": series, "networks": ["net"], "run": f"{series}-run", "lake": lake},
            concurrency_limit=1, tags=["analysis"],
            description="Segment, track and Fourier statistics of a series, with an HTML report.",
        ),
        ingest_flow.to_deployment(
            name="ingest-series", parameters={"paths": [], "series": series, "lake": lake},
            concurrency_limit=1, tags=["ingest"],
            description="Append the new frames of acquisition folders to experiments/SERIES.",
        ),
    ]  # fmt: skip
    if watch:
        found.append(
            ingest_flow.to_deployment(
                name=f"watch-{series}",
                parameters={"paths": [os.path.abspath(watch)], "series": series, "lake": lake,
                            "pixel_size": pixel_size},
                interval=timedelta(seconds=interval), concurrency_limit=1, tags=["ingest", "scheduled"],
                description=f"Every {interval:g} s: append new frames of {watch} to experiments/{series}.",
            )  # fmt: skip
        )
    if watch and analyze:
        found.append(
            analysis_flow.to_deployment(
                name=f"analyze-{series}",
                parameters={"series": series, "networks": list(analyze), "run": f"{series}-auto",
                            "lake": lake},
                interval=timedelta(seconds=interval), concurrency_limit=1, tags=["analysis", "scheduled"],
                description=f"Every {interval:g} s: analyse the new frames of experiments/{series}.",
            )  # fmt: skip
        )
    return found
