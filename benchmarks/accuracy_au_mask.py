"""Accuracy on CPU: segmentation of CeO2-supported Au nanoparticles, Mask labels (paper II-like).

Simulates ``--train-models`` Au nanoparticles on CeO2 (supported-nanoparticle models,
viewed along [110]; ``--layers`` (100)/(110)/(111) layers, in a ``--size`` × 0.25 Å square
cell 24 Å high) for training, ``--val-models`` for validation and ``--test-models`` held-out
ones (other seeds), with 300 keV exit waves at 0.1 Å; images them with paper II's
parameter file (``hrtemlake/simulate/examples/paper2_au_ceo2_mask.yaml``: single images,
Mask label of the particle, its microscope ranges, dose 10^2-10^6 e⁻/Å²) shrunk to
``--size``² pixels of 0.24-0.25 Å (the cell fills the image); trains a network with
:func:`hrtemlake.nn.train_network`; scores it with :func:`hrtemlake.nn.evaluate_network`.

Prints the median pixel F1 of the held-out images with a dose >= 10³ e⁻/Å² (the image
set's ``dose`` of each (model, epoch); goal >= 0.9), the same over all test images and
per dose decade, and the wall time of every stage. Everything is written into ``--lake``
(default: a new temporary folder) and reused on a rerun: the writers resume, and a network
with a checkpoint continues from it.

    python benchmarks/accuracy_au_mask.py [--lake PATH] [--train-models 150]
        [--test-models 50] [--epochs 20] [--seed 0] [--quick]

``--quick``: a smoke test in a few minutes (few tiny images, 2 epochs); it is not
expected to reach the goal.
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
    Stages,
    au_ceo2_dataset,
    au_ceo2_parameters,
    benchmark_parser,
    common_arguments,
    describe_network,
    lake_location,
    msd_own_width,
    resolve,
    simulate_dataset,
    shutdown_workers,
    simulate_image_set,
    train_or_resume,
)

GOAL = 0.9
MIN_DOSE = 1e3  # e⁻/Å²
#: Image pixel size range [Å]; the cell is size × 0.25 Å, so images are cropped.
SAMPLING = (0.24, 0.25)
CELL_HEIGHT = 24.0
DEFAULTS = dict(train_models=150, val_models=16, test_models=50, test_epochs=2, epochs=20,
                image_epochs=10, size=128, arch="unet", filters=8, depth=3, kernel=5, layers=10,
                batch_size=8)  # fmt: skip
QUICK = dict(train_models=6, val_models=2, test_models=4, test_epochs=2, epochs=2,
             image_epochs=2, size=96, arch="unet", filters=4, depth=2, kernel=5, layers=10,
             batch_size=4)  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake", "--quick", "--seed", "--train-models", "--val-models",
                     "--test-models", "--test-epochs", "--epochs", "--image-epochs")  # fmt: skip
    parser.add_argument("--size", type=int, help="image side [pixels] (cell: size x 0.25 Å)")
    parser.add_argument("--layers", type=int, nargs=2, default=(4, 7), metavar=("MIN", "MAX"),
                        help="range of particle layers (Miller families)")  # fmt: skip
    common_arguments(parser, "--arch", "--filters", "--depth", "--kernel")
    parser.add_argument("--msd-layers", dest="msd_layers", type=int, help="MSD-net layers")
    common_arguments(parser, "--batch-size", "--mixed-precision", "--workers", "--jobs")
    args = parser.parse_args(argv)
    # the presets' "layers" are the MSD-net's (--msd-layers); --layers are the particle's
    args.msd_layers = args.msd_layers or (QUICK if args.quick else DEFAULTS)["layers"]
    return resolve(args, DEFAULTS, QUICK, skip=("layers", *msd_own_width(args)))


def main() -> None:
    args = parse_args()
    from hrtemlake.lake import Lake
    from hrtemlake.nn import TrainingOptions, evaluate_network, network_info

    stages = Stages()
    location = lake_location(args.lake, "accuracy_au_mask_")
    lake = Lake(location, mode="a")
    print(f"lake: {location}")
    cell = round(args.size * SAMPLING[1], 2)
    s, layers = args.seed, tuple(args.layers)
    train = au_ceo2_dataset("au-train", args.train_models, 1000 * s + 1, cell, CELL_HEIGHT, layers)
    val = au_ceo2_dataset("au-val", args.val_models, 1000 * s + 2, cell, CELL_HEIGHT, layers)
    test = au_ceo2_dataset("au-test", args.test_models, 1000 * s + 3, cell, CELL_HEIGHT, layers)
    params = au_ceo2_parameters(args.size, SAMPLING, args.image_epochs)

    with stages.stage("structures + exit waves"):
        for data in (train, val, test):
            done = simulate_dataset(lake, data, jobs=args.jobs)
            print(f"  {data.name}: {done['exit_waves']} exit waves computed, "
                  f"{data.count - done['exit_waves']} reused")  # fmt: skip
    imageset = f"mask{args.size}"
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
        depth=args.depth if unet else None,
        layers=None if unet else args.msd_layers, batch_size=args.batch_size, seed=s,
        mixed_precision=args.mixed_precision, epochsave=5, workers=args.workers,
    )  # fmt: skip
    shape = (f"f{args.filters}d{args.depth}k{args.kernel}" if unet
             else f"l{args.msd_layers}f{args.filters}k{args.kernel}")
    name = (f"{train.name}-{imageset}-e{args.image_epochs}-{args.arch}-{shape}-b{args.batch_size}"
            f"{'-bf16' if args.mixed_precision else ''}-s{s}-ep{args.epochs}")  # fmt: skip
    with stages.stage(f"training ({args.epochs} epochs)"):
        trained = train_or_resume(lake, name, train_set, val_set, args.epochs, options)

    with stages.stage("evaluation"):
        scores = evaluate_network(lake, name, test_set)
    f1 = scores["pixel_f1"].values[..., 0].ravel()  # (model, epoch, channel "mask")
    test_images = lake.group("images", dataset=test.name, imageset=test_set.split("/", 1)[1])
    dose = test_images["dose"][:].ravel()  # (model, epoch) e⁻/Å², aligned with the scores
    high = dose >= MIN_DOSE
    median = float(np.nanmedian(f1[high])) if high.any() else float("nan")

    info = network_info(lake, name)
    print()
    print("=" * 72)
    print("Au/CeO2 nanoparticle segmentation (Mask labels, paper II-like), CPU")
    print(f"  data        : {args.train_models} training / {args.val_models} validation / "
          f"{args.test_models} test particles (x {args.test_epochs} image epochs), layers "
          f"{layers[0]}-{layers[1]}, {cell:g} x {cell:g} x {CELL_HEIGHT:g} Å cells; "
          f"{args.size}x{args.size} px at {SAMPLING[0]}-{SAMPLING[1]} Å/px, "
          f"{args.image_epochs} image epochs")  # fmt: skip
    print(f"  network     : {describe_network(info, args, trained)}")
    print(f"  median pixel F1, test images with dose >= 1e3 e/Å² ({int(high.sum())} of "
          f"{f1.size}) = {median:.3f}  (goal >= {GOAL})  {'met' if median >= GOAL else 'missed'}")  # fmt: skip
    print(f"  median pixel F1, all test images = {np.nanmedian(f1):.3f}")
    decades = np.floor(np.log10(dose)).astype(int)
    print("  by dose decade: " + ", ".join(
        f"1e{d}: {np.nanmedian(f1[decades == d]):.3f} (n={int((decades == d).sum())})"
        for d in np.unique(decades)))  # fmt: skip
    print(f"  wall time   : {stages.summary()}")
    print(f"  lake        : {location}  (network '{name}')")
    print("=" * 72)


if __name__ == "__main__":
    main()
