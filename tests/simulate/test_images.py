"""Image epochs (issue: image epochs and labels): the batched path against the reference
kernels and abTEM, drawn parameters, reproducibility and every validation error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import fft2, ifft2

from hrtemlake.errors import ParameterError
from hrtemlake.simulate import ImageParameters, epoch_seeds, synthesize_images
from hrtemlake.simulate.detector import apply_dose_and_noise
from hrtemlake.simulate.epochs import (
    EpochGeometry,
    TransferBasis,
    _add_readout,
    detect,
    spectrum_on_grid,
)
from hrtemlake.simulate.images import image_epochs
from hrtemlake.simulate.optics import ctf
from hrtemlake.simulate.params import DRAWN_PARAMETERS, RANGE_FIELDS
from hrtemlake.simulate.resampling import fourier_resample

#: Small images from a small random wave: fast, every path of the pipeline on.
SMALL = dict(label="Exitwave", num_classes=2, image_size=(40, 36), sampling=(0.12, 0.14),
             image_epochs=3, debug=None)  # fmt: skip


def _wave(shape=(60, 50), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phase = rng.standard_normal(shape) * 0.3
    return np.exp(1j * phase).astype(np.complex64)


def test_transfer_basis_matches_the_ctf_kernel_in_lake_layout():
    """The fast batched CTF equals optics.ctf (abTEM conventions, checked against abTEM)
    on the transposed (x, y) grid: all aberrations, envelopes and blur, batched."""
    ab = {"C10": np.array([-40.0, 30.0]), "C12": np.array([15.0, 5.0]),
          "phi12": np.array([0.4, 1.0]), "C21": np.array([300.0, 100.0]),
          "phi21": np.array([1.1, 2.0]), "C23": np.array([200.0, 50.0]),
          "phi23": np.array([0.2, 0.7]), "C30": np.array([2e4, -1e4]),
          "C32": np.array([1e4, 3e3]), "phi32": np.array([0.5, 0.1]),
          "C34": np.array([5e3, 1e3]), "phi34": np.array([0.3, 0.9]),
          "C45": np.array([1e5, 2e4]), "phi45": np.array([0.8, 0.2])}  # fmt: skip
    spreads = dict(focal_spread=np.array([10.0, 5.0]), blur=np.array([0.3, 0.1]),
                   angular_spread=np.array([2.0, 1.0]))  # fmt: skip
    grid, sampling = (24, 20), (0.11, 0.09)
    mine = TransferBasis(grid, sampling, 80e3)(ab, **spreads)
    reference = ctf(grid[::-1], sampling[::-1], 80e3, ab, **spreads).swapaxes(-1, -2)
    assert mine.shape == (2, 24, 20) and mine.dtype == np.complex64
    np.testing.assert_allclose(mine, reference, atol=2e-6)


@pytest.mark.parametrize(
    "grid, sampling, table",
    [((32, 32), (0.1, 0.1), True), ((30, 36), (0.12, 0.1), True), ((24, 20), (0.11, 0.09), False)],
)
def test_round_ctfs_from_the_radial_table_match_the_kernel(grid, sampling, table):
    """Round aberrations on a square field of view take the table over q = |k|²/dk²."""
    ab = {"C10": np.array([-40.0, 60.0]), "C30": np.array([2e4, -3e4])}
    spreads = dict(focal_spread=np.array([10.0, 3.0]), blur=np.array([0.2, 0.0]),
                   angular_spread=np.array([1.5, 0.5]))  # fmt: skip
    basis = TransferBasis(grid, sampling, 80e3)
    assert (basis._q is not None) == table
    reference = ctf(grid[::-1], sampling[::-1], 80e3, ab, **spreads).swapaxes(-1, -2)
    np.testing.assert_allclose(basis(ab, **spreads), reference, atol=5e-6)
    rows, cols = slice(4, 20), slice(3, 17)
    block = basis.centred(ab, **spreads, band=(rows, cols))
    np.testing.assert_array_equal(block, basis.centred(ab, **spreads)[:, rows, cols])


def test_frequencies_beyond_the_envelopes_are_left_out_exactly(monkeypatch):
    """The band cut (CTF < e^-30) changes nothing at float32 precision."""
    params = ImageParameters(**{**SMALL, "image_size": (64, 64), "sampling": (0.1, 0.1)},
                             focal_spread=(15, 20), blur=(0.2, 0.3), noise=None, mtf=None,
                             readout=(0, 0))  # fmt: skip
    wave = _wave((64, 64))
    basis = TransferBasis((64, 64), (0.1, 0.1), 50e3)
    rows, cols = basis.band(15.0, 0.2)
    assert 0 < rows.stop - rows.start < 40 and 0 < cols.stop - cols.start < 40  # a real cut
    cut = synthesize_images(wave, 0.1, params, 2, energy=50e3, n_epochs=3)["image"]
    monkeypatch.setattr(TransferBasis, "NEGLIGIBLE", np.inf)
    assert basis.band(15.0, 0.2) == (slice(0, 64), slice(0, 64))
    full = synthesize_images(wave, 0.1, params, 2, energy=50e3, n_epochs=3)["image"]
    np.testing.assert_allclose(cut, full, rtol=1e-5, atol=1e-6 * full.max())


@pytest.mark.parametrize("new_sampling", [0.08, 0.04, 0.05])
def test_spectrum_on_grid_is_fourier_resampling(new_sampling):
    wave = _wave((30, 26))
    reference, _ = fourier_resample(wave, 0.05, new_sampling)
    resampled = ifft2(spectrum_on_grid(fft2(wave), reference.shape))
    np.testing.assert_allclose(resampled, reference, atol=2e-6)


def test_noise_free_image_equals_abtem(mos2_exit_wave):
    """Without resampling, noise and MTF the image is dose × pixel area × abTEM's image
    of the same exit wave and CTF (defocus, Cs, astigmatism, coma, both envelopes)."""
    from abtem.transfer import CTF

    waves = mos2_exit_wave
    nx, ny = waves.array.shape  # abTEM layout (x, y)
    sx, sy = waves.sampling
    params = ImageParameters(
        label="Exitwave", num_classes=2, image_size=(nx, ny), sampling=(sx, sx), noise=None,
        mtf=None, readout=(0, 0), blur=(0, 0), focal_spread=(10, 10),
        angular_spread=(1.5, 1.5), defocus=(50, 50), ctf_c30=(1e4, 1e4), ctf_c12=(20, 20),
        ctf_phi12=(0.3, 0.3), ctf_c21=(200, 200), ctf_phi21=(1.0, 1.0), log_dose=(2, 2),
        debug=None,
    )  # fmt: skip
    out = synthesize_images(waves.array.T, (sy, sx), params, 0, energy=80e3)
    coefficients = {"C10": -50.0, "C30": 1e4, "C12": 20.0, "phi12": 0.3, "C21": 200.0,
                    "phi21": 1.0}  # fmt: skip
    reference = waves.apply_ctf(
        CTF(energy=80e3, focal_spread=10, angular_spread=1.5, aberration_coefficients=coefficients)
    ).intensity().compute().array.T  # fmt: skip
    assert out["sampling"][0] == pytest.approx(sx)
    np.testing.assert_allclose(out["image"][0, 0] / (100 * sx * sy), reference, atol=2e-5)


def test_detector_matches_the_reference_kernel_without_noise():
    intensity = np.random.default_rng(2).random((2, 32, 30)).astype(np.float32) + 0.5
    mine = detect(intensity, 50.0, np.random.default_rng(0), mtf=(0.3, 2.5, 0.1),
                  readout=0.01, noise=False)  # fmt: skip
    reference = apply_dose_and_noise(
        intensity, 50.0, 1.0, 0, mtf_params={"c0": 0.3, "c3": 2.5, "C": 0.1}, readout=0.01,
        noise=False,
    )  # fmt: skip
    assert mine.dtype == np.float32
    np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-4)


def test_shot_noise_is_poisson_in_dose_times_pixel_area():
    flat = np.ones((1, 200, 200), dtype=np.float32)
    counts = detect(flat, 20.0, np.random.default_rng(3))
    assert counts.mean() == pytest.approx(20.0, rel=0.01)
    assert counts.var() == pytest.approx(20.0, rel=0.03)
    assert np.all(counts == np.round(counts))


@pytest.mark.parametrize("rate", [0.01, 0.3, 3.0])
def test_readout_noise_is_iid_poisson(rate):
    """Small rates are drawn as a Poisson total spread uniformly (Poisson splitting):
    per-pixel counts must still follow Poisson(rate)."""
    counts = _add_readout(np.zeros((500, 400), np.float32), np.random.default_rng(4), rate)
    n = counts.size
    assert counts.shape == (500, 400)
    for k, p in enumerate(np.exp(-rate) * rate ** np.arange(3) / [1, 1, 2]):
        observed = np.mean(counts == k)
        assert abs(observed - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-6, (k, observed, p)
    assert counts.var() == pytest.approx(rate, rel=0.05)


def test_outputs_are_the_lake_variables_with_drawn_parameters():
    params = ImageParameters(**SMALL, multifocus=(3, 50.0, 1.0))
    out = synthesize_images(_wave(), 0.1, params, 5, energy=300e3, n_epochs=4)
    assert out["image"].shape == (4, 3, 36, 40) and out["image"].dtype == np.float32
    assert out["label"].shape == (4, 2, 36, 40) and out["label"].dtype == np.float32
    assert out["defocus"].shape == (4, 3)
    assert set(out) == {"image", "label", *DRAWN_PARAMETERS}
    for name in RANGE_FIELDS:
        if name not in ("defocus", "sampling"):
            lower, upper = getattr(params, name)
            assert out[name].shape == (4,) and np.all((lower <= out[name]) & (out[name] <= upper))
    np.testing.assert_allclose(out["dose"], 10 ** out["log_dose"])
    steps = np.diff(out["defocus"], axis=1)
    assert np.all((49 <= steps) & (steps <= 51))
    assert np.all((out["defocus"] >= -200) & (out["defocus"] <= 200))
    # realised pixel size: the exit wave's extent over a whole number of pixels
    assert np.all(np.abs(out["sampling"] - 0.13) <= 0.01 + 0.13 / 50)
    np.testing.assert_allclose(50 * 0.1 / out["sampling"], np.round(50 * 0.1 / out["sampling"]))
    assert not np.array_equal(out["image"][0, 0], out["image"][0, 1])


def test_image_and_site_geometry_agree_after_resampling_crop_and_pad():
    """An absorbing spot at (x0, y0) [Å] appears in the image at the pixel where a Disk
    label puts a site at (x0, y0): through resampling, crop and pad, y along rows."""
    ny, nx, s0 = 70, 90, 0.1
    x0, y0 = 3.1, 4.6
    y, x = np.mgrid[:ny, :nx] * s0
    wave = (1 - 0.6 * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * 0.25**2))).astype(np.complex64)
    for size in [(50, 30), (200, 120), (60, 140)]:  # (x, y): crop, pad, mixed
        params = ImageParameters(
            label="Disk", num_classes=1, image_size=size, sampling=(0.13, 0.13), noise=None,
            mtf=None, readout=(0, 0), blur=(0, 0), focal_spread=(0, 0), defocus=(0, 0),
            ctf_c30=(0, 0), spotsize=0.3, debug=None,
        )  # fmt: skip
        sites = (np.array([[x0, y0]]), np.array([0]))
        out = synthesize_images(wave, s0, params, 1, energy=200e3, sites=sites)
        image, label = out["image"][0, 0], out["label"][0, 0]
        assert image.shape == (size[1], size[0])
        spot = np.unravel_index(np.argmin(np.where(image > 0, image, np.inf)), image.shape)
        assert label[spot] == 1 and 1 <= label.sum() <= 9, size
        # sub-pixel: the dip's centroid is where the geometry puts (x0, y0)
        window = tuple(slice(i - 3, i + 4) for i in spot)
        dip = image[window].max() - image[window]
        rows, cols = np.mgrid[window]
        geometry = EpochGeometry.from_sampling((ny, nx), s0, out["sampling"][0], size[::-1])
        expected = np.ravel(geometry.pixels(np.array([[x0, y0]])))
        centroid = [(rows * dip).sum() / dip.sum(), (cols * dip).sum() / dip.sum()]
        np.testing.assert_allclose(centroid, expected, atol=0.25, err_msg=str(size))


@pytest.mark.parametrize("shared_grid", [False, True])
def test_same_seed_same_images_whatever_the_batching(shared_grid):
    """Epoch e is bit-identical whether it is made alone or batched with others (on its
    own grid, or sharing one and the FFT batches)."""
    params = ImageParameters(**SMALL)
    if shared_grid:
        params = params.replace(sampling=(0.1, 0.1), focal_spread=(10, 11), image_epochs=4)
    wave = _wave()
    together = synthesize_images(wave, 0.1, params, epoch_seeds(7, 3, 4), energy=300e3)
    first = synthesize_images(wave, 0.1, params, epoch_seeds(7, 3, [0, 1]), energy=300e3)
    last = synthesize_images(wave, 0.1, params, epoch_seeds(7, 3, [2, 3]), energy=300e3)
    for name, value in together.items():
        np.testing.assert_array_equal(value, np.concatenate([first[name], last[name]]), name)
    again = synthesize_images(wave, 0.1, params, 11, energy=300e3, n_epochs=2)
    np.testing.assert_array_equal(
        again["image"], synthesize_images(wave, 0.1, params, 11, energy=300e3, n_epochs=2)["image"]
    )  # fmt: skip
    other_model = synthesize_images(wave, 0.1, params, epoch_seeds(7, 4, 4), energy=300e3)
    assert not np.array_equal(other_model["defocus"], together["defocus"])


def test_a_generator_gives_fresh_draws_for_training_on_the_fly():
    params = ImageParameters(**SMALL)
    wave, generator = _wave(), np.random.default_rng(21)
    one = synthesize_images(wave, 0.1, params, generator, energy=300e3)
    two = synthesize_images(wave, 0.1, params, generator, energy=300e3)
    assert one["image"].shape == (1, 1, 36, 40)
    assert one["defocus"][0, 0] != two["defocus"][0, 0]
    replay = np.random.default_rng(21)
    replayed = synthesize_images(wave, 0.1, params, replay, energy=300e3)
    np.testing.assert_array_equal(replayed["image"], one["image"])


def test_epochs_for_training_and_test_data():
    params = ImageParameters(image_epochs=10)
    assert image_epochs(params) == 10
    assert image_epochs(params, test=True) == 1
    assert image_epochs(params, epochs=3) == 3
    assert image_epochs(params, epochs=1, test=True) == 1
    for epochs, test, match in [(0, False, "positive"), (2.5, False, "positive"),
                                (3, True, "--test")]:  # fmt: skip
        with pytest.raises(ParameterError, match=match):
            image_epochs(params, epochs=epochs, test=test)


DISK = dict(label="Disk", num_classes=3, image_size=(16, 16), debug=None)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"exit_wave": np.ones(5, np.complex64)}, "2-D"),
        ({"exit_wave": np.full((8, 8), np.nan, np.complex64)}, "finite"),
        ({"exit_wave": np.array([["a"]])}, "finite"),
        ({"sampling": -0.1}, "sampling must be positive"),
        ({"sampling": "fine"}, "sampling must be a number"),
        ({"sampling": (0.1, 0.1, 0.1)}, "s_y, s_x"),
        ({"energy": None}, "field 'energy'"),
        ({"energy": 0.0}, "energy must be positive"),
        ({"params": {**SMALL, "energy": 80e3}}, "field 'energy'.*300000"),
        ({"params": {"label": "Mask", "debug": None}, "sites": None}, "field 'label'"),
        ({"params": {**DISK, "num_classes": 2}}, "field 'num_classes'"),
        ({"params": {**DISK, "lable": "Disk"}}, "unknown field 'lable'"),
        ({"sites": (np.zeros((3, 3)), np.zeros(3, int))}, "positions \\(n, 2\\)"),
        ({"sites": (np.zeros((2, 2)), np.array([0, 3]))}, "integers in \\[0, 3\\)"),
        ({"n_epochs": 0}, "n_epochs must be a positive integer"),
        ({"rng": [1, 2], "n_epochs": 3}, "n_epochs = 3 but rng holds 2"),
        ({"rng": []}, "empty"),
        ({"rng": "abc"}, "rng must be a seed"),
        ({"device": "tpu"}, "device must be"),
        ({"workers": 0}, "workers must be"),
    ],
)
def test_every_validation_error_names_its_input(change, match):
    arguments = {
        "exit_wave": _wave((20, 20)), "sampling": 0.1, "params": DISK, "rng": 0,
        "energy": 300e3, "sites": (np.array([[1.0, 1.0]]), np.array([0])),
        "class_names": ["Mo", "2S", "1S"],
    }  # fmt: skip
    arguments.update(change)
    with pytest.raises(ParameterError, match=match):
        synthesize_images(**arguments)


def test_geometry_maps_cell_positions_to_image_pixels():
    geometry = EpochGeometry.from_sampling((100, 80), 0.1, 0.2, (30, 60))
    assert geometry.grid == (50, 40) and geometry.sampling == pytest.approx((0.2, 0.2))
    assert geometry.offset == (30 // 2 - 50 // 2, 60 // 2 - 40 // 2)
    rows, cols = geometry.pixels(np.array([[0.0, 0.0], [2.0, 5.0]]))  # (x, y) [Å]
    np.testing.assert_allclose(rows, [-10, 15])
    np.testing.assert_allclose(cols, [10, 20])


@pytest.mark.gpu
def test_gpu_images_match_cpu_without_noise():
    pytest.importorskip("cupy")
    from hrtemlake.backend import cupy_is_available

    if not cupy_is_available():
        pytest.skip("CuPy cannot load CUDA")
    params = ImageParameters(**SMALL, noise=None, multifocus=(2, 30.0, 0.0))
    cpu = synthesize_images(_wave(), 0.1, params, 3, energy=300e3, n_epochs=2)
    gpu = synthesize_images(_wave(), 0.1, params, 3, energy=300e3, n_epochs=2, device="gpu")
    for name in ("image", "label"):
        np.testing.assert_allclose(gpu[name], cpu[name], rtol=1e-4, atol=1e-4, err_msg=name)
    noisy = synthesize_images(_wave(), 0.1, params.replace(noise="poisson"), 3, energy=300e3,
                              device="gpu")  # fmt: skip
    assert noisy["image"].dtype == np.float32 and np.isfinite(noisy["image"]).all()
