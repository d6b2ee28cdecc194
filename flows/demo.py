"""``hrtemlake demo``: the main job end to end on small defaults into a local lake."""

from __future__ import annotations

import os
import time

from hrtemlake.lake.check import check_lake, describe_lake
from hrtemlake.runtime import prefect_api, task_runner

#: Small datasets of each model kind: MoS2 flakes (50 keV) and Au on CeO2 (300 keV).
DEMO_DATASETS = (
    {"dataset": "demo-mx2", "kind": "mx2", "count": 4, "seed": 1,
     "options": {"size": [24.0, 24.0]}},
    {"dataset": "demo-nanoparticle", "kind": "nanoparticle", "count": 2, "seed": 2,
     "options": {"cell": [30.0, 30.0, 30.0], "layers": [3, 5]}},
)  # fmt: skip


#: Image epochs of the MoS2 demo flakes from the paper-III parameter file (Disk labels),
#: made small so the demo stays quick.
DEMO_IMAGES = {"dataset": "demo-mx2", "imageset": "paper3-disk", "epochs": 2,
               "overrides": {"image_size": [128, 128]}}  # fmt: skip


#: A tiny particle-segmentation network trained on simulated series of Au particles (every
#: frame an image, its particle masks the Mask label).
DEMO_NETWORK = {"name": "demo-particles-msd", "epochs": 10,
                "train": {"series": "demo-train", "n_frames": 24, "seed": 11},
                "validation": {"series": "demo-validation", "n_frames": 8, "seed": 12},
                "options": {"arch": "msdnet", "layers": 10, "filters": 2, "kernel": 3,
                            "batch_size": 4, "epochsave": 5, "adam": {"learning_rate": 1e-2}}}  # fmt: skip
#: A simulated time series of Au particles that move, grow and shrink, and its analysis.
DEMO_SERIES = {"series": "demo-particles", "n_frames": 12}
DEMO_RUN = {"run": "demo-run", "window": 128, "min_separation": 0.5}


def run_demo(lake: str | None = None, workers: int | None = 2, cluster: str | os.PathLike | None = None) -> None:
    """Simulate the demo datasets with Prefect and Dask, then list and check the lake."""
    from hrtemlake.flows.images import simulate_images
    from hrtemlake.flows.simulate import simulate_dataset

    start = time.perf_counter()
    runner = task_runner(workers=workers, cluster=cluster)
    with prefect_api() as api:
        print(f"Prefect API: {api}")
        for spec in DEMO_DATASETS:
            simulate_dataset.with_options(task_runner=runner)(**spec, lake=lake)
        simulate_images.with_options(task_runner=runner)(
            dataset=DEMO_IMAGES["dataset"], params=_demo_parameters(), imageset=DEMO_IMAGES["imageset"],
            epochs=DEMO_IMAGES["epochs"], lake=lake,
        )  # fmt: skip
        _train_and_analyse(runner, lake)
    for line in describe_lake(lake):
        print(line)
    problems = check_lake(lake)
    for problem in problems:
        print(problem)
    print(f"demo finished in {time.perf_counter() - start:.0f} s; lake check: "
          f"{sum(p.severity == 'error' for p in problems)} error(s)")
    print("Open it in a notebook:  import hrtemlake; tree = hrtemlake.open_lake(%r)" % (lake or "lake.zarr"))


def _train_and_analyse(runner, lake: str | None) -> None:
    """Simulated series → a tiny network → the analysis of another simulated series."""
    from hrtemlake.flows.analysis import analysis_flow
    from hrtemlake.flows.train import train_flow
    from hrtemlake.lake import Lake
    from hrtemlake.simulate.timeseries import series_image_set, simulate_time_series

    store = Lake(lake, mode="a")
    image_sets = []
    for part in ("train", "validation"):
        spec = DEMO_NETWORK[part]
        truth = simulate_time_series(store, spec["series"], n_frames=spec["n_frames"],
                                     particles=3, seed=spec["seed"])  # fmt: skip
        image_sets.append(series_image_set(store, spec["series"], truth, spec["series"]))
    if not store.exists("networks", network=DEMO_NETWORK["name"]):  # a rerun keeps it
        train_flow(name=DEMO_NETWORK["name"], train=image_sets[0], validation=image_sets[1],
                   epochs=DEMO_NETWORK["epochs"], options=DEMO_NETWORK["options"], lake=lake)  # fmt: skip
    simulate_time_series(store, DEMO_SERIES["series"], n_frames=DEMO_SERIES["n_frames"])
    result = analysis_flow.with_options(task_runner=runner)(
        series=DEMO_SERIES["series"], networks=[DEMO_NETWORK["name"]], lake=lake, **DEMO_RUN,
    )  # fmt: skip
    print(f"analysis {DEMO_RUN['run']}: {result['tracks']} tracks; report {result['report']}")


def _demo_parameters() -> dict:
    from importlib import resources

    from hrtemlake.simulate.params import load_parameters

    example = resources.files("hrtemlake.simulate").joinpath("examples/paper3_mos2_disk.yaml")
    with resources.as_file(example) as path:
        params = load_parameters(path).to_dict()
    return {**params, **DEMO_IMAGES["overrides"], "debug": 0}
