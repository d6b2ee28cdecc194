"""Accuracy on CPU: regression of the defocus (and two-fold astigmatism) from single images.

Seed 004, "Regression: microscope defocus and astigmatism". Simulates ``--train-models``
MoS2 flakes for training, ``--val-models`` for validation and ``--test-models`` held-out
flakes (other seeds) in a ``--size`` × 0.2 Å cell with 50 keV exit waves at 0.1 Å (as
:mod:`accuracy_mos2_disk`), and images them with paper III's microscope ranges
(``hrtemlake/simulate/examples/paper3_mos2_disk.yaml``) as single images (no focal series)
of ``--size``² pixels at 0.19-0.20 Å, with a Regression label of the drawn ``defocus``,
``ctf_c12`` and ``ctf_phi12``, doses log-uniform in 10^``--log-dose``, and two-fold
astigmatism amplitudes uniform in [0, ``--astigmatism``] Å.

The astigmatism angle is defined modulo π, so it is not regressed directly: an image set
derived from the simulated one (:func:`hrtemlake.simulate.images.store_image_set`, the same
images) holds the targets ``(defocus, A cos 2φ, A sin 2φ)``
(:func:`hrtemlake.nn.heads.encode_angle`). With ``--astigmatism 0`` the only target is the
defocus, read straight from the simulated set.

Trains an ensemble of ``--members`` regressors (:func:`hrtemlake.nn.train_network`,
``arch="regressor"``; seeds ``--seed``, ``--seed`` + 1, ...; the targets are standardised
by the library) and predicts the held-out images with
:func:`hrtemlake.nn.heads.ensemble_predict` (mean: the estimate; standard deviation over
the members: its error bar). Prints per dose bin (``--dose-bins`` log-spaced bins over
the dose range):

* the defocus RMSE [Å] of the ensemble mean, and the mean RMSE of the single members;
* the baseline of the same run: the RMSE of always predicting the training set's mean
  defocus; and the ratio model / baseline (< 1: the network has learnt something);
* the ensemble's mean spread [Å] next to the actual error, and the fraction of images
  whose error lies within one spread (about 0.68 for calibrated Gaussian error bars);
* with astigmatism: the RMSE of the astigmatism vector (A cos 2φ, A sin 2φ) [Å] against
  its baseline (the training mean, about (0, 0)).

The final line gives the headline figure: the defocus RMSE over all held-out images and
its ratio to the baseline. ``--json PATH`` writes every number. Everything is written into
``--lake`` (default: a new temporary folder) and reused on a rerun.

    python benchmarks/accuracy_defocus.py [--lake PATH] [--train-models 240]
        [--epochs 32] [--members 3] [--size 128] [--seed 0] [--json out.json] [--quick]

``--quick``: a smoke test in about a minute; it is not expected to learn much.
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
    FLAKE_HELP,
    Stages,
    benchmark_parser,
    common_arguments,
    example_parameters,
    lake_location,
    mos2_dataset,
    option_values,
    resolve,
    simulate_dataset,
    shutdown_workers,
    simulate_image_set,
    train_or_resume,
    write_numbers,
)

#: Image pixel size range [Å]; the flake cell is size × 0.2 Å (as accuracy_mos2_disk).
SAMPLING = (0.19, 0.20)
#: Names of the stored targets of the derived (encoded) image set.
ENCODED = ("defocus", "astig_cos2phi", "astig_sin2phi")
#: Full runs and --quick: any option left unset takes these.
DEFAULTS = dict(train_models=240, val_models=16, test_models=64, test_epochs=4, epochs=32,
                image_epochs=12, size=128, members=3, filters=8, depth=4, kernel=3, batch_size=8)  # fmt: skip
QUICK = dict(train_models=24, val_models=4, test_models=8, test_epochs=4, epochs=3,
             image_epochs=3, size=64, members=2, filters=4, depth=3, kernel=3, batch_size=8)  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake", "--quick", "--seed", "--train-models", "--val-models",
                     "--test-models", "--test-epochs", "--image-epochs", "--epochs",
                     helps={**FLAKE_HELP, "--seed": "seed of the data and first member",
                            "--epochs": "training epochs per member"})  # fmt: skip
    parser.add_argument("--size", type=int, help="image side [pixels] (cell: size x 0.2 Å)")
    parser.add_argument("--members", type=int, help="regressors in the ensemble (seeds)")
    common_arguments(parser, "--filters", "--depth", "--kernel", "--batch-size", "--learning-rate",
                     helps={"--filters": "first-level channels of the regressor",
                            "--depth": "encoder levels of the regressor"})  # fmt: skip
    parser.add_argument("--defocus", type=float, nargs=2, default=(-150.0, 50.0),
                        metavar=("LOW", "HIGH"), help="defocus range [Å] (paper III)")  # fmt: skip
    parser.add_argument("--astigmatism", type=float, default=30.0,
                        help="largest two-fold astigmatism amplitude C12 [Å]; 0: defocus only")
    parser.add_argument("--log-dose", type=float, nargs=2, default=(2.0, 5.0),
                        metavar=("LOW", "HIGH"), help="log10 dose range [e/Å²]")  # fmt: skip
    common_arguments(parser, "--dose-bins", "--workers", "--jobs", "--json")
    args = parser.parse_args(argv)
    resolve(args, DEFAULTS, QUICK)
    if args.members < 1 or args.dose_bins < 1:
        parser.error("--members and --dose-bins must be >= 1")
    return args


# -- data -------------------------------------------------------------------------------


def regression_parameters(args: argparse.Namespace, image_epochs: int):
    """Paper III's microscope ranges, single images, a Regression label."""
    astig = args.astigmatism > 0
    targets = ("defocus", "ctf_c12", "ctf_phi12") if astig else ("defocus",)
    return example_parameters(
        "paper3_mos2_disk", label="Regression", multifocus=None, null_class=False,
        num_classes=len(targets), regression_targets=targets,
        image_size=(args.size, args.size), sampling=SAMPLING, image_epochs=image_epochs,
        log_dose=tuple(args.log_dose), defocus=tuple(args.defocus),
        ctf_c12=(0.0, float(args.astigmatism)), debug=None, seed=100 + args.seed,
    )  # fmt: skip


def encoded_image_set(lake, dataset: str, source: str) -> str:
    """``dataset/<source>-enc``: the images of ``source`` with the targets (defocus,
    A cos 2φ, A sin 2φ) in place of (defocus, C12, φ12); made once, then reused."""
    from hrtemlake.nn.heads import encode_angle
    from hrtemlake.simulate.images import store_image_set
    from hrtemlake.simulate.params import DRAWN_PARAMETERS, ImageParameters

    name = f"{source}-enc"
    if lake.exists("images", dataset=dataset, imageset=name):
        done = lake.group("images", dataset=dataset, imageset=name)["write_session"][:] > 0
        if done.all():
            return f"{dataset}/{name}"
    group = lake.group("images", dataset=dataset, imageset=source)
    targets = np.asarray(group["targets"][...], dtype=np.float64)  # (model, epoch, 3)
    c, s = encode_angle(targets[..., 2], fold=2, amplitude=targets[..., 1])
    values = {"image": group["image"][...], "sampling": group["sampling"][...],
              "targets": np.stack([targets[..., 0], c, s], axis=-1).astype(np.float32)}  # fmt: skip
    for key in DRAWN_PARAMETERS:
        if key in group and key not in values:
            values[key] = group[key][...]
    params = ImageParameters.from_dict(dict(group.attrs["parameter_file"]))
    identity = {"derived_from": source, "targets": list(ENCODED),
                "parameter_file": params.to_dict()}  # fmt: skip
    return store_image_set(lake, dataset, name, params, list(ENCODED), values, identity)


def load_images(lake, image_set: str) -> dict[str, np.ndarray]:
    """Network inputs (n, y, x, 1) and truths of every image of a set, flattened."""
    from hrtemlake.nn import open_image_set
    from hrtemlake.nn.data import standardise_images

    images = open_image_set(lake, image_set)
    group = images.group()
    raw = group["image"][...]  # (model, epoch, focus, y, x)
    n = raw.shape[0] * raw.shape[1]
    sampling = group["sampling"][...].reshape(n)
    x = standardise_images(raw.reshape(n, *raw.shape[2:]), sampling, images.normalizedistance)
    targets = np.asarray(group["targets"][...], dtype=np.float64).reshape(n, -1)
    return {"x": x, "targets": targets, "dose": group["dose"][...].reshape(n),
            "names": images.channel_names}  # fmt: skip


# -- statistics -------------------------------------------------------------------------


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else float("nan")


def dose_bins(dose: np.ndarray, log_dose: tuple[float, float], bins: int):
    """Bin index of every image and the bin edges [e/Å²] (log-spaced over the range)."""
    edges = np.linspace(log_dose[0], log_dose[1], bins + 1)
    index = np.clip(np.digitize(np.log10(dose), edges[1:-1]), 0, bins - 1)
    return index, 10.0**edges


def bin_rows(test: dict, predictions: dict, baseline: np.ndarray, index: np.ndarray,
             edges: np.ndarray, astig: bool) -> list[dict]:  # fmt: skip
    """Per dose bin (and 'all'): errors of the ensemble, the members and the baseline."""
    truth = test["targets"]
    mean, spread, members = predictions["mean"], predictions["std"], predictions["members"]
    rows = []
    for b in [*range(len(edges) - 1), None]:
        keep = np.ones(len(truth), bool) if b is None else index == b
        err = mean[keep, 0] - truth[keep, 0]
        row = {
            "bin": "all" if b is None else b,
            "dose_low": float(edges[0 if b is None else b]),
            "dose_high": float(edges[-1 if b is None else b + 1]),
            "n": int(keep.sum()),
            "defocus_rmse": rms(err),
            "defocus_rmse_members": float(np.mean([rms(m[keep, 0] - truth[keep, 0])
                                                   for m in members])),  # fmt: skip
            "defocus_rmse_baseline": rms(baseline[0] - truth[keep, 0]),
            "defocus_mean_spread": float(np.mean(spread[keep, 0])) if keep.any() else np.nan,
            "defocus_rms_spread": rms(spread[keep, 0]),
            "within_one_spread": float(np.mean(np.abs(err) <= spread[keep, 0]))
            if keep.any() else np.nan,
        }
        row["defocus_ratio"] = row["defocus_rmse"] / row["defocus_rmse_baseline"]
        if astig:
            vector = np.hypot(mean[keep, 1] - truth[keep, 1], mean[keep, 2] - truth[keep, 2])
            amplitude = np.hypot(mean[keep, 1], mean[keep, 2])
            row.update({
                "astig_rmse": rms(vector),
                "astig_rmse_baseline": rms(np.hypot(baseline[1] - truth[keep, 1],
                                                    baseline[2] - truth[keep, 2])),
                "astig_amplitude_rmse": rms(amplitude - np.hypot(truth[keep, 1], truth[keep, 2])),
            })  # fmt: skip
            row["astig_ratio"] = row["astig_rmse"] / row["astig_rmse_baseline"]
        rows.append(row)
    return rows


def print_table(rows: list[dict], astig: bool) -> None:
    head = (f"  {'dose [e/Å²]':>17} {'n':>4} | {'RMSE':>6} {'members':>7} {'base':>6} "
            f"{'ratio':>5} | {'spread':>6} {'in 1σ':>5}")  # fmt: skip
    if astig:
        head += f" | {'astig':>6} {'base':>6} {'ratio':>5}"
    print("  defocus [Å] per dose bin: RMSE of the ensemble mean, mean RMSE of single members,")
    print("  baseline (training-mean defocus), ratio ensemble/baseline, mean ensemble spread,")
    print("  fraction of images with |error| <= spread" + (
        "; astigmatism vector RMSE [Å] and baseline" if astig else ""))  # fmt: skip
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in rows:
        dose = ("all" if r["bin"] == "all"
                else f"{r['dose_low']:7.0f}-{r['dose_high']:<7.0f}")  # fmt: skip
        line = (f"  {dose:>17} {r['n']:4d} | {r['defocus_rmse']:6.1f} "
                f"{r['defocus_rmse_members']:7.1f} {r['defocus_rmse_baseline']:6.1f} "
                f"{r['defocus_ratio']:5.2f} | {r['defocus_mean_spread']:6.1f} "
                f"{r['within_one_spread']:5.2f}")  # fmt: skip
        if astig:
            line += (f" | {r['astig_rmse']:6.1f} {r['astig_rmse_baseline']:6.1f} "
                     f"{r['astig_ratio']:5.2f}")  # fmt: skip
        print(line)


# -- main -------------------------------------------------------------------------------


def main(argv=None) -> dict:
    args = parse_args(argv)
    from hrtemlake.lake import Lake
    from hrtemlake.nn import TrainingOptions, load_network, network_info
    from hrtemlake.nn.heads import ensemble_predict

    stages = Stages()
    location = lake_location(args.lake, "accuracy_defocus_")
    lake = Lake(location, mode="a")
    print(f"lake: {location}")
    cell = round(args.size * SAMPLING[1], 2)
    s, astig = args.seed, args.astigmatism > 0
    train = mos2_dataset("mos2-train", args.train_models, 1000 * s + 11, cell)
    val = mos2_dataset("mos2-val", args.val_models, 1000 * s + 12, cell)
    test = mos2_dataset("mos2-test", args.test_models, 1000 * s + 13, cell)

    with stages.stage("structures + exit waves"):
        for data in (train, val, test):
            done = simulate_dataset(lake, data, jobs=args.jobs)
            print(f"  {data.name}: {done['exit_waves']} exit waves computed, "
                  f"{data.count - done['exit_waves']} reused")  # fmt: skip
    tag = (f"reg{args.size}-df{args.defocus[0]:g}_{args.defocus[1]:g}-a{args.astigmatism:g}"
           f"-ld{args.log_dose[0]:g}_{args.log_dose[1]:g}-s{s}")  # fmt: skip
    sets = {}
    with stages.stage("image epochs"):
        for data, epochs in ((train, args.image_epochs), (val, 1), (test, args.test_epochs)):
            imageset = f"{tag}-e{epochs}"
            simulate_image_set(lake, data.name, imageset, regression_parameters(args, epochs),
                               epochs, jobs=args.jobs)  # fmt: skip
            sets[data.name] = (encoded_image_set(lake, data.name, imageset) if astig
                               else f"{data.name}/{imageset}")  # fmt: skip
    shutdown_workers()
    train_set, val_set, test_set = sets[train.name], sets[val.name], sets[test.name]

    names, curves = [], []
    shape = f"f{args.filters}d{args.depth}k{args.kernel}"
    with stages.stage(f"training ({args.members} x {args.epochs} epochs)"):
        for member in range(args.members):
            options = TrainingOptions(
                arch="regressor", filters=args.filters, kernel=args.kernel, depth=args.depth,
                batch_size=args.batch_size, seed=s + member, epochsave=args.epochs,
                adam={"learning_rate": args.learning_rate}, workers=args.workers,
            )  # fmt: skip
            name = (f"{train_set.replace('/', '-')}-regressor-{shape}-b{args.batch_size}"
                    f"-lr{args.learning_rate:g}-s{s + member}-ep{args.epochs}")  # fmt: skip
            trained = train_or_resume(lake, name, train_set, val_set, args.epochs, options,
                                      verbose=False)  # fmt: skip
            curve = trained["curve"]
            if curve:
                print(f"  member {member} (seed {s + member}): loss {curve[0]['loss']:.3f} -> "
                      f"{curve[-1]['loss']:.3f}, val_loss {curve[0]['val_loss']:.3f} -> "
                      f"{curve[-1]['val_loss']:.3f} (standardised targets), "
                      f"{sum(r['seconds'] for r in curve):.0f} s", flush=True)  # fmt: skip
            names.append(name)
            curves.append(curve)

    with stages.stage("prediction"):
        infos = [network_info(lake, n) for n in names]
        mean = np.asarray(infos[0].training["target_mean"], dtype=np.float64)
        std = np.asarray(infos[0].training["target_std"], dtype=np.float64)
        for info in infos[1:]:  # one training set, so one target scale for every member
            assert np.allclose(info.training["target_mean"], mean), info.name
            assert np.allclose(info.training["target_std"], std), info.name
        models = [load_network(lake, n) for n in names]
        data = load_images(lake, test_set)
        scaled_mean, scaled_std = ensemble_predict(models, data["x"])
        members = [ensemble_predict([m], data["x"])[0] * std + mean for m in models]
        predictions = {"mean": scaled_mean * std + mean, "std": scaled_std * std,
                       "members": members}  # fmt: skip
    # the baseline: the training set's mean target (the regressor's own standardisation)
    baseline = mean
    index, edges = dose_bins(data["dose"], tuple(args.log_dose), args.dose_bins)
    rows = bin_rows(data, predictions, baseline, index, edges, astig)

    info = infos[0]
    total = rows[-1]
    print()
    print("=" * 92)
    print("Defocus" + (" and two-fold astigmatism" if astig else "")
          + " regression from single MoS2 images (seed 004), CPU")  # fmt: skip
    print(f"  data     : {args.train_models} training flakes x {args.image_epochs} images, "
          f"{args.val_models} validation, {args.test_models} held-out x {args.test_epochs} "
          f"images; {args.size}x{args.size} px at {SAMPLING[0]}-{SAMPLING[1]} Å/px, 50 keV; "
          f"defocus {args.defocus[0]:g}..{args.defocus[1]:g} Å, C12 0..{args.astigmatism:g} Å, "
          f"dose 1e{args.log_dose[0]:g}..1e{args.log_dose[1]:g} e/Å² (paper III ranges otherwise)")  # fmt: skip
    print(f"  network  : {args.members} x regressor "
          f"{ {k: info.architecture[k] for k in ('filters', 'depth', 'kernel', 'dense')} }"
          f" ({info.trainable_parameters:,} parameters), batch {args.batch_size}, "
          f"{args.epochs} epochs, seeds {s}..{s + args.members - 1}; targets {list(data['names'])}")  # fmt: skip
    print(f"  baseline : training-set mean defocus {mean[0]:.1f} Å")
    print_table(rows, astig)
    print(f"  wall time: {stages.summary()}")
    print(f"  lake     : {location}")
    print("=" * 92)
    print(f"HEADLINE defocus RMSE {total['defocus_rmse']:.1f} Å over {total['n']} held-out images "
          f"(baseline {total['defocus_rmse_baseline']:.1f} Å, "
          f"ratio {total['defocus_ratio']:.2f}); "
          f"mean ensemble spread {total['defocus_mean_spread']:.1f} Å, "
          f"{100 * total['within_one_spread']:.0f}% of errors within 1 spread")  # fmt: skip

    result = {
        "benchmark": "accuracy_defocus",
        "options": option_values(args),
        "networks": names,
        "trainable_parameters": info.trainable_parameters,
        "targets": list(data["names"]),
        "target_mean": mean.tolist(),
        "target_std": std.tolist(),
        "dose_edges": edges.tolist(),
        "bins": rows,
        "curves": curves,
        "seconds": stages.seconds,
        "total_seconds": stages.total,
        "lake": location,
    }
    write_numbers(args.json, result)
    return result


if __name__ == "__main__":
    main()
