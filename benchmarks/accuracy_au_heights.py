"""Accuracy on CPU: atoms per column of CeO2-supported Au nanoparticles, Heights labels (seed 000).

Seed 000: "a set of three images taken at different defocus is sufficient ... to count the
number of atoms in atomic columns in gold nanoparticles". This benchmark simulates
``--train-models`` Au nanoparticles on CeO2 (supported-nanoparticle models viewed along
[110], ``--layers`` (100)/(110)/(111) layers, in a ``--size`` × 0.25 Å square cell 24 Å
high) for training, ``--val-models`` for validation and ``--test-models`` held-out ones
(other seeds), with 300 keV exit waves at 0.1 Å; images them as focal series of 3 images
50 Å apart (paper III's ``multifocus``) with paper II's microscope ranges
(``paper2_au_ceo2_mask.yaml``) at a dose of 10^``--log-dose`` e⁻/Å², with Heights labels
(each particle column's number of atoms on a disc of ``--spotsize`` Å; support left out);
trains a network with :func:`hrtemlake.nn.train_network` (linear output, MSE); and scores
it with :func:`hrtemlake.nn.evaluate_network` and
:func:`hrtemlake.nn.metrics.column_height_scores`.

Prints, over the particle columns of the held-out images, the fraction whose number of
atoms the network gets exactly (the rounded mean of its output over the column's spot),
the fraction a baseline gets that predicts every column as the median height of the
training set's particle columns, and their ratio; the same within one atom, the mean
absolute error per column, and the wall time of every stage. Everything is written into
``--lake`` (default: a new temporary folder) and reused on a rerun.

    python benchmarks/accuracy_au_heights.py [--lake PATH] [--train-models 96]
        [--test-models 24] [--epochs 80] [--seed 0] [--quick]

``--quick``: a smoke test in a few minutes (few tiny images, 2 epochs).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _training_data import (  # noqa: E402
    Stages,
    au_ceo2_dataset,
    benchmark_parser,
    common_arguments,
    describe_network,
    example_parameters,
    lake_location,
    resolve,
    shutdown_workers,
    simulate_dataset,
    simulate_image_set,
    train_or_resume,
)

#: Image pixel size range [Å]; the cell is size × 0.25 Å, so images are cropped.
SAMPLING = (0.24, 0.25)
CELL_HEIGHT = 24.0
#: Focal series: 3 images, 50 Å defocus step, 1 Å jitter (paper III's parameter file).
FOCAL_SERIES = (3, 50.0, 1.0)
DEFAULTS = dict(train_models=96, val_models=8, test_models=24, test_epochs=2, epochs=80,
                image_epochs=4, size=96, arch="unet", filters=8, depth=2, kernel=3,
                batch_size=8)  # fmt: skip
QUICK = dict(train_models=8, val_models=2, test_models=4, test_epochs=1, epochs=2,
             image_epochs=2, size=96, arch="unet", filters=4, depth=2, kernel=3,
             batch_size=4)  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake", "--quick", "--seed", "--train-models", "--val-models",
                     "--test-models", "--test-epochs", "--epochs", "--image-epochs")  # fmt: skip
    parser.add_argument("--size", type=int, help="image side [pixels] (cell: size x 0.25 Å)")
    parser.add_argument("--layers", type=int, nargs=2, default=(4, 7), metavar=("MIN", "MAX"),
                        help="range of particle layers (Miller families)")  # fmt: skip
    parser.add_argument("--log-dose", type=float, nargs=2, default=(3.0, 5.0),
                        metavar=("LOW", "HIGH"), help="log10 of the dose range [e⁻/Å²]")  # fmt: skip
    parser.add_argument("--spotsize", type=float, default=0.8, help="column spot diameter [Å]")
    common_arguments(parser, "--arch", "--filters", "--depth", "--kernel")
    parser.add_argument("--msd-layers", dest="msd_layers", type=int, default=10,
                        help="MSD-net layers")  # fmt: skip
    common_arguments(parser, "--batch-size", "--workers", "--jobs")
    return resolve(parser.parse_args(argv), DEFAULTS, QUICK)


@dataclass
class Tally:
    """Columns counted exactly, within one atom, and the summed error, over many images."""

    columns: int = 0
    exact: int = 0
    within_one: int = 0
    abs_error: float = 0.0
    per_image: list = field(default_factory=list)

    def add(self, scores: dict) -> None:
        error = np.abs(scores["predicted"] - scores["truth"])
        self.columns += len(error)
        self.exact += int((error == 0).sum())
        self.within_one += int((error <= 1).sum())
        self.abs_error += float(error.sum())
        self.per_image.append(scores["exact_fraction"])

    def fraction(self, what: str = "exact") -> float:
        return getattr(self, what) / self.columns if self.columns else float("nan")


def training_median(lake, dataset: str) -> float:
    """Median number of atoms of the particle columns (support left out) of ``dataset``."""
    from hrtemlake.simulate.images import load_sites
    from hrtemlake.simulate.labels import SUPPORT_CLASS

    names = list(lake.group("sites", dataset=dataset).attrs["class_names"])
    support = names.index(SUPPORT_CLASS) if SUPPORT_CLASS in names else -1
    n_models = int(lake.group("sites", dataset=dataset)["offsets"].shape[0])
    sites = load_sites(lake, dataset, range(n_models), counts=True)
    counts = [atoms[classes != support] for _, classes, atoms in sites]
    return float(np.median(np.concatenate(counts)))


def count_columns(lake, network: str, image_set: str, baseline_height: float) -> dict:
    """Exact-count tallies of the network and of the constant baseline on every image of
    ``image_set``, per dose decade too (the network's); columns as in the evaluation."""
    from hrtemlake.nn import metrics, open_image_set
    from hrtemlake.nn.data import standardise_images
    from hrtemlake.nn.evaluate import particle_site_pixels, predict_images
    from hrtemlake.nn.registry import load_network

    images, model = open_image_set(lake, image_set), load_network(lake, network)
    group = images.group()
    network_tally, baseline_tally, by_decade = Tally(), Tally(), {}
    models = np.arange(images.n_models)
    for epoch in range(images.n_epochs):
        x = standardise_images(group["image"].get_orthogonal_selection((models, epoch)),
                               group["sampling"].get_orthogonal_selection((models, epoch)),
                               images.normalizedistance)  # fmt: skip
        prediction = predict_images(model, x)
        labels = np.moveaxis(group["label"].get_orthogonal_selection((models, epoch)), 1, -1)
        dose = group["dose"].get_orthogonal_selection((models, epoch))
        for i, (columns, _, _) in enumerate(particle_site_pixels(lake, images, models, epoch)):
            scores = metrics.column_height_scores(prediction[i], labels[i], columns)
            network_tally.add(scores)
            by_decade.setdefault(int(np.floor(np.log10(dose[i]))), Tally()).add(scores)
            constant = np.full_like(labels[i], baseline_height)
            baseline_tally.add(metrics.column_height_scores(constant, labels[i], columns))
    return {"network": network_tally, "baseline": baseline_tally, "by_decade": by_decade}


def main() -> None:
    args = parse_args()
    from hrtemlake.lake import Lake
    from hrtemlake.nn import TrainingOptions, evaluate_network
    from hrtemlake.nn.evaluate import summarise_scores

    stages = Stages()
    location = lake_location(args.lake, "accuracy_au_heights_")
    lake = Lake(location, mode="a")
    print(f"lake: {location}")
    cell = round(args.size * SAMPLING[1], 2)
    s, layers = args.seed, tuple(args.layers)
    train = au_ceo2_dataset("au-train", args.train_models, 1000 * s + 1, cell, CELL_HEIGHT, layers)
    val = au_ceo2_dataset("au-val", args.val_models, 1000 * s + 2, cell, CELL_HEIGHT, layers)
    test = au_ceo2_dataset("au-test", args.test_models, 1000 * s + 3, cell, CELL_HEIGHT, layers)
    params = example_parameters(
        "paper2_au_ceo2_mask", label="Heights", image_size=(args.size, args.size),
        sampling=SAMPLING, multifocus=FOCAL_SERIES, log_dose=tuple(args.log_dose),
        spotsize=args.spotsize, image_epochs=args.image_epochs, debug=None,
    )  # fmt: skip

    with stages.stage("structures + exit waves"):
        for data in (train, val, test):
            done = simulate_dataset(lake, data, jobs=args.jobs)
            print(f"  {data.name}: {done['exit_waves']} exit waves computed, "
                  f"{data.count - done['exit_waves']} reused")  # fmt: skip
    imageset = (f"heights{args.size}-d{args.log_dose[0]:g}-{args.log_dose[1]:g}"
                f"-s{args.spotsize:g}")  # fmt: skip
    train_set = f"{train.name}/{imageset}-e{args.image_epochs}"
    val_set = f"{val.name}/{imageset}-e1"
    test_set = f"{test.name}/{imageset}-e{args.test_epochs}"
    with stages.stage("image epochs"):
        for data, image_set, epochs in ((train, train_set, args.image_epochs), (val, val_set, 1),
                                        (test, test_set, args.test_epochs)):  # fmt: skip
            simulate_image_set(lake, data.name, image_set.split("/", 1)[1],
                               params.replace(image_epochs=epochs), epochs, jobs=args.jobs)  # fmt: skip
    shutdown_workers()

    unet = args.arch != "msdnet"
    options = TrainingOptions(
        arch=args.arch, filters=args.filters, kernel=args.kernel,
        depth=args.depth if unet else None, layers=None if unet else args.msd_layers,
        batch_size=args.batch_size, seed=s, epochsave=5, workers=args.workers,
    )  # fmt: skip
    shape = (f"f{args.filters}d{args.depth}k{args.kernel}" if unet
             else f"l{args.msd_layers}f{args.filters}k{args.kernel}")  # fmt: skip
    name = (f"{train.name}-{imageset}-e{args.image_epochs}-{args.arch}-{shape}"
            f"-b{args.batch_size}-s{s}-ep{args.epochs}")  # fmt: skip
    with stages.stage(f"training ({args.epochs} epochs)"):
        trained = train_or_resume(lake, name, train_set, val_set, args.epochs, options,
                                  metric="RMSE")  # fmt: skip

    with stages.stage("evaluation"):
        stored = summarise_scores(evaluate_network(lake, name, test_set))
        median = training_median(lake, train.name)
        counted = count_columns(lake, name, test_set, median)
    report(args, lake, name, trained, stored, median, counted, stages, location, cell, layers)


def report(args, lake, name, trained, stored, median, counted, stages, location, cell,
           layers) -> None:  # fmt: skip
    from hrtemlake.nn import network_info

    info = network_info(lake, name)
    net, base = counted["network"], counted["baseline"]
    ratio = net.fraction() / base.fraction() if base.fraction() > 0 else float("inf")
    print()
    print("=" * 76)
    print("Au/CeO2 nanoparticles: atoms per column (Heights labels, 3-image focal series), CPU")
    print(f"  data        : {args.train_models} training / {args.val_models} validation / "
          f"{args.test_models} test particles (x {args.test_epochs} image epochs), layers "
          f"{layers[0]}-{layers[1]}, {cell:g} x {cell:g} x {CELL_HEIGHT:g} Å cells; "
          f"{args.size}x{args.size} px at {SAMPLING[0]}-{SAMPLING[1]} Å/px, dose "
          f"1e{args.log_dose[0]:g}-1e{args.log_dose[1]:g} e/Å², spot {args.spotsize:g} Å, "
          f"{args.image_epochs} image epochs")  # fmt: skip
    print(f"  network     : {describe_network(info, args, trained)}")
    print(f"  test columns: {net.columns} particle columns in {len(net.per_image)} images")
    print(f"  exact count : network {net.fraction():.3f}, baseline (median training height "
          f"{median:g} atoms) {base.fraction():.3f}, ratio {ratio:.2f}")  # fmt: skip
    print(f"  within ±1   : network {net.fraction('within_one'):.3f}, "
          f"baseline {base.fraction('within_one'):.3f}")  # fmt: skip
    print(f"  mean |error|: network {net.abs_error / max(net.columns, 1):.2f} atoms, "
          f"baseline {base.abs_error / max(base.columns, 1):.2f} atoms")  # fmt: skip
    print(f"  median per-image exact fraction: network {np.nanmedian(net.per_image):.3f}, "
          f"baseline {np.nanmedian(base.per_image):.3f}")  # fmt: skip
    print("  network exact count by dose decade: " + ", ".join(
        f"1e{d}: {t.fraction():.3f} ({t.columns} columns)"
        for d, t in sorted(counted["by_decade"].items())))  # fmt: skip
    print("  stored evaluation (medians): " + ", ".join(f"{k} {v:.3f}" for k, v in stored.items()))
    print(f"  wall time   : {stages.summary()}")
    print(f"  lake        : {location}  (network '{name}')")
    print("=" * 76)


if __name__ == "__main__":
    main()
