"""Synthetic series of discs with known identities, for the instance and tracking tests.

A series is a list of frames, each a list of :class:`Disc` (centre and radius in pixels and
the true id). :func:`render_labels` draws the true label images, :func:`render_probability`
a probability map a network might return, and :func:`expected_track_ids` maps true ids to
the ids the tracker must give (1..n in order of first appearance: by frame, then by the
raster position of the first pixel). :func:`scenario` is a series where discs move, touch,
merge, split, appear and disappear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Disc:
    """A disc at row ``y``, column ``x`` with radius ``radius`` [px] and true id ``id``."""

    y: float
    x: float
    radius: float
    id: int


Series = list[list[Disc]]


def render_labels(frames: Sequence[Sequence[Disc]], shape: tuple[int, int]) -> np.ndarray:
    """True labels (time, y, x) int32: each pixel within a disc gets that disc's id.

    Where discs overlap, a pixel goes to the disc with the smallest distance / radius, so
    touching discs are divided about where a watershed of the distance map divides them.
    """
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros((len(frames), *shape), dtype=np.int32)
    for t, discs in enumerate(frames):
        best = np.full(shape, np.inf)
        for disc in discs:
            distance = np.hypot(yy - disc.y, xx - disc.x)
            inside = distance <= disc.radius
            scaled = np.where(inside, distance / disc.radius, np.inf)
            closer = scaled < best
            out[t][closer] = disc.id
            best = np.minimum(best, scaled)
    return out


def render_probability(
    frames: Sequence[Sequence[Disc]],
    shape: tuple[int, int],
    inside: float = 0.97,
    outside: float = 0.03,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Probability maps (time, y, x) float32: ``inside`` on the discs, ``outside`` elsewhere,
    plus uniform noise of ± ``noise`` (clipped to [0, 1])."""
    mask = render_labels(frames, shape) > 0
    probability = np.where(mask, inside, outside).astype(np.float32)
    if noise:
        rng = np.random.default_rng(seed)
        probability += rng.uniform(-noise, noise, probability.shape).astype(np.float32)
    return np.clip(probability, 0.0, 1.0)


def expected_track_ids(truth: np.ndarray) -> dict[int, int]:
    """{true id: track id}, track ids 1..n in order of first appearance (frame, then raster)."""
    mapping: dict[int, int] = {}
    for frame in truth:
        values, first = np.unique(frame.ravel(), return_index=True)
        for value in values[np.argsort(first)]:
            if value != 0 and int(value) not in mapping:
                mapping[int(value)] = len(mapping) + 1
    return mapping


def relabel(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """``labels`` with every value replaced through ``mapping`` (0 stays 0)."""
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.int32)
    for old, new in mapping.items():
        lookup[old] = new
    return lookup[labels]


SCENARIO_SHAPE = (120, 200)


def scenario(n_frames: int = 12) -> Series:
    """Discs that move, touch, merge, split, appear and disappear (ids are the truth).

    * 10 moves right by 3 px per frame;
    * 20 (r 12) and 30 (r 8) approach, overlap at frame 5 and merge at frame 6 into one disc
      that keeps id 20 (it overlaps 20 most);
    * 40 (r 14) splits at frame 6 into a disc of r 9 that keeps id 40 (the larger overlap)
      and a disc of r 7 with the new id 50; the two then drift apart;
    * 60 appears at frame 3; 70 disappears after frame 7.
    """
    frames: Series = []
    for t in range(n_frames):
        discs = [Disc(20, 20 + 3 * t, 10, 10)]
        if t < 6:
            discs += [Disc(80, 40 + 2 * t, 12, 20), Disc(80, 83 - 3 * t, 8, 30)]
        else:
            area_b, area_c = 12**2, 8**2
            x = (area_b * 52 + area_c * 65) / (area_b + area_c) + (t - 6)
            discs.append(Disc(80, x, np.sqrt(area_b + area_c), 20))
        if t < 6:
            discs.append(Disc(40, 150, 14, 40))
        else:
            discs += [Disc(40, 144 - 2 * (t - 6), 9, 40), Disc(40, 160 + 2 * (t - 6), 7, 50)]
        if t >= 3:
            discs.append(Disc(100, 160 - t, 10, 60))
        if t <= 7:
            discs.append(Disc(15, 120, 10, 70))
        frames.append(discs)
    return frames
