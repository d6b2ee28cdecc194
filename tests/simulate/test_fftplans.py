"""Measured FFT plans: cached per machine, shared by processes, the same bits everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms

from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave
from hrtemlake.simulate.fftplans import fft_wisdom, wisdom_file

pytest.importorskip("pyfftw")

SETTINGS = ExitWaveSettings(energy=80e3, sampling=0.08, slice_thickness=0.5)


def _atoms() -> Atoms:
    return Atoms("MoS2", positions=[[4, 4, 3], [5.6, 4.9, 1.4], [5.6, 4.9, 4.6]], cell=[9.6, 8.0, 6.0], pbc=True)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HRTEMLAKE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_wisdom_is_measured_once_and_kept_in_the_cache(cache):
    wisdom = fft_wisdom(_atoms(), SETTINGS)
    assert isinstance(wisdom, tuple) and all(isinstance(w, bytes) for w in wisdom)
    stored = json.loads(wisdom_file().read_text())
    assert wisdom_file().parent == cache
    assert stored["keys"] == ["100x120/configurations=1"]  # (ny, nx) of a 9.6 x 8.0 Å cell
    stamp = wisdom_file().stat().st_mtime_ns
    assert fft_wisdom(_atoms(), SETTINGS) == wisdom  # from the file, not measured again
    assert wisdom_file().stat().st_mtime_ns == stamp


def test_an_unreadable_cache_is_measured_again(cache):
    cache.mkdir()
    wisdom_file().write_text("not json")
    assert fft_wisdom(_atoms(), SETTINGS)
    assert json.loads(wisdom_file().read_text())["keys"] == ["100x120/configurations=1"]


def test_no_wisdom_on_the_gpu(cache):
    from dataclasses import replace

    assert fft_wisdom(_atoms(), replace(SETTINGS, device="gpu")) is None
    assert not wisdom_file().exists()


_CHILD = """
import sys, pickle, numpy as np
from ase import Atoms
from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave, warm_up
atoms = Atoms("MoS2", positions=[[4, 4, 3], [5.6, 4.9, 1.4], [5.6, 4.9, 4.6]], cell=[9.6, 8.0, 6.0], pbc=True)
settings = ExitWaveSettings(energy=80e3, sampling=0.08, slice_thickness=0.5)
wisdom = pickle.loads(sys.stdin.buffer.read())
if "--warm-up" in sys.argv:
    warm_up(settings)
wave = compute_exit_wave(atoms, settings, wisdom=wisdom)
sys.stdout.buffer.write(wave.tobytes())
"""


def test_processes_given_the_same_wisdom_compute_the_same_bits(cache):
    """Also when one of them warmed up first (a worker's start-up while the plans are measured)."""
    import pickle

    wisdom = fft_wisdom(_atoms(), SETTINGS)
    waves = [
        np.frombuffer(subprocess.run([sys.executable, "-c", _CHILD, *flags], input=pickle.dumps(wisdom),
                                     capture_output=True, check=True).stdout, dtype=np.complex64)
        for flags in ([], ["--warm-up"])
    ]  # fmt: skip
    np.testing.assert_array_equal(waves[0], waves[1])
    estimated = compute_exit_wave(_atoms(), SETTINGS).ravel()  # no wisdom: ESTIMATE plans
    np.testing.assert_allclose(waves[0], estimated, rtol=0, atol=1e-5)
    assert np.abs(estimated - 1).max() > 0.05  # the atoms do scatter the wave


_THICK = """
import sys, pickle, pyfftw
from ase import Atoms
from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave
from hrtemlake.simulate.fftplans import use_wisdom
atoms = Atoms("MoS2", positions=[[4, 4, 13], [5.6, 4.9, 11.4], [5.6, 4.9, 14.6]], cell=[9.6, 8.0, 26.0], pbc=True)
wisdom = pickle.loads(sys.stdin.buffer.read())
use_wisdom(wisdom)
known = pyfftw.export_wisdom()
compute_exit_wave(atoms, ExitWaveSettings(energy=80e3, sampling=0.08, slice_thickness=0.5), wisdom=wisdom)
print(pyfftw.export_wisdom() == known)
"""


def test_the_stand_in_plans_every_fft_of_a_real_model(cache):
    """A 52-slice model needs no plan beyond those of the one-slice stand-in."""
    import pickle

    wisdom = fft_wisdom(_atoms(), SETTINGS)
    child = subprocess.run([sys.executable, "-c", _THICK], input=pickle.dumps(wisdom),
                           capture_output=True, check=True)  # fmt: skip
    assert child.stdout.decode().split() == ["True"]

