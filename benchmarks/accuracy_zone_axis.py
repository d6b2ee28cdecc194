"""Accuracy on CPU: zone-axis classifier on per-particle Fourier transforms (thesis §7.1).

The thesis' outlook: "a neural network may be able to perform these classification based on
only the Fourier transform". Simulates ``--train-models`` free Au particles (Wulff shapes of
radius 7-11 Å along [110] or [100], centred in a 40 Å cell) for training, ``--val-models``
for validation and ``--test-models`` held-out ones (other seeds), alternately exactly on
their zone axis and tilted ``--tilt`` degrees off it about a random in-plane axis; 300 keV
abTEM exit waves at 0.125 Å; ``--image-epochs`` (held-out: ``--test-epochs``) noisy images
per particle of 0.16-0.22 Å/px with doses log-uniform in 10^``--log-dose`` e⁻/Å², defocus
±150 Å and paper II's blur, MTF and readout noise
(:data:`hrtemlake.analysis.zoneaxis.DEFAULT_IMAGE_PARAMETERS`). Each particle is cropped
with its Mask label (convex hull of its projected atoms) as the Fourier stage crops an
instance (:func:`hrtemlake.analysis.fourier.apodised_crop`), and its power spectrum on the
fixed 64 × 64 grid of ±0.75 Å⁻¹ is the input (:func:`~hrtemlake.analysis.zoneaxis.zone_axis_input`).

Trains :func:`hrtemlake.nn.heads.build_classifier` (2 classes, 1 channel) with
:func:`~hrtemlake.analysis.zoneaxis.train_zone_axis_classifier`, registers it in ``--lake``
(default: a new temporary folder; a rerun with the same lake reuses the network) and loads it
back by name (:func:`~hrtemlake.analysis.zoneaxis.load_zone_axis_classifier`) to score it.

Prints the held-out accuracy and confusion matrix (rows: true class, columns: predicted)
overall and per dose bin (``--dose-bins`` log-spaced bins), next to the rule of the Fourier
stage on the same crops (seed 002: on zone if the brightest/dimmest ratio of the 3 brightest
pairs is <= 5, :func:`hrtemlake.analysis.fourier.zone_axis_flag`), the recall of the tilted
particles per tilt range and of the on-zone ones per zone axis, and the wall time of every
stage. ``--json PATH`` writes every number.

    python benchmarks/accuracy_zone_axis.py [--lake PATH] [--train-models 600]
        [--test-models 200] [--epochs 30] [--seed 0] [--json out.json] [--quick]

``--quick``: a smoke test in about 40 s; it is not expected to learn much. A full run with
the defaults took 9.1 min on 2 CPU cores (simulation 6.6 min, training 2.4 min): held-out
accuracy 0.945 on 800 images (0.905 at 10²-10^2.5 e⁻/Å², 0.971 at 10^3.5-10⁴), the ratio
rule 0.710 on the same crops; the misses are mostly particles tilted only 5-10° (recall 0.79).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _training_data import (  # noqa: E402
    Stages,
    benchmark_parser,
    common_arguments,
    lake_location,
    option_values,
    resolve,
    write_numbers,
)

#: Full runs and --quick: any option left unset takes these.
DEFAULTS = dict(train_models=600, val_models=60, test_models=200, image_epochs=4,
                test_epochs=4, epochs=30, filters=8, depth=4, batch_size=32)  # fmt: skip
QUICK = dict(train_models=24, val_models=8, test_models=16, image_epochs=2, test_epochs=2,
             epochs=3, filters=4, depth=2, batch_size=16)  # fmt: skip
HELP = {
    "--train-models": "training particles (half on zone, half tilted)",
    "--val-models": "validation particles (1 image each)",
    "--test-models": "held-out particles",
    "--test-epochs": "images per held-out particle",
    "--image-epochs": "images per training particle",
    "--filters": "first-level channels of the classifier",
    "--depth": "classifier levels",
}
TILT_BINS = (5.0, 10.0, 15.0, 20.0)


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake", "--quick", "--seed", "--train-models", "--val-models",
                     "--test-models", "--test-epochs", "--image-epochs", "--epochs",
                     "--filters", "--depth", "--batch-size", "--learning-rate",
                     helps=HELP)  # fmt: skip
    parser.add_argument("--log-dose", type=float, nargs=2, default=(2.0, 4.0),
                        metavar=("LOW", "HIGH"), help="log10 dose range [e/Å²]")  # fmt: skip
    parser.add_argument("--tilt", type=float, nargs=2, default=(5.0, 20.0),
                        metavar=("MIN", "MAX"), help="tilt off the zone axis [deg]")  # fmt: skip
    parser.add_argument("--name", default=None,
                        help="register the network under this name (e.g. zone-axis, the name "
                             "`hrtemlake analyze fourier --zone-network` takes; default: one "
                             "that spells out the settings)")  # fmt: skip
    common_arguments(parser, "--dose-bins", "--jobs", "--json")
    args = parser.parse_args(argv)
    resolve(args, DEFAULTS, QUICK)
    if args.dose_bins < 1:
        parser.error("--dose-bins must be >= 1")
    return args


# -- data -------------------------------------------------------------------------------


def simulate(pool, args: argparse.Namespace, count: int, seed: int, images: int):
    """``count`` particles of ``seed`` in blocks over the worker processes, concatenated."""
    from hrtemlake.analysis.zoneaxis import ZoneAxisSamples, simulate_zone_axis_samples

    options = {"images_per_particle": images, "tilt": tuple(args.tilt),
               "image_parameters": {"log_dose": tuple(args.log_dose)}}  # fmt: skip
    per_block = max(1, -(-count // (4 * max(1, args.jobs))))
    starts = range(0, count, per_block)
    if pool is None:
        parts = [simulate_zone_axis_samples(min(per_block, count - s), seed, start=s, **options)
                 for s in starts]  # fmt: skip
    else:
        futures = [pool.submit(simulate_zone_axis_samples, min(per_block, count - s), seed,
                               start=s, **options) for s in starts]  # fmt: skip
        parts = [future.result() for future in futures]
    return ZoneAxisSamples.concatenate(parts)


# -- scores -----------------------------------------------------------------------------


def confusion(truth: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """2 × 2 counts, rows: true class (tilted, on zone), columns: predicted."""
    return [[int(np.sum((truth == t) & (predicted == p))) for p in (0, 1)] for t in (0, 1)]


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(truth == predicted)) if len(truth) else float("nan")


def dose_bins(dose: np.ndarray, log_dose, bins: int):
    """Bin index of every image and the bin edges [e/Å²] (log-spaced over the range)."""
    edges = np.linspace(log_dose[0], log_dose[1], bins + 1)
    index = np.clip(np.digitize(np.log10(dose), edges[1:-1]), 0, bins - 1)
    return index, 10.0**edges


def bin_rows(test, network: np.ndarray, rule: np.ndarray, index: np.ndarray,
             edges: np.ndarray) -> list[dict]:  # fmt: skip
    rows = []
    for b in [*range(len(edges) - 1), None]:
        keep = np.ones(len(index), bool) if b is None else index == b
        truth = test.labels[keep]
        rows.append({
            "bin": "all" if b is None else b,
            "dose_low": float(edges[0 if b is None else b]),
            "dose_high": float(edges[-1 if b is None else b + 1]),
            "n": int(keep.sum()),
            "accuracy": accuracy(truth, network[keep]),
            "confusion": confusion(truth, network[keep]),
            "rule_accuracy": accuracy(truth, rule[keep]),
            "rule_confusion": confusion(truth, rule[keep]),
        })  # fmt: skip
    return rows


def recalls(test, network: np.ndarray) -> dict:
    """Recall of the tilted particles per tilt range and of the on-zone ones per zone axis."""
    out = {}
    tilted = test.labels == 0
    for low, high in zip(TILT_BINS[:-1], TILT_BINS[1:]):
        keep = tilted & (test.tilt >= low) & (test.tilt < high)
        out[f"tilt {low:g}-{high:g}°"] = (accuracy(test.labels[keep], network[keep]),
                                          int(keep.sum()))  # fmt: skip
    for zone in np.unique(test.zone[~tilted], axis=0):
        keep = ~tilted & np.all(test.zone == zone, axis=1)
        name = "[" + "".join(str(int(v)) for v in zone) + "]"
        out[f"on zone {name}"] = (accuracy(test.labels[keep], network[keep]), int(keep.sum()))
    return out


def print_table(rows: list[dict]) -> None:
    print("  held-out accuracy per dose bin; confusion [[tilted→tilted, tilted→on], "
          "[on→tilted, on→on]]")
    head = (f"  {'dose [e/Å²]':>17} {'n':>5} | {'network':>7} {'confusion':>22} | "
            f"{'ratio rule':>10} {'confusion':>22}")  # fmt: skip
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in rows:
        dose = "all" if r["bin"] == "all" else f"{r['dose_low']:7.0f}-{r['dose_high']:<7.0f}"
        print(f"  {dose:>17} {r['n']:5d} | {r['accuracy']:7.3f} {str(r['confusion']):>22} | "
              f"{r['rule_accuracy']:10.3f} {str(r['rule_confusion']):>22}")  # fmt: skip


# -- main -------------------------------------------------------------------------------


def train_or_load(lake, name: str, train, val, args: argparse.Namespace) -> tuple[list, bool]:
    """Train and register network ``name`` unless the lake has it; (curve, trained now)."""
    from hrtemlake.analysis.zoneaxis import (
        register_zone_axis_classifier,
        train_zone_axis_classifier,
    )

    if lake.exists("networks", network=name):
        print(f"  network '{name}' is in the lake: reused")
        return [], False

    def show(row: dict) -> None:
        print(f"  epoch {row['epoch']:3d}/{row['epochs']}: loss {row['loss']:.4f} "
              f"val_loss {row['val_loss']:.4f}  accuracy {row['metric']:.3f} "
              f"val_accuracy {row['val_metric']:.3f}  ({row['seconds']:.1f} s)",
              flush=True)  # fmt: skip

    model = train_zone_axis_classifier(
        train.inputs, train.labels, validation=(val.inputs, val.labels), epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, filters=args.filters,
        depth=args.depth, seed=args.seed, name=name, progress=show,
    )  # fmt: skip
    datasets = {"train": f"simulated zone-axis particles n={args.train_models} x "
                         f"{args.image_epochs} images, seed {1000 * args.seed + 31}",
                "validation": f"n={args.val_models}, seed {1000 * args.seed + 32}"}  # fmt: skip
    register_zone_axis_classifier(lake, name, model, parameter_file=train.parameters,
                                  datasets=datasets)  # fmt: skip
    return model.zone_axis_curve, True


def main(argv=None) -> dict:
    args = parse_args(argv)
    stages = Stages()
    location = lake_location(args.lake, "accuracy_zone_axis_")
    print(f"lake: {location}")
    s = args.seed
    pool = (ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"))
            if args.jobs > 1 else None)  # fmt: skip
    with stages.stage("particles + exit waves + images"):
        train = simulate(pool, args, args.train_models, 1000 * s + 31, args.image_epochs)
        val = simulate(pool, args, args.val_models, 1000 * s + 32, 1)
        test = simulate(pool, args, args.test_models, 1000 * s + 33, args.test_epochs)
    if pool is not None:
        pool.shutdown()
    print(f"  {len(train)} training, {len(val)} validation, {len(test)} held-out inputs")

    from hrtemlake.analysis.fourier import zone_axis_flag
    from hrtemlake.analysis.zoneaxis import ON_ZONE, load_zone_axis_classifier
    from hrtemlake.lake import Lake
    from hrtemlake.nn import trainable_parameters
    from hrtemlake.nn.heads import ensemble_predict

    lake = Lake(location, mode="a")
    name = args.name or (f"zone-axis-n{args.train_models}x{args.image_epochs}-ld{args.log_dose[0]:g}_"
            f"{args.log_dose[1]:g}-t{args.tilt[0]:g}_{args.tilt[1]:g}-f{args.filters}"
            f"d{args.depth}-b{args.batch_size}-lr{args.learning_rate:g}-s{s}"
            f"-ep{args.epochs}")  # fmt: skip
    with stages.stage(f"training ({args.epochs} epochs)"):
        curve, trained_now = train_or_load(lake, name, train, val, args)

    with stages.stage("evaluation (network loaded from the lake)"):
        model, options = load_zone_axis_classifier(lake, name)
        p_on = ensemble_predict([model], test.inputs, batch_size=256)[0][:, ON_ZONE]
    network = (p_on >= 0.5).astype(int)
    rule = zone_axis_flag(test.ratio).astype(int)
    index, edges = dose_bins(test.dose, tuple(args.log_dose), args.dose_bins)
    rows = bin_rows(test, network, rule, index, edges)
    per_kind = recalls(test, network)
    total = rows[-1]

    print()
    print("=" * 100)
    print("Zone-axis classification from per-particle Fourier transforms (thesis §7.1), CPU")
    print(f"  data     : {args.train_models} training particles x {args.image_epochs} images, "
          f"{args.val_models} validation, {args.test_models} held-out x {args.test_epochs} "
          f"images; Au, [110]/[100], tilt {args.tilt[0]:g}-{args.tilt[1]:g}° off zone for half; "
          f"dose 1e{args.log_dose[0]:g}..1e{args.log_dose[1]:g} e/Å²; input {options}")  # fmt: skip
    print(f"  network  : classifier f{args.filters}d{args.depth} "
          f"({trainable_parameters(model):,} parameters), batch {args.batch_size}, "
          f"lr {args.learning_rate:g}, {args.epochs} epochs "
          f"({'trained now' if trained_now else 'reused'}), seed {s}")  # fmt: skip
    print_table(rows)
    print("  recall   : " + ", ".join(f"{k} {v[0]:.3f} (n={v[1]})" for k, v in per_kind.items()))
    print(f"  wall time: {stages.summary()}")
    print(f"  lake     : {location}  (network '{name}')")
    print("=" * 100)
    print(f"HEADLINE zone-axis held-out accuracy {total['accuracy']:.3f} on {total['n']} images "
          f"(ratio rule {total['rule_accuracy']:.3f}); lowest dose bin "
          f"({rows[0]['dose_low']:.0f}-{rows[0]['dose_high']:.0f} e/Å²) {rows[0]['accuracy']:.3f}, "
          f"highest ({rows[-2]['dose_low']:.0f}-{rows[-2]['dose_high']:.0f} e/Å²) "
          f"{rows[-2]['accuracy']:.3f}")  # fmt: skip

    result = {
        "benchmark": "accuracy_zone_axis",
        "options": option_values(args),
        "network": name,
        "input": options,
        "trainable_parameters": trainable_parameters(model),
        "dose_edges": edges.tolist(),
        "bins": rows,
        "recall": {k: {"recall": v[0], "n": v[1]} for k, v in per_kind.items()},
        "curve": curve,
        "seconds": stages.seconds,
        "total_seconds": stages.total,
        "lake": location,
    }
    write_numbers(args.json, result)
    return result


if __name__ == "__main__":
    main()
