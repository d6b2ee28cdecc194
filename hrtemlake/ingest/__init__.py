"""Experimental data in: DigitalMicrograph / TIFF files to frame records, dose and noise fits.

``readers`` turns every source into :class:`FrameRecord` s; ``noise`` measures dose, the
noise power spectrum and the detector MTF / readout noise of vacuum regions.
"""

from hrtemlake.ingest.noise import (
    MTFFit,
    ReadoutFit,
    counts_per_electron_from_metadata,
    find_vacuum_window,
    fit_mtf,
    frame_dose,
    local_standardise,
    parameter_fragment,
    radial_power_spectrum,
    readout_from_series,
)
from hrtemlake.ingest.readers import (
    FrameReadError,
    FrameRecord,
    UnknownUnitError,
    discover,
    read_frames,
)

__all__ = [
    "FrameRecord",
    "FrameReadError",
    "UnknownUnitError",
    "read_frames",
    "discover",
    "MTFFit",
    "ReadoutFit",
    "local_standardise",
    "find_vacuum_window",
    "frame_dose",
    "counts_per_electron_from_metadata",
    "radial_power_spectrum",
    "fit_mtf",
    "readout_from_series",
    "parameter_fragment",
]
