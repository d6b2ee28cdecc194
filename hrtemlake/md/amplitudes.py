"""Vibrational-amplitude tables from MD trajectories (thesis ch. 5, Table 5.1).

Local environment (``get_vibrational_amplitudes``)
    Every atom's vibrational amplitude is the standard deviation of its positions over the
    steps, along x, y and z. Atoms are classed by element and by their coordination number
    to each neighbouring element (neighbours within the sum of the two atoms' cut-off radii,
    ASE's natural cut-offs by default); an entry is the mean amplitude of a class with its
    standard error (the standard deviation of the class' amplitudes over √atoms; undefined,
    None in Python and NaN in the lake, for a class of one atom).
Directional edge (``get_edge_vibrations``)
    Edge atoms, those of the lowest coordination to a metal (an S with one Mo neighbour),
    are seen in a local frame whose y axis points in-plane from the atom to its nearest metal
    atom, x lies in-plane along the edge (x = y × z) and z points away from the metal plane
    (atoms below it are turned 180° about y). An entry holds the mean over the edge atoms of
    each atom's standard deviation in that frame (``sigma``) and the mean displacement in
    that frame from the reference structure (``mean``).

Coordination numbers and frames come from a reference structure: by default the first step
given, and for runs in the lake step 0, the relaxed structure the dynamics started from.
Positions are taken as stored (ASE's dynamics never wraps them into the cell).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.lake import Lake

__all__ = [
    "AmplitudeEntry",
    "AmplitudeTable",
    "EdgeEntry",
    "EdgeTable",
    "VibrationTables",
    "NONMETALS",
    "cutoff_radii",
    "coordination_numbers",
    "edge_frames",
    "format_table",
    "get_vibrational_amplitudes",
    "get_edge_vibrations",
    "vibration_tables",
    "write_vibration_tables",
    "load_vibrations",
]

NONMETALS = frozenset(
    "H He B C N O F Ne Si P S Cl Ar Ge As Se Br Kr Sb Te I Xe At Rn".split()
)
"""Elements never taken as the metal of an edge (metalloids included)."""

_Vector = tuple[float, float, float]


def _optional(values: Iterable[float | None]) -> tuple[float | None, ...]:
    """Floats with NaN (the lake's "undefined") as None, so tables compare equal and are JSON."""
    return tuple(None if v is None or math.isnan(v) else float(v) for v in values)


def _vector(values: Iterable[float]) -> _Vector:
    return tuple(float(v) for v in values)  # type: ignore[return-value]


@dataclass(frozen=True)
class AmplitudeEntry:
    """One class of atoms: ``element`` atoms with ``coordination`` ``neighbour`` atoms."""

    element: str
    neighbour: str
    coordination: int
    atoms: int
    sigma: _Vector
    """Mean standard deviation of the positions along x, y, z [Å]."""
    stderr: tuple[float | None, float | None, float | None]
    """Standard error of ``sigma`` [Å] (None for a class of one atom; NaN in the lake)."""


@dataclass(frozen=True)
class EdgeEntry:
    """Edge atoms ``element`` with ``coordination`` ``metal`` neighbours, in the local frame."""

    element: str
    metal: str
    coordination: int
    atoms: int
    sigma: _Vector
    """Mean over the edge atoms of their standard deviation along the frame's x, y, z [Å]."""
    mean: _Vector
    """Mean displacement along the frame's x, y, z from the reference structure [Å]."""


def _steps(steps: Sequence[int]) -> tuple[int, int]:
    start, stop = steps
    return int(start), int(stop)


@dataclass(frozen=True)
class AmplitudeTable:
    """Local-environment vibrational amplitudes (the thesis' Frozendict ``va``)."""

    entries: tuple[AmplitudeEntry, ...]
    cutoffs: Mapping[str, float] = field(default_factory=dict, hash=False)
    """Cut-off radius per element [Å]: two atoms are neighbours within the sum of theirs."""
    steps: tuple[int, int] = (0, 0)
    """Steps ``[start, stop)`` of the run the amplitudes come from."""

    def elements(self) -> list[str]:
        return list(dict.fromkeys(e.element for e in self.entries))

    def neighbour_for(self, element: str) -> str:
        """The neighbour element that classes ``element`` atoms (perturbation and plots).

        The one with the most distinct coordination numbers in the table; ties go to another
        element before the same one, then to the one counting more atoms.
        """
        candidates = {}
        for entry in self.entries:
            if entry.element == element:
                n, atoms = candidates.get(entry.neighbour, (0, 0))
                candidates[entry.neighbour] = (n + 1, atoms + entry.atoms * entry.coordination)
        if not candidates:
            raise ParameterError(f"the amplitude table has no entries for {element}")
        return max(candidates, key=lambda b: (candidates[b][0], b != element, candidates[b][1]))

    def sigma(self, element: str, neighbour: str, coordination: int) -> _Vector:
        """Amplitude of a class [Å]; an unseen coordination takes the nearest (lower on ties)."""
        options = [e for e in self.entries if e.element == element and e.neighbour == neighbour]
        if not options:
            raise ParameterError(f"the amplitude table has no {element}–{neighbour} entries")
        best = min(options, key=lambda e: (abs(e.coordination - coordination), e.coordination))
        return best.sigma

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": [{**asdict(e), "sigma": list(e.sigma), "stderr": list(e.stderr)}
                        for e in self.entries],  # fmt: skip
            "cutoffs": dict(self.cutoffs),
            "steps": list(self.steps),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AmplitudeTable":
        entries = tuple(
            AmplitudeEntry(str(e["element"]), str(e["neighbour"]), int(e["coordination"]),
                           int(e["atoms"]), _vector(e["sigma"]), _optional(e["stderr"]))  # fmt: skip
            for e in data["entries"]
        )
        return cls(entries, {str(k): float(v) for k, v in dict(data.get("cutoffs", {})).items()},
                   _steps(data.get("steps", (0, 0))))  # fmt: skip


@dataclass(frozen=True)
class EdgeTable:
    """Directional edge amplitudes (the thesis' ``sigma_xyz`` and ``mu_xyz``)."""

    entries: tuple[EdgeEntry, ...]
    cutoffs: Mapping[str, float] = field(default_factory=dict, hash=False)
    steps: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": [{**asdict(e), "sigma": list(e.sigma), "mean": list(e.mean)}
                        for e in self.entries],  # fmt: skip
            "cutoffs": dict(self.cutoffs),
            "steps": list(self.steps),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EdgeTable":
        entries = tuple(
            EdgeEntry(str(e["element"]), str(e["metal"]), int(e["coordination"]), int(e["atoms"]),
                      _vector(e["sigma"]), _vector(e["mean"]))  # fmt: skip
            for e in data["entries"]
        )
        return cls(entries, {str(k): float(v) for k, v in dict(data.get("cutoffs", {})).items()},
                   _steps(data.get("steps", (0, 0))))  # fmt: skip


@dataclass(frozen=True)
class VibrationTables:
    """The tables of one MD run, as the exit-wave settings carry them (plain data)."""

    run: str
    amplitudes: AmplitudeTable
    edges: EdgeTable | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "amplitudes": self.amplitudes.to_dict(),
                "edges": self.edges.to_dict() if self.edges is not None else None}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "VibrationTables":
        if isinstance(data, VibrationTables):
            return data
        amplitudes = data["amplitudes"]
        edges = data.get("edges")
        return cls(
            run=str(data.get("run", "")),
            amplitudes=amplitudes if isinstance(amplitudes, AmplitudeTable)
            else AmplitudeTable.from_dict(amplitudes),
            edges=None if edges is None else edges if isinstance(edges, EdgeTable)
            else EdgeTable.from_dict(edges),
        )  # fmt: skip


# -- geometry ------------------------------------------------------------------------------


def cutoff_radii(
    symbols: Iterable[str], cutoffs: Mapping[str, float] | None = None, mult: float = 1.0
) -> dict[str, float]:
    """Cut-off radius per element [Å]: ASE's natural cut-offs (covalent radii × ``mult``),
    overridden per element by ``cutoffs``."""
    cutoffs = dict(cutoffs or {})
    unknown = sorted(set(cutoffs) - set(atomic_numbers))
    if unknown:
        raise ParameterError(f"cutoffs: {unknown} are not chemical symbols")
    if mult <= 0 or any(float(v) <= 0 for v in cutoffs.values()):
        raise ParameterError("cut-off radii and their multiplier must be > 0")
    radii = {}
    for symbol in dict.fromkeys(symbols):
        radii[symbol] = float(cutoffs.get(symbol, covalent_radii[atomic_numbers[symbol]] * mult))
    return radii


def _pairs(atoms: Atoms, radii: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ase.neighborlist import neighbor_list

    symbols = atoms.get_chemical_symbols()
    per_atom = [radii.get(s, covalent_radii[atomic_numbers[s]]) for s in symbols]
    return neighbor_list("ijD", atoms, per_atom, self_interaction=False)


def coordination_numbers(
    atoms: Atoms, radii: Mapping[str, float] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Neighbours of every atom per element: an (atom, element) count array and the elements.

    Parameters
    ----------
    atoms
        The structure (its ``pbc`` is respected).
    radii
        Cut-off radius per element [Å] (default: :func:`cutoff_radii` of the atoms).
    """
    symbols = atoms.get_chemical_symbols()
    elements = list(dict.fromkeys(symbols))
    radii = radii if radii is not None else cutoff_radii(elements)
    i, j, _ = _pairs(atoms, radii)
    column = {s: k for k, s in enumerate(elements)}
    counts = np.zeros((len(atoms), len(elements)), dtype=np.int64)
    np.add.at(counts, (i, [column[symbols[k]] for k in j]), 1)
    return counts, elements


def edge_frames(atoms: Atoms, indices: np.ndarray, metal: str,
                radii: Mapping[str, float] | None = None) -> np.ndarray:  # fmt: skip
    """Rotations (atom, 3, 3) into each edge atom's local frame; rows are the frame axes.

    y points in-plane from the atom to its nearest ``metal`` neighbour, x = y × z lies
    in-plane along the edge, and z points away from the metal plane (for an atom below its
    metal the frame is turned 180° about y). ``R @ d`` is a displacement ``d`` in the frame.
    """
    radii = radii if radii is not None else cutoff_radii(atoms.get_chemical_symbols())
    indices = np.asarray(indices, dtype=int)
    i, j, vectors = _pairs(atoms, radii)
    keep = (atoms.numbers[j] == atomic_numbers[metal]) & np.isin(i, indices)
    i, vectors = i[keep], vectors[keep]
    # the nearest metal neighbour of each atom: sort by atom, then distance, take the first
    order = np.lexsort((np.linalg.norm(vectors, axis=1), i))
    i, vectors = i[order], vectors[order]
    first = np.flatnonzero(np.r_[True, i[1:] != i[:-1]]) if i.size else np.array([], dtype=int)
    nearest = dict(zip(i[first].tolist(), vectors[first]))
    missing = [int(k) for k in indices if int(k) not in nearest]
    if missing:
        raise ParameterError(f"atoms {missing} have no {metal} neighbour to define an edge frame")
    to_metal = np.array([nearest[int(k)] for k in indices]).reshape(-1, 3)
    in_plane = to_metal * [1.0, 1.0, 0.0]
    length = np.linalg.norm(in_plane, axis=1)
    if (length < 1e-6).any():
        flat = [int(k) for k in indices[length < 1e-6]]
        raise ParameterError(f"atoms {flat} sit on top of their {metal} neighbour: no frame")
    y = in_plane / length[:, None]
    z = np.broadcast_to([0.0, 0.0, 1.0], y.shape)
    x = np.cross(y, z)
    below = (to_metal[:, 2] > 0)[:, None]  # the atom is below its metal: turn 180° about y
    x = np.where(below, -x, x)
    z = np.where(below, -z, z)
    return np.stack([x, y, z], axis=1)


# -- extraction ----------------------------------------------------------------------------


class _Moments:
    """Running per-atom sums of displacements from a reference (streams any number of steps)."""

    def __init__(self, reference: np.ndarray, frames: np.ndarray | None = None,
                 indices: np.ndarray | None = None):  # fmt: skip
        self.indices = np.arange(len(reference)) if indices is None else indices
        self.reference = reference[self.indices]
        self.frames = frames
        self.n = 0
        self.sum = np.zeros_like(self.reference)
        self.sumsq = np.zeros_like(self.reference)

    def add(self, positions: np.ndarray) -> None:
        d = positions[:, self.indices] - self.reference
        if self.frames is not None:
            d = np.einsum("aij,saj->sai", self.frames, d)
        self.n += len(d)
        self.sum += d.sum(axis=0)
        self.sumsq += (d**2).sum(axis=0)

    def mean(self) -> np.ndarray:
        return self.sum / self.n

    def std(self) -> np.ndarray:
        variance = (self.sumsq - self.sum**2 / self.n) / (self.n - 1)
        return np.sqrt(np.clip(variance, 0.0, None))


def _as_source(trajectory) -> tuple[dict[str, Any], np.ndarray, Iterator[np.ndarray]]:
    """(template, first positions, blocks of positions) of any supported trajectory."""
    from hrtemlake.md.dynamics import MDTrajectory

    if isinstance(trajectory, (str, os.PathLike)):
        import ase.io

        trajectory = ase.io.read(trajectory, index=":")
    if isinstance(trajectory, Sequence) and trajectory and isinstance(trajectory[0], Atoms):
        trajectory = MDTrajectory.from_atoms(trajectory)
    if isinstance(trajectory, MDTrajectory):
        template = {"numbers": trajectory.numbers, "cell": trajectory.cell, "pbc": trajectory.pbc}
        return template, trajectory.positions[0], iter([trajectory.positions])
    if isinstance(trajectory, tuple) and len(trajectory) == 2:  # (template, blocks)
        template, blocks = trajectory
        blocks = iter(blocks)
        first = next(blocks)
        return template, first[0], _chain(first, blocks)
    raise ParameterError(
        "a trajectory is an MDTrajectory, a list of ase.Atoms or a file, "
        f"got {type(trajectory).__name__}"
    )


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _edge_pairs(
    symbols: list[str], element: str | None, metal: str | None
) -> list[tuple[str, str]]:
    for name, value in (("element", element), ("metal", metal)):
        if value is not None and value not in symbols:
            raise ParameterError(f"edge {name} {value!r} is not in the system ({sorted(symbols)})")
    elements = [element] if element else [s for s in symbols if s in NONMETALS]
    metals = [metal] if metal else [s for s in symbols if s not in NONMETALS]
    return [(e, m) for e in elements for m in metals if e != m]


def vibration_tables(
    trajectory,
    cutoffs: Mapping[str, float] | None = None,
    mult: float = 1.0,
    reference: Atoms | np.ndarray | None = None,
    element: str | None = None,
    metal: str | None = None,
    steps: tuple[int, int] | None = None,
    run: str = "",
) -> VibrationTables:
    """Both tables of a trajectory in one pass over its steps.

    Parameters
    ----------
    trajectory
        An :class:`~hrtemlake.md.dynamics.MDTrajectory`, a list of :class:`ase.Atoms`, a
        trajectory file, or ``(template, blocks)`` with ``template`` holding ``numbers``,
        ``cell``, ``pbc`` and ``blocks`` an iterable of (step, atom, xyz) position arrays.
    cutoffs
        Cut-off radius per element [Å], overriding ASE's natural cut-offs.
    mult
        Multiplier of the natural cut-offs.
    reference
        Structure (or positions) for coordination numbers, frames and edge displacements;
        default: the first step.
    element, metal
        Edge atoms and the metal their frame points to (default: every non-metal and every
        metal of the system; an edge needs atoms of lower coordination than others).
    steps
        The steps ``[start, stop)`` the trajectory covers, recorded in the tables.
    run
        The run's name, recorded in the tables.
    """
    template, first, blocks = _as_source(trajectory)
    if reference is None:
        reference_positions = np.asarray(first, dtype=np.float64)
    elif isinstance(reference, Atoms):
        reference_positions = reference.positions
    else:
        reference_positions = np.asarray(reference, dtype=np.float64)
    atoms = Atoms(numbers=template["numbers"], cell=template["cell"], pbc=template["pbc"],
                  positions=reference_positions)  # fmt: skip
    symbols = atoms.get_chemical_symbols()
    radii = cutoff_radii(symbols, cutoffs, mult)
    counts, elements = coordination_numbers(atoms, radii)
    edge_sets = []
    for edge_element, edge_metal in _edge_pairs(elements, element, metal):
        of_element = np.flatnonzero(np.array(symbols) == edge_element)
        c = counts[of_element, elements.index(edge_metal)]
        bonded = c[c > 0]
        if bonded.size == 0 or (element is None and metal is None and bonded.min() == c.max()):
            continue
        lowest = int(bonded.min())
        indices = of_element[c == lowest]
        frames = edge_frames(atoms, indices, edge_metal, radii)
        edge_sets.append(
            (edge_element, edge_metal, lowest, _Moments(reference_positions, frames, indices))
        )
    moments = _Moments(reference_positions)
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        moments.add(block)
        for *_, edge_moments in edge_sets:
            edge_moments.add(block)
    if moments.n < 2:
        raise ParameterError(f"amplitudes need at least 2 steps, got {moments.n}")
    steps = _steps(steps) if steps is not None else (0, moments.n)
    amplitudes = _amplitude_entries(moments.std(), np.array(symbols), counts, elements)
    edges = tuple(
        EdgeEntry(e, m, c, len(mo.indices), tuple(map(float, mo.std().mean(axis=0))),
                  tuple(map(float, mo.mean().mean(axis=0))))  # fmt: skip
        for e, m, c, mo in edge_sets
    )
    return VibrationTables(
        run=run,
        amplitudes=AmplitudeTable(amplitudes, radii, steps),
        edges=EdgeTable(edges, radii, steps) if edges else None,
    )


def _amplitude_entries(std: np.ndarray, symbols: np.ndarray, counts: np.ndarray,
                       elements: list[str]) -> tuple[AmplitudeEntry, ...]:  # fmt: skip
    entries = []
    for element in elements:
        mine = symbols == element
        for k, neighbour in enumerate(elements):
            for c in np.unique(counts[mine, k]):
                cls = std[mine & (counts[:, k] == c)]
                sigma = cls.mean(axis=0)
                stderr = (cls.std(axis=0, ddof=1) / np.sqrt(len(cls)) if len(cls) > 1
                          else np.full(3, np.nan))  # fmt: skip
                entries.append(AmplitudeEntry(element, neighbour, int(c), len(cls),
                                              _vector(sigma), _optional(stderr)))  # fmt: skip
    return tuple(entries)


def get_vibrational_amplitudes(trajectory, cutoffs: Mapping[str, float] | None = None,
                               mult: float = 1.0, reference=None) -> AmplitudeTable:  # fmt: skip
    """Local-environment amplitudes (thesis Table 5.1); see :func:`vibration_tables`."""
    return vibration_tables(trajectory, cutoffs, mult, reference).amplitudes


def get_edge_vibrations(trajectory, cutoffs: Mapping[str, float] | None = None, mult: float = 1.0,
                        reference=None, element: str | None = None,
                        metal: str | None = None) -> EdgeTable | None:  # fmt: skip
    """Directional edge amplitudes (thesis Table 5.1, Fig. 5.3); None when there is no edge."""
    return vibration_tables(trajectory, cutoffs, mult, reference, element, metal).edges


# -- the lake ------------------------------------------------------------------------------


def _run_name(run: str) -> str:
    return run[3:] if run.startswith("md/") else run


def write_vibration_tables(
    lake: Lake,
    run: str,
    start: int = 0,
    stop: int | None = None,
    cutoffs: Mapping[str, float] | None = None,
    mult: float = 1.0,
    element: str | None = None,
    metal: str | None = None,
    overwrite: bool = False,
) -> VibrationTables:
    """Compute the tables of steps ``[start, stop)`` of ``md/<run>`` and store them.

    Writes ``md/<run>/amplitudes`` and, when the run has edge atoms, ``md/<run>/edge_vibrations``.
    The reference structure is step 0 (the relaxed start). Tables that exist with the same
    parameters are returned as stored; with other parameters (e.g. the run has grown since)
    pass ``overwrite=True`` to replace them.
    """
    from hrtemlake.md.dynamics import committed_steps, iter_positions

    run = _run_name(run)
    n = committed_steps(lake, run)
    stop = n if stop is None else stop
    if n and not (0 <= start and start + 2 <= stop <= n):
        raise ParameterError(
            f"md/{run} holds steps 0..{n - 1}: steps [{start}, {stop}) are not a range of "
            "at least 2"
        )
    parameters = {"start": int(start), "stop": int(stop), "cutoffs": dict(cutoffs or {}),
                  "mult": float(mult), "element": element, "metal": metal}  # fmt: skip
    if overwrite:
        for kind in ("amplitudes", "edge_vibrations"):
            if lake.exists(kind, run=run):
                del lake.root[lake.path(kind, run=run)]
    elif lake.exists("amplitudes", run=run):
        before = lake.group("amplitudes", run=run).attrs.get("parameters")
        if before != parameters:
            raise LakeError(
                f"md/{run}/amplitudes exists for other parameters ({before}); "
                "pass --overwrite (overwrite=True) to replace it"
            )
        if (lake.read("amplitudes", "write_session", run=run) > 0).any():
            return load_vibrations(lake, run)
    template, blocks = iter_positions(lake, run, start, stop)
    reference = lake.read("trajectory", "positions", slice(0, 1), run=run)[0]
    tables = vibration_tables((template, blocks), cutoffs, mult, reference, element, metal,
                              steps=(start, stop), run=run)  # fmt: skip
    attrs = {"cutoffs": dict(tables.amplitudes.cutoffs),
             "steps": {"start": int(start), "stop": int(stop), "reference": 0}}  # fmt: skip
    # the edge table first: the amplitude entries mark both tables complete
    if tables.edges is not None:
        writer = lake.writer("edge_vibrations", run=run, parameters=parameters, attrs=attrs)
        if writer.n_items == 0:
            entries = tables.edges.entries
            writer.append({
                "element": [e.element for e in entries], "metal": [e.metal for e in entries],
                "coordination": [e.coordination for e in entries],
                "atoms": [e.atoms for e in entries],
                "sigma": [e.sigma for e in entries], "mean": [e.mean for e in entries],
            })  # fmt: skip
    writer = lake.writer("amplitudes", run=run, parameters=parameters, attrs=attrs)
    if writer.n_items == 0:
        entries = tables.amplitudes.entries
        writer.append({
            "element": [e.element for e in entries], "neighbour": [e.neighbour for e in entries],
            "coordination": [e.coordination for e in entries], "atoms": [e.atoms for e in entries],
            "sigma": [e.sigma for e in entries],
            "stderr": [[np.nan if v is None else v for v in e.stderr] for e in entries],
        })  # fmt: skip
    return tables


def load_vibrations(lake: Lake, run: str) -> VibrationTables:
    """The stored tables of ``md/<run>`` (``run`` may be given as ``md/<run>``)."""
    run = _run_name(run)
    if not lake.exists("amplitudes", run=run):
        raise LakeError(
            f"{lake.location}: md/{run} has no amplitude table (run `hrtemlake md amplitudes "
            f"--run {run}` first)"
        )

    def rows(kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        group = lake.group(kind, run=run)
        done = int((group["write_session"][:] > 0).sum())
        names = [n for n, _ in group.arrays() if n != "write_session"]
        return dict(group.attrs), {n: group[n][:done] for n in names}

    attrs, a = rows("amplitudes")
    if not len(a["element"]):
        raise LakeError(f"md/{run}/amplitudes is incomplete: run `hrtemlake md amplitudes` again")
    steps = (int(attrs["steps"]["start"]), int(attrs["steps"]["stop"]))
    cutoffs = {str(k): float(v) for k, v in attrs["cutoffs"].items()}
    amplitudes = AmplitudeTable(
        tuple(AmplitudeEntry(str(e), str(b), int(c), int(n), _vector(s), _optional(se))
              for e, b, c, n, s, se in zip(a["element"], a["neighbour"], a["coordination"],
                                           a["atoms"], a["sigma"], a["stderr"])),
        cutoffs, steps,
    )  # fmt: skip
    edges = None
    if lake.exists("edge_vibrations", run=run):
        _, g = rows("edge_vibrations")
        entries = tuple(
            EdgeEntry(str(e), str(m), int(c), int(n), tuple(map(float, s)), tuple(map(float, mu)))
            for e, m, c, n, s, mu in zip(g["element"], g["metal"], g["coordination"], g["atoms"],
                                         g["sigma"], g["mean"])
        )  # fmt: skip
        edges = EdgeTable(entries, cutoffs, steps) if entries else None
    return VibrationTables(run=run, amplitudes=amplitudes, edges=edges)


def format_table(tables: VibrationTables) -> str:
    """The tables as aligned text (what ``hrtemlake md amplitudes`` prints)."""
    lines = [f"{'element':<8}{'neighbour':<10}{'coord':>5}{'atoms':>6}   "
             f"{'sigma x':>8}{'sigma y':>8}{'sigma z':>8}   {'stderr x':>8}{'y':>8}{'z':>8}  [Å]"]  # fmt: skip
    for e in tables.amplitudes.entries:
        lines.append(
            f"{e.element:<8}{e.neighbour:<10}{e.coordination:>5}{e.atoms:>6}   "
            + "".join(f"{v:8.4f}" for v in e.sigma) + "   "
            + "".join(f"{'-':>8}" if v is None else f"{v:8.4f}" for v in e.stderr)
        )  # fmt: skip
    if tables.edges is not None:
        lines.append("")
        lines.append(f"{'edge':<8}{'metal':<10}{'coord':>5}{'atoms':>6}   "
                     f"{'sigma x':>8}{'sigma y':>8}{'sigma z':>8}   {'mean x':>8}{'y':>8}{'z':>8}  [Å]")  # fmt: skip
        for e in tables.edges.entries:
            lines.append(f"{e.element:<8}{e.metal:<10}{e.coordination:>5}{e.atoms:>6}   "
                         + "".join(f"{v:8.4f}" for v in e.sigma) + "   "
                         + "".join(f"{v:8.4f}" for v in e.mean))  # fmt: skip
    return "\n".join(lines)

