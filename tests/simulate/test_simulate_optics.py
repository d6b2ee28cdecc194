"""Optics kernels against abTEM 1.0.11 and against the formulas of thesis ch. 1.2."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.simulate import optics
from hrtemlake.simulate.optics import (
    aberration_phase,
    aperture,
    ctf,
    fft2,
    gaussian_blur_transfer,
    image_intensity,
    polar_spatial_frequencies,
    scherzer_defocus,
    spatial_envelope,
    temporal_envelope,
    wavelength,
)

abtem = pytest.importorskip("abtem")
from abtem.core.energy import energy2wavelength  # noqa: E402
from abtem.transfer import CTF  # noqa: E402
from abtem.transfer import scherzer_defocus as abtem_scherzer  # noqa: E402


@pytest.mark.parametrize("energy", [20e3, 50e3, 80e3, 200e3, 300e3, 1e6])
def test_wavelength_matches_abtem(energy):
    assert wavelength(energy) == pytest.approx(energy2wavelength(energy), rel=1e-7)


def test_wavelength_known_value_and_arrays():
    assert wavelength(300e3) == pytest.approx(0.019687, rel=1e-4)  # [Å] at 300 keV
    lam = wavelength(np.array([80e3, 300e3]))
    assert lam.shape == (2,) and lam[1] == pytest.approx(wavelength(300e3))
    with pytest.raises(ValueError, match="positive"):
        wavelength(0.0)


def test_scherzer_defocus_matches_abtem_and_thesis_figure():
    for cs, energy in [(5e4, 300e3), (-15e4, 50e3), (12.45e4, 300e3)]:
        assert scherzer_defocus(cs, energy) == pytest.approx(abtem_scherzer(cs, energy))
    # thesis Fig. 1.3: 300 keV, Cs = 5 µm gives a Scherzer defocus of 38.43 Å
    assert scherzer_defocus(5e4, 300e3) == pytest.approx(38.43, abs=0.01)


def _first_zero(k, values):
    sign = np.sign(values[1:])
    crossing = np.nonzero(sign[1:] != sign[:-1])[0][0] + 1
    k0, k1, v0, v1 = k[crossing], k[crossing + 1], values[crossing], values[crossing + 1]
    return k0 - v0 * (k1 - k0) / (v1 - v0)


@pytest.mark.parametrize("cs, energy", [(5e4, 300e3), (12.45e4, 300e3), (15e4, 50e3)])
def test_scherzer_first_zero_of_phase_contrast(cs, energy):
    """At Scherzer defocus Im(CTF) = -sin χ has its first zero at 1/point resolution,
    k = (6 / (Cs λ³))^(1/4), abTEM's crossover angle."""
    lam = wavelength(energy)
    defocus = scherzer_defocus(cs, energy)
    k = np.linspace(0, 2.0 / (cs * lam**3) ** 0.25, 20001)
    chi = aberration_phase(k, np.zeros_like(k), lam, {"defocus": defocus, "C30": cs})
    zero = _first_zero(k, np.imag(np.exp(-1j * chi)))
    assert zero == pytest.approx((6 / (cs * lam**3)) ** 0.25, rel=1e-4)
    reference = CTF(Cs=cs, defocus=defocus, energy=energy)
    assert zero * lam * 1e3 == pytest.approx(reference.crossover_angle, rel=1e-4)
    # sin χ keeps one sign before the zero: the Scherzer passband
    assert np.all(np.sin(chi[(k > 0) & (k < 0.999 * zero)]) < 0)


def test_defocus_is_minus_c10():
    k, phi = polar_spatial_frequencies((16, 16), 0.2)
    a = aberration_phase(k, phi, 0.02, {"defocus": 100.0})
    b = aberration_phase(k, phi, 0.02, {"C10": -100.0})
    np.testing.assert_allclose(a, b)
    # pure defocus: χ = π λ k² C10 = -π λ k² defocus (abTEM; thesis eq. 1.13 with Δf = C10)
    np.testing.assert_allclose(a, -np.pi * 100.0 * 0.02 * k**2, atol=1e-12)
    with pytest.raises(ValueError, match="twice"):
        aberration_phase(k, phi, 0.02, {"defocus": 1.0, "C10": 1.0})
    with pytest.raises(ValueError, match="did you mean 'C12'"):
        aberration_phase(k, phi, 0.02, {"C1_2": 1.0})


def test_temporal_envelope_convention():
    """E_t = exp(-(π λ Δ k² / 2)²): e⁻¹ at π λ Δ k² / 2 = 1 (Δ = 1/e half-width)."""
    lam, delta = wavelength(80e3), 30.0
    k_e = np.sqrt(2 / (np.pi * lam * delta))
    assert temporal_envelope(np.array([0.0, k_e]), lam, delta) == pytest.approx([1, np.e**-1])


def test_temporal_envelope_is_the_thesis_formula_and_a_defocus_average():
    """Eq. 1.21, exp(-Δ²/4 (∂χ/∂Δf)²), equals the average of exp(-iχ) over defoci
    f ~ exp(-f²/Δ²) (1/e half-width Δ), up to the coherent phase."""
    lam, delta = wavelength(80e3), 30.0
    k = np.linspace(0, 1.5, 50)
    phi = np.zeros_like(k)
    envelope = temporal_envelope(k, lam, delta)
    h = 1e-3
    dchi = (aberration_phase(k, phi, lam, {"defocus": h})
            - aberration_phase(k, phi, lam, {"defocus": -h})) / (2 * h)
    np.testing.assert_allclose(envelope, np.exp(-(delta**2) / 4 * dchi**2), rtol=1e-6)
    nodes, weights = np.polynomial.hermite.hermgauss(80)  # ∫ exp(-x²) g(x) dx
    average = sum(
        w * np.exp(-1j * aberration_phase(k, phi, lam, {"defocus": delta * x}))
        for x, w in zip(nodes, weights)
    ) / np.sqrt(np.pi)
    np.testing.assert_allclose(average.real, envelope, atol=1e-10)


def test_temporal_envelope_matches_abtem_kernel():
    shape, sampling, energy = (64, 48), (0.1, 0.12), 200e3
    reference = abtem.transfer.TemporalEnvelope(
        focal_spread=25.0, energy=energy, gpts=shape, sampling=sampling
    )._evaluate_kernel()
    k, _ = polar_spatial_frequencies(shape, sampling)
    np.testing.assert_allclose(
        temporal_envelope(k, wavelength(energy), 25.0), reference, atol=1e-6
    )


def test_spatial_envelope_thesis_formula():
    """Eq. 1.20: exp(-β²/(4λ²) |∂χ/∂q|²); checked by finite differences of χ."""
    lam, beta = wavelength(300e3), 1.5
    aberrations = {"defocus": 50.0, "C30": 1e5, "C12": 30.0, "phi12": 0.4, "C21": 500.0}
    k0 = np.linspace(-0.8, 0.8, 41)[:, None] + 0 * np.linspace(-0.8, 0.8, 41)[None]
    k1 = 0 * k0 + np.linspace(-0.8, 0.8, 41)[None]
    h = 1e-6

    def chi(a, b):
        return aberration_phase(np.hypot(a, b), np.arctan2(b, a), lam, aberrations)

    grad2 = ((chi(k0 + h, k1) - chi(k0 - h, k1)) / (2 * h)) ** 2 + (
        (chi(k0, k1 + h) - chi(k0, k1 - h)) / (2 * h)
    ) ** 2
    expected = np.exp(-((beta * 1e-3) ** 2) / (4 * lam**2) * grad2)
    k, phi = np.hypot(k0, k1), np.arctan2(k1, k0)
    np.testing.assert_allclose(
        spatial_envelope(k, phi, lam, beta, aberrations), expected, rtol=1e-5, atol=1e-9
    )


def test_spatial_envelope_is_an_average_over_beam_tilts():
    """Eqs. 1.18-1.20: β is the 1/e width of the tilt distribution p ∝ exp(-q²/q_s²),
    q_s = β/λ; |⟨exp(-iχ(k + q))⟩| equals the envelope (quasi-coherent, to first order)."""
    lam, beta, aberrations = wavelength(300e3), 2.0, {"defocus": 100.0}
    q_s = beta * 1e-3 / lam
    nodes, weights = np.polynomial.hermite.hermgauss(60)
    k = np.linspace(0, 1.2, 7)
    average = 0
    for x, wx in zip(nodes, weights):
        for y, wy in zip(nodes, weights):
            k0, k1 = k + q_s * x, q_s * y + 0 * k
            chi = aberration_phase(np.hypot(k0, k1), np.arctan2(k1, k0), lam, aberrations)
            average = average + wx * wy * np.exp(-1j * chi)
    envelope = spatial_envelope(k, 0 * k, lam, beta, aberrations)
    np.testing.assert_allclose(np.abs(average / np.pi), envelope, atol=5e-3)
    assert envelope[-1] < 0.6  # a strong effect, so the convention is really tested


def test_blur_transfer_is_a_gaussian_of_standard_deviation_sigma():
    sigma, s, n = 0.7, 0.05, 512
    k, _ = polar_spatial_frequencies((n, n), s)
    image = np.zeros((n, n))
    image[0, 0] = 1.0
    psf = np.fft.ifft2(np.fft.fft2(image) * gaussian_blur_transfer(k, sigma)).real
    x = np.fft.fftfreq(n, 1 / (n * s))
    variance = np.sum(psf * x[:, None] ** 2) / psf.sum()
    assert np.sqrt(variance) == pytest.approx(sigma, rel=1e-6)


def test_aperture_hard_and_soft():
    lam = wavelength(80e3)
    k = np.array([0.0, 0.4, 0.6]) / lam * 1e-3 * 50  # 0, 20, 30 mrad
    np.testing.assert_array_equal(aperture(k, lam, 25.0), [1, 1, 0])
    assert aperture(k, lam, np.inf).tolist() == [1, 1, 1]


@pytest.mark.parametrize(
    "focal_spread, angular_spread, semiangle_cutoff",
    [(0.0, 0.0, np.inf), (30.0, 0.0, np.inf), (0.0, 2.0, np.inf), (30.0, 2.0, np.inf),
     (30.0, 2.0, 25.0)],
)
def test_image_matches_abtem(mos2_exit_wave, focal_spread, angular_spread, semiangle_cutoff):
    """Noise- and MTF-free images equal abTEM's CTF images of the same exit wave."""
    aberrations = dict(C10=-50.0, C30=-20e4, C12=20.0, phi12=0.7, C21=300.0, phi21=1.2,
                       C23=100.0, phi23=0.3, C32=1e3, phi32=0.2, C34=5e3, phi34=0.9,
                       C45=1e5, phi45=0.5)
    wave = mos2_exit_wave
    reference_ctf = CTF(aberration_coefficients=aberrations, focal_spread=focal_spread,
                        angular_spread=angular_spread, semiangle_cutoff=semiangle_cutoff,
                        energy=wave.energy)
    reference = wave.apply_ctf(reference_ctf).intensity().compute().array
    transfer = ctf(wave.shape, wave.sampling, wave.energy, aberrations,
                   focal_spread=focal_spread, angular_spread=angular_spread,
                   semiangle_cutoff=semiangle_cutoff)
    image = image_intensity(fft2(wave.array), transfer)
    assert image.shape == reference.shape
    assert np.corrcoef(image.ravel(), reference.ravel())[0, 1] >= 0.999
    np.testing.assert_allclose(image, reference, atol=0.01 * reference.std())


def test_ctf_batches_parameters(mos2_exit_wave):
    wave = mos2_exit_wave
    defocus = np.array([-50.0, 0.0, 80.0])
    spread = np.array([5.0, 10.0, 20.0])
    blur = np.array([0.0, 0.2, 0.5])
    batch = ctf(wave.shape, wave.sampling, wave.energy, {"defocus": defocus, "C30": 1e5},
                focal_spread=spread, blur=blur, angular_spread=spread / 10)
    assert batch.shape == (3,) + wave.shape
    for i in range(3):
        single = ctf(wave.shape, wave.sampling, wave.energy,
                     {"defocus": defocus[i], "C30": 1e5}, focal_spread=spread[i],
                     blur=blur[i], angular_spread=spread[i] / 10)
        np.testing.assert_allclose(batch[i], single, atol=1e-6)
    images = image_intensity(fft2(wave.array), batch)
    assert images.shape == (3,) + wave.shape and images.dtype.kind == "f"
    # a (2, 3) batch: a focal series per image
    series = ctf(wave.shape, wave.sampling, wave.energy,
                 {"C10": -np.stack([defocus, defocus + 50]), "C30": 1e5})
    assert series.shape == (2, 3) + wave.shape


def test_blur_is_the_thesis_total_transfer(mos2_exit_wave):
    """Eq. 1.23: the blur is one more factor of the total transfer function."""
    wave = mos2_exit_wave
    plain = ctf(wave.shape, wave.sampling, wave.energy, {"defocus": 30.0})
    blurred = ctf(wave.shape, wave.sampling, wave.energy, {"defocus": 30.0}, blur=0.4)
    k, _ = polar_spatial_frequencies(wave.shape, wave.sampling)
    np.testing.assert_allclose(blurred, plain * gaussian_blur_transfer(k, 0.4), atol=1e-6)


def test_vacuum_intensity_is_one():
    wave = np.ones((32, 32), dtype=np.complex64)
    transfer = ctf((32, 32), 0.1, 80e3, {"defocus": 100.0, "C30": 1e5}, focal_spread=20.0)
    np.testing.assert_allclose(image_intensity(fft2(wave), transfer), 1.0, atol=1e-5)


def test_symbols_match_abtem():
    from abtem.transfer import polar_symbols

    amplitudes = {s for s in polar_symbols if s.startswith("C")}
    assert set(optics.ABERRATION_SYMBOLS) == amplitudes
