"""The analysis stages on the lake: ``analysis/<run>/{segmentation, instances, track_labels,
tracks, fourier, columns}`` for a series ``experiments/<series>``.

Each stage reads what the one before it stored, writes whole frames (chunk-aligned, so
blocks of frames can run in parallel on Dask workers), and skips frames that are already
complete, so a rerun after a crash finishes the job without redoing it::

    from hrtemlake.analysis import pipeline as ap

    lake = Lake("lake.zarr", mode="a")
    writer = ap.start_segmentation(lake, "r1", "insitu-01", ["au-msd"])
    for block in ap.missing_blocks(writer, per_block=8):
        ap.segment_block(writer, "r1", block)
    writer = ap.start_instances(lake, "r1")
    for block in ap.missing_blocks(writer, 8):
        ap.instance_block(writer, "r1", block)
    ap.track_run(lake, "r1")                    # sequential and cheap
    writer = ap.start_fourier(lake, "r1")
    for block in ap.missing_blocks(writer, 8):
        ap.fourier_block(writer, "r1", block)

Writers are picklable: the flow creates one per stage and sends it with each block.

``flows/analysis.py`` runs the same as one Prefect flow with the blocks on Dask.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

import numpy as np
import xarray as xr

from hrtemlake.errors import HrtemlakeError
from hrtemlake.lake import as_lake
from hrtemlake.lake.chunkio import ItemStack, read_items

__all__ = [
    "AnalysisError",
    "SegmentationSettings",
    "column_block",
    "fourier_block",
    "import_masks",
    "instance_block",
    "missing_blocks",
    "segment_block",
    "start_columns",
    "start_fourier",
    "start_instances",
    "start_segmentation",
    "track_run",
]


class AnalysisError(HrtemlakeError):
    """An analysis input that cannot work (no pixel size, wrong channels, empty masks...)."""


@dataclass(frozen=True)
class SegmentationSettings:
    """Tiled inference: window [pixels of the network's grid], overlap fraction of a window,
    tiles per batch, and the zero-weight band at window edges (:func:`tiled_predict`)."""

    window: int = 256
    overlap: float = 0.25
    batch_size: int = 8
    margin: int = 0


def missing_blocks(writer, per_block: int = 8) -> list[range]:
    """Blocks of at most ``per_block`` consecutive frames the stage's writer still misses."""
    missing = writer.missing()
    blocks: list[range] = []
    for t in missing:
        if blocks and blocks[-1].stop == t and len(blocks[-1]) < per_block:
            blocks[-1] = range(blocks[-1].start, t + 1)
        else:
            blocks.append(range(int(t), int(t) + 1))
    return blocks


def series_pixel_size(lake, series: str) -> float:
    """Mean pixel size [Å] of an ingested series; an error when it has none."""
    if not lake.exists("frames", series=series):
        raise AnalysisError(f"{lake.location}: no series '{series}' (see `hrtemlake lake ls`)")
    size = lake.group("frames", series=series).attrs.get("pixel_size")
    if not size or not np.all(np.isfinite(size)) or min(size) <= 0:
        raise AnalysisError(
            f"series '{series}' has no pixel size; ingest it with --pixel-size (Å)"
        )
    return float(np.mean(size))


def series_dose(lake, series: Optional[str], n_frames: int) -> np.ndarray:
    """Dose of each frame [e⁻/Å²] from the series' noise fits (NaN where unknown)."""
    dose = np.full(n_frames, np.nan)
    if series and lake.exists("noise", series=series):
        group = lake.group("noise", series=series)
        done = int((group["write_session"][:] > 0).sum())
        known = np.asarray(group["dose"][: min(done, n_frames)], dtype=np.float64)
        dose[: len(known)] = known
    return dose


# -- segmentation ------------------------------------------------------------------------


def start_segmentation(lake, run: str, series: str, networks: Sequence[str],
                       settings: SegmentationSettings = SegmentationSettings()):  # fmt: skip
    """Create ``analysis/<run>/segmentation`` for ``series`` and the ensemble ``networks``."""
    from hrtemlake.nn.registry import network_info

    lake = as_lake(lake, "a")
    if not networks:
        raise AnalysisError("name at least one network (--network)")
    pixel_size = series_pixel_size(lake, series)
    infos = [network_info(lake, n) for n in networks]
    for info in infos:
        if info.input_channels != 1:
            raise AnalysisError(
                f"network '{info.name}' takes {info.input_channels} input channels (a focal "
                f"series); series '{series}' has single frames"
            )
        if tuple(info.channel_names) != tuple(infos[0].channel_names):
            raise AnalysisError(f"networks {list(networks)} have different output channels")
    group = lake.group("frames", series=series)
    _, ny, nx = group["frame"].shape
    # frames an ingest is still appending (a scheduled one may run alongside) wait for the
    # next analysis: only the leading complete frames are taken
    complete = np.asarray(group["write_session"][:]) > 0
    n = int(np.argmin(complete)) if not complete.all() else complete.size
    return lake.writer(
        "segmentation", run=run, n_items=n,
        sizes={"channel": len(infos[0].channel_names), "y": ny, "x": nx},
        parameters={"series": series, "networks": list(networks), **asdict(settings)},
        attrs={"series": series, "networks": list(networks),
               "channel_names": list(infos[0].channel_names), "pixel_size": pixel_size},
    )  # fmt: skip


def network_pixel_size(info) -> float:
    """Pixel size [Å] a network was trained at (middle of its parameter file's range)."""
    return float(np.mean(info.parameter_file.get("sampling", (1.0, 1.0))))


def predict_frame(model, info, frame: np.ndarray, pixel_size: float,
                  settings: SegmentationSettings) -> np.ndarray:  # fmt: skip
    """Probability maps (channel, y, x) of one frame on its own grid.

    The frame is resampled to the network's training pixel size, locally standardised
    (eq. 3.1, the network's normalisation distance), predicted in Hamming-blended tiles
    and resampled back.
    """
    from skimage.transform import resize

    from hrtemlake.analysis.tiling import tiled_predict
    from hrtemlake.preprocess import local_standardise

    target = network_pixel_size(info)
    shape = frame.shape
    scaled_shape = tuple(max(8, int(round(n * pixel_size / target))) for n in shape)
    image = frame.astype(np.float32, copy=False)
    if scaled_shape != shape:
        image = resize(image, scaled_shape, order=1, preserve_range=True, anti_aliasing=True)
    distance = float(info.parameter_file.get("normalizedistance", 12.0))
    image = local_standardise(image.astype(np.float32, copy=False), distance / target)
    window = min(settings.window, _fit_window(model, max(scaled_shape)))
    out = tiled_predict(image, lambda x: np.asarray(model.predict_on_batch(x)), window=window,
                        overlap=settings.overlap, batch_size=settings.batch_size,
                        margin=settings.margin)  # fmt: skip
    if scaled_shape != shape:
        out = resize(out, (*shape, out.shape[-1]), order=1, preserve_range=True)
    return np.moveaxis(out.astype(np.float32, copy=False), -1, 0)


def _fit_window(model, size: int) -> int:
    """The largest window ≤ size that the network accepts (U-nets: multiples of 2**levels)."""
    from hrtemlake.nn.evaluate import size_multiple

    multiple = size_multiple(model)
    return max(multiple, (max(size, 8) // multiple) * multiple)


@functools.lru_cache(maxsize=4)
def _cached_network(location: str, name: str, checkpoint: int):
    """A network loaded once per process and checkpoint (loading and the first prediction's
    retrace cost ~0.35 s, paid per block otherwise)."""
    from hrtemlake.nn.registry import load_network, network_info

    return load_network(location, name, checkpoint), network_info(location, name)


def segment_block(writer, run: str, block: range,
                  settings: Optional[SegmentationSettings] = None) -> int:  # fmt: skip
    """Predict frames ``block`` with every network of the run and store the ensemble."""
    from hrtemlake.nn.registry import checkpoint_epochs

    lake = as_lake(writer.location, "a")
    attrs = dict(writer.group.attrs)
    settings = settings or SegmentationSettings(**{
        k: v for k, v in attrs["parameters"].items() if k in SegmentationSettings.__dataclass_fields__
    })  # fmt: skip
    frames = _block(lake.group("frames", series=attrs["series"])["frame"], block)
    results = []
    for name in attrs["networks"]:
        latest = int(checkpoint_epochs(lake, name)[-1])
        model, info = _cached_network(lake.location, name, latest)
        results.append(np.stack([predict_frame(model, info, f, attrs["pixel_size"], settings)
                                 for f in frames]))  # fmt: skip
    if len(results) == 1:  # no ensemble: no 4096² copies for a mean of one
        values = {"probability": results[0]}
    else:
        stack = np.stack(results)  # (network, time, channel, y, x)
        values = {"probability": stack.mean(axis=0), "disagreement": stack[:, :, 0].std(axis=0)}
    writer.write(block.start, values)
    return len(block)


def _block(array, block: range) -> np.ndarray:
    """Items ``block`` of a lake array, read directly (see :func:`read_items`)."""
    return read_items(array, slice(block.start, block.stop))


def _check_frames_match(lake, series: str, shape: tuple, run: str) -> None:
    series_pixel_size(lake, series)
    frames = lake.group("frames", series=series)["frame"].shape
    # a series may have grown since the run: its leading frames are the run's
    if tuple(frames[1:]) != tuple(shape[1:]) or frames[0] < shape[0]:
        raise AnalysisError(f"run '{run}' has {shape[0]} frames of {shape[1]}×{shape[2]}; series "
                            f"'{series}' has {frames[0]} of {frames[1]}×{frames[2]}")  # fmt: skip


def import_masks(lake, run: str, masks: Any, pixel_size: float, source: str = "array",
                 series: Optional[str] = None) -> int:  # fmt: skip
    """Store a user's own segmentation (binary or probability stack (time, y, x)) as the
    run's segmentation, e.g. from another tool; returns the number of frames.

    ``series`` names the frames the masks belong to (for mean intensities and Fourier
    statistics); their number and size must match."""
    lake = as_lake(lake, "a")
    stack = np.asarray(masks)
    if stack.ndim == 2:
        stack = stack[None]
    if stack.ndim != 3 or 0 in stack.shape:
        raise AnalysisError(f"{source}: expected a (time, y, x) stack, got shape {stack.shape}")
    if not pixel_size or pixel_size <= 0:
        raise AnalysisError(f"{source}: --pixel-size must be > 0 Å, got {pixel_size}")
    if not np.isfinite(stack).all():
        raise AnalysisError(f"{source}: the masks contain NaN or infinite values")
    if series:
        _check_frames_match(lake, series, stack.shape, run)
    stack = stack.astype(np.float32)
    if stack.max() > 1:
        stack = (stack > 0).astype(np.float32)  # label images: any label is foreground
    n, ny, nx = stack.shape
    writer = lake.writer(
        "segmentation", run=run, n_items=n, sizes={"channel": 1, "y": ny, "x": nx},
        parameters={"series": series, "networks": [], "source": source},
        attrs={"series": series, "networks": [], "channel_names": ["foreground"],
               "pixel_size": float(pixel_size)},
    )  # fmt: skip
    if not writer.completed().all():
        writer.write(0, {"probability": stack[:, None]})
    return n


def read_masks(path: str) -> np.ndarray:
    """A mask stack from a TIFF, .npy or ``lake.zarr::GROUP/VARIABLE`` path."""
    import os

    if "::" in path:
        import zarr

        store, _, variable = path.partition("::")
        return np.asarray(zarr.open_group(store, mode="r")[variable][...])
    if not os.path.exists(path):
        raise AnalysisError(f"{path}: no such file")
    if path.lower().endswith(".npy"):
        return np.load(path, allow_pickle=False)
    if path.lower().endswith((".tif", ".tiff")):
        import tifffile

        return tifffile.imread(path)
    raise AnalysisError(f"{path}: masks must be a .tif/.tiff, .npy or STORE::VARIABLE")


# -- instances and tracks ----------------------------------------------------------------


def foreground(probability: np.ndarray, channel_names: Sequence[str]) -> np.ndarray:
    """Probability that a pixel belongs to a particle, from (channel, y, x) maps."""
    names = list(channel_names)
    if "background" in names:
        return 1.0 - probability[names.index("background")]
    if len(names) == 1:
        return probability[0]
    return np.clip(probability.sum(axis=0), 0, 1)


def start_instances(lake, run: str, threshold: float = 0.9, min_separation: float = 1.0,
                    max_disagreement: Optional[float] = None):  # fmt: skip
    """Create ``analysis/<run>/instances`` from the run's segmentation.

    With ``max_disagreement`` only pixels where the ensemble agrees (standard deviation
    over its networks at most that) can be foreground."""
    lake = as_lake(lake, "a")
    if not lake.exists("segmentation", run=run):
        raise AnalysisError(f"{lake.location}: run '{run}' has no segmentation; run "
                            "`hrtemlake analyze segment` or pass --masks")  # fmt: skip
    seg = lake.group("segmentation", run=run)
    n, _, ny, nx = seg["probability"].shape
    pixel_size = float(seg.attrs["pixel_size"])
    agreement = _agreement_parameter(seg, run, max_disagreement)
    return lake.writer(
        "instances", run=run, n_items=n, sizes={"y": ny, "x": nx},
        parameters={"threshold": threshold, "min_separation": min_separation, **agreement},
        attrs={"threshold": threshold, "min_separation": min_separation, "pixel_size": pixel_size,
               **agreement},
    )  # fmt: skip


def _agreement_parameter(seg, run: str, max_disagreement: Optional[float]) -> dict[str, float]:
    """The stage parameter of the ensemble-agreement mask (none when not asked for)."""
    if max_disagreement is None:
        return {}
    if len(seg.attrs.get("networks", [])) < 2 or "disagreement" not in seg:
        raise AnalysisError(f"run '{run}' was segmented by one network; the agreement mask "
                            "(--max-disagreement) needs an ensemble of several")  # fmt: skip
    if not max_disagreement >= 0:
        raise AnalysisError(f"--max-disagreement must be >= 0, got {max_disagreement}")
    return {"max_disagreement": float(max_disagreement)}


def _agreed_probability(seg, attrs: dict, first: int, stop: int) -> np.ndarray:
    """Probabilities of frames first:stop, zero where the ensemble disagrees too much."""
    probability = ItemStack(seg["probability"])[first:stop]
    limit = attrs.get("max_disagreement")
    if limit is not None:
        disagrees = ItemStack(seg["disagreement"])[first:stop] > limit
        probability = np.where(disagrees[:, None], 0, probability)
    return probability


def instance_block(writer, run: str, block: range) -> int:
    """Watershed instances of frames ``block`` of the run's segmentation."""
    from hrtemlake.analysis.instances import segment_instances

    lake = as_lake(writer.location, "a")
    attrs = dict(writer.group.attrs)
    seg = lake.group("segmentation", run=run)
    names = seg.attrs["channel_names"]
    probability = _agreed_probability(seg, attrs, block.start, block.stop)
    labels = np.stack([
        segment_instances(foreground(p, names), attrs["threshold"],
                          min_separation=attrs["min_separation"], pixel_size=attrs["pixel_size"])
        for p in probability
    ])  # fmt: skip
    writer.write(block.start, {"instance": labels})
    return len(block)


def track_run(lake, run: str, min_overlap: float = 0.5) -> xr.Dataset:
    """Track the run's instances over time and store ``track_labels`` and ``tracks``.

    Sequential and cheap; an interrupted run is redone from the first frame (the overlap
    rule needs the previous frame's ids).
    """
    from hrtemlake.analysis.tracking import iter_tracked, track_properties

    lake = as_lake(lake, "a")
    instances = lake.group("instances", run=run)
    if not (instances["write_session"][:] > 0).all():
        raise AnalysisError(f"run '{run}': instances are incomplete; finish that stage first")
    n, ny, nx = instances["instance"].shape
    writer = lake.writer("track_labels", run=run, parameters={"min_overlap": min_overlap},
                         sizes={"y": ny, "x": nx}, attrs={"min_overlap": min_overlap})  # fmt: skip
    done, next_id = _tracked_so_far(lake, run, writer.n_items, n)
    if done < writer.n_items:
        writer.truncate(done)
    previous = ItemStack(lake.group("track_labels", run=run)["track"])[done - 1] if done else None
    source = (ItemStack(instances["instance"])[t] for t in range(done, n))
    for tracked in iter_tracked(source, min_overlap, previous=previous, next_id=next_id):
        writer.append({"track": tracked[None]})
    labels = ItemStack(lake.group("track_labels", run=run)["track"])
    seg = lake.group("segmentation", run=run)
    series = seg.attrs.get("series")
    frames = ItemStack(lake.group("frames", series=series)["frame"], n) if series else None
    pixel_size = float(instances.attrs["pixel_size"])
    dose = series_dose(lake, series, n)
    props = track_properties(labels, frames, pixel_size=pixel_size)
    _store_tracks(lake, run, props, dose, pixel_size)
    return lake.dataset("tracks", run=run)


def _tracked_so_far(lake, run: str, stored: int, n: int) -> tuple[int, int]:
    """Frames already tracked that a growing series' tracking continues from, and the next
    free track id; (0, 1) to track from the start (nothing stored, or no tracks record to
    take the largest id from)."""
    if not stored or stored > n or not lake.exists("tracks", run=run):
        return 0, 1
    tracks = lake.group("tracks", run=run)
    if tracks["dose"].shape[0] != stored or not (tracks["write_session"][:] > 0).all():
        return 0, 1
    ids = tracks["track"][:]
    return stored, int(ids.max()) + 1 if ids.size else 1


def _store_tracks(lake, run: str, props: xr.Dataset, dose: np.ndarray, pixel_size: float) -> None:
    """(Re)write the run's tracks: a small table, rebuilt whole whenever tracking changed."""
    from hrtemlake.lake.schema import WRITE_SESSION, get_schema

    spec = get_schema().group("tracks")
    ids = props["track"].values.astype(np.int64)
    if lake.exists("tracks", run=run):
        old = lake.group("tracks", run=run)
        if old["dose"].shape[0] == len(dose) and np.array_equal(old["track"][:], ids) and (
            old["write_session"][:] > 0
        ).all():
            return
        lake.remove("tracks", run=run)
    writer = lake.writer(
        "tracks", run=run, n_items=len(ids), sizes={"time": int(props.sizes["time"])},
        coords={"dose": dose}, attrs={"pixel_size": pixel_size},
    )  # fmt: skip
    if len(ids):
        names = [v.name for v in spec.item_variables() if v.name not in (WRITE_SESSION, "track")]
        values = {name: props[name].transpose("track", "time").values for name in names}
        writer.write(0, {"track": ids, **values})


# -- Fourier statistics ------------------------------------------------------------------


def start_fourier(lake, run: str, max_peaks: int = 6, zone_axis_threshold: float = 5.0,
                  ratio_pairs: Optional[int] = None, series: Optional[str] = None,
                  zone_network: Optional[str] = None):  # fmt: skip
    """Create ``analysis/<run>/fourier`` for the run's tracks on the frames of ``series``
    (default: the series the run segmented). With ``zone_network`` (a registered zone-axis
    classifier, :mod:`hrtemlake.analysis.zoneaxis`) each track also gets its probability of
    being on a zone axis per frame (``on_zone_probability``)."""
    lake = as_lake(lake, "a")
    if not lake.exists("tracks", run=run):
        raise AnalysisError(f"run '{run}' has no tracks yet; run `hrtemlake analyze track` first")
    series = series or lake.group("segmentation", run=run).attrs.get("series")
    if not series:
        raise AnalysisError(f"run '{run}' has no series to take the frames from; pass --series")
    tracks = lake.group("tracks", run=run)
    ids = tracks["track"][:]
    labels = lake.group("track_labels", run=run)["track"]
    _check_frames_match(lake, series, labels.shape, run)
    n = labels.shape[0]
    parameters = {"max_peaks": max_peaks, "zone_axis_threshold": zone_axis_threshold,
                  "ratio_pairs": ratio_pairs, "series": series}
    if zone_network:  # only when given: runs made before it existed keep their identity
        from hrtemlake.analysis.zoneaxis import load_zone_axis_classifier

        load_zone_axis_classifier(lake, zone_network)  # a clear error before any frame
        parameters["zone_network"] = zone_network
    if lake.exists("fourier", run=run):
        _follow_new_tracks(lake, run, ids)
    return lake.writer(
        "fourier", run=run, n_items=n, sizes={"track": len(ids), "peak": max_peaks},
        coords={"track": ids},
        parameters=parameters,
        attrs={"pixel_size": float(tracks.attrs["pixel_size"]),
               "zone_axis_threshold": zone_axis_threshold},
    )  # fmt: skip


def _follow_new_tracks(lake, run: str, ids: np.ndarray) -> None:
    """Make room for tracks that appeared in new frames of a growing series: earlier frames
    keep their statistics (those tracks were absent there).  Any other change of the
    tracks means they were redone, and so are the statistics."""
    known = lake.group("fourier", run=run)["track"][:]
    if np.array_equal(known, ids):
        return
    if known.size <= ids.size and np.array_equal(ids[: known.size], known):
        lake.grow("fourier", "track", ids.size, coords={"track": ids}, run=run)
    else:
        lake.remove("fourier", run=run)


def fourier_block(writer, run: str, block: range) -> int:
    """Fourier-peak statistics of every track in frames ``block``."""
    from hrtemlake.analysis.fourier import track_fourier_statistics

    lake = as_lake(writer.location, "a")
    parameters = dict(writer.group.attrs["parameters"])
    ids = writer.group["track"][:]
    frames = _block(lake.group("frames", series=parameters["series"])["frame"], block)
    labels = _block(lake.group("track_labels", run=run)["track"], block)
    options = {"ratio_pairs": parameters["ratio_pairs"]} if parameters["ratio_pairs"] else {}
    stats = track_fourier_statistics(
        frames, labels, float(writer.group.attrs["pixel_size"]), parameters["max_peaks"],
        zone_axis_threshold=parameters["zone_axis_threshold"], **options,
    )  # fmt: skip
    stats = stats.reindex(track=ids).transpose("time", "track", "peak")
    values = {name: stats[name].values for name in ("d_spacing", "angle", "intensity", "ratio")}
    values["n_peaks"] = np.nan_to_num(stats["n_peaks"].values, nan=0).astype(np.int32)
    values["on_zone"] = stats["on_zone"].fillna(False).values.astype(bool)
    if parameters.get("zone_network"):
        from hrtemlake.analysis.zoneaxis import zone_axis_probabilities

        model, grid = _cached_zone_network(lake.location, parameters["zone_network"])
        probability = zone_axis_probabilities(
            model, frames, labels, float(writer.group.attrs["pixel_size"]), ids, **grid)
        values["on_zone_probability"] = probability.T
    writer.write(block.start, values)
    return len(block)


@functools.lru_cache(maxsize=2)
def _cached_zone_network(location: str, name: str):
    """The zone-axis classifier and its input grid, loaded once per process."""
    from hrtemlake.analysis.zoneaxis import load_zone_axis_classifier

    return load_zone_axis_classifier(location, name)


# -- atomic columns ----------------------------------------------------------------------


def start_columns(lake, run: str, threshold: float = 0.5, radius: float = 1.0,
                  max_disagreement: Optional[float] = None):  # fmt: skip
    """Create ``analysis/<run>/columns`` from the run's column-probability maps
    (``max_disagreement``: as in :func:`start_instances`)."""
    lake = as_lake(lake, "a")
    seg = lake.group("segmentation", run=run)
    names = [n for n in seg.attrs["channel_names"] if n != "background"]
    agreement = _agreement_parameter(seg, run, max_disagreement)
    return lake.writer(
        "columns", run=run, n_items=seg["probability"].shape[0], sizes={"channel": len(names)},
        parameters={"threshold": threshold, "radius": radius, **agreement},
        attrs={"threshold": threshold, "radius": radius, "channel_names": names, **agreement},
    )  # fmt: skip


def column_block(writer, run: str, block: range) -> int:
    """Column counts and events of frames ``block`` (events need the frame before it)."""
    from hrtemlake.analysis.columns import column_events, column_positions

    lake = as_lake(writer.location, "a")
    attrs = dict(writer.group.attrs)
    seg = lake.group("segmentation", run=run)
    pixel_size = float(seg.attrs["pixel_size"])
    channels = [seg.attrs["channel_names"].index(n) for n in attrs["channel_names"]]
    first = max(block.start - 1, 0)
    probability = _agreed_probability(seg, attrs, first, block.stop)
    positions = [[column_positions(p[c], attrs["threshold"]) for c in channels] for p in probability]
    shape = (len(block), len(channels))
    values = {"count": np.zeros(shape, np.int64),
              **{k: np.full(shape, np.nan) for k in ("appeared", "disappeared", "persisted")}}  # fmt: skip
    offset = block.start - first
    for i in range(len(block)):
        current = positions[i + offset]
        values["count"][i] = [len(p) for p in current]
        if i + offset == 0:
            continue
        for c, (before, now) in enumerate(zip(positions[i + offset - 1], current)):
            events = column_events(before, now, attrs["radius"] / pixel_size)
            for key in ("appeared", "disappeared", "persisted"):
                values[key][i, c] = events[key]
    writer.write(block.start, values)
    return len(block)
