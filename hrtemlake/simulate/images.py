"""Image epochs and labels from exit waves: the public synthesis and its lake layer.

:func:`synthesize_images` is a pure function (arrays in, arrays out) that the lake
writer below and a training pipeline share: the pipeline can call it on the fly on
stored exit waves to train on fresh microscope draws every epoch::

    from hrtemlake.lake import Lake
    from hrtemlake.simulate import load_parameters, synthesize_images
    from hrtemlake.simulate.images import load_sites

    lake, params = Lake("lake.zarr"), load_parameters("params.yaml")
    waves = lake.dataset("exitwaves", dataset="train")
    names = lake.dataset("sites", dataset="train").attrs["class_names"]
    generator = np.random.default_rng()            # fresh draws on every call
    for model in range(waves.sizes["model"]):
        wave = lake.read("exitwaves", "exit_wave", slice(model, model + 1), dataset="train")[0]
        out = synthesize_images(wave, float(waves.sampling), params, generator,
                                energy=float(waves.energy), class_names=names,
                                sites=load_sites(lake, "train", [model], counts=True)[0])
        out["image"], out["label"]                 # (1, focus, y, x), (1, channel, y, x)

The lake layer (:func:`image_writer`, :func:`missing_image_blocks`,
:func:`compute_image_block`) stores the epochs of a dataset's exit waves in
``simulations/<dataset>/images/<imageset>``; ``flows/images.py`` batches it over Dask.
Epoch ``e`` of model ``m`` draws from ``SeedSequence(params.seed, spawn_key=(m, e))``
(:func:`~hrtemlake.simulate.epochs.epoch_seeds`), so a stored image set is the same
whatever the batching and the number of workers, and a rerun writes only missing models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np

from hrtemlake.backend import asnumpy, get_array_module, get_fft_module
from hrtemlake.errors import ParameterError as InputError
from hrtemlake.simulate.draw import (
    aberrations_from_draw,
    draw_microscope,
    regression_targets,
)
from hrtemlake.simulate.epochs import (
    EpochGeometry,
    detect,
    epoch_seeds,
    image_intensities,
)
from hrtemlake.simulate.labels import (
    channel_names,
    disk_label,
    exitwave_label,
    gaussian_label,
    height_label,
    mask_label,
    SUPPORT_CLASS,
    with_background,
)
from hrtemlake.simulate.params import (
    CLASS_LABELS,
    COLUMN_LABELS,
    DRAWN_PARAMETERS,
    LABELS_FROM_SITES,
    TARGET_LABELS,
    ImageParameters,
    ParameterError,
)

__all__ = [
    "compute_image_block",
    "image_epochs",
    "image_writer",
    "load_sites",
    "missing_image_blocks",
    "store_image_set",
    "synthesize_images",
]

#: (positions, classes) or, with the atoms per site, (positions, classes, counts).
SiteArrays = tuple[np.ndarray, ...]


def synthesize_images(
    exit_wave: np.ndarray,
    sampling: float | tuple[float, float],
    params: ImageParameters | Mapping[str, Any],
    rng: Any = None,
    *,
    energy: Optional[float] = None,
    sites: Any = None,
    class_names: Optional[Sequence[str]] = None,
    n_epochs: Optional[int] = None,
    device: str = "cpu",
    workers: int = 1,
    structure_class: Optional[int] = None,
    label_wave: Optional[np.ndarray] = None,
) -> dict[str, np.ndarray]:
    """Image epochs of one exit wave with their labels and drawn parameters.

    Parameters
    ----------
    exit_wave : complex array (ny, nx)
        Exit wave in the lake's layout (y along rows), vacuum = 1.
    sampling : float or (float, float)
        Its pixel size [Å], or (s_y, s_x).
    params : ImageParameters or mapping
        The parameter file (thesis Table 3.2).
    rng : int, SeedSequence, Generator, None, or a sequence of these
        A sequence gives one entry per epoch (the lake passes
        ``epoch_seeds(seed, model, epochs)``); a single value is spawned into
        ``n_epochs`` independent children (a Generator gives fresh ones on every call).
    energy : float, optional
        Electron energy of the exit wave [eV]; default ``params.energy``.
    sites : (positions, classes), (positions, classes, counts) or Sites, optional
        Atomic columns: positions (n, 2) as (x, y) in the cell [Å], class indices (n,)
        and, for Heights labels, the number of atoms of each column (n,); needed by
        Mask, Disk, Gaussian and Heights labels.
    class_names : sequence of str, optional
        Names of the site classes (default ``sites.class_names`` when it has them).
    n_epochs : int, optional
        Number of image epochs (default: the length of an ``rng`` sequence, else 1).
    device : "cpu" or "gpu"
        Where the FFTs and noise run (GPU: CuPy; reproducible on a GPU, not identical
        to CPU images).
    workers : int
        Threads of ``scipy.fft`` (CPU).
    structure_class : int, optional
        Class index of the imaged model (its ``structure_class``); needed by Class and
        ClassMask labels.
    label_wave : complex array (ny, nx), optional
        The exit wave of the model without its support, on ``exit_wave``'s grid (the lake's
        ``particle_exitwaves``): the Exitwave label is made from it instead of the imaged
        wave. Needed by, and only used with, ``remove_support``.

    Returns
    -------
    dict of str to ndarray, named as the lake's ``images`` group
        ``image`` (epoch, focus, y, x) float32 [e⁻/pixel]; ``label`` (epoch, channel,
        y, x) float32, or ``targets`` (epoch, target) float32 for Regression labels and
        Class labels (one target: the class index);
        ``defocus`` (epoch, focus) [Å]; and one (epoch,) float64 array per drawn
        parameter under its parameter-file name, plus ``dose`` [e⁻/Å²]. ``sampling``
        is the realised pixel size [Å] along x (see :class:`EpochGeometry`).

    Raises
    ------
    ParameterError
        Bad inputs, or inputs that do not fit the parameter file (the message names
        the field or argument).
    """
    if not isinstance(params, ImageParameters):
        params = ImageParameters.from_dict(dict(params))
    wave = _check_wave(exit_wave)
    sampling = _check_sampling(sampling)
    energy = _check_energy(params, energy)
    positions, classes, site_counts, class_names = _check_sites(params, sites, class_names)
    generators = _generators(rng, n_epochs)
    _check_structure_class(params, structure_class)
    if not (isinstance(workers, (int, np.integer)) and workers != 0):
        raise InputError(f"workers must be a non-zero integer (-1: all cores), got {workers!r}")
    xp = _array_module(device)
    fft_options = {"workers": workers} if xp is np else {}
    spectrum = get_fft_module(xp).fft2(xp.asarray(wave), **fft_options)
    label_spectrum = spectrum
    if params.remove_support:
        label_spectrum = get_fft_module(xp).fft2(
            xp.asarray(_check_label_wave(label_wave, wave.shape)), **fft_options)
    draws = [draw_microscope(params, generator, 1) for generator in generators]
    table = {name: np.concatenate([d[name] for d in draws]) for name in draws[0]}
    size = (params.image_size[1], params.image_size[0])  # image_size is (x, y)
    geometries = [EpochGeometry.from_sampling(wave.shape, sampling, s, size)
                  for s in table["sampling"]]  # fmt: skip
    batches = image_intensities(
        spectrum, energy, geometries, aberrations_from_draw(table), table["focal_spread"],
        table["blur"], table["angular_spread"], workers,
    )  # fmt: skip
    images = np.empty((len(draws), params.num_focal) + size, dtype=np.float32)
    labels = None
    if params.label not in TARGET_LABELS:
        names = None if params.label == "ClassMask" else class_names  # the model classes
        channels = len(channel_names(params, names))
        labels = np.empty((len(draws), channels) + size, dtype=np.float32)
    for i, intensity in batches:
        counts = _detect(params, table, i, geometries[i], intensity, generators[i], workers,
                         None if xp is not np else images[i])  # fmt: skip
        if xp is not np:  # pragma: no cover - GPU only
            images[i] = asnumpy(counts)
        if labels is not None:
            labels[i] = _label(params, geometries[i], intensity, label_spectrum,
                               (positions, classes, site_counts), class_names, workers,
                               structure_class)  # fmt: skip
    out = _assemble(params, table, geometries, images, labels)
    if params.label == "Class":
        out["targets"] = np.full((len(draws), 1), structure_class, dtype=np.float32)
    return out


def _check_label_wave(label_wave: Any, shape: tuple[int, ...]) -> np.ndarray:
    if label_wave is None:
        raise InputError("remove_support: give label_wave, the exit wave of the model without "
                         "its support")  # fmt: skip
    wave = _check_wave(label_wave)
    if wave.shape != shape:
        raise InputError(f"label_wave has shape {wave.shape}; the exit wave's is {shape}")
    return wave


def _check_wave(exit_wave: Any) -> np.ndarray:
    wave = exit_wave if hasattr(exit_wave, "__cuda_array_interface__") else np.asarray(exit_wave)
    if wave.ndim != 2 or min(wave.shape) < 1:
        raise InputError(f"exit_wave must be a 2-D (y, x) array, got shape {wave.shape}")
    if wave.dtype.kind not in "fc" or not bool(get_array_module(wave).isfinite(wave).all()):
        raise InputError(f"exit_wave must hold finite numbers, got dtype {wave.dtype} "
                         "or non-finite values")  # fmt: skip
    return wave.astype(np.complex64, copy=False)


def _positive(name: str, value: Any, unit: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number [{unit}], got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise InputError(f"{name} must be positive [{unit}], got {value!r}")
    return number


def _check_sampling(sampling: Any) -> float | tuple[float, float]:
    if np.ndim(sampling) == 0:
        return _positive("sampling", sampling, "Å")
    if np.shape(sampling) != (2,):
        raise InputError(f"sampling must be a number or (s_y, s_x) [Å], got {sampling!r}")
    return tuple(_positive("sampling", s, "Å") for s in sampling)  # type: ignore[return-value]


def _check_energy(params: ImageParameters, energy: Optional[float]) -> float:
    """The exit waves' energy [eV], checked against the parameter file's ``energy``."""
    if energy is None:
        if params.energy is None:
            raise ParameterError("energy", "not set; give the exit waves' energy [eV]")
        return float(params.energy)
    energy = _positive("energy", energy, "eV")
    if params.energy is not None and not math.isclose(params.energy, energy, rel_tol=1e-6):
        raise ParameterError(
            "energy", f"{params.energy:g} eV, but the exit waves were computed at {energy:g} eV"
        )
    return energy


def _check_sites(params: ImageParameters, sites: Any, class_names: Optional[Sequence[str]]):
    """(positions, classes, counts, class_names) checked against the label; None where
    unused (counts: Heights labels only)."""
    if class_names is None and sites is not None:
        class_names = getattr(sites, "class_names", None)
    if params.label not in LABELS_FROM_SITES:
        return None, None, None, class_names
    if sites is not None and not isinstance(sites, (tuple, list)):
        sites = (sites.positions, sites.classes, sites.counts)
    num = None if class_names is None else len(class_names)
    # has_classes: the model's own class is checked by _check_structure_class
    params.check_dataset(has_sites=sites is not None, num_site_classes=num, has_classes=True)
    positions = np.asarray(sites[0], dtype=np.float64)
    classes = np.asarray(sites[1])
    if positions.ndim != 2 or positions.shape[1] != 2 or classes.shape != positions.shape[:1]:
        raise InputError(f"sites must be positions (n, 2) [Å] and classes (n,), got shapes "
                         f"{positions.shape} and {classes.shape}")  # fmt: skip
    counts = _site_counts(params, sites, len(positions))
    if class_names is None:  # Disk, Gaussian: one per channel; Mask, Heights: as many as used
        count = params.num_classes - int(params.null_class)
        if params.label in ("Mask", "Heights", "ClassMask"):
            count = int(classes.max()) + 1 if classes.size and classes.dtype.kind in "iu" else 1
        class_names = [f"class_{i}" for i in range(count)]
    if classes.size and (classes.dtype.kind not in "iu" or classes.min() < 0
                         or classes.max() >= len(class_names)):  # fmt: skip
        raise InputError(f"site classes must be integers in [0, {len(class_names)}) "
                         f"({', '.join(map(str, class_names))})")  # fmt: skip
    return positions, classes.astype(np.int64), counts, list(class_names)


def _site_counts(params: ImageParameters, sites: Sequence[Any], n: int) -> Optional[np.ndarray]:
    """Atoms of each of the ``n`` sites, float32, for Heights labels (None otherwise)."""
    if params.label not in COLUMN_LABELS:
        return None
    if len(sites) < 3:
        raise InputError(f"{params.label} labels need the atoms of each site: give sites as "
                         "(positions, classes, counts) or a Sites object")  # fmt: skip
    counts = np.asarray(sites[2])
    if (counts.shape != (n,) or counts.dtype.kind not in "iuf"
            or not np.all(np.isfinite(counts)) or (counts.size and counts.min() < 0)):  # fmt: skip
        raise InputError(f"site counts must be {n} non-negative numbers (atoms per site), "
                         f"got shape {counts.shape} and dtype {counts.dtype}")  # fmt: skip
    return counts.astype(np.float32)


def _generators(rng: Any, n_epochs: Optional[int]) -> list[np.random.Generator]:
    if isinstance(rng, Sequence) and not isinstance(rng, (str, bytes)):
        if n_epochs is not None and n_epochs != len(rng):
            raise InputError(f"n_epochs = {n_epochs} but rng holds {len(rng)} epochs")
        if not rng:
            raise InputError("rng is an empty sequence: no epochs to make")
        return [r if isinstance(r, np.random.Generator) else np.random.default_rng(r) for r in rng]
    count = 1 if n_epochs is None else n_epochs
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise InputError(f"n_epochs must be a positive integer, got {n_epochs!r}")
    if isinstance(rng, np.random.Generator):
        return list(rng.spawn(int(count)))
    try:
        sequence = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
    except (TypeError, ValueError):
        raise InputError(f"rng must be a seed, SeedSequence or Generator, got {rng!r}") from None
    return [np.random.default_rng(child) for child in sequence.spawn(int(count))]


def _array_module(device: str):
    if device not in ("cpu", "gpu"):
        raise InputError(f"device must be 'cpu' or 'gpu', got {device!r}")
    try:
        return get_array_module(device)
    except RuntimeError as error:  # pragma: no cover - no CuPy
        raise InputError(str(error)) from None


def _detect(params, table, i, geometry, intensity, generator, workers, out):
    electrons = float(table["dose"][i]) * geometry.sampling[0] * geometry.sampling[1]
    mtf = None
    if params.mtf == "parametric":
        mtf = (float(table["mtf_c1"][i]), float(table["mtf_c3"][i]), float(table["mtf_c2"][i]))
    return detect(intensity, electrons, generator, mtf, float(table["readout"][i]),
                  noise=params.noise == "poisson", workers=workers, out=out)  # fmt: skip


def _check_structure_class(params: ImageParameters, structure_class: Any) -> None:
    if params.label not in CLASS_LABELS:
        return
    if (isinstance(structure_class, bool) or not isinstance(structure_class, (int, np.integer))
            or structure_class < 0):  # fmt: skip
        raise InputError(f"{params.label} labels need the model's class index "
                         f"(structure_class >= 0), got {structure_class!r}")  # fmt: skip
    classes = params.num_classes - int(params.null_class)
    if params.label == "ClassMask" and structure_class >= classes:
        raise InputError(f"structure_class {structure_class} is not among the {classes} classes "
                         f"of num_classes = {params.num_classes}")  # fmt: skip


def _label(params, geometry, intensity, spectrum, sites, class_names, workers, model_class):
    label = params.label
    if label == "Exitwave":
        return exitwave_label(spectrum, geometry, workers=workers)
    if label == "Denoise":
        return asnumpy(intensity).astype(np.float32, copy=False)
    positions, classes, counts = sites
    if label == "Heights":
        particle = _particle_sites(classes, class_names)
        return height_label(geometry, positions[particle], counts[particle], params.spotsize)
    if label in ("Mask", "ClassMask"):
        mask = mask_label(geometry, positions[_particle_sites(classes, class_names)])
        channels = mask[None]
        if label == "ClassMask":
            channels = np.zeros((params.num_classes - int(params.null_class),) + mask.shape,
                                dtype=np.float32)  # fmt: skip
            channels[model_class] = mask
    else:
        draw_label = disk_label if label == "Disk" else gaussian_label
        channels = draw_label(geometry, positions, classes, len(class_names), params.spotsize)
    return with_background(channels, clip=label == "Gaussian") if params.null_class else channels


def _particle_sites(classes: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """Mask of the sites that are not the support's (all when there is no support class)."""
    support = class_names.index(SUPPORT_CLASS) if SUPPORT_CLASS in class_names else -1
    return classes != support


def _assemble(params, table, geometries, images, labels) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"image": images}
    if labels is not None:
        out["label"] = labels
    out.update({name: table[name] for name in DRAWN_PARAMETERS})
    out["sampling"] = np.array([g.sampling[1] for g in geometries])
    if params.label == "Regression":
        targets = regression_targets(out, params.regression_targets)
        out["targets"] = targets.astype(np.float32)
    return out


# -- the lake layer ---------------------------------------------------------------------


def image_epochs(params: ImageParameters, epochs: Optional[int] = None, test: bool = False) -> int:
    """Image epochs per exit wave: ``epochs`` if given, else 1 for validation/test data
    (``test``) and ``params.image_epochs`` for training data (thesis Table 3.2)."""
    if epochs is None:
        return 1 if test else params.image_epochs
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 1:
        raise InputError(f"--epochs must be a positive integer, got {epochs!r}")
    if test and epochs != 1:
        raise InputError(f"--test makes one image epoch per exit wave; got --epochs {epochs}")
    return int(epochs)


def _exitwaves(lake, dataset: str):
    from hrtemlake.errors import LakeError

    try:
        return lake.group("exitwaves", dataset=dataset)
    except LakeError:
        raise LakeError(f"dataset '{dataset}' has no exit waves in {lake.location}: run "
                        "`hrtemlake simulate exitwaves` first") from None  # fmt: skip


def _check_particle_waves(lake, dataset: str, waves) -> None:
    """The dataset's ``particle_exitwaves`` exist and share the exit waves' grid."""
    from hrtemlake.errors import LakeError
    from hrtemlake.simulate.dataset import PARTICLE_EXITWAVES

    if not lake.exists(PARTICLE_EXITWAVES, dataset=dataset):
        raise LakeError(f"remove_support: dataset '{dataset}' has no exit waves without the "
                        "support: run `hrtemlake simulate exitwaves --particle-waves`")  # fmt: skip
    particle = lake.group(PARTICLE_EXITWAVES, dataset=dataset)
    for name in ("energy", "sampling"):
        if not math.isclose(float(particle[name][()]), float(waves[name][()]), rel_tol=1e-9):
            raise LakeError(f"remove_support: the particle exit waves of '{dataset}' have "
                            f"another {name} than its exit waves")  # fmt: skip
    if particle["exit_wave"].shape != waves["exit_wave"].shape:
        raise LakeError(f"remove_support: the particle exit waves of '{dataset}' have shape "
                        f"{particle['exit_wave'].shape}, its exit waves "
                        f"{waves['exit_wave'].shape}")  # fmt: skip


def _class_names(lake, dataset: str) -> Optional[list[str]]:
    if not lake.exists("sites", dataset=dataset):
        return None
    return list(lake.group("sites", dataset=dataset).attrs["class_names"])


def image_writer(lake, dataset: str, imageset: str, params: ImageParameters, epochs: int):
    """Create (or reopen) ``simulations/<dataset>/images/<imageset>`` for the dataset's
    exit waves, after checking ``params`` against them (energy, sites, classes).

    Reopening with other parameters or another number of epochs is an error (use another
    image set name); ``debug`` is not part of that identity.
    """
    waves = _exitwaves(lake, dataset)
    _check_energy(params, float(waves["energy"][()]))
    if params.remove_support:
        _check_particle_waves(lake, dataset, waves)
    class_names = _class_names(lake, dataset)
    classes = _structure_classes(lake, dataset) if params.label in CLASS_LABELS else None
    params.check_dataset(
        has_sites=class_names is not None,
        num_site_classes=None if class_names is None else len(class_names),
        has_classes=classes is not None,
        num_model_classes=None if classes is None else len(classes[0]),
    )
    names = channel_names(params, classes[0] if params.label == "ClassMask" else class_names)
    regression = params.label in TARGET_LABELS
    identity = {k: v for k, v in params.to_dict().items() if k != "debug"}
    attrs = {"parameter_file": params.to_dict(), "label": params.label, "channel_names": names}
    if classes is not None:
        attrs["class_names"] = classes[0]
    return lake.writer(
        "images",
        dataset=dataset,
        imageset=imageset,
        n_items=int(waves["write_session"].shape[0]),
        sizes={"epoch": epochs, "focus": params.num_focal, "y": params.image_size[1],
               "x": params.image_size[0], "channel": 0 if regression else len(names),
               "target": len(names) if regression else 0},
        parameters={"parameter_file": identity, "epochs": epochs},
        seed=params.seed,
        attrs=attrs,
    )  # fmt: skip


def _structure_classes(lake, dataset: str):
    """(class names, per-model class indices) of the dataset's models, or None; models
    without a class (-1) are an error for Class labels."""
    from hrtemlake.simulate.dataset import structure_classes

    if not lake.exists("structures", dataset=dataset):
        return None
    found = structure_classes(lake, dataset)
    if found is not None and (found[1] < 0).any():
        missing = np.flatnonzero(found[1] < 0)[:5].tolist()
        raise ParameterError("label", f"Class labels: models {missing} of '{dataset}' have no "
                                      f"class among {found[0]}")  # fmt: skip
    return found


def store_image_set(
    lake, dataset: str, imageset: str, params: ImageParameters, channel_names: Sequence[str],
    values: Mapping[str, Any], parameters: Optional[Mapping[str, Any]] = None,
    class_names: Optional[Sequence[str]] = None,
) -> str:  # fmt: skip
    """Store images made outside the exit-wave pipeline (a simulated series, synthetic data)
    as ``simulations/<dataset>/images/<imageset>`` in one write, so networks train on them.

    ``values`` holds ``image`` (model, epoch, focus, y, x) and ``label`` (model, epoch,
    channel, y, x) or ``targets`` (model, epoch, target), plus any drawn parameters known;
    the drawn parameters not given are stored as 0. ``parameters`` (default: the parameter
    file and the number of epochs) is the set's identity. A complete set is left as it is.
    ``class_names``: the classes of a Class image set (its ``targets`` are indices into them).
    Returns ``DATASET/IMAGESET``.
    """
    from hrtemlake.lake.schema import WRITE_SESSION, get_schema

    n, epochs, focus, ny, nx = np.shape(values["image"])
    regression = "targets" in values
    if params.label == "Class" and not class_names:
        raise ParameterError("label", "a Class image set needs its class_names")
    attrs = {"parameter_file": params.to_dict(), "label": params.label,
             "channel_names": list(channel_names)}
    if class_names:
        attrs["class_names"] = [str(name) for name in class_names]
    writer = lake.writer(
        "images", dataset=dataset, imageset=imageset, n_items=n,
        sizes={"epoch": epochs, "focus": focus, "y": ny, "x": nx,
               "channel": 0 if regression else len(channel_names),
               "target": len(channel_names) if regression else 0},
        parameters=parameters or {"parameter_file": params.to_dict(), "epochs": epochs},
        attrs=attrs,
    )  # fmt: skip
    if not writer.completed().all():
        values = dict(values)
        for var in get_schema().group("images").item_variables():
            if var.name not in values and var.name != WRITE_SESSION and not var.optional:
                values[var.name] = np.zeros((n, epochs, focus)[: len(var.dims)])
        writer.write(0, values)
    return f"{dataset}/{imageset}"


def missing_image_blocks(writer, dataset: str, per_block: int = 1) -> list[range]:
    """Chunk-aligned blocks of models whose images are missing and exit waves complete."""
    from hrtemlake.lake import Lake, chunk_blocks

    from hrtemlake.simulate.dataset import PARTICLE_EXITWAVES

    lake = Lake(writer.location)
    waves_done = lake.read("exitwaves", "write_session", dataset=dataset) > 0
    if writer.group.attrs["parameter_file"].get("remove_support"):
        waves_done &= lake.read(PARTICLE_EXITWAVES, "write_session", dataset=dataset) > 0
    todo = np.intersect1d(writer.missing(), np.flatnonzero(waves_done))
    return chunk_blocks(todo, writer.spec.item_chunk, per_block, writer.n_items)


def load_sites(lake, dataset: str, indices: Sequence[int],
               counts: bool = False) -> list[SiteArrays]:  # fmt: skip
    """Site positions (n, 2) (x, y) [Å] and classes (n,) of models ``indices``, with
    ``counts`` also the atoms of each site (n,) (``site_count``, for Heights labels)."""
    group = lake.group("sites", dataset=dataset)
    ends = group["offsets"][:]
    names = ("site_position", "site_class") + (("site_count",) if counts else ())
    dtypes = (np.float64, np.int64, np.float32)
    out = []
    for i in indices:
        start, stop = (int(ends[i - 1]) if i else 0), int(ends[i])
        out.append(tuple(group[name][start:stop].astype(dtype)
                         for name, dtype in zip(names, dtypes)))  # fmt: skip
    return out


def compute_image_block(
    writer, dataset: str, block: range, params: ImageParameters, epochs: int,
    device: str = "cpu", workers: int = 1,
) -> int:  # fmt: skip
    """Make and store the image epochs of models ``block``; returns how many models."""
    from hrtemlake.lake import Lake

    lake = Lake(writer.location, mode="r")
    group = _exitwaves(lake, dataset)
    waves = lake.read("exitwaves", "exit_wave", slice(block.start, block.stop), dataset=dataset)
    label_waves: Any = [None] * len(block)
    if params.remove_support:
        from hrtemlake.simulate.dataset import PARTICLE_EXITWAVES

        label_waves = lake.read(PARTICLE_EXITWAVES, "exit_wave", slice(block.start, block.stop),
                                dataset=dataset)  # fmt: skip
    sites: list = [None] * len(block)
    class_names = _class_names(lake, dataset)
    if params.label in LABELS_FROM_SITES:
        sites = load_sites(lake, dataset, block, counts=params.label in COLUMN_LABELS)
    labels: list = [None] * len(block)
    if params.label in CLASS_LABELS:
        found = _structure_classes(lake, dataset)
        if found is None:
            params.check_dataset(has_sites=class_names is not None, has_classes=False)
        labels = [int(found[1][i]) for i in block]
    results = [
        synthesize_images(
            wave, float(group["sampling"][()]), params, epoch_seeds(params.seed, index, epochs),
            energy=float(group["energy"][()]), sites=site, class_names=class_names,
            device=device, workers=workers, structure_class=label, label_wave=label_wave,
        )
        for index, wave, site, label, label_wave in zip(block, waves, sites, labels, label_waves)
    ]  # fmt: skip
    writer.write(block.start, {name: np.stack([r[name] for r in results]) for name in results[0]})
    return len(block)
