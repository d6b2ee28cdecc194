"""Simulated datasets in the lake: atomic models, their sites, and their exit waves.

Plain library functions (no Prefect): ``flows/simulate.py`` batches them over Dask, and a
notebook can call them directly.  Model ``i`` of a dataset draws all of its randomness from
``model_rng(seed, i)``, so a dataset is identical however it is split over workers, and a
rerun continues exactly where an interrupted one stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from ase import Atoms

from hrtemlake.errors import ParameterError
from hrtemlake.lake import ItemWriter, Lake, chunk_blocks
from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave
from hrtemlake.simulate.fftplans import Wisdom, fft_wisdom

__all__ = [
    "model_rng",
    "simulate_structures",
    "structure_classes",
    "load_atoms",
    "without_support",
    "exitwave_writer",
    "compute_exitwave_block",
    "exitwave_wisdom",
    "missing_exitwave_blocks",
    "models_per_task",
]

_APPEND_BATCH = 64
#: The group of the models' exit waves without their support.
PARTICLE_EXITWAVES = "particle_exitwaves"


def model_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of model ``index`` of a dataset seeded with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def _build(kind: str, seed: int, index: int, options: Mapping[str, Any]) -> tuple[Atoms, Any]:
    from hrtemlake.models import build_model, find_sites

    atoms = build_model(kind, model_rng(seed, index), **options)
    return atoms, find_sites(atoms)


def simulate_structures(
    lake: Lake,
    dataset: str,
    kind: str,
    count: int,
    seed: int,
    options: Mapping[str, Any] | None = None,
    progress=None,
) -> int:
    """Build the missing models ``0..count-1`` of ``dataset`` and store them with their sites.

    Parameters
    ----------
    lake
        A lake opened with ``mode="a"``.
    dataset
        Dataset name (``simulations/<dataset>/...``).
    kind
        ``"mx2"``, ``"nanoparticle"``, ``"nanotube"``, ``"amorphous"`` or ``"alloy"`` (see :func:`hrtemlake.models.build_model`).
    count
        Number of models the dataset should hold; a larger count extends it.
    seed
        Dataset seed.
    options
        Builder options (e.g. ``{"element": "Pt", "max_tilt": 2}``).
    progress
        Optional callable ``progress(done, total)``.

    Models whose builder records a class (``atoms.info["class"]`` among
    ``atoms.info["class_names"]``, e.g. a nanotube's chirality) are stored with its index in
    ``structure_class`` and the names as the group attribute ``class_names`` (-1 and no
    attribute otherwise).

    Returns
    -------
    The number of models built in this call.
    """
    from hrtemlake.models import build_model

    if count < 0:
        raise ParameterError(f"--count must be >= 0, got {count}")
    options = dict(options or {})
    first_atoms = build_model(kind, model_rng(seed, 0), **options)  # validate before writing
    parameters = {"kind": kind, "seed": seed, "options": options}
    structure_classes = first_atoms.info.get("class_names")
    attrs: dict[str, Any] = {"kind": kind}
    if structure_classes is not None:
        attrs["class_names"] = [str(name) for name in structure_classes]
    structures = lake.writer("structures", dataset=dataset, parameters=parameters, seed=seed,
                             attrs=attrs)  # fmt: skip
    class_names = list(_build(kind, seed, 0, options)[1].class_names)
    sites = lake.writer("sites", dataset=dataset, parameters=parameters, seed=seed,
                        attrs={"class_names": class_names})  # fmt: skip
    first = min(structures.n_items, sites.n_items)
    for start in range(first, count, _APPEND_BATCH):
        models = [_build(kind, seed, i, options) for i in range(start, min(start + _APPEND_BATCH, count))]
        indices = range(start, start + len(models))
        new = [(a, s) for i, (a, s) in zip(indices, models) if i >= structures.n_items]
        if new:
            structures.append(
                [_atom_rows(a) for a, _ in new],
                per_item={"cell": np.stack([a.cell.array for a, _ in new]),
                          "structure_class": [_structure_class(a) for a, _ in new]},
            )
        new_sites = [s for i, (_, s) in zip(indices, models) if i >= sites.n_items]
        if new_sites:
            sites.append([
                {"site_position": s.positions, "site_class": s.classes, "site_count": s.counts}
                for s in new_sites
            ])  # fmt: skip
        if progress is not None:
            progress(indices.stop, count)
    return max(0, count - first)


def _atom_rows(atoms: Atoms) -> dict[str, np.ndarray]:
    rows = {"numbers": atoms.numbers, "positions": atoms.positions}
    if "component" in atoms.arrays:
        rows["component"] = atoms.arrays["component"]
    return rows


def _structure_class(atoms: Atoms) -> int:
    """Index of the model's ``info["class"]`` in its ``info["class_names"]``; -1 for a model
    without a class (or with one outside the dataset's classes)."""
    names = atoms.info.get("class_names")
    name = atoms.info.get("class")
    if names is None or name is None or name not in names:
        return -1
    return list(names).index(name)


def structure_classes(lake: Lake, dataset: str) -> tuple[list[str], np.ndarray] | None:
    """The class names and the per-model class indices (-1: none) of ``dataset``'s models,
    or None when its models carry no classes (e.g. anything but nanotubes)."""
    group = lake.group("structures", dataset=dataset)
    names = group.attrs.get("class_names")
    if names is None or "structure_class" not in group:
        return None
    return [str(n) for n in names], np.asarray(group["structure_class"][:], dtype=np.int64)


def load_atoms(lake: Lake, dataset: str, indices: Iterable[int]) -> list[Atoms]:
    """The stored models ``indices`` of ``dataset`` as :class:`ase.Atoms`, with
    ``arrays["component"]`` (0 object, 1 support) where the dataset stores it."""
    group = lake.group("structures", dataset=dataset)
    ends = group["offsets"][:]
    cells = group["cell"][:]
    components = "component" in group
    atoms = []
    for i in indices:
        start = int(ends[i - 1]) if i else 0
        stop = int(ends[i])
        model = Atoms(
            numbers=group["numbers"][start:stop],
            positions=group["positions"][start:stop].astype(np.float64),
            cell=cells[i],
            pbc=True,
        )
        if components:
            model.arrays["component"] = group["component"][start:stop].astype(np.int8)
        atoms.append(model)
    return atoms


def without_support(atoms: Atoms, where: str = "model") -> Atoms:
    """``atoms`` without its support atoms (``arrays["component"]`` 1), in the same cell.

    Raises
    ------
    ParameterError
        When ``atoms`` does not say which atoms are support (a dataset built before
        hrtemlake stored ``component``); ``where`` names the model in the message.
    """
    from hrtemlake.models.sites import SUPPORT

    if "component" not in atoms.arrays:
        raise ParameterError(f"{where} does not record which atoms are support (structures "
                             "without `component`): rebuild the dataset's structures")  # fmt: skip
    return atoms[atoms.arrays["component"] != SUPPORT]


def exitwave_writer(
    lake: Lake, dataset: str, settings: ExitWaveSettings, particle: bool = False
) -> ItemWriter:
    """Create (or reopen) the exit-wave group of ``dataset`` for its stored models.

    ``particle``: the ``particle_exitwaves`` group instead, the models' exit waves without
    their support atoms (same grid and settings), which support-free Exitwave labels need.
    """
    structures = lake.group("structures", dataset=dataset)
    count = int(structures["write_session"].shape[0])
    if count == 0:
        raise ParameterError(f"dataset '{dataset}' has no models: run `simulate structures` first")
    first = load_atoms(lake, dataset, [0])[0]
    ny, nx = settings.grid(first)
    if particle:
        without_support(first, f"model 0 of '{dataset}'")
    return lake.writer(
        PARTICLE_EXITWAVES if particle else "exitwaves",
        dataset=dataset,
        n_items=count,
        parameters=settings.to_dict(),
        coords={"y": np.arange(ny) * settings.sampling, "x": np.arange(nx) * settings.sampling},
        scalars={"energy": settings.energy, "sampling": settings.sampling},
    )


def exitwave_wisdom(lake: Lake, dataset: str, settings: ExitWaveSettings) -> Wisdom | None:
    """The FFT plans for ``dataset``'s exit waves, measured once per machine (see
    :mod:`hrtemlake.simulate.fftplans`); give them to every :func:`compute_exitwave_block`."""
    return fft_wisdom(load_atoms(lake, dataset, [0])[0], settings)


def models_per_task(missing: int, tasks: int = 16, most: int = 8) -> int:
    """How many exit waves one task computes when the user does not say: enough tasks
    (``tasks``) to keep a cluster busy, few enough to amortise the orchestration's
    ~0.2 s per task (about 8 % of a 2 s MoS2 wave), and at most ``most``, the work a
    crash can lose."""
    return max(1, min(most, missing // tasks))


def missing_exitwave_blocks(writer: ItemWriter, per_block: int = 1) -> list[range]:
    """Chunk-aligned blocks of models whose exit waves are still missing."""
    return chunk_blocks(writer.missing(), writer.spec.item_chunk, per_block, writer.n_items)


def compute_exitwave_block(
    writer: ItemWriter,
    dataset: str,
    block: range,
    settings: ExitWaveSettings,
    seed: int = 0,
    wisdom: Wisdom | None = None,
) -> int:
    """Compute and store the exit waves of models ``block``; returns how many.

    ``wisdom`` (:func:`exitwave_wisdom`) is the FFT plans every block of the dataset shares;
    without it, the plans this machine keeps for the dataset's grid (measured here the
    first time). A ``particle_exitwaves`` writer gets the models without their support,
    with the same frozen-phonon seed (the configurations differ: they are drawn per atom).
    """
    lake = Lake(writer.location, mode="r")
    models = load_atoms(lake, dataset, block)
    if writer.spec.kind == PARTICLE_EXITWAVES:
        models = [without_support(a, f"model {i} of '{dataset}'") for i, a in zip(block, models)]
    if wisdom is None:
        wisdom = fft_wisdom(models[0], settings)
    shape = writer.array("exit_wave").shape[1:]
    waves = []
    for index, atoms in zip(block, models):
        rng_seed = int(model_rng(seed, index).integers(2**31))
        wave = compute_exit_wave(atoms, settings, seed=rng_seed, wisdom=wisdom)
        if wave.shape != shape:
            raise ParameterError(
                f"model {index} of '{dataset}' has a {wave.shape} exit wave; the dataset's is "
                f"{shape}: every model of a dataset needs the same lateral cell"
            )
        waves.append(wave)
    writer.write(block.start, {"exit_wave": np.stack(waves)})
    return len(block)
