"""Drawing per-image microscope parameters from a parameter file."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.simulate.draw import (
    aberrations_from_draw,
    draw_microscope,
    mtf_params_from_draw,
    per_image,
    regression_targets,
)
from hrtemlake.simulate.params import RANGE_FIELDS, ImageParameters


def test_every_range_is_drawn_within_bounds():
    params = ImageParameters(ctf_c12=(0, 25), angular_spread=(0.1, 0.4))
    draw = draw_microscope(params, 0, 500)
    assert set(draw) == set(RANGE_FIELDS) | {"dose"}
    for name in RANGE_FIELDS:
        lower, upper = getattr(params, name)
        values = draw[name]
        expected_shape = (500, 1) if name == "defocus" else (500,)
        assert values.shape == expected_shape, name
        assert np.all((values >= lower) & (values <= upper)), name
        if upper > lower:
            assert values.std() > 0.2 * (upper - lower), name  # spread over the range


def test_dose_is_log_uniform():
    params = ImageParameters(log_dose=(2.0, 6.0))
    draw = draw_microscope(params, 1, 20000)
    np.testing.assert_allclose(draw["dose"], 10 ** draw["log_dose"])
    assert draw["dose"].min() >= 1e2 and draw["dose"].max() <= 1e6
    counts, _ = np.histogram(np.log10(draw["dose"]), bins=4, range=(2, 6))
    assert np.all(np.abs(counts - 5000) < 5 * np.sqrt(5000))  # uniform in log10


def test_focal_series_stays_in_range_with_jittered_steps():
    params = ImageParameters(multifocus=(3, 50.0, 1.0), defocus=(-150.0, 50.0))
    defocus = draw_microscope(params, 2, 2000)["defocus"]
    assert defocus.shape == (2000, 3)
    assert defocus.min() >= -150.0 and defocus.max() <= 50.0
    steps = np.diff(defocus, axis=1)
    assert steps.min() >= 49.0 and steps.max() <= 51.0
    assert steps.std() > 0.3  # the jitter is used
    assert defocus[:, 0].min() < -140 and defocus[:, 0].max() > -60  # first spans range


def test_negative_focal_step():
    params = ImageParameters(multifocus=(4, -20.0, 2.0), defocus=(-100.0, 100.0))
    defocus = draw_microscope(params, 3, 1000)["defocus"]
    assert defocus.min() >= -100.0 and defocus.max() <= 100.0
    assert np.all(np.diff(defocus, axis=1) <= -18.0)


def test_seed_reproducibility_and_default_seed():
    params = ImageParameters(seed=7)
    a = draw_microscope(params, None, 5)
    b = draw_microscope(params, 7, 5)
    c = draw_microscope(params, np.random.default_rng(7), 5)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_array_equal(a[name], c[name])
    d = draw_microscope(params, 8, 5)
    assert not np.array_equal(a["blur"], d["blur"])


def test_draws_do_not_depend_on_noise_or_mtf_switches():
    a = draw_microscope(ImageParameters(), 4, 10)
    b = draw_microscope(ImageParameters(noise=None, mtf=None), 4, 10)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_zero_and_negative_n():
    assert draw_microscope(ImageParameters(), 0, 0)["blur"].shape == (0,)
    with pytest.raises(ValueError):
        draw_microscope(ImageParameters(), 0, -1)


def test_helpers_for_the_kernels():
    params = ImageParameters(multifocus=(3, 50.0, 1.0), ctf_c12=(0, 25), ctf_c21=(0, 600))
    draw = draw_microscope(params, 5, 4)
    images = per_image(draw)
    assert all(value.shape == (4, 3) for value in images.values())
    aberrations = aberrations_from_draw(draw)
    np.testing.assert_array_equal(aberrations["C10"], -draw["defocus"])
    np.testing.assert_array_equal(aberrations["C12"][:, 1], draw["ctf_c12"])
    np.testing.assert_array_equal(aberrations["phi21"][:, 2], draw["ctf_phi21"])
    assert {"C30", "C23", "C32", "C34", "C45", "phi45"} <= set(aberrations)
    mtf = mtf_params_from_draw(draw)
    np.testing.assert_array_equal(mtf["c0"], draw["mtf_c1"])
    np.testing.assert_array_equal(mtf["C"], draw["mtf_c2"])
    np.testing.assert_array_equal(mtf["c3"], draw["mtf_c3"])
    targets = regression_targets(draw, ("defocus", "ctf_c12"))
    assert targets.shape == (4, 2)
    np.testing.assert_array_equal(targets[:, 0], draw["defocus"][:, 0])


def test_pipeline_end_to_end(mos2_exit_wave):
    """Parameter file -> draws -> batched CTF images -> resample -> crop -> counts."""
    from hrtemlake.simulate import microscope as m

    params = ImageParameters(
        label="Denoise", num_classes=2, multifocus=(2, 50.0, 1.0), image_size=(64, 64),
        sampling=(0.1, 0.11), angular_spread=(0.1, 0.3), log_dose=(3.0, 4.0),
    )
    wave = mos2_exit_wave
    draw = draw_microscope(params, 0, 3)
    per = per_image(draw)
    transfer = m.ctf(wave.shape, wave.sampling, wave.energy, aberrations_from_draw(draw),
                     focal_spread=per["focal_spread"], blur=per["blur"],
                     angular_spread=per["angular_spread"])
    images = m.image_intensity(m.fft2(wave.array), transfer)
    assert images.shape == (3, 2) + wave.shape
    for i in range(3):
        resampled, sampling = m.fourier_resample(images[i], wave.sampling, draw["sampling"][i])
        clean = m.crop_or_pad(resampled, params.image_size, fill=1.0)
        counts = m.apply_dose_and_noise(clean, draw["dose"][i], sampling[0] * sampling[1],
                                        np.random.default_rng(i),
                                        mtf_params={k: v[i] for k, v in
                                                    mtf_params_from_draw(draw).items()},
                                        readout=draw["readout"][i])
        assert counts.shape == (2, 64, 64)
        electrons = draw["dose"][i] * sampling[0] * sampling[1]
        assert counts.mean() / electrons == pytest.approx(clean.mean(), rel=0.05)
