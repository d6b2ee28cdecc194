"""`examples/walkthrough.ipynb` runs top to bottom against a small demo-like lake.

The lake has the names of ``hrtemlake demo`` (hrtemlake/flows/demo.py) but is tiny: one
small MoS2 flake with its exit wave and one paper-III image epoch, short simulated Au
series, a 2-epoch MSD-net and the analysis stages of ``demo-run``. It is built with library
calls (no Prefect, no Dask cluster) in well under a minute.
"""

from __future__ import annotations

import re
import time
from importlib import resources
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "walkthrough.ipynb"


def _build_small_demo_lake(location: str) -> dict:
    """The demo's groups under the demo's names, small; returns what the notebook should show."""
    from hrtemlake.analysis import pipeline as ap
    from hrtemlake.flows.demo import DEMO_DATASETS, DEMO_IMAGES, DEMO_NETWORK, DEMO_RUN, DEMO_SERIES
    from hrtemlake.lake import Lake
    from hrtemlake.nn import TrainingOptions, train_network
    from hrtemlake.simulate.dataset import (
        compute_exitwave_block,
        exitwave_writer,
        missing_exitwave_blocks,
        simulate_structures,
    )
    from hrtemlake.simulate.exitwaves import ExitWaveSettings, default_energy
    from hrtemlake.simulate.images import compute_image_block, image_writer, missing_image_blocks
    from hrtemlake.simulate.params import ImageParameters, load_parameters
    from hrtemlake.simulate.timeseries import ParticleTrack, series_image_set, simulate_time_series

    lake = Lake(location, mode="a")

    # simulations/demo-mx2: one 12 Å flake, a coarse exit wave, one 64² paper-III image epoch
    mx2 = next(spec for spec in DEMO_DATASETS if spec["dataset"] == DEMO_IMAGES["dataset"])
    dataset = mx2["dataset"]
    simulate_structures(lake, dataset, mx2["kind"], 1, mx2["seed"], {"size": [12.0, 12.0]})
    settings = ExitWaveSettings(energy=default_energy(mx2["kind"]), sampling=0.1,
                                slice_thickness=0.5)  # fmt: skip
    writer = exitwave_writer(lake, dataset, settings)
    for block in missing_exitwave_blocks(writer):
        compute_exitwave_block(writer, dataset, block, settings, mx2["seed"])
    example = resources.files("hrtemlake.simulate").joinpath("examples/paper3_mos2_disk.yaml")
    with resources.as_file(example) as path:
        params = load_parameters(path).to_dict()
    params = ImageParameters.from_dict({**params, **DEMO_IMAGES["overrides"],
                                        "image_size": [64, 64], "debug": 0})  # fmt: skip
    writer = image_writer(lake, dataset, DEMO_IMAGES["imageset"], params, 1)
    for block in missing_image_blocks(writer, dataset):
        compute_image_block(writer, dataset, block, params, 1)

    # two Au particles in a 48 Å field, one growing and one shrinking, apart in every frame
    scene = [ParticleTrack(start=(14, 14), velocity=(0, 1), radius=(7, 9), rotation=10),
             ParticleTrack(start=(34, 30), velocity=(0, -1), radius=(9, 7), rotation=40)]
    small = {"size": (96, 96), "particles": scene}

    # networks/demo-particles-msd: 2 epochs on simulated series (as the demo, much smaller)
    image_sets = []
    for part, n_frames in (("train", 4), ("validation", 2)):
        spec = DEMO_NETWORK[part]
        truth = simulate_time_series(lake, spec["series"], n_frames=n_frames, seed=spec["seed"],
                                     **small)  # fmt: skip
        image_sets.append(series_image_set(lake, spec["series"], truth, spec["series"]))
    options = TrainingOptions(**{**DEMO_NETWORK["options"], "layers": 3, "epochsave": 1})
    train_network(lake, DEMO_NETWORK["name"], image_sets[0], image_sets[1], epochs=2,
                  options=options)  # fmt: skip

    # analysis/demo-run of experiments/demo-particles. A 2-epoch network finds no particle
    # at the 0.9 threshold, so the run's segmentation is the simulation's truth (as
    # `hrtemlake analyze track --masks` stores a user's own masks); the later stages are
    # the demo's.
    series, run = DEMO_SERIES["series"], DEMO_RUN["run"]
    truth = simulate_time_series(lake, series, n_frames=4, seed=0, **small)
    ap.import_masks(lake, run, truth.masks > 0, truth.pixel_size, source="simulated truth",
                    series=series)  # fmt: skip
    writer = ap.start_instances(lake, run, min_separation=DEMO_RUN["min_separation"])
    for block in ap.missing_blocks(writer):
        ap.instance_block(writer, run, block)
    tracks = ap.track_run(lake, run)
    writer = ap.start_fourier(lake, run)
    for block in ap.missing_blocks(writer):
        ap.fourier_block(writer, run, block)
    return {"tracks": int(tracks.sizes["track"]), "frames": int(tracks.sizes["time"]),
            "series": series, "run": run}  # fmt: skip


@pytest.fixture(scope="module")
def small_demo_lake(tmp_path_factory) -> tuple[str, dict]:
    pytest.importorskip("abtem")
    pytest.importorskip("keras")
    location = str(tmp_path_factory.mktemp("notebook") / "lake.zarr")
    return location, _build_small_demo_lake(location)


def _outputs(nb) -> tuple[str, list[str]]:
    """All text the notebook printed or displayed, and the MIME types of its rich outputs."""
    text, kinds = [], []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                text.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                kinds.extend(output.data)
                text.append(output.data.get("text/plain", ""))
    return "\n".join(text), kinds


def test_walkthrough_runs_against_a_small_demo_lake(small_demo_lake, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    location, expected = small_demo_lake
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), \
        "save the notebook with its outputs cleared"  # fmt: skip

    # the kernel inherits this process' environment
    monkeypatch.setenv("HRTEMLAKE_LAKE", location)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    elapsed = time.perf_counter() - start

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    text, kinds = _outputs(nb)
    n, run, series = expected["tracks"], expected["run"], expected["series"]
    assert n == 2  # the two simulated particles
    assert f"analysis/{run}: {n} tracks in {expected['frames']} frames of series '{series}'" in text
    assert "simulations/demo-mx2/images/paper3-disk" in text  # the lake tree
    assert "demo-particles-msd" in text  # the registry table
    assert re.search(r"track \d+: reflections in \d+ of \d+ frames", text)
    assert kinds.count("image/png") >= 5  # image + labels, curve, frame, areas, Fourier
    report = Path(location).parent / f"lake-{run}.html"
    assert f"report: {report.resolve()}" in text and report.exists()
    assert "data:image/png;base64," in report.read_text()
    assert elapsed < 60, f"the notebook took {elapsed:.0f} s (budget 60 s)"
