"""The scoring helpers of the accuracy benchmarks for image-level networks.

``benchmarks/accuracy_defocus.py`` and ``benchmarks/accuracy_denoise.py`` are scripts, not
part of the package; their dose binning, error tables, derived image sets and Gaussian
baseline are checked here on small hand-made data, so that a benchmark's printed numbers
mean what its docstring says.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from hrtemlake.lake import Lake  # noqa: E402
from hrtemlake.nn.heads import encode_angle  # noqa: E402
from hrtemlake.simulate import ImageParameters  # noqa: E402
from hrtemlake.simulate.images import store_image_set  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def defocus():
    return _load("accuracy_defocus")


@pytest.fixture(scope="module")
def denoise():
    return _load("accuracy_denoise")


@pytest.mark.parametrize("name", ["accuracy_defocus", "accuracy_denoise"])
def test_defaults_and_quick_fill_every_option(name):
    module = _load(name)
    for argv in ([], ["--quick"]):
        args = module.parse_args(argv)
        assert all(getattr(args, key) is not None for key in module.DEFAULTS)
    assert module.parse_args(["--epochs", "7"]).epochs == 7


def test_dose_bins_are_log_spaced_and_clip_out_of_range_doses(defocus, denoise):
    dose = np.array([50.0, 100.0, 300.0, 999.0, 1000.0, 1e5, 1e6])
    for module in (defocus, denoise):
        index, edges = module.dose_bins(dose, (2.0, 5.0), 3)
        np.testing.assert_allclose(edges, [1e2, 1e3, 1e4, 1e5])
        assert index.tolist() == [0, 0, 0, 0, 1, 2, 2]


def test_defocus_rows_score_the_ensemble_members_and_the_mean_baseline(defocus):
    rng = np.random.default_rng(0)
    truth = np.stack([rng.uniform(-150, 50, 40), rng.normal(0, 5, 40), rng.normal(0, 5, 40)],
                     axis=1)  # fmt: skip
    baseline = truth.mean(axis=0)
    perfect = {"mean": truth.copy(), "std": np.full_like(truth, 2.0),
               "members": [truth + 3.0, truth - 3.0]}  # fmt: skip
    dose = np.repeat([200.0, 2e4], 20)
    index, edges = defocus.dose_bins(dose, (2.0, 5.0), 2)
    rows = defocus.bin_rows({"targets": truth}, perfect, baseline, index, edges, astig=True)
    assert [r["n"] for r in rows] == [20, 20, 40] and rows[-1]["bin"] == "all"
    total = rows[-1]
    assert total["defocus_rmse"] == 0 and total["defocus_ratio"] == 0
    assert total["defocus_rmse_members"] == pytest.approx(3.0)
    assert total["defocus_rmse_baseline"] == pytest.approx(truth[:, 0].std())
    assert total["defocus_mean_spread"] == pytest.approx(2.0)
    assert total["within_one_spread"] == 1.0 and total["astig_rmse"] == 0
    assert total["astig_rmse_baseline"] == pytest.approx(
        np.sqrt(np.mean(np.sum((truth[:, 1:] - baseline[1:]) ** 2, axis=1))))
    off = dict(perfect, mean=truth + [10.0, 0.0, 0.0])  # every error 10 Å > spread 2 Å
    total = defocus.bin_rows({"targets": truth}, off, baseline, index, edges, astig=False)[-1]
    assert total["defocus_rmse"] == pytest.approx(10.0) and total["within_one_spread"] == 0
    assert "astig_rmse" not in total


def test_encoded_image_set_holds_the_same_images_with_angle_components(defocus, tmp_path):
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    params = ImageParameters(label="Regression", image_size=(16, 16), image_epochs=2,
                             num_classes=3, regression_targets=("defocus", "ctf_c12", "ctf_phi12"),
                             debug=None)  # fmt: skip
    rng = np.random.default_rng(1)
    targets = np.stack([rng.uniform(-150, 50, (3, 2)), rng.uniform(0, 30, (3, 2)),
                        rng.uniform(0, 2 * np.pi, (3, 2))], axis=-1).astype(np.float32)  # fmt: skip
    image = rng.poisson(50, (3, 2, 1, 16, 16)).astype(np.float32)
    values = {"image": image, "targets": targets, "sampling": np.full((3, 2), 0.2),
              "dose": np.full((3, 2), 1e3)}  # fmt: skip
    store_image_set(lake, "d", "reg", params, ["defocus", "ctf_c12", "ctf_phi12"], values)
    name = defocus.encoded_image_set(lake, "d", "reg")
    assert name == "d/reg-enc"
    group = lake.group("images", dataset="d", imageset="reg-enc")
    assert list(group.attrs["channel_names"]) == list(defocus.ENCODED)
    np.testing.assert_array_equal(group["image"][...], image)
    np.testing.assert_array_equal(group["dose"][...], values["dose"])
    c, s = encode_angle(targets[..., 2], fold=2, amplitude=targets[..., 1])
    np.testing.assert_allclose(group["targets"][...], np.stack([targets[..., 0], c, s], -1),
                               rtol=1e-5, atol=1e-4)  # fmt: skip
    assert defocus.encoded_image_set(lake, "d", "reg") == name  # reused as it is
    loaded = defocus.load_images(lake, name)
    assert loaded["x"].shape == (6, 16, 16, 1) and loaded["targets"].shape == (6, 3)


def test_denoise_images_come_in_the_truths_units_epoch_zero_first(denoise, tmp_path):
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    params = ImageParameters(label="Denoise", image_size=(16, 16), image_epochs=2,
                             num_classes=1, debug=None)  # fmt: skip
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.8, 1.2, (3, 2, 1, 16, 16)).astype(np.float32)
    dose = rng.uniform(1e2, 1e4, (3, 2))
    sampling = np.full((3, 2), 0.2)
    image = rng.poisson(truth * (dose * sampling**2)[..., None, None, None]).astype(np.float32)
    values = {"image": image, "label": truth, "sampling": sampling, "dose": dose}
    name = store_image_set(lake, "d", "den", params, ["focus_0"], values)
    data = denoise.load_images(lake, name, limit=4)
    assert data["x"].shape == (4, 16, 16, 1) and data["truth"].shape == (4, 16, 16)
    order = [(0, 0), (1, 0), (2, 0), (0, 1)]  # image epoch 0 of every model first
    for i, (m, e) in enumerate(order):
        np.testing.assert_allclose(data["truth"][i], truth[m, e, 0])
        np.testing.assert_allclose(data["noisy"][i],
                                   image[m, e, 0] / (dose[m, e] * 0.2**2), rtol=1e-6)  # fmt: skip
        assert data["dose"][i] == dose[m, e]


def test_gaussian_baseline_picks_no_filter_for_clean_images_and_some_for_noisy(denoise):
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:32, :32]
    truth = np.stack([1 + 0.2 * np.cos(2 * np.pi * (xx / 16 + k / 5) + yy / 9) for k in range(8)])
    noisy = truth + rng.normal(0, 0.3, truth.shape)
    index = np.repeat([0, 1], 4)
    clean = {"noisy": truth.copy(), "truth": truth}
    sigma, per_bin, curve = denoise.choose_sigmas(clean, index, 3)
    assert sigma == 0 and per_bin == [0.0, 0.0, 0.0]  # bin 2 is empty: the global σ
    assert set(curve) == {f"{s:g}" for s in denoise.SIGMAS}
    sigma, per_bin, _ = denoise.choose_sigmas({"noisy": noisy, "truth": truth}, index, 2)
    assert sigma >= 1.0 and all(s >= 1.0 for s in per_bin)
    filtered = denoise.scores(denoise.gaussian(noisy, sigma), truth)["psnr"]
    assert (filtered > denoise.scores(noisy, truth)["psnr"]).all()
