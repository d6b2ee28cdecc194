"""Accuracy on CPU: MoS2 atomic-column classification with Disk labels (paper III-like).

Simulates ``--train-models`` MoS2 flakes for training, ``--val-models`` for validation and
``--test-models`` held-out flakes (other seeds), each in a ``--size`` × 0.2 Å cell with
50 keV exit waves at 0.1 Å; images them with paper III's parameter file
(``hrtemlake/simulate/examples/paper3_mos2_disk.yaml``: 3-image focal series, Disk labels
Mo / 2S / 1S + background, its microscope ranges) shrunk to ``--size``² pixels of
0.19-0.20 Å (the cell fills the image) with discs of ``--spotsize`` Å (0.8 Å: the same
2-pixel disc radius as the paper's 0.4 Å at 0.1 Å/pixel); trains a network with
:func:`hrtemlake.nn.train_network`; scores it on the test images with
:func:`hrtemlake.nn.evaluate_network` (atomic F1: peaks matched to columns within 1 Å).

Prints the median atomic F1 (over test images and the three classes, as
:func:`hrtemlake.nn.summarise_scores`; goal >= 0.9), the median per class, the median
pixel F1, and the wall time of every stage. Everything is written into ``--lake``
(default: a new temporary folder) and reused on a rerun: the writers resume, and a
network with a checkpoint continues from it.

    python benchmarks/accuracy_mos2_disk.py [--lake PATH] [--train-models 200]
        [--test-models 50] [--epochs 20] [--seed 0] [--class-weights balanced] [--quick]

``--class-weights``: ``balanced`` (inverse pixel frequency of each label channel on the
training labels, see :class:`hrtemlake.nn.TrainingOptions`) or one weight per channel
(``w_Mo,w_2S,w_1S,w_background``), passed to ``TrainingOptions.class_weights`` so the rare
1S class weighs more in the loss; the default is no weights.

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
    benchmark_parser,
    common_arguments,
    describe_network,
    lake_location,
    mos2_dataset,
    mos2_parameters,
    msd_own_width,
    resolve,
    simulate_dataset,
    shutdown_workers,
    simulate_image_set,
    train_or_resume,
)

GOAL = 0.9
#: Image pixel size range [Å]; the flake cell is size × 0.2 Å, so images are cropped.
SAMPLING = (0.19, 0.20)
#: Full runs and --quick: any option left unset takes these.
DEFAULTS = dict(train_models=200, val_models=16, test_models=50, epochs=20, image_epochs=10,
                size=128, arch="unet", filters=8, depth=3, kernel=5, layers=10, batch_size=8)  # fmt: skip
QUICK = dict(train_models=8, val_models=4, test_models=4, epochs=2, image_epochs=2, size=64,
             arch="unet", filters=4, depth=2, kernel=5, layers=10, batch_size=4)  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake", "--quick", "--seed", "--train-models", "--val-models",
                     "--test-models", "--epochs", "--image-epochs")  # fmt: skip
    parser.add_argument("--size", type=int, help="image side [pixels] (cell: size x 0.2 Å)")
    parser.add_argument("--spotsize", type=float, default=0.8, help="disc diameter [Å]")
    common_arguments(parser, "--arch", "--filters", "--depth", "--kernel")
    parser.add_argument("--layers", type=int, help="MSD-net layers")
    common_arguments(parser, "--batch-size", "--mixed-precision", "--workers", "--jobs")
    parser.add_argument("--class-weights", default=None, metavar="balanced|W1,W2,...",
                        help="per-channel loss weights (TrainingOptions.class_weights)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.class_weights is not None:
        from hrtemlake.cli.nn import parse_class_weights
        from hrtemlake.errors import ParameterError

        try:
            args.class_weights = parse_class_weights(args.class_weights)
        except ParameterError as error:
            parser.error(str(error))
    return resolve(args, DEFAULTS, QUICK, skip=msd_own_width(args))


def main() -> None:
    args = parse_args()
    from hrtemlake.lake import Lake
    from hrtemlake.nn import TrainingOptions, evaluate_network, summarise_scores

    stages = Stages()
    location = lake_location(args.lake, "accuracy_mos2_disk_")
    lake = Lake(location, mode="a")
    print(f"lake: {location}")
    cell = round(args.size * SAMPLING[1], 2)
    s = args.seed
    train = mos2_dataset("mos2-train", args.train_models, 1000 * s + 1, cell)
    val = mos2_dataset("mos2-val", args.val_models, 1000 * s + 2, cell)
    test = mos2_dataset("mos2-test", args.test_models, 1000 * s + 3, cell)
    params = mos2_parameters(args.size, SAMPLING, args.image_epochs, args.spotsize)

    with stages.stage("structures + exit waves"):
        for data in (train, val, test):
            done = simulate_dataset(lake, data, jobs=args.jobs)
            print(f"  {data.name}: {done['exit_waves']} exit waves computed, "
                  f"{data.count - done['exit_waves']} reused")  # fmt: skip
    imageset = f"disk{args.size}-sp{args.spotsize:g}"
    with stages.stage("image epochs"):
        simulate_image_set(lake, train.name, f"{imageset}-e{args.image_epochs}", params,
                           args.image_epochs, jobs=args.jobs)  # fmt: skip
        for data in (val, test):  # one image epoch per held-out model (as `--test`)
            simulate_image_set(lake, data.name, f"{imageset}-e1", params.replace(image_epochs=1), 1,
                               jobs=args.jobs)  # fmt: skip
    train_set = f"{train.name}/{imageset}-e{args.image_epochs}"
    val_set, test_set = f"{val.name}/{imageset}-e1", f"{test.name}/{imageset}-e1"
    shutdown_workers()

    unet = args.arch != "msdnet"
    options = TrainingOptions(
        arch=args.arch, filters=args.filters, kernel=args.kernel,
        depth=args.depth if unet else None,
        layers=None if unet else args.layers, batch_size=args.batch_size, seed=s,
        mixed_precision=args.mixed_precision, epochsave=5, workers=args.workers,
        class_weights=args.class_weights,
    )  # fmt: skip
    shape = (f"f{args.filters}d{args.depth}k{args.kernel}" if unet
             else f"l{args.layers}f{args.filters}k{args.kernel}")
    weights = ("" if args.class_weights is None else "-cw" + (
        args.class_weights if isinstance(args.class_weights, str)
        else "_".join(f"{w:g}" for w in args.class_weights)))  # fmt: skip
    name = (f"{train.name}-{imageset}-e{args.image_epochs}-{args.arch}-{shape}-b{args.batch_size}"
            f"{'-bf16' if args.mixed_precision else ''}{weights}-s{s}-ep{args.epochs}")  # fmt: skip
    with stages.stage(f"training ({args.epochs} epochs)"):
        trained = train_or_resume(lake, name, train_set, val_set, args.epochs, options)

    with stages.stage("evaluation"):
        scores = evaluate_network(lake, name, test_set)
    summary = summarise_scores(scores)
    names = list(scores.attrs["channel_names"])
    atomic = scores["atomic_f1"].values  # (model, epoch, channel)
    per_class = {n: float(np.nanmedian(atomic[..., c])) for c, n in enumerate(names)
                 if n != "background"}  # fmt: skip
    per_image = np.nanmean(atomic[..., :-1], axis=-1).ravel()

    from hrtemlake.nn import network_info

    info = network_info(lake, name)
    median = summary["atomic_f1"]
    print()
    print("=" * 72)
    print("MoS2 atomic-column classification (Disk labels, paper III-like), CPU")
    print(f"  data        : {args.train_models} training / {args.val_models} validation / "
          f"{args.test_models} test flakes ({cell:g} Å cells); {args.size}x{args.size} px at "
          f"{SAMPLING[0]}-{SAMPLING[1]} Å/px, 3-image focal series, {args.image_epochs} "
          f"image epochs, spotsize {args.spotsize:g} Å")  # fmt: skip
    print(f"  network     : {describe_network(info, args, trained)}")
    if info.training.get("class_weights") is not None:
        print("  class weights: " + ", ".join(
            f"{n} {w:.3g}" for n, w in zip(names, info.training["class_weights"])))  # fmt: skip
    print(f"  median atomic F1 (test images x classes) = {median:.3f}  (goal >= {GOAL})  "
          f"{'met' if median >= GOAL else 'missed'}")  # fmt: skip
    print("  median atomic F1 per class : "
          + ", ".join(f"{n} {v:.3f}" for n, v in per_class.items()))  # fmt: skip
    print(f"  median per-image atomic F1 (mean over classes) = {np.nanmedian(per_image):.3f}")
    print(f"  median pixel F1 = {summary['pixel_f1']:.3f}; atomic precision "
          f"{summary['atomic_precision']:.3f}, recall {summary['atomic_recall']:.3f}")  # fmt: skip
    print(f"  wall time   : {stages.summary()}")
    print(f"  lake        : {location}  (network '{name}')")
    print("=" * 72)


if __name__ == "__main__":
    main()
