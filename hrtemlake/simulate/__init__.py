"""Image simulation: the parameter file and the microscope model (pure NumPy/CuPy).

See :mod:`hrtemlake.simulate.params` (the parameter file of thesis Table 3.2 /
Listing A.1), :mod:`hrtemlake.simulate.microscope` (CTF, envelopes, detector noise
and MTF, resampling, parameter draws) and :func:`synthesize_images` (image epochs and
labels of an exit wave, :mod:`hrtemlake.simulate.images`).
"""

from hrtemlake.simulate.epochs import epoch_seeds
from hrtemlake.simulate.images import synthesize_images
from hrtemlake.simulate.microscope import *  # noqa: F401,F403
from hrtemlake.simulate.microscope import __all__ as _microscope_all
from hrtemlake.simulate.params import (
    LABELS,
    ImageParameters,
    ParameterError,
    expected_num_classes,
    load_parameters,
)

__all__ = [
    "LABELS",
    "ImageParameters",
    "ParameterError",
    "expected_num_classes",
    "epoch_seeds",
    "load_parameters",
    "synthesize_images",
    *_microscope_all,
]
