"""Accuracy on CPU: chirality (n, m) of single-wall carbon nanotubes from one image (seed 004).

Seed 004 (after Förster et al., Carbon 169, 465 (2020)): a CNN tells the chirality of a
nanotube from an HR-TEM image among (11, 6) and its neighbours (10, 6), (11, 5), (11, 7) and
(12, 6) (:data:`hrtemlake.models.CHIRALITIES`), > 90 % on simulated images. Simulates
``--train-models`` nanotubes for training, ``--val-models`` for validation and
``--test-models`` held-out ones (other seeds), the classes in turn (balanced); each of
random length 24-60 Å, phase, spin, in-plane angle and position in a 40 × 40 Å cell
(:func:`hrtemlake.models.nanotubes.nanotube`), 80 keV abTEM exit waves at 0.1 Å;
``--image-epochs`` (held-out: ``--test-epochs``) noisy images per tube of 128 px × 0.31 Å
at a dose of 10^``--log-dose`` e⁻/Å², defocus ±``--defocus`` Å, Cs ±2 µm and the parameter
file's default blur, MTF and readout noise
(:data:`hrtemlake.analysis.chirality.DEFAULT_IMAGE_PARAMETERS`). The classifier's input is
each image's power spectrum turned to the tube's frame (axis angle estimated from the
spectrum) and folded, on a fixed 64 × 64 grid of 0-0.6 Å⁻¹
(:func:`~hrtemlake.analysis.chirality.chirality_input`).

Trains :func:`hrtemlake.nn.heads.build_classifier` (5 classes, 1 channel) with
:func:`~hrtemlake.analysis.chirality.train_chirality_classifier`, registers it in ``--lake``
(default: a new temporary folder; a rerun with the same lake and settings reuses the
network: its name spells out and hashes every setting that changes it) and loads it back
by name (:func:`~hrtemlake.analysis.chirality.load_chirality_classifier`) to score it.

Prints the held-out accuracy overall, per class and per |defocus| bin, the confusion matrix
(rows: true class, columns: predicted), the error of the estimated axis angle, the seed's
table (top-3 chiralities with probabilities) for the first held-out images, and the wall
time of every stage. ``--json PATH`` writes every number.

    python benchmarks/accuracy_chirality.py [--lake PATH] [--train-models 800]
        [--test-models 200] [--epochs 30] [--seed 0] [--json out.json] [--quick]

``--quick``: a smoke test in about 20 s; it is not expected to learn much. A full run with
the defaults took 7.8 min on 2 shared CPU cores (simulation 3.4 min, training 4.4 min):
held-out accuracy 0.922 on 400 images of 200 tubes (per class 0.86-0.98; 0.96-0.98 at
|defocus| >= 20 Å, 0.69 within 10 Å of Gaussian focus, where a carbon tube has almost no
contrast); axis angle within 1° for 94.5 % of the images. Twice the training tubes with 15
epochs gave 0.915. The temperature fitted on the validation images (2.06) brought the
held-out expected calibration error from 0.044 to 0.011 (mean confidence 0.964 → 0.919).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import hashlib
import json
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
DEFAULTS = dict(train_models=800, val_models=100, test_models=200, image_epochs=4,
                test_epochs=2, epochs=30, filters=16, depth=4, batch_size=32)  # fmt: skip
QUICK = dict(train_models=20, val_models=5, test_models=10, image_epochs=2, test_epochs=1,
             epochs=2, filters=4, depth=2, batch_size=16)  # fmt: skip
HELP = {
    "--train-models": "training tubes (the 5 chiralities in turn)",
    "--val-models": "validation tubes (1 image each)",
    "--test-models": "held-out tubes",
    "--test-epochs": "images per held-out tube",
    "--image-epochs": "images per training tube",
    "--filters": "first-level channels of the classifier",
    "--depth": "classifier levels",
}
DENSE = 64
DEFOCUS_BINS = (0.0, 10.0, 20.0, 50.0, 100.0)  # |defocus| [Å]


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake", "--quick", "--seed", "--train-models", "--val-models",
                     "--test-models", "--test-epochs", "--image-epochs", "--epochs",
                     "--filters", "--depth", "--batch-size", "--learning-rate",
                     helps=HELP)  # fmt: skip
    parser.add_argument("--log-dose", type=float, nargs=2, default=(4.0, 4.0),
                        metavar=("LOW", "HIGH"), help="log10 dose range [e/Å²]")  # fmt: skip
    parser.add_argument("--defocus", type=float, default=100.0,
                        help="defocus range ± this [Å]")  # fmt: skip
    parser.add_argument("--name", default=None,
                        help="register the network under this name (default: one that spells "
                             "out the settings)")  # fmt: skip
    common_arguments(parser, "--jobs", "--json")
    return resolve(parser.parse_args(argv), DEFAULTS, QUICK)


# -- data -------------------------------------------------------------------------------


def image_changes(args: argparse.Namespace) -> dict:
    """The parameter-file fields this run changes from the module's defaults."""
    return {"log_dose": tuple(args.log_dose), "defocus": (-args.defocus, args.defocus)}


def simulate(pool, args: argparse.Namespace, count: int, seed: int, images: int):
    """``count`` tubes of ``seed`` in blocks over the worker processes, concatenated."""
    from hrtemlake.analysis.chirality import ChiralitySamples, simulate_chirality_samples

    options = {"images_per_tube": images, "image_parameters": image_changes(args)}
    per_block = max(1, -(-count // (4 * max(1, args.jobs))))
    starts = range(0, count, per_block)
    if pool is None:
        parts = [simulate_chirality_samples(min(per_block, count - s), seed, start=s, **options)
                 for s in starts]  # fmt: skip
    else:
        futures = [pool.submit(simulate_chirality_samples, min(per_block, count - s), seed,
                               start=s, **options) for s in starts]  # fmt: skip
        parts = [future.result() for future in futures]
    return ChiralitySamples.concatenate(parts)


def network_name(args: argparse.Namespace) -> str:
    """A name that reads as the main settings and hashes every one that changes the network
    (so that a rerun with other settings never reuses a stale one)."""
    from hrtemlake.analysis.chirality import DEFAULT_INPUT_SIZE, DEFAULT_Q_MAX

    settings = {key: getattr(args, key) for key in
                ("train_models", "image_epochs", "val_models", "epochs", "filters", "depth",
                 "batch_size", "learning_rate", "seed", "log_dose", "defocus")}  # fmt: skip
    settings.update(dense=DENSE, q_max=DEFAULT_Q_MAX, size=DEFAULT_INPUT_SIZE, version=2)
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=list).encode())
    return (f"chirality-n{args.train_models}x{args.image_epochs}-f{args.filters}d{args.depth}"
            f"-ep{args.epochs}-s{args.seed}-{digest.hexdigest()[:8]}")  # fmt: skip


# -- scores -----------------------------------------------------------------------------


def confusion(truth: np.ndarray, predicted: np.ndarray, n: int) -> list[list[int]]:
    """n × n counts, rows: true class, columns: predicted."""
    return [[int(np.sum((truth == t) & (predicted == p))) for p in range(n)] for t in range(n)]


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(truth == predicted)) if len(truth) else float("nan")


def defocus_rows(test, predicted: np.ndarray) -> list[dict]:
    rows = []
    size = np.abs(test.defocus)
    for low, high in zip(DEFOCUS_BINS[:-1], DEFOCUS_BINS[1:]):
        keep = (size >= low) & (size < high if high < DEFOCUS_BINS[-1] else size <= high)
        rows.append({"low": low, "high": high, "n": int(keep.sum()),
                     "accuracy": accuracy(test.labels[keep], predicted[keep])})  # fmt: skip
    return rows


def axis_errors(test) -> dict:
    error = np.abs((test.estimated_angle - test.angle + 90.0) % 180.0 - 90.0)
    return {"median": float(np.median(error)), "p90": float(np.percentile(error, 90)),
            "within_1deg": float(np.mean(error <= 1.0))}  # fmt: skip


def print_confusion(matrix: list[list[int]], names: list[str]) -> None:
    print("  confusion (rows: true, columns: predicted)")
    print("  " + " " * 9 + "".join(f"{n:>9}" for n in names) + "   recall")
    for name, row in zip(names, matrix):
        recall = row[names.index(name)] / max(1, sum(row))
        print(f"  {name:>9}" + "".join(f"{v:9d}" for v in row) + f"   {recall:6.3f}")


# -- main -------------------------------------------------------------------------------


def train_or_load(lake, name: str, train, val, args: argparse.Namespace) -> tuple[list, bool]:
    """Train and register network ``name`` unless the lake has it; (curve, trained now)."""
    from hrtemlake.analysis.chirality import (
        register_chirality_classifier,
        train_chirality_classifier,
    )

    if lake.exists("networks", network=name):
        print(f"  network '{name}' is in the lake: reused")
        return [], False

    def show(row: dict) -> None:
        print(f"  epoch {row['epoch']:3d}/{row['epochs']}: loss {row['loss']:.4f} "
              f"val_loss {row['val_loss']:.4f}  accuracy {row['metric']:.3f} "
              f"val_accuracy {row['val_metric']:.3f}  ({row['seconds']:.1f} s)",
              flush=True)  # fmt: skip

    model = train_chirality_classifier(
        train.inputs, train.labels, class_names=train.parameters["class_names"],
        validation=(val.inputs, val.labels), epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, filters=args.filters, depth=args.depth, dense=DENSE,
        seed=args.seed, name=name, progress=show,
    )  # fmt: skip
    datasets = {"train": f"simulated nanotubes n={args.train_models} x {args.image_epochs} "
                         f"images, seed {1000 * args.seed + 41}",
                "validation": f"n={args.val_models}, seed {1000 * args.seed + 42}"}  # fmt: skip
    register_chirality_classifier(lake, name, model, parameter_file=train.parameters,
                                  datasets=datasets)  # fmt: skip
    return model.chirality_curve, True


def main(argv=None) -> dict:
    args = parse_args(argv)
    stages = Stages()
    location = lake_location(args.lake, "accuracy_chirality_")
    print(f"lake: {location}")
    s = args.seed
    pool = (ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"))
            if args.jobs > 1 else None)  # fmt: skip
    with stages.stage("tubes + exit waves + images + inputs"):
        train = simulate(pool, args, args.train_models, 1000 * s + 41, args.image_epochs)
        val = simulate(pool, args, args.val_models, 1000 * s + 42, 1)
        test = simulate(pool, args, args.test_models, 1000 * s + 43, args.test_epochs)
    if pool is not None:
        pool.shutdown()
    print(f"  {len(train)} training, {len(val)} validation, {len(test)} held-out inputs")

    from hrtemlake.analysis.chirality import chirality_table, load_chirality_classifier
    from hrtemlake.lake import Lake
    from hrtemlake.nn import trainable_parameters
    from hrtemlake.nn.heads import ensemble_predict, with_temperature

    lake = Lake(location, mode="a")
    name = args.name or network_name(args)
    with stages.stage(f"training ({args.epochs} epochs)"):
        curve, trained_now = train_or_load(lake, name, train, val, args)

    with stages.stage("evaluation (network loaded from the lake)"):
        model, options = load_chirality_classifier(lake, name)
        probabilities = ensemble_predict([model], test.inputs, batch_size=256)[0]
    names = list(options["class_names"])
    predicted = probabilities.argmax(axis=1)
    matrix = confusion(test.labels, predicted, len(names))
    per_class = {n: accuracy(test.labels[test.labels == i], predicted[test.labels == i])
                 for i, n in enumerate(names)}  # fmt: skip
    by_defocus = defocus_rows(test, predicted)
    axis = axis_errors(test)
    total = accuracy(test.labels, predicted)
    calibration = calibration_rows(probabilities, test.labels, options["temperature"])
    table = chirality_table(with_temperature(probabilities[:5], options["temperature"]), names,
                            3, test.estimated_angle[:5])  # fmt: skip
    trained = (f"last training accuracy {curve[-1]['metric']:.3f}" if curve
               else "reused from the lake")  # fmt: skip

    print()
    print("=" * 100)
    print("Nanotube chirality from the power spectrum in the tube's frame (seed 004), CPU")
    print(f"  data     : {args.train_models} training tubes x {args.image_epochs} images, "
          f"{args.val_models} validation, {args.test_models} held-out x {args.test_epochs} "
          f"images; classes {names}; dose 1e{args.log_dose[0]:g}..1e{args.log_dose[1]:g} "
          f"e/Å², defocus ±{args.defocus:g} Å; input {options}")  # fmt: skip
    print(f"  network  : classifier f{args.filters}d{args.depth} dense {DENSE} "
          f"({trainable_parameters(model):,} parameters), batch {args.batch_size}, "
          f"lr {args.learning_rate:g}, {args.epochs} epochs "
          f"({'trained now' if trained_now else 'reused'}), seed {s}; {trained}")  # fmt: skip
    print(f"  held-out accuracy {total:.3f} on {len(test)} images (chance {1 / len(names):.3f})")
    print("  per class: " + ", ".join(f"{n} {v:.3f}" for n, v in per_class.items()))
    print("  per |defocus|: " + ", ".join(f"{r['low']:g}-{r['high']:g} Å {r['accuracy']:.3f} "
                                          f"(n={r['n']})" for r in by_defocus))  # fmt: skip
    print_confusion(matrix, names)
    print(f"  calibration on the held-out images (temperature {options['temperature']:.2f}, "
          f"fitted on the validation images): "
          + ", ".join(f"{k} ECE {v['ece']:.3f} NLL {v['nll']:.3f} mean confidence "
                      f"{v['confidence']:.3f}" for k, v in calibration.items()))  # fmt: skip
    print(f"  axis angle error: median {axis['median']:.2f}°, 90 % {axis['p90']:.2f}°, "
          f"{100 * axis['within_1deg']:.1f} % within 1°")  # fmt: skip
    print("  seed-style table, first held-out images (true: "
          + ", ".join(names[i] for i in test.labels[:5]) + ")")
    print("\n".join("    " + line for line in str(table).splitlines()))
    print(f"  wall time: {stages.summary()}")
    print(f"  lake     : {location}  (network '{name}')")
    print("=" * 100)
    print(f"HEADLINE chirality held-out accuracy {total:.3f} on {len(test)} images of "
          f"{args.test_models} tubes ({len(names)} classes, chance {1 / len(names):.3f}); "
          f"total {stages.total:.0f} s")  # fmt: skip

    result = {
        "benchmark": "accuracy_chirality",
        "options": option_values(args),
        "network": name,
        "input": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()},
        "trainable_parameters": trainable_parameters(model),
        "accuracy": total,
        "per_class": per_class,
        "confusion": matrix,
        "class_names": names,
        "defocus": by_defocus,
        "axis_error_deg": axis,
        "calibration": calibration,
        "curve": curve,
        "seconds": stages.seconds,
        "total_seconds": stages.total,
        "lake": location,
    }
    write_numbers(args.json, result)
    return result


def calibration_rows(probabilities, labels, temperature: float) -> dict[str, dict[str, float]]:
    """Expected calibration error, negative log-likelihood and mean top-class confidence,
    as the network gives them ("raw") and at the fitted temperature ("calibrated")."""
    from hrtemlake.nn.heads import calibration_error, with_temperature

    rows = {}
    for key, t in (("raw", 1.0), ("calibrated", temperature)):
        p = with_temperature(probabilities, t)
        nll = -float(np.log(np.clip(p[np.arange(len(p)), labels], 1e-12, None)).mean())
        rows[key] = {"ece": calibration_error(p, labels), "nll": nll,
                     "confidence": float(p.max(axis=1).mean())}  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
