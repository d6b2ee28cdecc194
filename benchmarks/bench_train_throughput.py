"""Training throughput: ``train_network`` streaming from the lake vs ``model.fit`` in memory.

Builds (or reuses, with ``--lake``) a small image set: ``--models`` MoS2 flakes (2H, 50 keV
exit waves at 0.1 Å in a cell of ``--size`` × 0.11 Å) imaged with paper III's parameter
file (Disk labels Mo/2S/1S + background, 3-image focal series) at ``--size``² pixels and
``--image-epochs`` image epochs, plus a validation set of ``--batch-size`` flakes (one
image epoch, one batch). Then, in the same process and interleaved epoch by epoch so that
both paths see the same machine (other load on a shared one hits both alike):

* **lake**: :func:`hrtemlake.nn.train_network` on the stored sets: every epoch reads its
  image epoch from the lake (:class:`~hrtemlake.nn.LakeBatches`: Zarr reads, local
  standardisation and augmentation in ``--workers`` threads while the network trains),
  then validates; the time is the learning curve's ``seconds`` of the epoch.
* **in memory**: the same network (same options and seed, compiled the same way) with
  ``model.fit`` on numpy arrays loaded and standardised once before timing: one
  ``fit`` call per epoch over the same image epoch (same batch size, same number of
  steps), with the same validation batch as in-memory arrays. It runs inside
  ``train_network``'s progress callback, outside the lake epoch's timed ``fit``.

Epoch 1 of both is the warm-up (graph tracing) and is excluded; each path's figure is
its median epoch time over epochs 2..N (also shown: the best epoch, and the process CPU
time per epoch, all threads, which other load on the machine barely changes). An "image" is one focal series (3 × size²
pixels in, 4 label channels out). The in-memory path does no augmentation (the data are
fixed arrays); ``--no-augment`` makes the lake path skip it too, so that only reading
and standardising remain.

    python benchmarks/bench_train_throughput.py [--size 256] [--models 64] [--epochs 6]
        [--arch msdnet] [--layers 10] [--batch-size 8] [--workers 2] [--lake PATH]

Target: lake images/s ÷ in-memory images/s ≥ 0.8.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _training_data import (  # noqa: E402
    Stages,
    benchmark_parser,
    common_arguments,
    lake_location,
    mos2_dataset,
    mos2_parameters,
    simulate_dataset,
    shutdown_workers,
    simulate_image_set,
)

#: Paper III's pixel size range [Å]; the flake cell is size × 0.11 Å so images are cropped.
SAMPLING = (0.10, 0.11)


def build_data(lake, args, stages: Stages) -> tuple[str, str]:
    """The training and validation image sets (``DATASET/IMAGESET``), made if missing."""
    cell = round(args.size * SAMPLING[1], 2)
    train = mos2_dataset("bench-train", args.models, args.seed, cell)
    val = mos2_dataset("bench-val", args.batch_size, args.seed + 1, cell)
    params = mos2_parameters(args.size, SAMPLING, args.image_epochs)
    with stages.stage("exit waves"):
        for data in (train, val):
            done = simulate_dataset(lake, data, jobs=args.jobs)
            print(f"  {data.name}: {done['exit_waves']} exit waves computed "
                  f"({data.count - done['exit_waves']} reused)")  # fmt: skip
    imageset = f"disk{args.size}-e{args.image_epochs}"
    with stages.stage("image epochs"):
        simulate_image_set(lake, train.name, imageset, params, args.image_epochs, jobs=args.jobs)
        simulate_image_set(lake, val.name, "disk-val", params.replace(image_epochs=1), 1,
                           jobs=args.jobs)  # fmt: skip
    shutdown_workers()
    return f"{train.name}/{imageset}", f"{val.name}/disk-val"


def in_memory(lake, name: str, epochs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All image epochs of an image set, standardised as LakeBatches does:
    input (epoch, model, y, x, focus), label (epoch, model, y, x, channel)."""
    from hrtemlake.nn.data import open_image_set, standardise_images

    images = open_image_set(lake, name)
    group = images.group()
    image, label, sampling = group["image"][:], group["label"][:], group["sampling"][:]
    n = images.n_epochs if epochs is None else epochs
    x = np.stack([standardise_images(image[:, e], sampling[:, e], images.normalizedistance)
                  for e in range(n)])  # fmt: skip
    y = np.stack([np.moveaxis(label[:, e], 1, -1).astype(np.float32) for e in range(n)])
    return x, y


def memory_model(lake, train: str, options):
    """The network ``train_network`` builds for these options, compiled the same way."""
    from hrtemlake.nn import open_image_set
    from hrtemlake.nn.architectures import build_network
    from hrtemlake.nn.losses import objective

    images = open_image_set(lake, train)
    goal = objective(images.label, len(images.channel_names),
                     bool(images.parameter_file.get("null_class")))  # fmt: skip
    model = build_network(options.arch, images.n_focus, len(images.channel_names), goal.activation,
                          filters=options.filters, kernel=options.kernel, layers=options.layers,
                          depth=options.depth, seed=options.seed, name="in-memory")  # fmt: skip
    model.compile(optimizer=options.optimizer(), loss=goal.loss, metrics=[goal.metric()])
    return model


def main() -> None:
    parser = benchmark_parser(__doc__)
    common_arguments(parser, "--lake")
    parser.add_argument("--size", type=int, default=256, help="image side [pixels]")
    parser.add_argument("--models", type=int, default=64, help="training models (flakes)")
    parser.add_argument("--image-epochs", type=int, default=2, help="stored image epochs")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs (1st = warm-up)")
    parser.add_argument("--arch", default="msdnet", choices=("msdnet", "unet", "unetpp"))
    parser.add_argument("--layers", type=int, default=10, help="MSD-net layers")
    parser.add_argument("--filters", type=int, default=None, help="default: the arch's")
    parser.add_argument("--depth", type=int, default=None, help="U-net levels")
    parser.add_argument("--batch-size", type=int, default=8)
    common_arguments(parser, "--workers")
    parser.add_argument("--no-augment", action="store_true",
                        help="no augmentation in the lake path either")  # fmt: skip
    common_arguments(parser, "--jobs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first one is the warm-up)")

    import keras

    from hrtemlake.lake import Lake
    from hrtemlake.nn import TrainingOptions, train_network
    from hrtemlake.nn.augment import Augmentation

    stages = Stages()
    location = lake_location(args.lake, "bench_train_throughput_")
    lake = Lake(location, mode="a")
    print(f"lake: {location}")
    train, val = build_data(lake, args, stages)

    with stages.stage("load + standardise in memory (untimed baseline set-up)"):
        x, y = in_memory(lake, train)
        xv, yv = in_memory(lake, val)
        xv, yv = xv[0], yv[0]
    augmentation = Augmentation.none() if args.no_augment else Augmentation()
    options = TrainingOptions(arch=args.arch, layers=args.layers if args.arch == "msdnet" else None,
                              filters=args.filters, depth=args.depth, batch_size=args.batch_size,
                              workers=args.workers, seed=args.seed, epochsave=10**6,
                              augmentation=augmentation.to_dict())  # fmt: skip
    keras.utils.set_random_seed(args.seed)
    baseline = memory_model(lake, train, options)
    memory_seconds: list[float] = []
    cpu = {"lake": [], "memory": []}  # process CPU seconds (all threads) per epoch
    mark = [time.process_time()]

    def memory_epoch(row: dict) -> None:
        """One in-memory epoch right after each lake epoch (outside its timed fit)."""
        cpu["lake"].append(time.process_time() - mark[0])
        epoch = int(row["epoch"]) - 1
        e = epoch % x.shape[0]
        start, start_cpu = time.perf_counter(), time.process_time()
        baseline.fit(x[e], y[e], batch_size=args.batch_size, epochs=epoch + 1,
                     initial_epoch=epoch, validation_data=(xv, yv), shuffle=True,
                     verbose=0)  # fmt: skip
        memory_seconds.append(time.perf_counter() - start)
        cpu["memory"].append(time.process_time() - start_cpu)
        print(f"  epoch {epoch + 1}/{args.epochs}: lake {row['seconds']:.2f} s, "
              f"in memory {memory_seconds[-1]:.2f} s (CPU {cpu['lake'][-1]:.1f} s, "
              f"{cpu['memory'][-1]:.1f} s)", flush=True)  # fmt: skip
        mark[0] = time.process_time()

    name = f"bench-throughput-{args.arch}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    with stages.stage(f"training, interleaved ({args.epochs} epochs each)"):
        mark[0] = time.process_time()
        result = train_network(lake, name, train, val, args.epochs, options, progress=memory_epoch)
    lake_seconds = [row["seconds"] for row in result.curve]

    n_train, steps = x.shape[1], math.ceil(x.shape[1] / args.batch_size)
    timed = {"lake": np.array(lake_seconds[1:]), "memory": np.array(memory_seconds[1:])}
    t_lake, t_memory = float(np.median(timed["lake"])), float(np.median(timed["memory"]))
    ratio = t_memory / t_lake  # = lake images/s / in-memory images/s
    best = float(timed["memory"].min() / timed["lake"].min())
    cpu_lake, cpu_memory = float(np.median(cpu["lake"][1:])), float(np.median(cpu["memory"][1:]))
    arch = asdict(options)
    arch = {k: arch[k] for k in ("arch", "layers", "filters", "depth") if arch[k] is not None}
    print()
    print(f"network {arch}, {result.model.count_params()} parameters; batch {args.batch_size}, "
          f"{steps} steps/epoch over {n_train} focal series of 3x{args.size}x{args.size} "
          f"(+ {xv.shape[0]} validation), {args.workers} LakeBatches worker(s), augmentation "
          f"{'off' if args.no_augment else 'on (lake path)'}")  # fmt: skip
    print(f"epochs 2..{args.epochs} (epoch 1 = warm-up, excluded); images/s from the median "
          f"epoch time")  # fmt: skip
    print(f"{'':26s}{'images/s':>10s}{'median s':>10s}{'best s':>10s}{'CPU s':>10s}")
    for label, key, cpu_s in (("  lake (train_network)", "lake", cpu_lake),
                              ("  in memory (model.fit)", "memory", cpu_memory)):  # fmt: skip
        t = float(np.median(timed[key]))
        print(f"{label:26s}{n_train / t:10.2f}{t:10.2f}{timed[key].min():10.2f}{cpu_s:10.1f}")
    print(f"  throughput lake/in-memory = {ratio:.2f}  (target >= 0.8)  "
          f"{'met' if ratio >= 0.8 else 'missed'}")  # fmt: skip
    print(f"  same from the best epochs = {best:.2f}; CPU time in-memory/lake = "
          f"{cpu_memory / cpu_lake:.2f} (process CPU per epoch, all threads)")  # fmt: skip
    print(f"  all epochs [s]: lake {[round(s, 2) for s in lake_seconds]}, "
          f"in memory {[round(s, 2) for s in memory_seconds]}")  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  1-min load average at the end: {load:.1f} on {os.cpu_count()} CPUs "
          f"(other processes slow both paths alike, but add noise)")  # fmt: skip
    print(f"total wall time {stages.total:.0f} s; lake kept at {location}")

if __name__ == "__main__":
    main()
