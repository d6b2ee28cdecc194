"""Small geometry helpers shared by the model builders (rotations, placement, cropping)."""

from __future__ import annotations

import numpy as np


def rotation_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """Right-handed rotation by ``angle`` [deg] about ``axis`` (Rodrigues' formula).

    Returns the (3, 3) matrix ``R`` such that ``R @ v`` is the rotated column vector ``v``.
    """
    k = np.asarray(axis, dtype=float)
    k = k / np.linalg.norm(k)
    theta = np.radians(angle)
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * cross + (1.0 - np.cos(theta)) * (cross @ cross)


def inside_box(positions: np.ndarray, lengths: np.ndarray, margin: float) -> np.ndarray:
    """Mask of positions inside ``[margin, length - margin]`` along every axis [Å]."""
    lengths = np.asarray(lengths, dtype=float)
    return np.all((positions >= margin) & (positions <= lengths - margin), axis=1)


def whole_groups(mask: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Reduce ``mask`` so that a group is kept only if all of its members are.

    Used to drop CeO2 formula units or atomic columns as a whole, so cropping never leaves a
    broken stoichiometry or a spurious vacancy behind.
    """
    _, inverse = np.unique(groups, return_inverse=True)
    outside = np.bincount(inverse, weights=~mask, minlength=inverse.max(initial=-1) + 1)
    return outside[inverse] == 0


def random_offset(rng: np.random.Generator, low: np.ndarray, high: np.ndarray,
                  lengths: np.ndarray, margin: float) -> np.ndarray:
    """Draw a translation that puts an object spanning ``[low, high]`` inside the box.

    The object then lies inside ``[margin, length - margin]`` on every axis. On an axis where
    it is too large to fit, it is centred instead (and will be cropped by the caller).
    """
    low, high, lengths = (np.asarray(v, dtype=float) for v in (low, high, lengths))
    first = margin - low
    last = lengths - margin - high
    fits = first <= last
    centred = 0.5 * (lengths - low - high)
    # One draw per axis whether or not it is used, so the stream does not depend on sizes.
    u = rng.random(len(lengths))
    return np.where(fits, first + u * (last - first), centred)


def fcc_points(lower: np.ndarray, upper: np.ndarray, a: float) -> np.ndarray:
    """All FCC lattice points (conventional constant ``a`` [Å]) in the box ``[lower, upper]``."""
    start = np.floor(np.asarray(lower) / a).astype(int) - 1
    stop = np.ceil(np.asarray(upper) / a).astype(int) + 1
    grid = np.stack(np.meshgrid(*(np.arange(s, e + 1) for s, e in zip(start, stop)),
                                indexing="ij"), axis=-1).reshape(-1, 3)
    basis = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])
    points = (grid[:, None, :] + basis[None]).reshape(-1, 3) * a
    keep = np.all((points >= lower) & (points <= upper), axis=1)
    return points[keep]
