"""Shared data building for the training benchmarks (throughput and accuracy).

Everything goes through the library's resumable writers, so a benchmark rerun on the same
lake (``--lake``) reuses what is there and computes only what is missing:

* :func:`simulate_dataset`: atomic models and their sites
  (:func:`~hrtemlake.simulate.dataset.simulate_structures`), then the missing exit waves
  (:func:`~hrtemlake.simulate.dataset.compute_exitwave_block`);
* :func:`simulate_image_set`: the missing image epochs of an image set
  (:func:`~hrtemlake.simulate.images.compute_image_block`).

Both spread their blocks over ``jobs`` processes (spawned, not forked, so that a parent
that has already imported TensorFlow stays safe; one pool serves every stage until
:func:`shutdown_workers`); blocks are chunk-aligned, so the workers write disjoint chunks,
exactly as the Dask flows do.

The command line of the benchmarks is shared too: :func:`benchmark_parser` and
:func:`common_arguments` add the options they have in common (:data:`SHARED_OPTIONS`),
:func:`resolve` fills the ones left unset from a benchmark's ``DEFAULTS`` or ``QUICK``, and
:func:`describe_network`, :meth:`Stages.summary` and :func:`write_numbers` word and write
their results alike.

Dataset and image-set names carry the numbers that define them (model count, seed, image
size, image epochs): the writers refuse to reopen a group with other parameters, and a
dataset built with more models would otherwise silently hold more than asked for.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from hrtemlake.lake import Lake
from hrtemlake.simulate.dataset import (
    compute_exitwave_block,
    exitwave_writer,
    missing_exitwave_blocks,
    simulate_structures,
)
from hrtemlake.simulate.exitwaves import ExitWaveSettings
from hrtemlake.simulate.images import (
    compute_image_block,
    image_writer,
    missing_image_blocks,
)
from hrtemlake.simulate.params import ImageParameters, load_parameters

__all__ = [
    "Dataset",
    "FLAKE_HELP",
    "SHARED_OPTIONS",
    "Stages",
    "benchmark_parser",
    "common_arguments",
    "describe_network",
    "example_parameters",
    "lake_location",
    "msd_own_width",
    "option_values",
    "resolve",
    "write_numbers",
    "mos2_dataset",
    "mos2_parameters",
    "au_ceo2_dataset",
    "au_ceo2_parameters",
    "simulate_dataset",
    "simulate_image_set",
    "shutdown_workers",
    "train_or_resume",
]


# -- what is simulated ------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """One simulated dataset: ``count`` models of ``kind`` and their exit waves."""

    name: str
    kind: str
    count: int
    seed: int
    options: dict
    waves: ExitWaveSettings


def example_parameters(stem: str, **changes: Any) -> ImageParameters:
    """A parameter file of ``hrtemlake/simulate/examples`` with ``changes`` applied."""
    example = resources.files("hrtemlake.simulate").joinpath(f"examples/{stem}.yaml")
    with resources.as_file(example) as path:
        params = load_parameters(path)
    return params.replace(**changes)


#: Exit-wave pixel size of the MoS2 flakes [Å] (50 keV, as the thesis' Listing 3.5).
MOS2_WAVE_SAMPLING = 0.1


def mos2_dataset(prefix: str, count: int, seed: int, cell: float) -> Dataset:
    """MoS2 flakes (2H, paper III defaults) in a ``cell`` × ``cell`` Å cell, 50 keV waves."""
    return Dataset(
        name=f"{prefix}-n{count}-s{seed}-c{cell:g}", kind="mx2", count=count, seed=seed,
        options={"size": [float(cell), float(cell)]},
        waves=ExitWaveSettings(energy=50e3, sampling=MOS2_WAVE_SAMPLING, slice_thickness=0.5),
    )  # fmt: skip


def mos2_parameters(size: int, sampling: tuple[float, float], image_epochs: int,
                    spotsize: Optional[float] = None) -> ImageParameters:  # fmt: skip
    """Paper III's file (Disk labels Mo/2S/1S + background, 3-image focal series) with a
    smaller image, another pixel size (so that the flake's cell fills the image) and,
    optionally, another disc diameter."""
    changes: dict[str, Any] = {"image_size": (size, size), "sampling": tuple(sampling),
                               "image_epochs": image_epochs, "debug": None}  # fmt: skip
    if spotsize is not None:
        changes["spotsize"] = spotsize
    return example_parameters("paper3_mos2_disk", **changes)


def au_ceo2_dataset(prefix: str, count: int, seed: int, cell: float, height: float,
                    layers: tuple[int, int]) -> Dataset:  # fmt: skip
    """Au particles on CeO2 (supported nanoparticles) in a ``cell`` × ``cell`` × ``height``
    Å cell, 300 keV exit waves at 0.1 Å."""
    return Dataset(
        name=f"{prefix}-n{count}-s{seed}-c{cell:g}-l{layers[0]}-{layers[1]}", kind="nanoparticle",
        count=count, seed=seed,
        options={"element": "Au", "cell": [float(cell), float(cell), float(height)],
                 "layers": [int(layers[0]), int(layers[1])]},
        waves=ExitWaveSettings(energy=300e3, sampling=0.1, slice_thickness=0.5),
    )  # fmt: skip


def au_ceo2_parameters(size: int, sampling: tuple[float, float],
                       image_epochs: int) -> ImageParameters:  # fmt: skip
    """Paper II's file (Mask label of the particle, single images) with a smaller image and
    another pixel size (so that the cell fills the image)."""
    return example_parameters("paper2_au_ceo2_mask", image_size=(size, size),
                              sampling=tuple(sampling), image_epochs=image_epochs,
                              debug=None)  # fmt: skip


# -- running the writers ----------------------------------------------------------------


#: Below this many models the work runs in this process: starting spawned workers (each
#: imports abTEM and the library, seconds) costs more than it saves.
MIN_PARALLEL_MODELS = 24

_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(jobs: int) -> ProcessPoolExecutor:
    """One pool of ``jobs`` spawned workers per process, reused by every stage."""
    if jobs not in _POOLS:
        _POOLS[jobs] = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    return _POOLS[jobs]


def shutdown_workers() -> None:
    """Stop the simulation workers (before training, so that they hold no memory)."""
    while _POOLS:
        _POOLS.popitem()[1].shutdown()


def _run_blocks(function, blocks: list[range], args: tuple, jobs: int) -> int:
    """``function(writer, dataset, block, *rest)`` for every block, on ``jobs`` processes."""
    writer, dataset, *rest = args
    if jobs <= 1 or sum(len(block) for block in blocks) < MIN_PARALLEL_MODELS:
        return sum(function(writer, dataset, block, *rest) for block in blocks)
    pool = _pool(jobs)
    futures = [pool.submit(function, writer, dataset, block, *rest) for block in blocks]
    return sum(future.result() for future in futures)


def _per_block(missing: int, jobs: int) -> int:
    """Models per block: about 4 blocks per worker, so that the workers finish together."""
    return max(1, -(-missing // (4 * jobs)))


def simulate_dataset(lake: Lake, data: Dataset, jobs: int = 1) -> dict[str, int]:
    """Build the missing models of ``data`` and their missing exit waves.

    Returns the numbers built and computed by this call (0, 0 when all was there).
    """
    built = simulate_structures(lake, data.name, data.kind, data.count, data.seed, data.options)
    writer = exitwave_writer(lake, data.name, data.waves)
    blocks = missing_exitwave_blocks(writer, per_block=_per_block(len(writer.missing()), jobs))
    waves = _run_blocks(compute_exitwave_block, blocks, (writer, data.name, data.waves, data.seed),
                        jobs)  # fmt: skip
    return {"models": built, "exit_waves": waves}


def simulate_image_set(lake: Lake, dataset: str, imageset: str, params: ImageParameters,
                       epochs: int, jobs: int = 1) -> int:  # fmt: skip
    """Make the missing image epochs of ``dataset/imageset``; returns the models made."""
    writer = image_writer(lake, dataset, imageset, params, epochs)
    missing = len(writer.missing())
    blocks = missing_image_blocks(writer, dataset, per_block=_per_block(missing, jobs))
    return _run_blocks(compute_image_block, blocks, (writer, dataset, params, epochs), jobs)


# -- training ----------------------------------------------------------------------------


def train_or_resume(lake: Lake, name: str, train: str, validation: str, epochs: int, options,
                    verbose: bool = True, metric: str = "F1") -> dict[str, Any]:  # fmt: skip
    """Train network ``name`` up to ``epochs`` epochs, resuming an interrupted run.

    A network of that name with a checkpoint at ``epochs`` (or later) is reused as it is;
    one with an earlier checkpoint continues from it (``restart``); a new one is trained
    from scratch. ``metric`` names the training metric in the progress lines (F1 for
    segmentation, RMSE for image regression). Returns ``{"epochs_run": ...,
    "curve": [rows of this call]}``.
    """
    from hrtemlake.nn import train_network
    from hrtemlake.nn.registry import checkpoint_epochs

    saved = checkpoint_epochs(lake, name)
    if len(saved) and int(saved[-1]) >= epochs:
        print(f"  network '{name}' already trained {int(saved[-1])} epochs: reused")
        return {"epochs_run": 0, "curve": []}
    restart = int(saved[-1]) if len(saved) else None
    if restart is None and lake.exists("networks", network=name):
        raise SystemExit(f"network '{name}' exists in {lake.location} without a checkpoint to "
                         "continue from; use another --lake or --seed")  # fmt: skip
    if restart is not None:
        print(f"  network '{name}': continuing from its checkpoint after epoch {restart}")

    def show(row: dict) -> None:
        if verbose:
            print(f"  epoch {row['epoch']:3d}/{row['epochs']}: loss {row['loss']:.4f} "
                  f"val_loss {row['val_loss']:.4f}  {metric} {row['metric']:.3f} "
                  f"val_{metric} {row['val_metric']:.3f}  ({row['seconds']:.1f} s)", flush=True)  # fmt: skip

    result = train_network(lake, name, train, validation, epochs, options, restart=restart,
                           progress=show)  # fmt: skip
    return {"epochs_run": len(result.curve), "curve": result.curve}


# -- command line ------------------------------------------------------------------------

#: The options the training benchmarks share: ``add_argument`` keywords by flag. The data
#: and network options have no default: they stay None until :func:`resolve` fills them
#: from the benchmark's DEFAULTS or QUICK, so that ``--quick`` changes only what is unset.
SHARED_OPTIONS: dict[str, dict[str, Any]] = {
    "--lake": {"default": None, "help": "lake to build in / reuse (default: new temp)"},
    "--quick": {"action": "store_true", "help": "smoke test: tiny and fast"},
    "--seed": {"type": int, "default": 0, "help": "seed of data and network"},
    "--train-models": {"type": int},
    "--val-models": {"type": int},
    "--test-models": {"type": int},
    "--test-epochs": {"type": int, "help": "image epochs per test model"},
    "--epochs": {"type": int, "help": "training epochs"},
    "--image-epochs": {"type": int, "help": "stored image epochs per training model"},
    "--arch": {"choices": ("unet", "unetpp", "msdnet")},
    "--filters": {"type": int, "help": "U-net: first-level channels"},
    "--depth": {"type": int, "help": "U-net levels"},
    "--kernel": {"type": int, "help": "convolution kernel side [px]"},
    "--batch-size": {"type": int},
    "--learning-rate": {"type": float, "default": 1e-3, "help": "Adam (AMSGrad)"},
    "--dose-bins": {"type": int, "default": 4, "help": "log-spaced dose bins"},
    "--mixed-precision": {"action": "store_true", "help": "bfloat16 compute on CPU"},
    "--workers": {"type": int, "default": 2, "help": "LakeBatches threads"},
    "--jobs": {"type": int, "default": 2, "help": "processes for the simulation"},
    "--json": {"default": None, "metavar": "PATH", "help": "write the numbers here"},
}

#: Help texts of the benchmarks on MoS2 flakes imaged one at a time (no focal series).
FLAKE_HELP = {
    "--train-models": "training flakes",
    "--val-models": "validation flakes (1 image each)",
    "--test-models": "held-out flakes",
    "--test-epochs": "images per held-out flake",
    "--image-epochs": "stored images per training flake",
}


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` starts with the benchmark's docstring ``doc``, as written.

    Parameters
    ----------
    doc : str
        The module docstring (its line breaks and indented command lines are kept).

    Returns
    -------
    argparse.ArgumentParser
    """
    return argparse.ArgumentParser(description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip


def common_arguments(parser: argparse.ArgumentParser, *flags: str,
                     helps: Optional[Mapping[str, str]] = None) -> None:  # fmt: skip
    """Add the shared options ``flags`` (keys of :data:`SHARED_OPTIONS`) to ``parser``.

    They are added in the order given, so that a benchmark interleaves them with its own
    options and its ``--help`` lists them where it always has.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The benchmark's parser.
    *flags : str
        The shared options to add, e.g. ``"--lake", "--quick", "--seed"``.
    helps : mapping of str to str, optional
        Help texts that replace the shared ones, by flag (a benchmark's own wording).
    """
    for flag in flags:
        keywords = dict(SHARED_OPTIONS[flag])
        if helps and flag in helps:
            keywords["help"] = helps[flag]
        parser.add_argument(flag, **keywords)


def resolve(args: argparse.Namespace, defaults: Mapping[str, Any], quick: Mapping[str, Any],
            skip: Iterable[str] = ()) -> argparse.Namespace:  # fmt: skip
    """Fill the options left unset (None) from ``defaults``, or from ``quick`` with ``--quick``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; it needs ``quick`` and an attribute per key of the presets.
    defaults, quick : mapping of str to any
        The values of a full run and of a smoke test, by attribute name.
    skip : iterable of str, optional
        Keys left as they are (a preset key that is no option, or an option that is to stay
        None, see :func:`msd_own_width`).

    Returns
    -------
    argparse.Namespace
        ``args`` itself, filled.
    """
    skipped = set(skip)
    for key, value in (quick if args.quick else defaults).items():
        if key not in skipped and getattr(args, key) is None:
            setattr(args, key, value)
    return args


def msd_own_width(args: argparse.Namespace) -> tuple[str, ...]:
    """``("filters",)`` for ``--arch msdnet``: what :func:`resolve` is to skip so that an
    MSD-net without ``--filters`` keeps its own default width (3 channels per layer), not
    the U-net's first-level channels of the presets."""
    return ("filters",) if args.arch == "msdnet" else ()


# -- reporting ---------------------------------------------------------------------------


class Stages:
    """Wall time of named stages, printed as they finish and summarised at the end."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.began = time.perf_counter()

    @contextmanager
    def stage(self, name: str):
        print(f"[{time.perf_counter() - self.began:7.1f} s] {name} ...", flush=True)
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start
        print(f"[{time.perf_counter() - self.began:7.1f} s] {name}: {self.seconds[name]:.1f} s",
              flush=True)  # fmt: skip

    @property
    def total(self) -> float:
        return time.perf_counter() - self.began

    def summary(self) -> str:
        """The wall time of every stage and the total, as the benchmarks' last lines give it."""
        total = self.total
        return (", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
                + f"; total {total:.0f} s ({total / 60:.1f} min)")  # fmt: skip


def describe_network(info, args: argparse.Namespace, trained: dict[str, Any]) -> str:
    """Architecture, batch size and epochs of a trained pixel network, for a report.

    Parameters
    ----------
    info : hrtemlake.nn.registry.NetworkInfo
        The network's registry entry (its stored architecture wins over ``args.arch``).
    args : argparse.Namespace
        The benchmark's options (``arch``, ``batch_size``, ``epochs``).
    trained : dict
        :func:`train_or_resume`'s result (the epochs run by this call).

    Returns
    -------
    str
    """
    shape = {k: v for k, v in info.architecture.items() if k != "arch"}
    return (f"{info.architecture.get('arch', args.arch)} {shape}, batch {args.batch_size}, "
            f"{args.epochs} epochs ({trained['epochs_run']} run now)")  # fmt: skip


def option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The options as JSON values (tuples as lists), for a result file."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()}


def write_numbers(path: Optional[str], result: dict[str, Any]) -> None:
    """Write ``result`` as JSON to ``path`` (``--json``; nothing when None).

    Parameters
    ----------
    path : str or None
        The file to write.
    result : dict
        The benchmark's numbers; numpy scalars are written as floats.
    """
    if path:
        Path(path).write_text(json.dumps(result, indent=2, default=float) + "\n")
        print(f"numbers written to {path}")


def lake_location(given: Optional[str], prefix: str) -> str:
    """``given``, or a new lake in a temporary folder (kept, and named, for a rerun)."""
    if given:
        return given
    return str(Path(tempfile.mkdtemp(prefix=prefix)) / "lake.zarr")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("a helper module of the training benchmarks; run one of them instead")
