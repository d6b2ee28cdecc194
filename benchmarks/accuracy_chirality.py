"""Accuracy on CPU: chirality (n, m) of single-wall carbon nanotubes, Class labels (seed 004).

Seed 004 (after Förster et al., Carbon 169, 465 (2020)): a CNN tells the chirality of a
nanotube from an HR-TEM image among (11, 6) and its neighbours (10, 6), (11, 5), (11, 7) and
(12, 6) (:data:`hrtemlake.models.CHIRALITIES`). This benchmark simulates ``--train-models``
nanotubes (random length, spin, in-plane angle and position, 80 keV exit waves at 0.1 Å, in a
``--cell`` × ``--cell`` × 20 Å cell) for training, ``--val-models`` for validation and
``--test-models`` held-out ones (other seeds); images them with Class labels (each image's
class: its model's chirality, ``structure_class``) at a dose of 10^``--log-dose`` e⁻/Å²;
trains :func:`hrtemlake.nn.heads.build_classifier` (``arch="classifier"``, sparse
categorical cross-entropy) with :func:`hrtemlake.nn.train_network`; and scores it with
:func:`hrtemlake.nn.evaluate_network`.

Prints the accuracy on the held-out images, the accuracy of the majority-class baseline
(the most frequent class of the training set), and the wall time of every stage.

    python benchmarks/accuracy_chirality.py [--lake PATH] [--train-models 200]
        [--test-models 50] [--epochs 40] [--seed 0] [--quick]

``--quick``: a smoke test (few tiny images, 1 epoch). Not yet run at full size.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _training_data import (  # noqa: E402
    Dataset,
    Stages,
    lake_location,
    resolve,
    shutdown_workers,
    simulate_dataset,
    simulate_image_set,
    train_or_resume,
)

DEFAULTS = dict(train_models=200, val_models=20, test_models=50, epochs=40, cell=40.0,
                size=128, image_epochs=4, log_dose=4.0)  # fmt: skip
QUICK = dict(train_models=8, val_models=4, test_models=4, epochs=1, cell=24.0, size=32,
             image_epochs=1, log_dose=4.0)  # fmt: skip


def tube_dataset(prefix: str, count: int, seed: int, cell: float) -> Dataset:
    from hrtemlake.simulate.exitwaves import ExitWaveSettings

    return Dataset(
        name=f"{prefix}-n{count}-s{seed}-c{cell:g}", kind="nanotube", count=count, seed=seed,
        options={"cell": [cell, cell, 20.0], "length": [0.6 * cell, 1.5 * cell]},
        waves=ExitWaveSettings(energy=80e3, sampling=0.1, slice_thickness=1.0),
    )  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lake")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true")
    for key, value in DEFAULTS.items():
        parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=None)
    return resolve(parser.parse_args(argv), DEFAULTS, QUICK)


def main(argv=None) -> int:
    args = parse_args(argv)
    config = {key: getattr(args, key) for key in DEFAULTS}

    from hrtemlake.lake import Lake
    from hrtemlake.nn import TrainingOptions, evaluate_network
    from hrtemlake.nn.evaluate import summarise_scores
    from hrtemlake.simulate import ImageParameters
    from hrtemlake.simulate.dataset import structure_classes

    lake = Lake(lake_location(args.lake, "chirality-"), mode="a")
    stages = Stages()
    size, cell = int(config["size"]), float(config["cell"])
    sampling = cell / size
    params = ImageParameters(label="Class", image_size=(size, size),
                             image_epochs=int(config["image_epochs"]),
                             sampling=(0.98 * sampling, sampling),
                             log_dose=(config["log_dose"], config["log_dose"]),
                             defocus=(-100.0, 100.0), ctf_c30=(-2e4, 2e4),
                             normalizedistance=12.0, debug=None, seed=args.seed)  # fmt: skip
    sets = {}
    for part, count, offset in (("train", config["train_models"], 0),
                                ("val", config["val_models"], 1),
                                ("test", config["test_models"], 2)):  # fmt: skip
        data = tube_dataset(f"tubes-{part}", int(count), args.seed * 10 + offset, cell)
        with stages.stage(f"{part}: {count} models and exit waves"):
            simulate_dataset(lake, data, jobs=args.jobs)
        epochs = params.image_epochs if part == "train" else 1
        with stages.stage(f"{part}: images"):
            simulate_image_set(lake, data.name, "class", params, epochs, jobs=args.jobs)
        sets[part] = data.name
    shutdown_workers()
    name = f"chirality-s{args.seed}-e{config['epochs']}"
    options = TrainingOptions(arch="classifier", batch_size=16, seed=args.seed, epochsave=5,
                              **({"filters": 4, "depth": 1} if args.quick else {}))  # fmt: skip
    with stages.stage("training"):
        train_or_resume(lake, name, f"{sets['train']}/class", f"{sets['val']}/class",
                        int(config["epochs"]), options, metric="accuracy")  # fmt: skip
    with stages.stage("evaluation"):
        scores = evaluate_network(lake, name, f"{sets['test']}/class").load()
    accuracy = summarise_scores(scores)["accuracy"]
    train_classes = structure_classes(lake, sets["train"])[1]
    test_classes = structure_classes(lake, sets["test"])[1]
    majority = int(np.bincount(train_classes).argmax())
    baseline = float((test_classes == majority).mean())
    names = structure_classes(lake, sets["test"])[0]
    print(f"\nheld-out accuracy {accuracy:.3f}  (majority class {names[majority]}: "
          f"{baseline:.3f}; chance {1 / len(names):.3f})")
    print(f"total {stages.total:.1f} s; lake {lake.location}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
