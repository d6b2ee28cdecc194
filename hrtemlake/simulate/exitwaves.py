"""Exit waves of atomic models with abTEM's multislice (thesis §3.1, paper I methods).

``Potential`` → ``PlaneWave(energy).multislice`` exactly as abTEM users write it; this module
adds what the pipeline needs on top: the paper-I Debye–Waller smearing of the potential,
frozen-phonon averaging (isotropic, or with the heterogeneous vibrations an MD run measured,
thesis ch. 5), the GPU switch, and a plain complex64 array out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from ase import Atoms

from hrtemlake.errors import ParameterError
from hrtemlake.simulate.fftplans import Wisdom, use_wisdom

__all__ = ["ExitWaveSettings", "compute_exit_wave", "default_energy", "warm_up"]

#: abTEM settings for every exit wave.  FFTW's MEASURE plans are faster but chosen by timing,
#: so they are used only with wisdom that every worker shares (:mod:`.fftplans`); without it,
#: ESTIMATE plans deterministically, so any process computes the same bits.
ABTEM_CONFIG = {"fftw.planning_effort": "FFTW_ESTIMATE", "diagnostics.progress_bar": False}
MEASURED = {**ABTEM_CONFIG, "fftw.planning_effort": "FFTW_MEASURE"}

#: Beam energies of the thesis scripts [eV]: 300 keV for supported nanoparticles (§3.1),
#: 50 keV for MX2 flakes (Listing 3.5).
DEFAULT_ENERGY = {"nanoparticle": 300e3, "mx2": 50e3}


def default_energy(kind: str) -> float:
    """The thesis' default beam energy [eV] for a model kind."""
    return DEFAULT_ENERGY.get(kind, 300e3)


@dataclass(frozen=True)
class ExitWaveSettings:
    """How exit waves are computed (stored with the dataset as its parameters).

    Parameters
    ----------
    energy
        Beam energy [eV].
    sampling
        Lateral sampling of the potential and wave [Å] (paper I: 0.05 Å).
    slice_thickness
        Multislice slice thickness [Å] (paper I: 0.2 Å).
    parametrization
        abTEM potential parametrization (``"lobato"`` or ``"kirkland"``).
    debye_waller
        Standard deviation of the Gaussian smearing of the projected potential [Å]
        (paper I: sqrt(⟨u²⟩)); 0 for none.
    frozen_phonons
        Number of frozen-phonon configurations to average (0 for none).
    phonon_sigma
        Displacement standard deviation per direction of the frozen phonons [Å]; with
        ``vibrations``, the amplitude of elements the MD tables lack (e.g. a graphene support).
    device
        ``"cpu"`` or ``"gpu"`` (abTEM's own device option; needs CuPy and a GPU).
    vibrations
        The vibrational-amplitude tables of an MD run (:class:`hrtemlake.md.VibrationTables`,
        or its ``to_dict()``), carried as plain data so the stored parameters say exactly
        which amplitudes made the exit waves. The ``frozen_phonons`` configurations are then
        drawn with :func:`hrtemlake.md.perturbed_configurations` (local-environment
        amplitudes, plus the directional edge amplitudes when the run has an edge table)
        instead of one isotropic ``phonon_sigma``.
    vibration_scale
        Factor on the MD amplitudes (e.g. > 1 to mimic beam heating).
    """

    energy: float = 300e3
    sampling: float = 0.05
    slice_thickness: float = 0.2
    parametrization: str = "lobato"
    debye_waller: float = 0.0
    frozen_phonons: int = 0
    phonon_sigma: float = 0.0
    device: str = "cpu"
    vibrations: Any = field(default=None, hash=False)
    vibration_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.vibrations is not None:
            from hrtemlake.md.amplitudes import VibrationTables

            try:
                tables = VibrationTables.from_dict(self.vibrations)
            except (KeyError, TypeError, ValueError) as err:
                raise ParameterError(
                    f"exit waves: vibrations is not an amplitude table ({err})"
                ) from None
            object.__setattr__(self, "vibrations", tables)
        checks = {
            "energy": self.energy > 0,
            "sampling": self.sampling > 0,
            "slice_thickness": self.slice_thickness > 0,
            "debye_waller": self.debye_waller >= 0,
            "frozen_phonons": self.frozen_phonons >= 0,
            "phonon_sigma": self.phonon_sigma >= 0,
            "vibration_scale": self.vibration_scale >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ParameterError(f"exit waves: {name} = {getattr(self, name)} is out of range")
        if self.parametrization not in ("lobato", "kirkland"):
            raise ParameterError(
                f"exit waves: parametrization must be 'lobato' or 'kirkland', got {self.parametrization!r}"
            )
        if self.device not in ("cpu", "gpu"):
            raise ParameterError(f"exit waves: device must be 'cpu' or 'gpu', got {self.device!r}")
        if self.vibrations is not None and not self.frozen_phonons:
            raise ParameterError("exit waves: vibrations need frozen_phonons >= 1 configurations")
        if self.frozen_phonons and self.phonon_sigma == 0 and self.vibrations is None:
            raise ParameterError(
                "exit waves: frozen_phonons needs phonon_sigma > 0 (or vibrations)"
            )

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        if self.vibrations is None:  # as before vibrations existed: older datasets reopen
            del values["vibrations"], values["vibration_scale"]
        else:
            values["vibrations"] = self.vibrations.to_dict()
        return values

    def grid(self, atoms: Atoms) -> tuple[int, int]:
        """The (ny, nx) grid abTEM uses for ``atoms`` at this sampling."""
        from abtem.core.grid import Grid

        grid = Grid(extent=tuple(np.diag(atoms.cell)[:2]), sampling=self.sampling)
        gx, gy = grid.gpts
        return gy, gx


def compute_exit_wave(
    atoms: Atoms, settings: ExitWaveSettings, seed: int | None = None, wisdom: Wisdom | None = None
) -> np.ndarray:
    """The exit wave of ``atoms`` under a plane wave, as complex64 (ny, nx), y along rows.

    Parameters
    ----------
    atoms
        An orthogonal cell with the beam along z.
    settings
        See :class:`ExitWaveSettings`.
    seed
        Seed of the frozen-phonon displacements (isotropic or from MD vibrations).
    wisdom
        Measured FFTW plans (:func:`~hrtemlake.simulate.fftplans.fft_wisdom`): about 1.6×
        faster for 1000² waves, and the same bits in every process given the same wisdom.
        Without it, FFTW's deterministic ESTIMATE plans are used.

    Notes
    -----
    abTEM orders arrays (x, y); the lake stores images (y, x) like every image format, so
    the result is transposed.  With ``frozen_phonons`` the complex waves of the
    configurations are averaged (the coherent mean wave); with ``vibrations`` the
    configurations are perturbed by the MD amplitudes and given to abTEM as an
    ``AtomsEnsemble``.
    """
    import abtem

    use_wisdom(wisdom)
    with abtem.config.set(MEASURED if wisdom else ABTEM_CONFIG):
        return _compute(abtem, atoms, settings, seed)


def measure_exit_wave(atoms: Atoms, settings: ExitWaveSettings, seed: int | None = None) -> np.ndarray:
    """:func:`compute_exit_wave` with FFTW plans measured in (or known to) this process."""
    import abtem

    with abtem.config.set(MEASURED):
        return _compute(abtem, atoms, settings, seed)


def warm_up(settings: ExitWaveSettings) -> None:
    """Import abTEM and compile its JIT functions in this process (about 5 s, once).

    A tiny one-atom exit wave with FFTW's ESTIMATE plans: no measured plan of a real grid is
    touched, so the exit waves computed afterwards are the same bits.  Run on a worker while
    another measures the FFT plans, it takes that start-up off the critical path.
    """
    stand_in = Atoms("C", positions=[[2.0, 2.0, 0.5]], cell=[4.0, 4.0, 1.0], pbc=True)
    sigma = settings.phonon_sigma or (0.05 if settings.frozen_phonons else 0.0)
    compute_exit_wave(stand_in, replace(settings, vibrations=None, phonon_sigma=sigma), seed=0)


def _compute(abtem, atoms: Atoms, settings: ExitWaveSettings, seed: int | None) -> np.ndarray:
    specimen: Any = atoms
    if settings.vibrations is not None:
        from hrtemlake.md.vibrations import perturbed_configurations

        specimen = abtem.AtomsEnsemble(perturbed_configurations(
            atoms, settings.vibrations, settings.frozen_phonons, np.random.default_rng(seed),
            scale=settings.vibration_scale, default_sigma=settings.phonon_sigma or None,
        ))  # fmt: skip
    elif settings.frozen_phonons:
        specimen = abtem.FrozenPhonons(
            atoms, num_configs=settings.frozen_phonons, sigmas=settings.phonon_sigma, seed=seed
        )
    potential = abtem.Potential(
        specimen,
        sampling=settings.sampling,
        slice_thickness=settings.slice_thickness,
        parametrization=settings.parametrization,
        projection="infinite",
        device=settings.device,
    )
    if settings.debye_waller > 0:
        potential = _smeared(potential, settings.debye_waller)
    waves = abtem.PlaneWave(energy=settings.energy, device=settings.device)
    exit_wave = waves.multislice(potential, lazy=False)
    array = exit_wave.array
    if settings.frozen_phonons:
        array = array.mean(axis=0)
    array = _to_numpy(array)
    return np.ascontiguousarray(array.T, dtype=np.complex64)


def _smeared(potential, sigma: float):
    """The potential with every slice convolved by a 2-D Gaussian of width ``sigma`` [Å].

    A lateral Gaussian blur of the projected potential is the thermal average over
    independent Gaussian displacements of all atoms (paper I's Debye–Waller model).
    """
    from abtem.potentials.iam import PotentialArray

    built = potential.build(lazy=False)
    array = built.array
    xp = np if isinstance(array, np.ndarray) else _cupy()
    kx = xp.fft.fftfreq(array.shape[-2], built.sampling[0])
    ky = xp.fft.fftfreq(array.shape[-1], built.sampling[1])
    k2 = kx[:, None] ** 2 + ky[None, :] ** 2
    kernel = xp.exp(-2 * np.pi**2 * sigma**2 * k2)
    smeared = xp.fft.ifft2(xp.fft.fft2(array) * kernel).real.astype(array.dtype)
    return PotentialArray(
        smeared, slice_thickness=built.slice_thickness, sampling=built.sampling
    )


def _cupy():
    import cupy

    return cupy


def _to_numpy(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)
