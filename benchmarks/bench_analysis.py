"""Analysis pipeline throughput, linearity and memory on large frames, against tiled inference.

Writes a synthetic particle series (bright discs with lattice fringes on a noisy support,
Poisson counts; particles drift, grow and shrink, and some appear and vanish) into a lake as
an ingested series (``experiments/<series>``, the lake's frame writer), registers a small
MSD-net (``--layers`` layers of width ``--width``, trained ``--epochs`` epoch(s) on a tiny
synthetic image set of such particles, so its weights are real), and measures, in one run:

* **throughput**: frames/s of the whole analysis (segment → instances → track → Fourier,
  the library calls of :mod:`hrtemlake.analysis.pipeline` that ``flows/analysis.py``
  chains, blocks of ``--per-block`` frames, reading from and writing to the lake) against
  the network's tiled inference alone on the same frames in memory
  (:func:`hrtemlake.analysis.tiling.tiled_predict` with the loaded model on the frames
  already standardised; :func:`~hrtemlake.analysis.pipeline.predict_frame`, which adds the
  local standardisation, is shown too). The pipeline's extra time over tiled inference is
  the overhead of everything else (target: ≤ 30 %);
* **linearity**: the pipeline's time per frame for ``10·N`` frames over that for ``N``
  frames (target: within 10 %);
* **memory**: the peak RSS (``VmHWM``) of a fresh process running the pipeline on ``N`` and
  on ``10·N`` frames (target: within 20 %).

The throughput figures come from this process, best of ``--repeats`` rounds (each round
runs inference alone, then the pipeline on a new run). The two sizes of the scaling part
run in fresh subprocesses of this script (``--child``), one after the other, each on its
own series (the N-frame series is the first N frames of the long one) and its own run.
Module imports and TensorFlow's first execution are paid before any timing (a process
start-up cost, not the pipeline's); the per-block model loading of ``segment_block`` is
timed, as it is part of the stage. Times are wall-clock and CPU (all threads of the
process); ratios are given for both, and the targets are judged on CPU time: with
``--threads 1`` (default) TensorFlow, BLAS and OpenMP run on one thread, so CPU time is the
wall time of an idle machine, and other load on a shared machine stays out of it.
``--flow`` also times ``flows/analysis.py::analysis_flow`` on the N frames (for
information; it adds Prefect and the HTML report).

    python benchmarks/bench_analysis.py --quick            # 1024², 4 vs 40 frames
    python benchmarks/bench_analysis.py [--size 4096] [--frames 20] [--scale 10]
        [--per-block 4] [--repeats 1] [--threads 1] [--lake PATH] [--keep] [--flow]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

PIXEL = 0.5  # Å/px of the series and of the network's training images (no resampling)
SPACINGS = (2.35, 2.04, 1.44)  # Å: Au(111), (200), (220) fringes
NETWORK_IMAGE = 64  # px, training images of the network
STAGES = ("segment", "instances", "track", "fourier")


def _limit_threads(threads: int) -> None:
    """One knob for TensorFlow, BLAS, OpenMP and Blosc; set before they are imported."""
    if threads > 0:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                    "NUMEXPR_NUM_THREADS", "BLOSC_NTHREADS"):  # fmt: skip
            os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _configure_tf(threads: int) -> None:
    if threads > 0:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


# -- synthetic data ----------------------------------------------------------------------


def particle_tracks(size: int, n_frames: int, seed: int, lifetime: float) -> list[list[tuple]]:
    """Particle states per frame: [(cy, cx, r, spacing, angle, id), ...] for each frame.

    About one particle per (400 px)² of frame (at least 4); each drifts ~0.6 px/frame,
    its radius (12-40 px, 0.6-2 nm) breathes slowly, and with ``lifetime`` > 0 each ends
    after an exponentially distributed number of frames (mean ``lifetime``) and a new one
    appears elsewhere, so the number of tracks grows with the frames as in a real series
    with coalescence and dissolution. The states depend only on ``seed`` and the frame
    index, so the first N frames of a longer series are the N-frame series.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    count = max(4, round((size / 400) ** 2))

    def new(t: int, pid: int) -> dict:
        return {"cy": rng.uniform(50, size - 50), "cx": rng.uniform(50, size - 50),
                "r0": rng.uniform(12, 40), "phase": rng.uniform(0, 2 * np.pi),
                "spacing": float(rng.choice(SPACINGS)) / PIXEL, "angle": rng.uniform(0, np.pi),
                "vy": rng.normal(0, 0.5), "vx": rng.normal(0, 0.5), "born": t, "id": pid,
                "end": t + (rng.exponential(lifetime) if lifetime > 0 else np.inf)}  # fmt: skip

    alive = [new(0, i) for i in range(count)]
    next_id = count
    states = []
    for t in range(n_frames):
        for i, p in enumerate(alive):
            if t >= p["end"]:
                alive[i] = new(t, next_id)
                next_id += 1
        frame = []
        for p in alive:
            age = t - p["born"]
            cy = float(np.clip(p["cy"] + p["vy"] * age, 40, size - 40))
            cx = float(np.clip(p["cx"] + p["vx"] * age, 40, size - 40))
            r = p["r0"] * (1 + 0.15 * np.sin(p["phase"] + 0.05 * age))
            frame.append((cy, cx, r, p["spacing"], p["angle"], p["id"]))
        states.append(frame)
    return states


def render_frame(size: int, particles: list, seed: int, dose: float = 50.0):
    """Poisson counts: support at ``dose``, particles 2-3× brighter with fringes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mean = np.full((size, size), dose, np.float32)
    for cy, cx, r, spacing, angle, _ in particles:
        reach = int(r) + 2
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, size)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, size)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        phase = 2 * np.pi * (xx * np.cos(angle) - yy * np.sin(angle)) / spacing
        mean[y0:y1, x0:x1] = np.where(inside, dose * (2.5 + 0.8 * np.cos(phase)),
                                      mean[y0:y1, x0:x1])  # fmt: skip
    return rng.poisson(mean).astype(np.float32)


def write_series(lake, series: str, size: int, n_frames: int, seed: int, lifetime: float,
                 batch: int = 4) -> None:  # fmt: skip
    """The synthetic series as an ingested one (as `hrtemlake ingest` stores it), frame
    batch by frame batch so that memory stays flat; reuses a complete one."""
    import numpy as np

    if lake.exists("frames", series=series):
        have = lake.group("frames", series=series)
        if have["frame"].shape == (n_frames, size, size) and (have["write_session"][:] > 0).all():
            return
        raise SystemExit(f"{lake.location}: series '{series}' exists but is not the one asked "
                         "for; use another --lake")  # fmt: skip
    states = particle_tracks(size, n_frames, seed, lifetime)
    axis = np.arange(size) * PIXEL
    writer = lake.writer("frames", series=series, coords={"y": axis, "x": axis},
                         attrs={"time_source": "index", "pixel_size": [PIXEL, PIXEL]})  # fmt: skip
    for start in range(writer.n_items, n_frames, batch):
        stop = min(start + batch, n_frames)
        frames = np.stack([render_frame(size, states[t], seed * 100003 + t)
                           for t in range(start, stop)])  # fmt: skip
        writer.append({"frame": frames, "time": np.arange(start, stop, dtype=float),
                       "source": np.array(["synthetic"] * (stop - start))})  # fmt: skip


def training_set(lake, dataset: str, n_models: int, seed: int = 0) -> str:
    """Tiny image set of such particles (``images/<dataset>/particles``) with Mask labels."""
    import numpy as np

    from hrtemlake.lake.schema import WRITE_SESSION, get_schema
    from hrtemlake.simulate import ImageParameters

    if lake.exists("images", dataset=dataset, imageset="particles"):
        return f"{dataset}/particles"
    size = NETWORK_IMAGE
    params = ImageParameters(label="Mask", image_size=(size, size), image_epochs=1,
                             sampling=(PIXEL, PIXEL), normalizedistance=6.0,
                             debug=None)  # fmt: skip
    writer = lake.writer(
        "images", dataset=dataset, imageset="particles", n_items=n_models,
        sizes={"epoch": 1, "focus": 1, "y": size, "x": size, "channel": 1, "target": 0},
        parameters={"parameter_file": params.to_dict(), "epochs": 1},
        attrs={"parameter_file": params.to_dict(), "label": "Mask", "channel_names": ["mask"]},
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    images = np.zeros((n_models, 1, 1, size, size), np.float32)
    labels = np.zeros_like(images)
    yy, xx = np.mgrid[:size, :size]
    for m in range(n_models):
        particles = [(*rng.uniform(8, size - 8, 2), rng.uniform(6, 16),
                      float(rng.choice(SPACINGS)) / PIXEL, rng.uniform(0, np.pi), 0)
                     for _ in range(rng.integers(1, 4))]  # fmt: skip
        images[m, 0, 0] = render_frame(size, particles, seed * 7919 + m)
        for cy, cx, r, *_ in particles:
            labels[m, 0, 0] = np.maximum(labels[m, 0, 0], (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)
    values = {"image": images, "label": labels}
    for var in get_schema().group("images").item_variables():
        if var.name not in values and var.name != WRITE_SESSION and not var.optional:
            shape = (n_models, 1, 1)[: len(var.dims)]
            values[var.name] = np.full(shape, PIXEL if var.name == "sampling" else 0.0)
    writer.write(0, values)
    return f"{dataset}/particles"


def register_network(lake, name: str, layers: int, width: int, epochs: int) -> None:
    """A small MSD-net trained for ``epochs`` on :func:`training_set` (reused if there).

    512 images of 64² and a learning rate of 1e-2: one epoch (128 steps, ~20 s) then
    finds the particles (p > 0.9 on most particle pixels, < 1e-3 of the support), so the
    instance, tracking and Fourier stages get real work."""
    from hrtemlake.nn import TrainingOptions, train_network

    if lake.exists("networks", network=name):
        return
    images = training_set(lake, "bench-particles-512", n_models=512)
    options = TrainingOptions(arch="msdnet", filters=width, layers=layers, kernel=3,
                              batch_size=4, seed=0, adam={"learning_rate": 1e-2})  # fmt: skip
    train_network(lake, name, images, images, epochs=epochs, options=options)


# -- timing ------------------------------------------------------------------------------


class Clock:
    """Wall and CPU seconds of named sections."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu


def run_pipeline(lake, run: str, series: str, network: str, per_block: int, clock: Clock,
                 settings=None) -> int:  # fmt: skip
    """segment → instances → track → fourier on the lake; returns the number of tracks."""
    from hrtemlake.analysis import pipeline as ap

    settings = settings or ap.SegmentationSettings()
    with clock("segment"):
        writer = ap.start_segmentation(lake, run, series, [network], settings)
        for block in ap.missing_blocks(writer, per_block):
            ap.segment_block(writer, run, block)
    with clock("instances"):
        writer = ap.start_instances(lake, run)
        for block in ap.missing_blocks(writer, per_block):
            ap.instance_block(writer, run, block)
    with clock("track"):
        tracks = int(ap.track_run(lake, run).sizes["track"])
    with clock("fourier"):
        if tracks:
            writer = ap.start_fourier(lake, run)
            for block in ap.missing_blocks(writer, per_block):
                ap.fourier_block(writer, run, block)
    return tracks


def run_inference(lake, series: str, network: str, clock: Clock, settings=None) -> None:
    """The network alone on every frame, one frame in memory at a time (reading untimed):
    ``tiled_predict`` on the frame standardised beforehand (untimed), and ``predict_frame``
    (standardisation included)."""
    import numpy as np

    from hrtemlake.analysis import pipeline as ap
    from hrtemlake.analysis.tiling import tiled_predict
    from hrtemlake.nn import load_network, network_info
    from hrtemlake.preprocess import local_standardise

    settings = settings or ap.SegmentationSettings()
    model, info = load_network(lake, network), network_info(lake, network)
    frames = lake.group("frames", series=series)["frame"]
    target = ap.network_pixel_size(info)
    assert abs(target - PIXEL) < 1e-9, "the series must not need resampling"
    distance = float(info.parameter_file.get("normalizedistance", 12.0))
    window = min(settings.window, ap._fit_window(model, max(frames.shape[1:])))
    predict = lambda x: np.asarray(model.predict_on_batch(x))  # noqa: E731
    ap.predict_frame(model, info, frames[0], PIXEL, settings)  # warm-up (tracing)
    for t in range(frames.shape[0]):
        frame = frames[t]
        image = local_standardise(frame, distance / target)
        with clock("tiled_predict"):
            tiled_predict(image, predict, window=window, overlap=settings.overlap,
                          batch_size=settings.batch_size, margin=settings.margin)  # fmt: skip
        with clock("predict_frame"):
            ap.predict_frame(model, info, frame, PIXEL, settings)


def warm_up(lake, network: str) -> None:
    """What any process pays once and no stage should be charged for: the imports of the
    stages' modules and TensorFlow's first execution (untimed)."""
    import numpy as np

    import hrtemlake.analysis.fourier  # noqa: F401
    import hrtemlake.analysis.instances  # noqa: F401
    import hrtemlake.analysis.tiling  # noqa: F401
    import hrtemlake.analysis.tracking  # noqa: F401
    import skimage.transform  # noqa: F401
    from hrtemlake.nn import load_network

    load_network(lake, network).predict_on_batch(np.zeros((1, 64, 64, 1), np.float32))


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM) [MiB]."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- main --------------------------------------------------------------------------------


def child(args) -> None:
    """One pipeline run in this fresh process; prints its figures as JSON."""
    from hrtemlake.lake import Lake

    _configure_tf(args.threads)
    lake = Lake(args.lake, mode="a")
    warm_up(lake, args.network)
    clock = Clock()
    tracks = run_pipeline(lake, args.run, args.series, args.network, args.per_block, clock)
    print("RESULT " + json.dumps({"wall": clock.wall, "cpu": clock.cpu, "tracks": tracks,
                                  "rss_mib": peak_rss_mib()}))  # fmt: skip


def spawn_child(args, series: str, run: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child", "--lake", args.lake,
               "--series", series, "--run", run, "--network", args.network,
               "--per-block", str(args.per_block), "--threads", str(args.threads)]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr[-5000:])
        raise SystemExit(f"child for {series} failed (exit {done.returncode})")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    result["process_wall"] = time.perf_counter() - start
    return result


def _fmt_stages(result: dict, n: int, key: str) -> str:
    return "  ".join(f"{s} {1e3 * result[key][s] / n:7.0f}" for s in STAGES)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=4096, help="frame side [px]")
    parser.add_argument("--frames", type=int, default=20, help="N (frames of the small run)")
    parser.add_argument("--scale", type=int, default=10, help="the large run has scale·N frames")
    parser.add_argument("--quick", action="store_true", help="1024² frames, 4 vs 40 frames")
    parser.add_argument("--per-block", type=int, default=4, help="frames per block (task)")
    parser.add_argument("--layers", type=int, default=4, help="MSD-net layers")
    parser.add_argument("--width", type=int, default=2, help="MSD-net channels per layer")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs of the network")
    parser.add_argument("--lifetime", type=float, default=100.0,
                        help="mean particle lifetime [frames]; 0: particles never end")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="0: libraries' defaults")
    parser.add_argument("--lake", default=None, help="lake to use (default: a temporary one)")
    parser.add_argument("--dir", default=None, help="where the temporary lake goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary lake")
    parser.add_argument("--no-scaling", action="store_true", help="skip N vs scale·N")
    parser.add_argument("--flow", action="store_true",
                        help="also time analysis_flow (Prefect) on the N frames")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--series", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--network", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.size, args.frames = 1024, 4
    _limit_threads(args.threads)
    if args.child:
        return child(args)
    args.network = args.network or f"bench-msd{args.layers}x{args.width}e{args.epochs}"

    temporary = args.lake is None
    if temporary:
        folder = Path(tempfile.mkdtemp(dir=args.dir, prefix="bench_analysis_"))
        args.lake = str(folder / "lake.zarr")
    try:
        measure(args)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(Path(args.lake).parent, ignore_errors=True)
        elif temporary:
            print(f"lake kept at {args.lake}")


def measure(args) -> None:
    from hrtemlake.lake import Lake

    _configure_tf(args.threads)
    n, big = args.frames, args.frames * args.scale
    lake = Lake(args.lake, mode="a")
    tag = f"s{args.size}-seed{args.seed}-life{args.lifetime:g}"
    small, large = f"bench-{tag}-n{n}", f"bench-{tag}-n{big}"
    t0 = time.perf_counter()
    register_network(lake, args.network, args.layers, args.width, args.epochs)
    t1 = time.perf_counter()
    write_series(lake, small, args.size, n, args.seed, args.lifetime)
    t2 = time.perf_counter()
    warm_up(lake, args.network)
    print(f"{args.size}x{args.size} frames at {PIXEL} Å/px; network '{args.network}' "
          f"(MSD-net, {args.layers} layers x {args.width}, {args.epochs} epoch(s); "
          f"trained in {t1 - t0:.0f} s); {n} frames written in {t2 - t1:.0f} s; "
          f"blocks of {args.per_block} frames; threads: {args.threads or 'default'}")  # fmt: skip

    # -- throughput: pipeline vs tiled inference, in this process
    best: dict[str, dict[str, float]] = {"wall": {}, "cpu": {}}
    tracks = 0
    for r in range(args.repeats):
        clock = Clock()
        run_inference(lake, small, args.network, clock)
        tracks = run_pipeline(Lake(args.lake, mode="a"), f"bench-r{r}-{os.getpid()}", small,
                              args.network, args.per_block, clock)  # fmt: skip
        for key in ("wall", "cpu"):
            for name, value in getattr(clock, key).items():
                best[key][name] = min(best[key].get(name, float("inf")), value)
    ok = True
    print(f"\nthroughput, {n} frames ({tracks} tracks), best of {args.repeats}:")
    print(f"{'':34s}{'wall s':>9s}{'frames/s':>10s}{'cpu s':>9s}{'frames/s':>10s}")
    for key in ("wall", "cpu"):
        best[key]["pipeline"] = sum(best[key][s] for s in STAGES)
    rows = [("tiled_predict (network alone)", "tiled_predict"),
            ("predict_frame (+ standardise)", "predict_frame"),
            *((f"  stage {s}", s) for s in STAGES),
            ("pipeline (all four stages)", "pipeline")]  # fmt: skip
    for label, name in rows:
        w, c = best["wall"][name], best["cpu"][name]
        print(f"{label:34s}{w:9.2f}{n / w:10.3f}{c:9.2f}{n / c:10.3f}")
    for base, what in (("tiled_predict", "tiled inference"), ("predict_frame", "predict_frame")):
        over = {k: 100 * (best[k]["pipeline"] / best[k][base] - 1) for k in ("wall", "cpu")}
        target = "  (target <= +30 %, cpu)" if base == "tiled_predict" else ""
        print(f"pipeline time over {what:16s}: {over['cpu']:+6.1f} % cpu, "
              f"{over['wall']:+6.1f} % wall{target}")  # fmt: skip
    ok &= best["cpu"]["pipeline"] / best["cpu"]["tiled_predict"] - 1 <= 0.30

    if args.flow:
        flow_time(args, lake, small)

    if args.no_scaling:
        print("all targets met" if ok else "some targets missed")
        return
    # -- linearity and memory: fresh processes
    t3 = time.perf_counter()
    write_series(lake, large, args.size, big, args.seed, args.lifetime)
    print(f"\n{big} frames written in {time.perf_counter() - t3:.0f} s")
    results = {}
    for frames, series in ((n, small), (big, large)):
        results[frames] = spawn_child(args, series, f"scale-{frames}-{os.getpid()}")
        res = results[frames]
        res["total_wall"] = sum(res["wall"][s] for s in STAGES)
        res["total_cpu"] = sum(res["cpu"][s] for s in STAGES)
        print(f"{frames:5d} frames ({res['tracks']} tracks): {frames / res['total_wall']:.3f} "
              f"frames/s wall, {frames / res['total_cpu']:.3f} cpu; peak RSS "
              f"{res['rss_mib']:.0f} MiB; process {res['process_wall']:.0f} s")  # fmt: skip
        print(f"      ms/frame wall: {_fmt_stages(res, frames, 'wall')}")
        print(f"      ms/frame cpu:  {_fmt_stages(res, frames, 'cpu')}")
    a, b = results[n], results[big]
    for key in ("wall", "cpu"):
        ratio = (b[f"total_{key}"] / big) / (a[f"total_{key}"] / n)
        target = "  (target 0.90-1.10, cpu)" if key == "cpu" else ""
        print(f"linearity: time/frame at {big} over at {n} frames ({key:4s}) = {ratio:.3f}"
              f"{target}")  # fmt: skip
        if key == "cpu":
            ok &= 0.9 <= ratio <= 1.1
    ratio = b["rss_mib"] / a["rss_mib"]
    ok &= 1 / 1.2 <= ratio <= 1.2
    print(f"memory: peak RSS at {big} over at {n} frames = {ratio:.3f}  (target <= 1.20)")
    print("all targets met" if ok else "some targets missed")


def flow_time(args, lake, series: str) -> None:
    """``analysis_flow`` (Prefect, its default task runner) on the N frames, for information;
    its HTML report goes beside the lake."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from flows.analysis import analysis_flow
    from hrtemlake.runtime import prefect_api

    run = f"bench-flow-{os.getpid()}"
    with prefect_api():
        start, cpu = time.perf_counter(), time.process_time()
        report = str(Path(args.lake).parent / f"{run}.html")
        analysis_flow(series, [args.network], run, frames_per_task=args.per_block,
                      lake=args.lake, report=report)  # fmt: skip
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"analysis_flow (Prefect, with its HTML report): {wall:.1f} s wall, "
          f"{args.frames / wall:.3f} frames/s; {cpu:.1f} s cpu in this process (not the "
          f"Prefect server's), {args.frames / cpu:.3f} frames/s")  # fmt: skip


if __name__ == "__main__":
    main()
