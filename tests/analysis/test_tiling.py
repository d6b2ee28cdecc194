"""Tiled inference: equals whole-frame prediction for translation-equivariant models."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hrtemlake.analysis.tiling import blend_weights, tiled_predict, window_positions


def _conv_model(kernels: np.ndarray):
    """A fixed multi-channel convolution: out[..., o] = Σ_i convolve(in[..., i], K[o, i]).

    'mirror' boundaries equal the tiler's reflection padding, so whole-frame prediction is
    defined at the frame edge in the same way.
    """

    def apply(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, dtype=np.float64)
        return np.stack(
            [
                sum(
                    ndimage.convolve(image[..., i], kernels[o, i], mode="mirror")
                    for i in range(image.shape[-1])
                )
                for o in range(kernels.shape[0])
            ],
            axis=-1,
        )

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.stack([apply(tile) for tile in batch]).astype(np.float32)

    return apply, predict


@pytest.mark.parametrize(
    "shape, window, overlap",
    [
        ((300, 517), 64, 0.25),  # not a multiple of the window or the step
        ((128, 128), 32, 0.5),
        ((5, 7), 16, 0.25),  # smaller than one window
        ((40, 200), 64, 0.125),  # one axis smaller than the window
    ],
)
def test_convolution_equals_whole_frame(rng, shape, window, overlap):
    frame = rng.normal(size=shape).astype(np.float32)
    kernels = rng.normal(size=(1, 1, 3, 3))
    apply, predict = _conv_model(kernels)
    tiled = tiled_predict(frame, predict, window=window, overlap=overlap, batch_size=3, margin=1)
    whole = apply(frame[..., None])
    assert tiled.shape == (*shape, 1) and tiled.dtype == np.float32
    # Exact (to float32 rounding) everywhere: blending only ever mixes identical values.
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=0)


def test_multichannel_convolution_away_from_border(rng):
    """(y, x, 2) in, 3 channels out, 5×5 kernels (receptive-field radius 2)."""
    frame = rng.normal(size=(150, 211, 2))
    kernels = rng.normal(size=(3, 2, 5, 5)) / 5
    apply, predict = _conv_model(kernels)
    tiled = tiled_predict(frame, predict, window=48, overlap=0.25, batch_size=4, margin=2)
    whole = apply(frame)
    assert tiled.shape == (150, 211, 3)
    np.testing.assert_allclose(tiled[2:-2, 2:-2], whole[2:-2, 2:-2], atol=1e-5, rtol=0)


def test_margin_discards_wrong_tile_edges(rng):
    """margin=1 drops wrong tile-edge pixels; with margin=0 they are blended in (weight > 0)."""
    frame = rng.normal(size=(100, 100))
    _, predict = _conv_model(rng.normal(size=(1, 1, 3, 3)))

    def zero_edge(batch):
        out = predict(batch)
        out[:, 0], out[:, -1], out[:, :, 0], out[:, :, -1] = 0, 0, 0, 0
        return out

    exact = tiled_predict(frame, predict, window=32, margin=1)
    kept = tiled_predict(frame, zero_edge, window=32, margin=1)
    np.testing.assert_allclose(kept, exact, atol=1e-5)
    assert np.abs(tiled_predict(frame, zero_edge, window=32, margin=0) - exact).max() > 1e-3


def test_pointwise_model_is_exact_everywhere_without_margin(rng):
    frame = rng.uniform(-2, 2, size=(97, 131, 2))

    def predict(batch):
        return np.concatenate([np.tanh(batch), batch[..., :1] ** 2], axis=-1)

    tiled = tiled_predict(frame, predict, window=32, overlap=0.25)
    expected = np.concatenate([np.tanh(frame), frame[..., :1] ** 2], axis=-1)
    np.testing.assert_allclose(tiled, expected, atol=1e-5, rtol=0)


def test_constant_output_is_preserved_at_edges_and_corners():
    tiled = tiled_predict(np.zeros((77, 45)), lambda b: np.full(b.shape, 3.0), window=16)
    np.testing.assert_allclose(tiled, 3.0, rtol=1e-6)


def test_batches_never_exceed_batch_size_and_cover_all_windows(rng):
    calls = []

    def predict(batch):
        assert batch.dtype == np.float32 and batch.shape[1:] == (32, 32, 1)
        calls.append(len(batch))
        return batch

    frame = rng.normal(size=(200, 150))
    out = tiled_predict(frame, predict, window=32, overlap=0.25, batch_size=5)
    pad = round(0.25 * 32) // 2
    n_windows = len(window_positions((200 + 2 * pad, 150 + 2 * pad), 32, 32 - round(0.25 * 32)))
    assert max(calls) <= 5 and sum(calls) == n_windows and len(calls) == -(-n_windows // 5)
    np.testing.assert_allclose(out[..., 0], frame, atol=1e-5)


def test_three_dimensional_output_is_one_channel(rng):
    frame = rng.normal(size=(40, 50))
    out = tiled_predict(frame, lambda b: 2 * b[..., 0], window=16, channels_out=1)
    assert out.shape == (40, 50, 1)
    np.testing.assert_allclose(out[..., 0], 2 * frame, atol=1e-5)


def test_window_positions_cover_the_frame():
    positions = window_positions((300, 517), 64, 48)
    ys, xs = np.unique(positions[:, 0]), np.unique(positions[:, 1])
    for starts, size in ((ys, 300), (xs, 517)):
        assert starts[0] == 0 and starts[-1] == size - 64
        assert np.all(np.diff(starts) <= 48) and np.all(np.diff(starts) > 0)
    assert len(positions) == len(ys) * len(xs)
    np.testing.assert_array_equal(window_positions((10, 64), 64, 48), [[0, 0]])


def test_blend_weights_are_hamming_inside_the_margin():
    w = blend_weights(32, margin=3)
    assert w.shape == (32, 32)
    assert np.all(w[:3] == 0) and np.all(w[:, -3:] == 0)
    np.testing.assert_allclose(w[3:-3, 3:-3], np.outer(np.hamming(26), np.hamming(26)), rtol=1e-6)
    assert w[3:-3, 3:-3].min() == pytest.approx(0.08**2, rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"window": 4}, "window"),
        ({"window": 32, "overlap": 1.0}, "overlap"),
        ({"window": 32, "overlap": 1.5}, "overlap"),
        ({"window": 32, "overlap": -0.1}, "overlap"),
        ({"window": 32, "batch_size": 0}, "batch_size"),
        ({"window": 32, "overlap": 0.25, "margin": 5}, "margin"),
        ({"window": 32, "channels_out": 0}, "channels_out"),
    ],
)
def test_bad_parameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiled_predict(np.zeros((40, 40)), lambda b: b, **kwargs)


@pytest.mark.parametrize(
    "predict, message",
    [
        (lambda b: b[:, :-1], "expected"),  # wrong window size
        (lambda b: b[:1], "expected"),  # wrong number of tiles
        (lambda b: np.zeros((len(b), 32)), "expected"),  # wrong rank
        (lambda b: np.concatenate([b, b], axis=-1), "channels"),  # channels_out mismatch
    ],
)
def test_mismatched_predict_output_raises(predict, message):
    with pytest.raises(ValueError, match=message):
        tiled_predict(np.zeros((70, 70)), predict, window=32, batch_size=4, channels_out=1)


def test_bad_frames_raise():
    with pytest.raises(ValueError, match="frame"):
        tiled_predict(np.zeros(10), lambda b: b, window=8)
    with pytest.raises(ValueError, match="empty"):
        tiled_predict(np.zeros((0, 10)), lambda b: b, window=8)
    with pytest.raises(ValueError, match="callable"):
        tiled_predict(np.zeros((10, 10)), "model", window=8)


def test_memory_stays_bounded():
    """Besides the frame: the sum, the weights and one batch — never all windows at once."""
    import tracemalloc

    frame = np.zeros((1024, 1024), dtype=np.float32)  # 4 MiB
    tracemalloc.start()
    try:
        tiled_predict(frame, lambda b: b + 1, window=128, overlap=0.5, batch_size=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Sum and weights are 4 MiB each; the ~300 windows and outputs would be ~40 MiB.
    assert peak < 12 * 2**20
