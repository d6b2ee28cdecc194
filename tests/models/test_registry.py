"""The build_model dispatcher and the package's public names."""

import numpy as np
import pytest

import hrtemlake.models as models
from hrtemlake.models import BUILDERS, build_model, mx2_flake, supported_nanoparticle


def test_dispatch_matches_builders():
    assert set(BUILDERS) == {"nanoparticle", "mx2", "nanotube", "amorphous", "alloy"}
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


def test_new_kinds_build_and_have_sites():
    import numpy as np

    from hrtemlake.models import find_sites

    alloy = build_model("alloy", np.random.default_rng(0), kind="janus", radius=8.0)
    assert alloy.info["kind"] == "janus"
    sites = find_sites(alloy)
    assert sites.class_names == ("Co", "Ag", "Co+Ag", "support") and len(sites.positions) > 10
    tube = build_model("nanotube", np.random.default_rng(1), n=11, m=6)
    assert find_sites(tube).class_names == ("C", "support")
