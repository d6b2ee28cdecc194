"""Molecular dynamics into the lake, step by step (thesis ch. 5).

The protocol of the thesis' MoS2 runs: relax with QuasiNewton, give the atoms Maxwell–Boltzmann
velocities at an excitation temperature (500 K) with zero linear and (for a finite system)
angular momentum, and let the NVTBerendsen thermostat (0.5 fs time step, 250 fs time constant)
bring them to the target temperature (300 K). Every step is appended to ``md/<run>`` as soon
as it is computed: step 0 is the state after relaxation and initialisation, step ``i`` the state
at ``i`` time steps.

A run that stopped (crash, kill, wall-time limit) keeps its committed steps; calling
:func:`run_md` again with the same parameters restores the positions and velocities of its
last step and continues with the next one, without relaxing or drawing velocities again.
Berendsen's thermostat holds no state beyond the velocities, so a continued run follows the
same trajectory as an uninterrupted one (exactly, for a deterministic calculator).

Velocities are stored in Å/fs: ASE's velocity unit is Å per ASE time unit, and
``v[Å/fs] = v[ASE] · ase.units.fs``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from ase import Atoms, units

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.lake import AppendWriter, Lake
from hrtemlake.md.calculators import calculator_options, check_calculator, make_calculator
from hrtemlake.md.systems import build_system
from hrtemlake.models._checks import check_number

__all__ = [
    "MDSettings",
    "MDProgress",
    "MDResult",
    "MDTrajectory",
    "run_md",
    "load_trajectory",
    "iter_positions",
    "export_trajectory",
    "committed_steps",
]


@dataclass(frozen=True)
class MDSettings:
    """How a run is computed (stored as the run's parameters; a run keeps them).

    Parameters
    ----------
    temperature
        Thermostat temperature [K] (thesis: 300 K and 1200 K).
    excitation_temperature
        Temperature of the initial Maxwell–Boltzmann velocities [K] (thesis: 500 K).
    timestep
        Time step [fs] (thesis: 0.5 fs).
    taut
        Berendsen time constant [fs] (thesis: 250 fs).
    relax_fmax
        Force criterion of the QuasiNewton relaxation [eV/Å].
    relax_steps
        Most relaxation steps (0: start the dynamics from the structure as it is).
    calculator
        ``gpaw``, ``emt``, ``lj``, ``morse`` or ``module:Class``
        (:mod:`hrtemlake.md.calculators`).
    calculator_options
        Calculator keywords (for GPAW, updates to LCAO/dzp/PBE/Γ/no symmetry).
    seed
        Seed of the Maxwell–Boltzmann velocities.
    """

    temperature: float = 300.0
    excitation_temperature: float = 500.0
    timestep: float = 0.5
    taut: float = 250.0
    relax_fmax: float = 0.05
    relax_steps: int = 100
    calculator: str = "gpaw"
    calculator_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("temperature", "excitation_temperature"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
                    or not np.isfinite(value):
                raise ParameterError(f"{name} must be a finite temperature >= 0 K, got {value!r}")
        for name in ("timestep", "taut", "relax_fmax"):
            if check_number(name, getattr(self, name)) <= 0:
                raise ParameterError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("relax_steps", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ParameterError(f"{name} must be a non-negative integer, got {value!r}")
        if not isinstance(self.calculator, str) or not self.calculator:
            raise ParameterError(f"calculator must be a name, got {self.calculator!r}")
        object.__setattr__(self, "calculator_options", dict(self.calculator_options or {}))

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["calculator_options"] = calculator_options(self.calculator, self.calculator_options)
        return values


class MDProgress(NamedTuple):
    """One progress report: ``stage`` is ``"relax"`` or ``"md"``."""

    stage: str
    step: int
    total: int
    temperature: float
    energy: float


@dataclass(frozen=True)
class MDResult:
    """What one call of :func:`run_md` did."""

    run: str
    new_steps: int
    """MD steps computed by this call."""
    steps: int
    """MD steps the run holds now (the lake holds steps 0..steps)."""
    continued: bool
    """True when the call continued a run from its last committed step."""
    relax_steps: int
    """QuasiNewton steps taken by this call (0 when continuing)."""
    seconds_per_step: float
    """Mean wall time of this call's MD steps [s] (NaN when none)."""
    temperature: float
    """Temperature of the last step [K]."""


@dataclass
class MDTrajectory:
    """Steps of a run as arrays (positions [Å], velocities [Å/fs], energies [eV], ...)."""

    numbers: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    positions: np.ndarray
    steps: np.ndarray
    velocities: np.ndarray | None = None
    time: np.ndarray | None = None
    potential_energy: np.ndarray | None = None
    kinetic_energy: np.ndarray | None = None
    temperature: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.positions)

    def atoms(self, index: int = 0, positions: np.ndarray | None = None) -> Atoms:
        """Step ``index`` (or the given ``positions``) as :class:`ase.Atoms`."""
        atoms = Atoms(numbers=self.numbers, cell=self.cell, pbc=self.pbc,
                      positions=self.positions[index] if positions is None else positions)  # fmt: skip
        if positions is None and self.velocities is not None:
            atoms.set_velocities(self.velocities[index] / units.fs)
        return atoms

    @classmethod
    def from_atoms(cls, images: Sequence[Atoms]) -> "MDTrajectory":
        """A trajectory from ASE images (e.g. ``ase.io.read("md.traj", ":")``)."""
        images = list(images)
        if not images:
            raise ParameterError("a trajectory needs at least one image")
        first = images[0]
        if any(len(a) != len(first) or (a.numbers != first.numbers).any() for a in images):
            raise ParameterError("every image of a trajectory needs the same atoms, in order")
        return cls(numbers=first.numbers.copy(), cell=first.cell.array.copy(),
                   pbc=first.pbc.copy(), positions=np.stack([a.positions for a in images]),
                   steps=np.arange(len(images)))  # fmt: skip


def _run_name(run: str) -> str:
    return run[3:] if run.startswith("md/") else run


def committed_steps(lake: Lake, run: str) -> int:
    """Steps stored in ``md/<run>`` (the last one is ``committed_steps - 1``); 0 if none."""
    run = _run_name(run)
    if not lake.exists("trajectory", run=run):
        return 0
    done = lake.read("trajectory", "write_session", run=run) > 0
    return int(np.argmin(done)) if not done.all() else int(done.size)


def run_md(
    lake: Lake,
    run: str,
    steps: int,
    system: str | os.PathLike = "mos2-flake",
    settings: MDSettings | None = None,
    system_options: Mapping[str, Any] | None = None,
    log: str | os.PathLike | None = None,
    progress: Callable[[MDProgress], None] | None = None,
) -> MDResult:
    """Run (or continue) molecular dynamics ``md/<run>`` until it holds ``steps`` MD steps.

    Parameters
    ----------
    lake
        A lake opened with ``mode="a"``.
    run
        Run name (``md/<run>``; a leading ``md/`` is accepted).
    steps
        MD steps the run should hold; a larger value than last time extends it.
    system
        A name of :data:`hrtemlake.md.systems.SYSTEMS` or a structure file.
    settings
        See :class:`MDSettings` (default: the thesis protocol with GPAW).
    system_options
        Builder options of a named system (e.g. ``{"rings": 2}``).
    log
        File for the calculator's text output (GPAW's ``txt``), or None.
    progress
        Called with an :class:`MDProgress` after every relaxation and MD step.

    Returns
    -------
    MDResult

    Raises
    ------
    ParameterError
        Bad input (unknown system, negative temperature, calculator not installed, ...),
        before anything is written.
    LakeError
        ``md/<run>`` exists with other parameters.
    """
    settings = settings or MDSettings()
    run = _run_name(run)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ParameterError(f"steps must be a non-negative integer, got {steps!r}")
    system_options = dict(system_options or {})
    atoms = build_system(system, system_options)
    check_calculator(settings.calculator, atoms, settings.calculator_options)
    parameters = {"system": os.fspath(system), "system_options": system_options,
                  **settings.to_dict()}  # fmt: skip
    writer = lake.writer(
        "trajectory", run=run, parameters=parameters, seed=settings.seed,
        sizes={"atom": len(atoms)}, coords={"numbers": atoms.numbers, "cell": atoms.cell.array},
        attrs={"system": os.fspath(system), "calculator": settings.calculator,
               "pbc": [bool(p) for p in atoms.pbc], "timestep": settings.timestep},
    )  # fmt: skip
    done = writer.n_items
    if done and done - 1 >= steps:
        last = float(writer.array("temperature")[done - 1])
        return MDResult(run, 0, done - 1, True, 0, float("nan"), last)
    _check_same_system(writer, atoms, run)
    log = os.fspath(log) if log is not None else None
    atoms.calc = make_calculator(settings.calculator, settings.calculator_options, log=log)
    relaxed = 0
    if done:
        _restore(atoms, writer, done - 1)
    else:
        relaxed = _relax(atoms, settings, progress)
        _initial_velocities(atoms, settings)
    return _integrate(atoms, writer, run, steps, settings, progress, continued=bool(done),
                      relaxed=relaxed)  # fmt: skip


def _check_same_system(writer: AppendWriter, atoms: Atoms, run: str) -> None:
    numbers = writer.array("numbers")[:]
    if len(numbers) != len(atoms) or (numbers != atoms.numbers).any():
        raise LakeError(f"md/{run} holds another system ({len(numbers)} atoms); use a new run name")


def _restore(atoms: Atoms, writer: AppendWriter, step: int) -> None:
    atoms.positions = writer.array("positions")[step]
    atoms.set_velocities(writer.array("velocities")[step] / units.fs)


def _relax(atoms: Atoms, settings: MDSettings, progress) -> int:
    if settings.relax_steps == 0:
        return 0
    from ase.optimize import QuasiNewton

    optimizer = QuasiNewton(atoms, logfile=None)
    if progress is not None:
        optimizer.attach(lambda: progress(MDProgress(
            "relax", optimizer.nsteps, settings.relax_steps, float(atoms.get_temperature()),
            float(atoms.get_potential_energy()))))
    optimizer.run(fmax=settings.relax_fmax, steps=settings.relax_steps)
    return int(optimizer.nsteps)


def _initial_velocities(atoms: Atoms, settings: MDSettings) -> None:
    """Maxwell–Boltzmann velocities at the excitation temperature, no drift, no rotation.

    Angular momentum is removed for finite systems (no periodic direction), where it is
    conserved; a periodic cell has no rotational invariance, so only its drift is removed.
    Both corrections keep the temperature.
    """
    from ase.md import velocitydistribution as vd

    rng = np.random.default_rng(settings.seed)
    exact = len(atoms) > 1
    if hasattr(vd, "thermalize_momenta"):  # ASE >= 3.29
        vd.thermalize_momenta(atoms, settings.excitation_temperature,
                              exact_temperature=exact, rng=rng)  # fmt: skip
    else:  # pragma: no cover - older ASE
        vd.MaxwellBoltzmannDistribution(atoms, temperature_K=settings.excitation_temperature,
                                        force_temp=exact, rng=rng)  # fmt: skip
    vd.Stationary(atoms)
    if len(atoms) > 2 and not atoms.pbc.any():
        vd.ZeroRotation(atoms)


def _integrate(atoms, writer, run, steps, settings, progress, continued, relaxed) -> MDResult:
    from ase.md.nvtberendsen import NVTBerendsen

    dynamics = NVTBerendsen(atoms, timestep=settings.timestep * units.fs,
                            temperature_K=settings.temperature, taut=settings.taut * units.fs,
                            fixcm=True, logfile=None)  # fmt: skip
    start = writer.n_items - 1 if continued else 0
    dynamics.nsteps = start  # a continued run skips ASE's observation of its initial state
    clock = {"last": time.perf_counter(), "durations": []}

    def observe() -> None:
        step = dynamics.nsteps
        if continued and step == start:
            return  # ASE observes the initial state when nsteps is 0: it is stored already
        if writer.n_items != step:
            raise LakeError(f"md/{run}: step {step} would be item {writer.n_items}")
        temperature = float(atoms.get_temperature())
        energy = float(atoms.get_potential_energy())
        writer.append({
            "positions": atoms.positions[None],
            "velocities": (atoms.get_velocities() * units.fs)[None],
            "time": [step * settings.timestep],
            "potential_energy": [energy],
            "kinetic_energy": [float(atoms.get_kinetic_energy())],
            "temperature": [temperature],
        })  # fmt: skip
        now = time.perf_counter()
        if step > start:
            clock["durations"].append(now - clock["last"])
        clock["last"] = now
        if progress is not None:
            progress(MDProgress("md", step, steps, temperature, energy))

    dynamics.attach(observe, interval=1)
    clock["last"] = time.perf_counter()
    dynamics.run(steps=steps - start)
    durations = clock["durations"]
    return MDResult(
        run=run, new_steps=len(durations), steps=writer.n_items - 1, continued=continued,
        relax_steps=relaxed,
        seconds_per_step=float(np.mean(durations)) if durations else float("nan"),
        temperature=float(atoms.get_temperature()),
    )  # fmt: skip


def _step_range(lake: Lake, run: str, start: int, stop: int | None) -> range:
    n = committed_steps(lake, run)
    if n == 0:
        raise LakeError(f"{lake.location}: no MD run 'md/{run}' (run `hrtemlake md run` first)")
    stop = n if stop is None else stop
    if not 0 <= start < stop <= n:
        raise ParameterError(
            f"md/{run} holds steps 0..{n - 1}; cannot read steps [{start}, {stop})"
        )
    return range(start, stop)


def _template(lake: Lake, run: str) -> dict[str, Any]:
    group = lake.group("trajectory", run=run)
    return {"numbers": group["numbers"][:], "cell": group["cell"][:],
            "pbc": np.array(group.attrs.get("pbc", [False] * 3), dtype=bool)}  # fmt: skip


def load_trajectory(lake: Lake, run: str, start: int = 0, stop: int | None = None) -> MDTrajectory:
    """Steps ``[start, stop)`` of ``md/<run>`` (default: every committed step)."""
    run = _run_name(run)
    steps = _step_range(lake, run, start, stop)
    items = slice(steps.start, steps.stop)
    read = lambda name: lake.read("trajectory", name, items, run=run)  # noqa: E731
    return MDTrajectory(
        **_template(lake, run), positions=read("positions"), steps=np.array(steps),
        velocities=read("velocities"), time=read("time"),
        potential_energy=read("potential_energy"), kinetic_energy=read("kinetic_energy"),
        temperature=read("temperature"),
    )  # fmt: skip


def iter_positions(
    lake: Lake, run: str, start: int = 0, stop: int | None = None, block: int = 256
) -> tuple[dict[str, Any], Iterator[np.ndarray]]:
    """The run's atoms template and its positions in blocks of ``block`` steps.

    Memory stays bounded however long the run: amplitude extraction streams these blocks.
    """
    run = _run_name(run)
    steps = _step_range(lake, run, start, stop)

    def blocks() -> Iterator[np.ndarray]:
        for first in range(steps.start, steps.stop, block):
            last = min(first + block, steps.stop)
            yield lake.read("trajectory", "positions", slice(first, last), run=run)

    return _template(lake, run), blocks()


def export_trajectory(
    lake: Lake,
    run: str,
    out: str | os.PathLike,
    start: int = 0,
    stop: int | None = None,
    every: int = 1,
) -> int:
    """Write steps ``start:stop:every`` of ``md/<run>`` with ASE; returns the images written.

    A ``.traj`` file is written step by step (positions, velocities, potential energy);
    other formats go through :func:`ase.io.write` (the suffix picks the format).
    """
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io.trajectory import Trajectory

    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ParameterError(f"every must be a positive integer, got {every!r}")
    run = _run_name(run)
    steps = _step_range(lake, run, start, stop)[::every]
    template = _template(lake, run)
    energy = lake.read("trajectory", "potential_energy", run=run)
    times = lake.read("trajectory", "time", run=run)

    def images() -> Iterator[Atoms]:
        for step in steps:
            atoms = Atoms(**template,
                          positions=lake.read("trajectory", "positions", slice(step, step + 1), run=run)[0])  # fmt: skip
            atoms.set_velocities(
                lake.read("trajectory", "velocities", slice(step, step + 1), run=run)[0] / units.fs
            )
            atoms.info.update({"step": int(step), "time_fs": float(times[step])})
            atoms.calc = SinglePointCalculator(atoms, energy=float(energy[step]))
            yield atoms

    out = Path(out)
    if out.suffix == ".traj":
        with Trajectory(out, "w") as trajectory:
            for atoms in images():
                trajectory.write(atoms)
    else:
        try:
            ase.io.write(out, list(images()))
        except Exception as err:
            raise ParameterError(f"cannot write {str(out)!r} with ASE: {err}") from None
    return len(steps)
