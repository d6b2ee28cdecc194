"""Simulated HR-TEM time series of moving, growing and shrinking nanoparticles, with truth.

:func:`simulate_time_series` writes ``experiments/<series>`` (the ``frames`` group of the
catalog) exactly as :func:`hrtemlake.ingest.ingest_series` writes an experimental series,
so :class:`hrtemlake.ingest.ExperimentalSeries` and every analysis stage read it unchanged,
and returns the ground truth (:class:`TimeSeriesTruth`): per frame the particle masks with
stable ids and a table of centres and radii, to check tracking against::

    from hrtemlake.simulate.timeseries import simulate_time_series
    from hrtemlake.ingest import ExperimentalSeries

    truth = simulate_time_series("lake.zarr", "sim-01", n_frames=12, seed=0)
    frames = ExperimentalSeries("lake.zarr", "sim-01").frames   # (time, y, x) [counts]
    truth.masks[5], truth.table.query("frame == 5")            # ids 1, 2, ... [Å]

Physics and shortcuts
---------------------
Scene
    Each particle is an FCC sphere (Au by default, radius a few Å to ~2 nm) cut from the
    bulk lattice around a lattice point and seen along its [110] zone axis (the
    orientation of :func:`hrtemlake.models.nanoparticles.crystal_to_lab`), turned about
    the beam by the track's ``rotation``. A track (:class:`ParticleTrack`) moves linearly
    (``velocity``) plus a Gaussian random walk (``walk``), and its radius changes linearly
    between its first and last frame; the cluster is rebuilt at each frame's radius, keeping
    its lattice and orientation, so it grows or shrinks by whole atoms.
Exit waves
    The exit wave of each distinct cluster (the same atoms give the same wave) is computed
    once with abTEM multislice (:func:`~hrtemlake.simulate.exitwaves.compute_exit_wave`,
    300 kV, 1 Å slices) on a small vacuum cell around it, at a sampling ``k`` times finer
    than the frames' (``k = ceil(sampling / wave_sampling)``). A frame's exit wave is a
    vacuum field (or a static amorphous carbon film, ``support_thickness``) multiplied by
    the particles' waves, each shifted to its sub-pixel position by a Fourier phase ramp.
    Multiplying waves is exact for particles that do not overlap in projection (each wave
    is 1 outside its particle) and the thin-object approximation where they do.
Imaging
    :func:`~hrtemlake.simulate.images.synthesize_images` turns each frame's wave into
    detector counts: the CTF of the ``optics`` (fixed values or ranges drawn per frame),
    defocus drifting linearly from ``defocus[0]`` to ``defocus[1]``, the frame's dose,
    Poisson shot noise, and optionally an MTF and readout noise. Vacuum has, on average,
    ``dose × sampling²`` counts per pixel (gain 1 count per electron).
Truth
    A particle's mask is the disc of its radius around its centre (the projected
    footprint of the sphere); a pixel (i, j) sits at (y, x) = (i, j) × ``sampling`` [Å],
    the lake's ``y``/``x`` coordinates. Where discs overlap, a pixel goes to the particle
    it lies deepest in (smallest distance / radius). The table and the drawn microscope
    parameters are also stored in each frame's ``metadata`` (JSON), from which
    :meth:`TimeSeriesTruth.from_lake` rebuilds the truth.
Randomness
    Everything flows from ``seed`` through independent streams (scene, walks, support, one
    per frame), so the same seed gives identical frames, and a series interrupted while
    writing is resumed by a rerun with the same arguments (the missing frames are
    appended; a rerun of a complete series writes nothing).

Cost: the default series (12 frames of 192 × 192 pixels, three Au particles of radius
6-12 Å, about 20 distinct clusters) takes about 3.5 s on two CPU cores, plus about 6 s
once per process to import abTEM and compile its potential kernels.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.lake import Lake, as_lake
from hrtemlake.lake.schema import WRITE_SESSION

__all__ = [
    "ParticleTrack",
    "TimeSeriesTruth",
    "random_tracks",
    "render_masks",
    "simulate_time_series",
]

#: Microscope settings of the default series (ImageParameters fields, fixed values):
#: an aberration-corrected 300 kV microscope with a small positive Cs, imaged at a
#: defocus of a few nm, and an ideal counting detector (no MTF, no readout noise).
DEFAULT_OPTICS: dict[str, Any] = {
    "ctf_c30": 2.0e4,  # Cs = 2 µm [Å]
    "blur": 0.3,  # [Å]
    "focal_spread": 20.0,  # [Å]
    "angular_spread": 0.1,  # [mrad]
    "mtf": None,
    "readout": 0.0,  # [e⁻/pixel]
}

#: ImageParameters fields that simulate_time_series sets itself (not via ``optics``).
_MANAGED = ("label", "image_epochs", "image_size", "num_classes", "null_class", "sampling",
            "log_dose", "defocus", "multifocus", "energy", "seed", "debug",
            "regression_targets")  # fmt: skip

#: Vacuum kept around a cluster in its exit-wave cell, on each side [Å].
_CELL_PADDING = 5.0
#: Multislice slice thickness of the clusters and the support [Å].
_SLICE_THICKNESS = 1.0
#: Amorphous carbon number density [atoms/Å³] (2.0 g/cm³).
_CARBON_DENSITY = 0.100
#: Frames appended to the lake at once.
_BATCH = 8

# Independent random streams: SeedSequence(seed, spawn_key=(stream, ...)).
_SCENE, _WALK, _SUPPORT, _FRAME = 0, 1, 2, 3


# -- particle tracks ---------------------------------------------------------------------


@dataclass(frozen=True)
class ParticleTrack:
    """One particle of a simulated series: where it is and how large, frame by frame.

    Parameters
    ----------
    start : (float, float)
        Centre (y, x) [Å] at ``first_frame``, in the frame's coordinates (pixel (i, j) is at
        (i, j) × sampling).
    velocity : (float, float)
        Drift (v_y, v_x) [Å/frame].
    radius : float or (float, float)
        Radius [Å] at the first and the last visible frame, linear in between (one number:
        constant).
    first_frame : int
        Frame at which the particle appears (0: present from the start).
    last_frame : int or None
        Last frame it is present in (None: until the end of the series).
    walk : float
        Standard deviation of the random-walk step per frame and axis [Å], on top of the
        drift.
    rotation : float
        Orientation of its lattice about the beam [deg].
    element : str
        An FCC element (ASE reference state), e.g. "Au", "Pt", "Pd", "Ag".

    The particle's id in the truth is its position in the list of tracks plus one.
    """

    start: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    radius: float | tuple[float, float] = 8.0
    first_frame: int = 0
    last_frame: int | None = None
    walk: float = 0.0
    rotation: float = 0.0
    element: str = "Au"

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _pair_of("start", self.start, "Å"))
        object.__setattr__(self, "velocity", _pair_of("velocity", self.velocity, "Å/frame"))
        radius = self.radius if np.ndim(self.radius) else (self.radius, self.radius)
        radius = _pair_of("radius", radius, "Å")
        if min(radius) < 1.0:
            raise ParameterError(f"particle radius must be at least 1 Å, got {self.radius!r}")
        object.__setattr__(self, "radius", radius)
        if not _is_int(self.first_frame) or self.first_frame < 0:
            raise ParameterError(f"particle first_frame must be an integer >= 0, "
                                 f"got {self.first_frame!r}")  # fmt: skip
        if self.last_frame is not None and (not _is_int(self.last_frame)
                                            or self.last_frame < self.first_frame):
            raise ParameterError(f"particle last_frame must be an integer >= first_frame "
                                 f"({self.first_frame}) or None, got {self.last_frame!r}")
        object.__setattr__(self, "walk", _number("particle walk", self.walk, "Å", low=0.0))
        object.__setattr__(self, "rotation", _number("particle rotation", self.rotation, "deg"))
        from hrtemlake.models.nanoparticles import fcc_lattice_constant

        fcc_lattice_constant(self.element)  # a clear error for non-FCC elements

    def frames(self, n_frames: int) -> range:
        """The frames (of a series of ``n_frames``) the particle is present in."""
        last = n_frames - 1 if self.last_frame is None else min(self.last_frame, n_frames - 1)
        return range(self.first_frame, last + 1)

    def radius_at(self, frame: int, n_frames: int) -> float:
        """Radius [Å] at ``frame`` (linear between the first and last visible frame)."""
        present = self.frames(n_frames)
        span = max(len(present) - 1, 1)
        fraction = (frame - present.start) / span
        return float(self.radius[0] + (self.radius[1] - self.radius[0]) * fraction)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}  # fmt: skip

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ParticleTrack:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def random_tracks(
    n_particles: int,
    n_frames: int,
    field_of_view: tuple[float, float],
    rng: Any = None,
    *,
    radius: tuple[float, float] = (6.0, 12.0),
    speed: tuple[float, float] = (0.5, 1.5),
    walk: float = 0.3,
    appear: bool = True,
    gap: float = 4.0,
    element: str = "Au",
) -> list[ParticleTrack]:
    """A scene of particles that stay inside the field and apart from each other.

    Particle 1, 3, ... grows and 2, 4, ... shrinks between two radii drawn from the lower
    and upper half of ``radius``; with ``appear`` (and at least two particles) the last one
    appears at frame ``n_frames // 2``. Starts, drift directions, speeds and orientations
    are random; a scene is redrawn until every path (with three standard deviations of
    the random walk to spare) keeps ``gap`` [Å] from the field's edges and from the other
    particles.

    Parameters
    ----------
    n_particles, n_frames : int
    field_of_view : (float, float)
        (height, width) [Å].
    rng : int, SeedSequence, Generator or None
    radius : (float, float)
        Range of radii [Å].
    speed : (float, float)
        Range of drift speeds [Å/frame].
    walk : float
        Random-walk step [Å] (see :class:`ParticleTrack`).
    appear : bool
        Let the last particle appear midway.
    gap : float
        Smallest distance between particles, and to the edges [Å].
    element : str
        FCC element of the particles.

    Raises
    ------
    ParameterError
        If no such scene is found (too many or too large particles for the field).
    """
    n_particles = _count("n_particles", n_particles, low=0)
    n_frames = _count("n_frames", n_frames, low=1)
    height, width = _pair_of("field_of_view", field_of_view, "Å")
    r_low, r_high = _range_of("radius", radius, "Å", low=1.0)
    s_low, s_high = _range_of("speed", speed, "Å/frame", low=0.0)
    walk = _number("walk", walk, "Å", low=0.0)
    gap = _number("gap", gap, "Å", low=0.0)
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    spread = 3.0 * walk * math.sqrt(n_frames)
    middle = 0.5 * (r_low + r_high)
    for _ in range(200):
        tracks = []
        for i in range(n_particles):
            small, large = generator.uniform(r_low, middle), generator.uniform(middle, r_high)
            radii = (small, large) if i % 2 == 0 else (large, small)
            first = n_frames // 2 if appear and n_particles > 1 and i == n_particles - 1 else 0
            steps = n_frames - 1 - first
            angle, pace = generator.uniform(0, 2 * np.pi), generator.uniform(s_low, s_high)
            velocity = pace * np.array([np.sin(angle), np.cos(angle)])
            keep = max(radii) + gap + spread
            # the start range that keeps the whole drift inside the field
            low = keep - np.minimum(velocity * steps, 0.0)
            high = np.array([height, width]) - keep - np.maximum(velocity * steps, 0.0)
            if np.any(high < low):
                break
            start = generator.uniform(low, high)
            tracks.append(ParticleTrack(
                start=tuple(start), velocity=tuple(velocity), radius=radii, first_frame=first,
                walk=walk, rotation=float(generator.uniform(0.0, 360.0)), element=element,
            ))  # fmt: skip
        if len(tracks) == n_particles and _apart(tracks, n_frames, gap + 2 * spread):
            return tracks
    raise ParameterError(
        f"random_tracks: cannot place {n_particles} particles of radius up to {r_high:g} Å "
        f"{gap:g} Å apart in a {height:g} × {width:g} Å field over {n_frames} frames; use "
        "fewer or smaller particles, a larger field, or slower drift"
    )


def _apart(tracks: Sequence[ParticleTrack], n_frames: int, gap: float) -> bool:
    """Whether the drift paths (no walk) keep ``gap`` between every pair in every frame."""
    for t in range(n_frames):
        present = [(np.add(p.start, np.multiply(p.velocity, t - p.first_frame)),
                    p.radius_at(t, n_frames)) for p in tracks if t in p.frames(n_frames)]
        for i, (ci, ri) in enumerate(present):
            for cj, rj in present[i + 1:]:
                if np.hypot(*(ci - cj)) < ri + rj + gap:
                    return False
    return True


# -- the truth ------------------------------------------------------------------------------


@dataclass
class TimeSeriesTruth:
    """Ground truth of a simulated series.

    Attributes
    ----------
    series : str
        Series name in the lake.
    masks : int32 array (time, y, x)
        Particle id (1, 2, ...) per pixel, 0 for none.
    table : pandas.DataFrame
        One row per particle and frame it is present in, by frame and id: ``frame``,
        ``time`` [s], ``id``,
        ``centre_y``, ``centre_x`` [Å] (frame coordinates), ``radius`` [Å], ``atoms``
        (atoms in the cluster) and ``area`` (mask pixels).
    pixel_size : float
        [Å].
    times : float array (time,)
        [s] (the lake's ``time``).
    dose : float array (time,)
        Dose of each frame [e⁻/Å²].
    defocus : float array (time,)
        Defocus of each frame [Å] (abTEM convention, -C10).
    tracks : tuple of ParticleTrack
        The scene (id = position + 1).
    clean : float32 array (time, y, x) or None
        Noise-free image intensity (vacuum = 1), before detector noise and MTF; None when
        loaded from the lake.
    """

    series: str
    masks: np.ndarray
    table: Any
    pixel_size: float
    times: np.ndarray
    dose: np.ndarray
    defocus: np.ndarray
    tracks: tuple[ParticleTrack, ...] = ()
    clean: np.ndarray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        n, ny, nx = self.masks.shape
        return (f"TimeSeriesTruth({self.series!r}: {n} frames of {ny}×{nx}, "
                f"{len(self.ids)} particles, {self.pixel_size:g} Å/pixel)")  # fmt: skip

    @property
    def ids(self) -> list[int]:
        """The particle ids."""
        return sorted(int(i) for i in np.unique(self.table["id"]))

    def at(self, frame: int):
        """The table rows of one frame."""
        return self.table[self.table["frame"] == frame].reset_index(drop=True)

    def track(self, particle: int):
        """The table rows of one particle id, by frame."""
        return self.table[self.table["id"] == particle].reset_index(drop=True)

    def save(self, path: str | os.PathLike) -> Path:
        """Write to a ``.npz`` file (masks, table columns, arrays; tracks as JSON)."""
        path = Path(path)
        columns = {f"table_{name}": self.table[name].to_numpy() for name in self.table.columns}
        arrays = {"masks": self.masks, "times": self.times, "dose": self.dose,
                  "defocus": self.defocus, **columns}  # fmt: skip
        if self.clean is not None:
            arrays["clean"] = self.clean
        info = {"series": self.series, "pixel_size": self.pixel_size,
                "tracks": [t.to_dict() for t in self.tracks]}  # fmt: skip
        with open(path, "wb") as file:
            np.savez_compressed(file, info=np.array(json.dumps(info)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TimeSeriesTruth:
        """Read a file written by :meth:`save`."""
        import pandas as pd

        with np.load(path, allow_pickle=False) as data:
            info = json.loads(str(data["info"]))
            table = pd.DataFrame({k[len("table_"):]: data[k] for k in data.files
                                  if k.startswith("table_")})  # fmt: skip
            return cls(info["series"], data["masks"], table, float(info["pixel_size"]),
                       data["times"], data["dose"], data["defocus"],
                       tuple(ParticleTrack.from_dict(t) for t in info["tracks"]),
                       data["clean"] if "clean" in data.files else None)  # fmt: skip

    @classmethod
    def from_lake(cls, lake: Lake | str | os.PathLike | None, series: str) -> TimeSeriesTruth:
        """The truth of a series written by :func:`simulate_time_series`, from the lake.

        The masks are rendered again from the table stored in the frames' metadata;
        ``clean`` is None.
        """
        lake = as_lake(lake, "r")
        if not lake.exists("frames", series=series):
            raise LakeError(f"{lake.location}: no series '{series}'")
        group = lake.group("frames", series=series)
        parameters = group.attrs.get("parameters", {})
        if parameters.get("simulator") != _SIMULATOR:
            raise LakeError(f"series '{series}' was not made by simulate_time_series")
        done = lake.read("frames", WRITE_SESSION, series=series) > 0
        n = done.size if done.all() else int(np.argmin(done))
        times = lake.read("frames", "time", slice(0, n), series=series)
        metadata = [json.loads(str(m))
                    for m in lake.read("frames", "metadata", slice(0, n), series=series)]
        rows = [dict(row, frame=i, time=float(times[i]))
                for i, meta in enumerate(metadata) for row in meta["particles"]]  # fmt: skip
        table = _table(rows)
        pixel_size = float(parameters["sampling"])
        shape = (group["y"].shape[0], group["x"].shape[0])
        masks = render_masks(table, n, shape, pixel_size)
        table["area"] = _areas(masks, table)
        tracks = tuple(ParticleTrack.from_dict(t) for t in parameters["tracks"])
        return cls(series, masks, table, pixel_size, np.asarray(times, np.float64),
                   np.array([m["dose"] for m in metadata], np.float64),
                   np.array([m["defocus"] for m in metadata], np.float64), tracks)  # fmt: skip


_COLUMNS = ("frame", "time", "id", "centre_y", "centre_x", "radius", "atoms")


def _table(rows: list[dict[str, Any]]):
    import pandas as pd

    table = pd.DataFrame(rows, columns=list(_COLUMNS))
    table = table.sort_values(["frame", "id"], kind="stable", ignore_index=True)
    return table.astype({"frame": np.int64, "time": np.float64, "id": np.int64,
                         "centre_y": np.float64, "centre_x": np.float64,
                         "radius": np.float64, "atoms": np.int64})  # fmt: skip


def render_masks(table: Any, n_frames: int, shape: tuple[int, int],
                 pixel_size: float) -> np.ndarray:  # fmt: skip
    """Particle masks (time, y, x) int32 from a truth table (discs of the radii).

    Pixel (i, j) is at (i, j) × ``pixel_size`` [Å]; a pixel inside several discs goes to
    the particle it lies deepest in (smallest distance / radius).
    """
    masks = np.zeros((n_frames, *shape), np.int32)
    y = np.arange(shape[0]) * pixel_size
    x = np.arange(shape[1]) * pixel_size
    depth = np.full(shape, np.inf)
    for frame in range(n_frames):
        depth.fill(np.inf)
        rows = table[table["frame"] == frame]
        for pid, cy, cx, r in zip(rows["id"], rows["centre_y"], rows["centre_x"], rows["radius"]):
            lo_y, hi_y = np.searchsorted(y, [cy - r, cy + r], side="left")
            lo_x, hi_x = np.searchsorted(x, [cx - r, cx + r], side="left")
            hi_y, hi_x = min(hi_y + 1, shape[0]), min(hi_x + 1, shape[1])
            if hi_y <= lo_y or hi_x <= lo_x:
                continue
            dy, dx = y[lo_y:hi_y, None] - cy, x[None, lo_x:hi_x] - cx
            relative = np.sqrt(dy**2 + dx**2) / r
            window = (slice(lo_y, hi_y), slice(lo_x, hi_x))
            inside = (relative <= 1.0) & (relative < depth[window])
            depth[window][inside] = relative[inside]
            masks[frame][window][inside] = int(pid)
    return masks


def _areas(masks: np.ndarray, table: Any) -> np.ndarray:
    counts = {}
    for frame in range(masks.shape[0]):
        ids, n = np.unique(masks[frame], return_counts=True)
        counts.update({(frame, int(i)): int(c) for i, c in zip(ids, n)})
    return np.array([counts.get((int(f), int(i)), 0)
                     for f, i in zip(table["frame"], table["id"])], np.int64)  # fmt: skip


# -- the simulation ----------------------------------------------------------------------------

_SIMULATOR = "hrtemlake.simulate.timeseries"


def simulate_time_series(
    lake: Lake | str | os.PathLike | None,
    series: str,
    n_frames: int = 12,
    size: int | tuple[int, int] = (192, 192),
    sampling: float = 0.5,
    particles: int | Sequence[ParticleTrack] = 3,
    *,
    seed: int = 0,
    dose: float | Sequence[float] = 2000.0,
    frame_interval: float = 1.0,
    defocus: float | tuple[float, float] = (20.0, 40.0),
    optics: Mapping[str, Any] | None = None,
    energy: float = 300e3,
    wave_sampling: float = 0.2,
    support_thickness: float = 0.0,
) -> TimeSeriesTruth:
    """Simulate a time series of nanoparticles into ``experiments/<series>``; return the truth.

    Parameters
    ----------
    lake : Lake or str or os.PathLike or None
        A lake opened with ``mode="a"``, or its location (default ``$HRTEMLAKE_LAKE``).
    series : str
        Series name.
    n_frames : int
        Number of frames.
    size : int or (int, int)
        Frame size (ny, nx) [pixels].
    sampling : float
        Pixel size of the frames [Å].
    particles : int or sequence of ParticleTrack
        A number of random particles (:func:`random_tracks` with its defaults: Au, radius
        6-12 Å, one growing, one shrinking, the last appearing midway), or the tracks.
    seed : int
        Seed of everything random: the scene, the walks, the support and the noise.
    dose : float or sequence of float
        Dose per frame [e⁻/Å²], one value or one per frame.
    frame_interval : float
        Time between frames [s]; frame t is at ``t × frame_interval``.
    defocus : float or (float, float)
        Defocus [Å] (abTEM convention, -C10), or its values at the first and last frame
        (linear drift in between).
    optics : mapping, optional
        Other microscope and detector settings, as :class:`ImageParameters` fields (e.g.
        ``ctf_c30``, ``blur``, ``focal_spread``, ``mtf``, ``mtf_c1``, ``readout``): a number
        is a fixed value, a (low, high) pair a range drawn for each frame. Merged over
        :data:`DEFAULT_OPTICS`.
    energy : float
        Beam energy [eV].
    wave_sampling : float
        Largest pixel size of the exit waves [Å]; they are computed at
        ``sampling / ceil(sampling / wave_sampling)``.
    support_thickness : float
        Thickness of a static amorphous carbon film under the particles [Å]; 0 for none
        (particles in vacuum).

    Returns
    -------
    TimeSeriesTruth

    Raises
    ------
    ParameterError
        For an invalid argument (the message names it), before anything is computed.
    LakeError
        If the series exists with other parameters (use a new name).

    Notes
    -----
    Writing follows the ingest: float32 frames [counts, 1 count per electron], ``time``
    [s], ``source`` "simulated", ``exposure`` (the frame interval), ``voltage`` and
    ``metadata`` (JSON: dose, defocus, drawn optics, the frame's particles); the group
    attributes ``time_source``, ``time_axis`` ("interval") and ``pixel_size`` [Å].
    """
    config = _Config.check(series, n_frames, size, sampling, particles, seed, dose,
                           frame_interval, defocus, optics, energy, wave_sampling,
                           support_thickness)  # fmt: skip
    if not isinstance(lake, Lake):
        lake = Lake(lake, mode="a")
    scene = _Scene(config)
    done = _existing_frames(lake, config.series, config.parameters())
    clean = np.empty((config.n_frames, *config.size), np.float32)
    if done < config.n_frames:
        _write_frames(lake, config, scene, done, clean)
    # the noise-free intensities of frames written by an earlier run are not recomputed
    clean_out = clean if done == 0 else None
    table = _table(scene.rows)
    masks = render_masks(table, config.n_frames, config.size, config.sampling)
    table["area"] = _areas(masks, table)
    return TimeSeriesTruth(config.series, masks, table, config.sampling, config.times(),
                           config.dose, config.defocus, tuple(config.tracks),
                           clean_out)  # fmt: skip


@dataclass
class _Config:
    """The checked arguments of one simulation."""

    series: str
    n_frames: int
    size: tuple[int, int]
    sampling: float
    tracks: list[ParticleTrack]
    seed: int
    dose: np.ndarray
    frame_interval: float
    defocus: np.ndarray
    optics: dict[str, Any]
    energy: float
    factor: int  # exit-wave pixels per frame pixel
    support_thickness: float
    params: Any = None  # ImageParameters of the first frame

    @classmethod
    def check(cls, series, n_frames, size, sampling, particles, seed, dose, frame_interval,
              defocus, optics, energy, wave_sampling, support_thickness) -> _Config:  # fmt: skip
        if not isinstance(series, str) or not series.strip() or "/" in series:
            raise ParameterError(f"series must be a non-empty name without '/', got {series!r}")
        n_frames = _count("n_frames", n_frames, low=1)
        if _is_int(size):
            size = (size, size)
        if not (isinstance(size, Sequence) and len(size) == 2 and all(_is_int(n) for n in size)
                and min(size) >= 16):
            raise ParameterError(f"size must be one or two integers >= 16 (ny, nx) [pixels], "
                                 f"got {size!r}")  # fmt: skip
        size = (int(size[0]), int(size[1]))
        sampling = _number("sampling", sampling, "Å", low=0.0, exclusive=True)
        if not _is_int(seed) or seed < 0:
            raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
        dose = _per_frame("dose", dose, n_frames, "e⁻/Å²")
        frame_interval = _number("frame_interval", frame_interval, "s", low=0.0, exclusive=True)
        if np.ndim(defocus) == 0:
            defocus = (defocus, defocus)
        first, last = _pair_of("defocus", defocus, "Å")
        defocus = np.linspace(first, last, n_frames) if n_frames > 1 else np.array([first])
        energy = _number("energy", energy, "eV", low=0.0, exclusive=True)
        wave_sampling = _number("wave_sampling", wave_sampling, "Å", low=0.0, exclusive=True)
        if wave_sampling > sampling:
            raise ParameterError(f"wave_sampling ({wave_sampling:g} Å) must not exceed the "
                                 f"frames' sampling ({sampling:g} Å)")  # fmt: skip
        support_thickness = _number("support_thickness", support_thickness, "Å", low=0.0)
        field_of_view = (size[0] * sampling, size[1] * sampling)
        if _is_int(particles):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SCENE,)))
            tracks = random_tracks(particles, n_frames, field_of_view, rng)
        elif isinstance(particles, Sequence) and all(isinstance(p, ParticleTrack)
                                                     for p in particles):
            tracks = list(particles)
        else:
            raise ParameterError("particles must be a number of particles or a sequence of "
                                 f"ParticleTrack, got {particles!r}")  # fmt: skip
        for i, track in enumerate(tracks):
            if track.first_frame >= n_frames:
                raise ParameterError(f"particles[{i}].first_frame = {track.first_frame} is "
                                     f"past the last frame ({n_frames - 1})")  # fmt: skip
        config = cls(series.strip(), n_frames, size, sampling, tracks, int(seed), dose,
                     frame_interval, defocus, _check_optics(optics), energy,
                     math.ceil(sampling / wave_sampling - 1e-9), support_thickness)  # fmt: skip
        config.params = config.image_parameters(0, dose[0])  # validates the optics
        return config

    @property
    def wave_sampling(self) -> float:
        return self.sampling / self.factor

    @property
    def wave_shape(self) -> tuple[int, int]:
        return (self.size[0] * self.factor, self.size[1] * self.factor)

    def times(self) -> np.ndarray:
        return np.arange(self.n_frames) * self.frame_interval

    def image_parameters(self, frame: int, dose: float):
        from hrtemlake.simulate.params import ImageParameters

        log_dose = math.log10(dose)
        values = {
            **self.optics,
            "label": "Denoise", "image_epochs": 1, "num_classes": 1, "null_class": False,
            "image_size": (self.size[1], self.size[0]),  # (x, y)
            "sampling": (self.sampling, self.sampling),
            "log_dose": (log_dose, log_dose),
            "defocus": (float(self.defocus[frame]),) * 2,
            "multifocus": None, "energy": self.energy, "seed": self.seed, "debug": None,
        }  # fmt: skip
        if self.params is None:
            return ImageParameters(**values)
        return self.params.replace(log_dose=values["log_dose"], defocus=values["defocus"])

    def parameters(self) -> dict[str, Any]:
        """What defines the series (stored as the group's parameters)."""
        return {
            "simulator": _SIMULATOR, "n_frames": self.n_frames, "size": list(self.size),
            "sampling": self.sampling, "seed": self.seed, "dose": self.dose.tolist(),
            "frame_interval": self.frame_interval, "defocus": self.defocus.tolist(),
            "optics": {k: list(v) if isinstance(v, tuple) else v for k, v in self.optics.items()},
            "energy": self.energy, "wave_sampling": self.wave_sampling,
            "support_thickness": self.support_thickness,
            "tracks": [t.to_dict() for t in self.tracks],
        }  # fmt: skip


def _check_optics(optics: Mapping[str, Any] | None) -> dict[str, Any]:
    from hrtemlake.simulate.params import RANGE_FIELDS, ImageParameters

    if optics is not None and not isinstance(optics, Mapping):
        raise ParameterError(f"optics must be a mapping of ImageParameters fields, got {optics!r}")
    merged = {**DEFAULT_OPTICS, **dict(optics or {})}
    known = set(ImageParameters.field_names()) - set(_MANAGED)
    for name in merged:
        if name not in known:
            managed = " (set by simulate_time_series' own arguments)" if name in _MANAGED else ""
            raise ParameterError(f"optics: unknown or managed field '{name}'{managed}; "
                                 f"expected some of {sorted(known)}")  # fmt: skip
    out = {}
    for name, value in merged.items():
        if name in RANGE_FIELDS and np.ndim(value) == 0 and value is not None:
            value = (value, value)
        out[name] = tuple(value) if isinstance(value, (list, tuple)) else value
    return out


class _Scene:
    """Per-frame particle geometry (centres, radii, clusters) and the clusters' exit waves."""

    def __init__(self, config: _Config):
        self.config = config
        rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(_WALK,)))
        n = config.n_frames
        self.rows: list[dict[str, Any]] = []
        self.frames: list[list[tuple[int, tuple[float, float], int]]] = [[] for _ in range(n)]
        self._atoms: dict[tuple[int, int], Any] = {}
        self._waves: dict[tuple[int, int], np.ndarray] = {}
        for index, track in enumerate(config.tracks):
            steps = rng.normal(0.0, track.walk, size=(n, 2))  # drawn whatever the track
            present = track.frames(n)
            walk = np.cumsum(steps[: len(present)], axis=0) - steps[0]
            for k, t in enumerate(present):
                centre = np.add(track.start, np.multiply(track.velocity, k)) + walk[k]
                radius = track.radius_at(t, n)
                atoms = self._cluster(index, radius)
                self.rows.append({"frame": t, "time": t * config.frame_interval,
                                  "id": index + 1, "centre_y": float(centre[0]),
                                  "centre_x": float(centre[1]), "radius": radius,
                                  "atoms": len(atoms)})  # fmt: skip
                self.frames[t].append((index, (float(centre[0]), float(centre[1])), len(atoms)))

    def _cluster(self, index: int, radius: float):
        """The cluster of track ``index`` at ``radius``, centred in its exit-wave cell."""
        from ase import Atoms

        from hrtemlake.models._geometry import fcc_points, rotation_matrix
        from hrtemlake.models.nanoparticles import crystal_to_lab, fcc_lattice_constant

        track = self.config.tracks[index]
        a = fcc_lattice_constant(track.element)
        to_lab = rotation_matrix([0.0, 0.0, 1.0], track.rotation) @ crystal_to_lab()
        reach = radius * math.sqrt(3.0) + a  # a cube in crystal axes holding the sphere
        lab = fcc_points(np.full(3, -reach), np.full(3, reach), a) @ to_lab.T
        lab = lab[np.linalg.norm(lab, axis=1) <= radius + 1e-9]
        key = (index, len(lab))
        if key not in self._atoms:
            s = self.config.wave_sampling
            m = 2 * math.ceil((radius + _CELL_PADDING) / s)  # even
            side = m * s
            height = 2 * radius + 2.0
            # (x, y) lab axes are the (column, row) axes of the wave; centre at pixel m/2
            atoms = Atoms([track.element] * len(lab),
                          positions=lab + [side / 2, side / 2, height / 2],
                          cell=[side, side, height], pbc=False)  # fmt: skip
            atoms.info["wave_pixels"] = m
            self._atoms[key] = atoms
        return self._atoms[key].positions

    def wave(self, index: int, n_atoms: int) -> np.ndarray:
        """Spectrum (FFT) of the exit wave of track ``index``'s cluster with ``n_atoms``."""
        key = (index, n_atoms)
        if key not in self._waves:
            from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave

            atoms = self._atoms[key]
            m = atoms.info["wave_pixels"]
            # a hair above the exact pixel size, so that abTEM's ceil(extent / sampling)
            # gives exactly m pixels (the cell side is m times the pixel size)
            settings = ExitWaveSettings(energy=self.config.energy,
                                        sampling=self.config.wave_sampling * (1 + 1e-9),
                                        slice_thickness=_SLICE_THICKNESS)  # fmt: skip
            wave = compute_exit_wave(atoms, settings)
            if wave.shape != (m, m):  # pragma: no cover - abTEM grid convention changed
                raise RuntimeError(f"abTEM made a {wave.shape} exit wave for a {m}² cell")
            self._waves[key] = np.fft.fft2(wave)
        return self._waves[key]


def _existing_frames(lake: Lake, series: str, parameters: dict[str, Any]) -> int:
    """Complete frames of the series from an earlier run with the same parameters."""
    if not lake.exists("frames", series=series):
        return 0
    before = lake.group("frames", series=series).attrs.get("parameters", {})
    if before != json.loads(json.dumps(parameters)):  # as stored: tuples become lists
        what = ("was made with other simulation parameters"
                if before.get("simulator") == _SIMULATOR else "is not a simulated series")
        raise LakeError(f"series '{series}' already exists and {what}; use a new name")
    done = lake.read("frames", WRITE_SESSION, series=series) > 0
    return done.size if done.all() else int(np.argmin(done))


def _support_wave(config: _Config) -> np.ndarray | None:
    """Exit wave of a static amorphous carbon film over the whole field (None without)."""
    if config.support_thickness <= 0:
        return None
    from ase import Atoms

    from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave

    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(_SUPPORT,)))
    ny, nx = config.wave_shape
    s = config.wave_sampling
    side = np.array([nx * s, ny * s, config.support_thickness + 2.0])
    count = rng.poisson(_CARBON_DENSITY * side[0] * side[1] * config.support_thickness)
    positions = rng.uniform([0, 0, 1.0], [side[0], side[1], side[2] - 1.0], size=(count, 3))
    atoms = Atoms(numbers=np.full(count, 6), positions=positions, cell=side, pbc=True)
    settings = ExitWaveSettings(energy=config.energy, sampling=s * (1 + 1e-9),
                                slice_thickness=_SLICE_THICKNESS)  # fmt: skip
    wave = compute_exit_wave(atoms, settings)
    if wave.shape != (ny, nx):  # pragma: no cover - abTEM grid convention changed
        raise RuntimeError(f"abTEM made a {wave.shape} support wave for a {ny}×{nx} field")
    return wave


def _frame_wave(config: _Config, scene: _Scene, frame: int, support: np.ndarray | None):
    """The exit wave of one frame: support (or vacuum) times the shifted particle waves."""
    ny, nx = config.wave_shape
    wave = np.ones((ny, nx), np.complex64) if support is None else support.copy()
    s = config.wave_sampling
    for index, (cy, cx), n_atoms in scene.frames[frame]:
        spectrum = scene.wave(index, n_atoms)
        m = spectrum.shape[0]
        py, px = cy / s, cx / s  # the centre in wave pixels
        iy, ix = math.floor(py), math.floor(px)
        k = np.fft.fftfreq(m)
        ramp = np.exp(-2j * np.pi * (py - iy) * k)[:, None] * np.exp(-2j * np.pi * (px - ix) * k)
        patch = np.fft.ifft2(spectrum * ramp).astype(np.complex64)
        y0, x0 = iy - m // 2, ix - m // 2  # patch pixel m/2 (the centre) lands on (iy, ix)
        rows = slice(max(y0, 0), min(y0 + m, ny))
        cols = slice(max(x0, 0), min(x0 + m, nx))
        if rows.start < rows.stop and cols.start < cols.stop:
            wave[rows, cols] *= patch[rows.start - y0 : rows.stop - y0,
                                      cols.start - x0 : cols.stop - x0]  # fmt: skip
    return wave


def _write_frames(lake: Lake, config: _Config, scene: _Scene, start: int,
                  clean: np.ndarray) -> None:  # fmt: skip
    from hrtemlake.simulate.images import synthesize_images
    from hrtemlake.simulate.params import DRAWN_PARAMETERS

    ny, nx = config.size
    s = config.sampling
    writer = lake.writer(
        "frames", series=config.series, parameters=config.parameters(), seed=config.seed,
        coords={"y": np.arange(ny) * s, "x": np.arange(nx) * s},
        attrs={"time_source": (f"simulated: frame index × frame interval "
                               f"({config.frame_interval:g} s)"),
               "time_axis": "interval", "time_origin": None, "time_origin_file": None,
               "pixel_size": [s, s], "simulated": True},
    )  # fmt: skip
    support = _support_wave(config)
    batch: dict[str, list] = {k: [] for k in ("frame", "time", "metadata")}

    def flush() -> None:
        n = len(batch["frame"])
        if n:
            writer.append({
                "frame": np.stack(batch["frame"]), "time": np.array(batch["time"]),
                "source": np.array(["simulated"] * n, dtype=str),
                "exposure": np.full(n, config.frame_interval, np.float32),
                "voltage": np.full(n, config.energy, np.float32),
                "metadata": np.array(batch["metadata"], dtype=str),
            })  # fmt: skip
        for values in batch.values():
            values.clear()

    for t in range(start, config.n_frames):
        wave = _frame_wave(config, scene, t, support)
        params = config.image_parameters(t, float(config.dose[t]))
        rng = np.random.SeedSequence(config.seed, spawn_key=(_FRAME, t))
        out = synthesize_images(wave, config.wave_sampling, params, [rng],
                                energy=config.energy)  # fmt: skip
        clean[t] = out["label"][0, 0]
        drawn = {name: float(np.ravel(out[name])[0]) for name in DRAWN_PARAMETERS if name in out}
        particles = [{k: row[k] for k in ("id", "centre_y", "centre_x", "radius", "atoms")}
                     for row in scene.rows if row["frame"] == t]  # fmt: skip
        metadata = {"simulator": _SIMULATOR, "seed": config.seed, "frame": t,
                    "counts_per_electron": 1.0, "dose": float(config.dose[t]),
                    "defocus": float(config.defocus[t]), "optics": drawn,
                    "particles": particles}  # fmt: skip
        batch["frame"].append(out["image"][0, 0])
        batch["time"].append(t * config.frame_interval)
        batch["metadata"].append(json.dumps(metadata, separators=(",", ":")))
        if len(batch["frame"]) >= _BATCH:
            flush()
    flush()


# -- argument checks --------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _count(name: str, value: Any, low: int) -> int:
    if not _is_int(value) or value < low:
        raise ParameterError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _number(name: str, value: Any, unit: str, low: float | None = None,
            exclusive: bool = False) -> float:  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite number [{unit}], got {value!r}")
    if low is not None and (value < low or (exclusive and value == low)):
        relation = ">" if exclusive else ">="
        raise ParameterError(f"{name} must be {relation} {low:g} [{unit}], got {value!r}")
    return float(value)


def _pair_of(name: str, value: Any, unit: str) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or np.shape(value) != (2,):
        raise ParameterError(f"{name} must be two numbers [{unit}], got {value!r}")
    return tuple(_number(name, v, unit) for v in value)  # type: ignore[return-value]


def _range_of(name: str, value: Any, unit: str, low: float) -> tuple[float, float]:
    lower, upper = _pair_of(name, value, unit)
    if lower < low or upper < lower:
        raise ParameterError(f"{name} must be a range (low, high) with {low:g} <= low <= high "
                             f"[{unit}], got {value!r}")  # fmt: skip
    return lower, upper


def _per_frame(name: str, value: Any, n_frames: int, unit: str) -> np.ndarray:
    if np.ndim(value) == 0:
        value = [value] * n_frames
    if isinstance(value, (str, bytes)) or np.shape(value) != (n_frames,):
        raise ParameterError(f"{name} must be one number or one per frame ({n_frames}) "
                             f"[{unit}], got {value!r}")  # fmt: skip
    out = np.array([_number(name, v, unit, low=0.0, exclusive=True) for v in value])
    return out


def series_image_set(lake, series: str, truth: TimeSeriesTruth, dataset: str,
                     imageset: str = "particles", normalizedistance: float = 12.0) -> str:  # fmt: skip
    """Store a simulated series as a training image set: every frame an image, its particle
    masks the Mask label (one model per frame, one image epoch).

    Networks that segment particles in a series can then train on series simulated the
    same way (:func:`hrtemlake.nn.train_network`). Returns ``DATASET/IMAGESET``.
    """
    from hrtemlake.simulate.images import store_image_set
    from hrtemlake.simulate.params import ImageParameters

    lake = as_lake(lake, "a")
    frames = lake.group("frames", series=series)["frame"][...]
    n, ny, nx = frames.shape
    s = float(truth.pixel_size)
    params = ImageParameters(label="Mask", image_epochs=1, image_size=(nx, ny), sampling=(s, s),
                             normalizedistance=normalizedistance, debug=None)  # fmt: skip
    values = {"image": frames[:, None, None], "label": (truth.masks > 0)[:, None, None],
              "sampling": np.full((n, 1), s), "dose": np.asarray(truth.dose, float)[:, None],
              "defocus": np.asarray(truth.defocus, float).reshape(n, 1, 1)}  # fmt: skip
    return store_image_set(lake, dataset, imageset, params, ["mask"], values,
                           parameters={"parameter_file": params.to_dict(), "series": series})
