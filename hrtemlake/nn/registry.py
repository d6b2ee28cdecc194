"""The network registry ``networks/<name>``: learning curves and checkpoints in the lake.

A network lives beside the data it was trained on: ``networks/<name>`` holds the learning
curve (one row per training epoch) and, as group attributes, the architecture, the training
options, the training and validation image sets and their image parameter file;
``networks/<name>/checkpoints`` holds its saved states as Keras ``.keras`` files. Loading
uses Keras' safe mode, so a checkpoint from someone else's lake cannot run code.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from hrtemlake.errors import HrtemlakeError
from hrtemlake.lake import as_lake

__all__ = [
    "NetworkError",
    "NetworkInfo",
    "checkpoint_epochs",
    "list_networks",
    "load_network",
    "model_from_bytes",
    "model_to_bytes",
    "network_info",
    "save_checkpoint",
]


class NetworkError(HrtemlakeError):
    """A network that is missing, or a checkpoint that cannot be loaded."""


@dataclass(frozen=True)
class NetworkInfo:
    """What the registry knows of a network (``hrtemlake networks ls``)."""

    name: str
    architecture: dict
    training: dict
    label: str
    channel_names: tuple[str, ...]
    input_channels: int
    datasets: dict
    parameter_file: dict
    epochs: int
    checkpoints: tuple[int, ...]
    loss: float
    val_loss: float
    val_metric: float

    @property
    def trainable_parameters(self) -> int:
        return int(self.architecture.get("trainable_parameters", 0))


def model_to_bytes(model) -> bytes:
    """The model (architecture, weights, optimizer state) as a ``.keras`` file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def model_from_bytes(data: bytes, where: str = "checkpoint"):
    """Load a ``.keras`` file's bytes in Keras' safe mode."""
    import keras

    import hrtemlake.nn.architectures  # noqa: F401  (registers the custom layers)
    import hrtemlake.nn.losses  # noqa: F401  (registers the metrics)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        try:
            return keras.models.load_model(path, safe_mode=True)
        except Exception as error:  # keras raises many kinds for a bad file
            raise NetworkError(f"{where}: cannot load the saved network ({error})") from error


def save_checkpoint(lake, name: str, model, epoch: int) -> None:
    """Append the model's state after ``epoch`` training epochs to its checkpoints."""
    writer = lake.writer("checkpoints", attrs={"format": "keras"}, network=name)
    data = np.frombuffer(model_to_bytes(model), dtype=np.uint8)
    writer.append([{"model_file": data}], per_item={"training_epoch": np.array([epoch])})


def checkpoint_epochs(lake, name: str) -> np.ndarray:
    """Training epochs of the stored checkpoints of network ``name`` (complete ones)."""
    lake = as_lake(lake)
    if not lake.exists("checkpoints", network=name):
        return np.zeros(0, dtype=np.int64)
    group = lake.group("checkpoints", network=name)
    done = group["write_session"][:] > 0
    return group["training_epoch"][: int(done.sum())]


def load_network(lake, name: str, epoch: Optional[int] = None):
    """The Keras model of network ``name`` after ``epoch`` training epochs (default: the
    latest checkpoint), compiled with its optimizer state. ``lake``: a Lake or its location."""
    lake = as_lake(lake)
    epochs = checkpoint_epochs(lake, name)
    if not len(epochs):
        raise NetworkError(f"{lake.location}: no network '{name}' (see `hrtemlake networks ls`)")
    index = len(epochs) - 1 if epoch is None else _checkpoint_index(epochs, epoch, name)
    group = lake.group("checkpoints", network=name)
    ends = group["offsets"][: index + 1]
    start = int(ends[index - 1]) if index else 0
    data = group["model_file"][start : int(ends[index])].tobytes()
    model = model_from_bytes(data, f"{lake.location}: networks/{name} checkpoint {index}")
    # as train_network's model: predictions come back in the label's units
    from hrtemlake.nn.evaluate import target_scale

    object.__setattr__(model, "_hrtemlake_target_scale", target_scale(network_info(lake, name).training))
    return model


def _checkpoint_index(epochs: np.ndarray, epoch: int, name: str) -> int:
    where = np.flatnonzero(epochs == epoch)
    if not len(where):
        raise NetworkError(
            f"network '{name}' has no checkpoint after epoch {epoch}; "
            f"saved epochs: {', '.join(map(str, epochs)) or 'none'}"
        )
    return int(where[-1])


def network_info(lake, name: str) -> NetworkInfo:
    """Registry entry of network ``name`` (``lake``: a Lake or its location)."""
    lake = as_lake(lake)
    if not lake.exists("networks", network=name):
        raise NetworkError(f"{lake.location}: no network '{name}' (see `hrtemlake networks ls`)")
    group = lake.group("networks", network=name)
    attrs: dict[str, Any] = dict(group.attrs)
    n = int((group["write_session"][:] > 0).sum())
    last = lambda v: float(group[v][n - 1]) if n else float("nan")  # noqa: E731
    return NetworkInfo(
        name=name, architecture=dict(attrs["architecture"]), training=dict(attrs["training"]),
        label=str(attrs["label"]), channel_names=tuple(attrs["channel_names"]),
        input_channels=int(attrs["input_channels"]), datasets=dict(attrs["datasets"]),
        parameter_file=dict(attrs["parameter_file"]), epochs=n,
        checkpoints=tuple(int(e) for e in checkpoint_epochs(lake, name)),
        loss=last("loss"), val_loss=last("val_loss"), val_metric=last("val_metric"),
    )  # fmt: skip


def list_networks(lake) -> list[NetworkInfo]:
    """Every network in the lake, by name (``lake``: a Lake or its location)."""
    lake = as_lake(lake)
    return [network_info(lake, n["network"]) for n in sorted(
        lake.names("networks"), key=lambda n: n["network"])]  # fmt: skip
