"""Experimental data in: DigitalMicrograph / TIFF files to frame records, dose and noise fits.

``readers`` turns every source into :class:`FrameRecord` s; ``series`` appends them to the
lake (``experiments/<series>``, with a quarantine table) and reads series back
(:class:`ExperimentalSeries`); ``noise`` measures dose, the noise power spectrum and the
detector MTF / readout noise of vacuum regions, and ``noisefit`` does so for every frame of
a series into ``experiments/<series>/noise``.
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
    plot_mtf_fit,
    radial_power_spectrum,
    readout_from_series,
)
from hrtemlake.ingest.noisefit import (
    NoiseFitResult,
    fit_series_noise,
    series_fits,
    series_parameter_fragment,
    series_readout,
)
from hrtemlake.ingest.readers import (
    FrameReadError,
    FrameRecord,
    UnknownUnitError,
    discover,
    read_frames,
)
from hrtemlake.ingest.series import (
    ExperimentalSeries,
    IngestProgress,
    IngestResult,
    Quarantined,
    ingest_series,
    load_series,
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
    "plot_mtf_fit",
    "ingest_series",
    "IngestResult",
    "IngestProgress",
    "Quarantined",
    "ExperimentalSeries",
    "load_series",
    "fit_series_noise",
    "NoiseFitResult",
    "series_fits",
    "series_readout",
    "series_parameter_fragment",
]
