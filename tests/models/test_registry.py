"""The build_model dispatcher and the package's public names."""

import numpy as np
import pytest

import hrtemlake.models as models
from hrtemlake.models import BUILDERS, build_model, mx2_flake, supported_nanoparticle


def test_dispatch_matches_builders():
    assert set(BUILDERS) == {"nanoparticle", "mx2"}
    via = build_model("mx2", np.random.default_rng(2), graphene=True)
    direct = mx2_flake(np.random.default_rng(2), graphene=True)
    assert np.array_equal(via.positions, direct.positions)
    small = dict(layers=(5, 6), cell=(40.0, 40.0, 30.0))
    via = build_model("nanoparticle", np.random.default_rng(2), **small)
    direct = supported_nanoparticle(np.random.default_rng(2), **small)
    assert np.array_equal(via.positions, direct.positions)


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match=r"unknown model kind 'perovskite'.*'mx2'"):
        build_model("perovskite", np.random.default_rng(0))


def test_public_names_exist():
    for name in models.__all__:
        assert hasattr(models, name), name
