"""Accuracy on CPU: denoising autoencoder on MoS2 images over a dose range (seed 004).

Seed 004, "Denoising: convolutional autoencoder" (shot noise in, ground truth out).
Simulates ``--train-models`` MoS2 flakes for training, ``--val-models`` for validation and
``--test-models`` held-out flakes (other seeds) in a ``--size`` × 0.2 Å cell with 50 keV
exit waves at 0.1 Å (as :mod:`accuracy_mos2_disk`), and images them with paper III's
microscope ranges (``hrtemlake/simulate/examples/paper3_mos2_disk.yaml``) as single images
(no focal series) of ``--size``² pixels at 0.19-0.20 Å, with doses log-uniform in
10^``--log-dose`` e⁻/Å² and the Denoise label: the noise-free intensity of the same image
(same optics, no shot or readout noise, no detector MTF) relative to vacuum = 1.

Trains the convolutional autoencoder of :func:`hrtemlake.nn.heads.build_denoiser`
(``--arch denoiser``, the default) with :func:`hrtemlake.nn.train_network` on the locally
standardised noisy images (:class:`hrtemlake.nn.LakeBatches`, default augmentation, the
library's Denoise objective: mean squared error); ``train_network`` learns the truth
standardised by its mean and standard deviation over the training labels and stores that
scale with the network, and :func:`hrtemlake.nn.predict_images` undoes it given the
network's stored training options. ``--arch unet`` / ``msdnet`` train a pixel network the
same way. The network is registered in the lake (``networks/NAME``).

On the held-out images, per dose bin (``--dose-bins`` log-spaced bins), prints the mean
PSNR [dB] and SSIM (:func:`hrtemlake.nn.heads.psnr`, :func:`~hrtemlake.nn.heads.ssim`,
data range: the truth's) against the noise-free truth of

* the noisy input, in the truth's units (counts / (dose × pixel area));
* the same-run baseline: a Gaussian filter of the noisy input, its σ [px] chosen on the
  training images for the best mean PSNR, once for all doses ("gauss") and once per dose
  bin ("gauss/bin");
* the network's output;

and the PSNR gain [dB] of the network over the noisy input and over the better Gaussian.
The final line gives the headline figures; ``--json PATH`` writes every number.
Everything is written into ``--lake`` (default: a new temporary folder) and reused on a
rerun (the simulated data, and the trained network).

    python benchmarks/accuracy_denoise.py [--lake PATH] [--train-models 200]
        [--epochs 30] [--size 128] [--seed 0] [--json out.json] [--quick]

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
#: Gaussian filter widths tried for the baseline [px] (0: no filter).
SIGMAS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
#: Training images used to choose the baseline's σ (the first image epochs of the models).
SIGMA_IMAGES = 480
#: Full runs and --quick: any option left unset takes these.
DEFAULTS = dict(train_models=200, val_models=16, test_models=64, test_epochs=4, epochs=30,
                image_epochs=10, size=128, arch="denoiser", filters=16, depth=2, kernel=3,
                batch_size=8)  # fmt: skip
QUICK = dict(train_models=16, val_models=4, test_models=8, test_epochs=4, epochs=3,
             image_epochs=3, size=64, arch="denoiser", filters=4, depth=2, kernel=3,
             batch_size=8)  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake", "--quick", "--seed", "--train-models", "--val-models",
                     "--test-models", "--test-epochs", "--image-epochs", "--epochs",
                     helps=FLAKE_HELP)  # fmt: skip
    parser.add_argument("--size", type=int, help="image side [pixels] (cell: size x 0.2 Å)")
    parser.add_argument("--arch", choices=("denoiser", "unet", "msdnet"),
                        help="autoencoder (heads.build_denoiser) or a pixel network")  # fmt: skip
    common_arguments(parser, "--filters", "--depth", "--kernel", "--batch-size", "--learning-rate",
                     helps={"--filters": "first-level channels",
                            "--depth": "levels (denoiser: down-sampling steps)"})  # fmt: skip
    parser.add_argument("--log-dose", type=float, nargs=2, default=(2.0, 5.0),
                        metavar=("LOW", "HIGH"), help="log10 dose range [e/Å²]")  # fmt: skip
    common_arguments(parser, "--dose-bins", "--workers", "--jobs", "--json")
    args = parser.parse_args(argv)
    resolve(args, DEFAULTS, QUICK)
    if args.dose_bins < 1:
        parser.error("--dose-bins must be >= 1")
    return args


# -- data -------------------------------------------------------------------------------


def denoise_parameters(args: argparse.Namespace, image_epochs: int):
    """Paper III's microscope ranges, single images, the Denoise label."""
    return example_parameters(
        "paper3_mos2_disk", label="Denoise", multifocus=None, null_class=False, num_classes=1,
        image_size=(args.size, args.size), sampling=SAMPLING, image_epochs=image_epochs,
        log_dose=tuple(args.log_dose), debug=None, seed=200 + args.seed,
    )  # fmt: skip


def load_images(lake, image_set: str, limit: int | None = None) -> dict[str, np.ndarray]:
    """Images of a set, flattened over (model, epoch), image epoch 0 of every model first:
    the network input (n, y, x, 1), the noisy image and the truth in the truth's units
    (n, y, x), and the dose [e/Å²]. ``limit``: at most this many images."""
    from hrtemlake.nn import open_image_set
    from hrtemlake.nn.data import standardise_images

    images = open_image_set(lake, image_set)
    group = images.group()
    models = images.n_models
    epochs = images.n_epochs if limit is None else min(images.n_epochs, -(-limit // models))
    raw = np.swapaxes(group["image"][:, :epochs], 0, 1)  # (epoch, model, focus, y, x)
    label = np.swapaxes(group["label"][:, :epochs], 0, 1)
    sampling, dose = (np.swapaxes(group[k][:, :epochs], 0, 1) for k in ("sampling", "dose"))
    n = epochs * models
    raw, label = raw.reshape(n, *raw.shape[2:]), label.reshape(n, *label.shape[2:])
    sampling, dose = sampling.reshape(n), dose.reshape(n)
    keep = slice(None) if limit is None else slice(0, min(limit, n))
    raw, label, sampling, dose = raw[keep], label[keep], sampling[keep], dose[keep]
    electrons = dose * sampling**2  # expected counts per pixel of vacuum
    return {
        "x": standardise_images(raw, sampling, images.normalizedistance),
        "noisy": raw[:, 0] / electrons[:, None, None],
        "truth": label[:, 0].astype(np.float64),
        "dose": dose,
    }


# -- networks ---------------------------------------------------------------------------


def train_denoise_network(lake, name: str, train_set: str, val_set: str, args):
    """The autoencoder (or a U-net / MSD-net) for the Denoise label, with
    :func:`train_network` (resumed or reused when the lake holds it). Returns the model,
    the curve rows (RMSE in the truth's units) and the truth scale (mean, std) it learnt in.
    """
    from hrtemlake.nn import TrainingOptions, load_network, network_info

    msd = args.arch == "msdnet"
    options = TrainingOptions(
        arch=args.arch, filters=args.filters, kernel=args.kernel,
        depth=None if msd else args.depth, layers=args.depth if msd else None,
        batch_size=args.batch_size, seed=args.seed, epochsave=args.epochs,
        adam={"learning_rate": args.learning_rate}, workers=args.workers,
    )  # fmt: skip
    trained = train_or_resume(lake, name, train_set, val_set, args.epochs, options, verbose=False)
    training = network_info(lake, name).training
    mean = float(np.ravel(training.get("target_mean") or [0.0])[0])
    std = float(np.ravel(training.get("target_std") or [1.0])[0])
    curve = [{"epoch": r["epoch"], "loss": r["loss"], "val_loss": r["val_loss"],
              "rmse": r["metric"] * std, "val_rmse": r["val_metric"] * std,
              "seconds": r["seconds"]} for r in trained["curve"]]  # fmt: skip
    for row in curve:
        print(f"  epoch {row['epoch']:3d}/{args.epochs}: RMSE {row['rmse']:.4f}, "
              f"val RMSE {row['val_rmse']:.4f} (truth units)  ({row['seconds']:.1f} s)",
              flush=True)  # fmt: skip
    return load_network(lake, name), curve, (mean, std), training


# -- scores -----------------------------------------------------------------------------


def gaussian(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter of every image (n, y, x) with σ [px] (reflecting edges)."""
    from scipy.ndimage import gaussian_filter

    if sigma == 0:
        return noisy
    return np.stack([gaussian_filter(image, sigma, mode="reflect") for image in noisy])


def scores(prediction: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """PSNR [dB] and SSIM of every image against its truth (data range: the truth's)."""
    from hrtemlake.nn.heads import psnr, ssim

    return {"psnr": np.array([psnr(p, t) for p, t in zip(prediction, truth)]),
            "ssim": np.array([ssim(p, t) for p, t in zip(prediction, truth)])}  # fmt: skip


def dose_bins(dose: np.ndarray, log_dose: tuple[float, float], bins: int):
    """Bin index of every image and the bin edges [e/Å²] (log-spaced over the range)."""
    edges = np.linspace(log_dose[0], log_dose[1], bins + 1)
    index = np.clip(np.digitize(np.log10(dose), edges[1:-1]), 0, bins - 1)
    return index, 10.0**edges


def choose_sigmas(data: dict, index: np.ndarray, bins: int) -> tuple[float, list, dict]:
    """σ [px] of the Gaussian baseline with the best mean PSNR on training images: one for
    all, one per dose bin (the global one for a bin without training images)."""
    psnrs = np.stack([scores(gaussian(data["noisy"], s), data["truth"])["psnr"]
                      for s in SIGMAS])  # (sigma, image)  # fmt: skip
    best = float(SIGMAS[int(np.argmax(psnrs.mean(axis=1)))])
    per_bin = [float(SIGMAS[int(np.argmax(psnrs[:, index == b].mean(axis=1)))])
               if (index == b).any() else best for b in range(bins)]  # fmt: skip
    curve = {f"{s:g}": float(v) for s, v in zip(SIGMAS, psnrs.mean(axis=1))}
    return best, per_bin, curve


def bin_rows(results: dict, index: np.ndarray, edges: np.ndarray, sigma_bin: list) -> list:
    rows = []
    for b in [*range(len(edges) - 1), None]:
        keep = np.ones(len(index), bool) if b is None else index == b
        row = {"bin": "all" if b is None else b,
               "dose_low": float(edges[0 if b is None else b]),
               "dose_high": float(edges[-1 if b is None else b + 1]),
               "n": int(keep.sum()),
               "sigma_bin": None if b is None else sigma_bin[b]}  # fmt: skip
        for what, values in results.items():
            for metric in ("psnr", "ssim"):
                row[f"{metric}_{what}"] = (float(np.mean(values[metric][keep])) if keep.any()
                                           else float("nan"))  # fmt: skip
        row["gain_db"] = row["psnr_network"] - row["psnr_noisy"]
        best_gauss = max(row["psnr_gauss"], row["psnr_gauss_bin"])
        row["gain_over_gauss_db"] = row["psnr_network"] - best_gauss
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    print("  mean PSNR [dB] / SSIM against the noise-free truth, per dose bin; gain: network -")
    print("  noisy, vs gauss: network - the better Gaussian baseline; σ/bin [px]: the per-bin")
    print("  filter width")
    head = (f"  {'dose [e/Å²]':>17} {'n':>4} | {'noisy':>6} {'gauss':>6} {'g/bin':>6} "
            f"{'σ/bin':>5} {'net':>6} | {'gain':>5} {'vs gauss':>8} | {'SSIM noisy':>10} "
            f"{'gauss':>5} {'g/bin':>5} {'net':>5}")  # fmt: skip
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in rows:
        dose = ("all" if r["bin"] == "all"
                else f"{r['dose_low']:7.0f}-{r['dose_high']:<7.0f}")  # fmt: skip
        sigma = "" if r["sigma_bin"] is None else f"{r['sigma_bin']:g}"
        print(f"  {dose:>17} {r['n']:4d} | {r['psnr_noisy']:6.2f} {r['psnr_gauss']:6.2f} "
              f"{r['psnr_gauss_bin']:6.2f} {sigma:>5} {r['psnr_network']:6.2f} | "
              f"{r['gain_db']:+5.2f} {r['gain_over_gauss_db']:+8.2f} | {r['ssim_noisy']:10.3f} "
              f"{r['ssim_gauss']:5.3f} {r['ssim_gauss_bin']:5.3f} {r['ssim_network']:5.3f}")  # fmt: skip


# -- main -------------------------------------------------------------------------------


def main(argv=None) -> dict:
    args = parse_args(argv)
    from hrtemlake.lake import Lake
    from hrtemlake.nn import trainable_parameters
    from hrtemlake.nn.evaluate import predict_images

    stages = Stages()
    location = lake_location(args.lake, "accuracy_denoise_")
    lake = Lake(location, mode="a")
    print(f"lake: {location}")
    cell = round(args.size * SAMPLING[1], 2)
    s = args.seed
    train = mos2_dataset("mos2-train", args.train_models, 1000 * s + 21, cell)
    val = mos2_dataset("mos2-val", args.val_models, 1000 * s + 22, cell)
    test = mos2_dataset("mos2-test", args.test_models, 1000 * s + 23, cell)

    with stages.stage("structures + exit waves"):
        for data in (train, val, test):
            done = simulate_dataset(lake, data, jobs=args.jobs)
            print(f"  {data.name}: {done['exit_waves']} exit waves computed, "
                  f"{data.count - done['exit_waves']} reused")  # fmt: skip
    tag = f"denoise{args.size}-ld{args.log_dose[0]:g}_{args.log_dose[1]:g}-s{s}"
    sets = {}
    with stages.stage("image epochs"):
        for data, epochs in ((train, args.image_epochs), (val, 1), (test, args.test_epochs)):
            sets[data.name] = f"{data.name}/{tag}-e{epochs}"
            simulate_image_set(lake, data.name, f"{tag}-e{epochs}",
                               denoise_parameters(args, epochs), epochs, jobs=args.jobs)  # fmt: skip
    shutdown_workers()
    train_set, val_set, test_set = sets[train.name], sets[val.name], sets[test.name]

    shape = f"f{args.filters}d{args.depth}k{args.kernel}"
    name = (f"{train_set.replace('/', '-')}-{args.arch}{'-lstd' if args.arch == 'denoiser' else ''}"
            f"-{shape}-b{args.batch_size}"
            f"-lr{args.learning_rate:g}-s{s}-ep{args.epochs}")  # fmt: skip
    with stages.stage(f"training ({args.arch}, {args.epochs} epochs)"):
        model, curve, scale, training = train_denoise_network(lake, name, train_set, val_set, args)
        print(f"  truth standardised with mean {scale[0]:.4f}, std {scale[1]:.4f}")

    with stages.stage("Gaussian baseline (σ on training images)"):
        reference = load_images(lake, train_set, limit=SIGMA_IMAGES)
        ref_index, edges = dose_bins(reference["dose"], tuple(args.log_dose), args.dose_bins)
        sigma, sigma_bin, sigma_curve = choose_sigmas(reference, ref_index, args.dose_bins)
        del reference
        print(f"  σ = {sigma:g} px for all doses; per dose bin {sigma_bin} px")

    with stages.stage("prediction + scores"):
        data = load_images(lake, test_set)
        index, edges = dose_bins(data["dose"], tuple(args.log_dose), args.dose_bins)
        output = predict_images(model, data["x"], batch_size=args.batch_size,
                                scale=training)[..., 0].astype(np.float64)  # fmt: skip
        per_bin_filtered = np.empty_like(data["noisy"])
        for b, width in enumerate(sigma_bin):
            if (index == b).any():
                per_bin_filtered[index == b] = gaussian(data["noisy"][index == b], width)
        results = {
            "noisy": scores(data["noisy"], data["truth"]),
            "gauss": scores(gaussian(data["noisy"], sigma), data["truth"]),
            "gauss_bin": scores(per_bin_filtered, data["truth"]),
            "network": scores(output, data["truth"]),
        }
    rows = bin_rows(results, index, edges, sigma_bin)
    total = rows[-1]
    low = rows[0]

    print()
    print("=" * 104)
    print("Denoising MoS2 images over a dose range (seed 004, Denoise label), CPU")
    print(f"  data     : {args.train_models} training flakes x {args.image_epochs} images, "
          f"{args.val_models} validation, {args.test_models} held-out x {args.test_epochs} "
          f"images; {args.size}x{args.size} px at {SAMPLING[0]}-{SAMPLING[1]} Å/px, 50 keV; "
          f"dose 1e{args.log_dose[0]:g}..1e{args.log_dose[1]:g} e/Å² (paper III ranges otherwise)")  # fmt: skip
    print(f"  network  : {args.arch} {shape} ({trainable_parameters(model):,} parameters), "
          f"batch {args.batch_size}, {args.epochs} epochs, seed {s}")  # fmt: skip
    print(f"  baseline : Gaussian filter, σ = {sigma:g} px for all doses (best mean PSNR on "
          f"{len(ref_index)} training images; σ tried {list(SIGMAS)})")  # fmt: skip
    print_table(rows)
    print(f"  wall time: {stages.summary()}")
    print(f"  lake     : {location}")
    print("=" * 104)
    print(f"HEADLINE denoising PSNR gain {total['gain_db']:+.2f} dB over the noisy input "
          f"({total['psnr_noisy']:.2f} -> {total['psnr_network']:.2f} dB; "
          f"{total['gain_over_gauss_db']:+.2f} dB vs the best Gaussian filter) on {total['n']} "
          f"held-out images; lowest dose bin ({low['dose_low']:.0f}-{low['dose_high']:.0f} e/Å²) "
          f"{low['gain_db']:+.2f} dB ({low['gain_over_gauss_db']:+.2f} dB vs Gaussian)")  # fmt: skip

    result = {
        "benchmark": "accuracy_denoise",
        "options": option_values(args),
        "network": name,
        "truth_scale": list(scale),
        "trainable_parameters": trainable_parameters(model),
        "sigma_px": sigma,
        "sigma_px_per_bin": sigma_bin,
        "sigma_training_psnr": sigma_curve,
        "dose_edges": edges.tolist(),
        "bins": rows,
        "curve": curve,
        "seconds": stages.seconds,
        "total_seconds": stages.total,
        "lake": location,
    }
    write_numbers(args.json, result)
    return result


if __name__ == "__main__":
    main()
