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
    for line in describe_lake(lake):
        print(line)
    problems = check_lake(lake)
    for problem in problems:
        print(problem)
    print(f"demo finished in {time.perf_counter() - start:.0f} s; lake check: "
          f"{sum(p.severity == 'error' for p in problems)} error(s)")
    print("Open it in a notebook:  import hrtemlake; tree = hrtemlake.open_lake(%r)" % (lake or "lake.zarr"))


def _demo_parameters() -> dict:
    from importlib import resources

    from hrtemlake.simulate.params import load_parameters

    example = resources.files("hrtemlake.simulate").joinpath("examples/paper3_mos2_disk.yaml")
    with resources.as_file(example) as path:
        params = load_parameters(path).to_dict()
    return {**params, **DEMO_IMAGES["overrides"], "debug": 0}
