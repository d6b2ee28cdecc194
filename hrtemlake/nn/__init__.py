"""Segmentation and regression networks for HR-TEM images (Keras 3 on TensorFlow).

Build (:func:`build_network`: U-net, U-net++, MSD-net), train from the lake's image sets
(:func:`train_network`), keep in the lake's network registry (:func:`load_network`,
:func:`list_networks`) and score (:func:`evaluate_network`, :class:`SimulatedImage`).
"""

import importlib
from typing import Any

# Where each public name lives. Imported on first use, so that reading the registry or
# plotting a learning curve does not load TensorFlow.
_SOURCES = {
    "ARCHITECTURES": "architectures", "build_network": "architectures",
    "trainable_parameters": "architectures", "Augmentation": "augment",
    "ImageSet": "data", "LakeBatches": "data", "SynthesisBatches": "data",
    "open_image_set": "data", "SimulatedImage": "evaluate", "evaluate_network": "evaluate",
    "predict_images": "evaluate", "summarise_scores": "evaluate", "NetworkError": "registry",
    "NetworkInfo": "registry", "list_networks": "registry", "load_network": "registry",
    "network_info": "registry", "TrainingError": "training", "TrainingOptions": "training",
    "TrainingResult": "training", "train_network": "training",
    "plot_learning_curve": "plots",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module 'hrtemlake.nn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hrtemlake.nn.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ARCHITECTURES",
    "Augmentation",
    "ImageSet",
    "LakeBatches",
    "NetworkError",
    "NetworkInfo",
    "SimulatedImage",
    "SynthesisBatches",
    "TrainingError",
    "TrainingOptions",
    "TrainingResult",
    "build_network",
    "evaluate_network",
    "list_networks",
    "load_network",
    "network_info",
    "open_image_set",
    "plot_learning_curve",
    "predict_images",
    "summarise_scores",
    "train_network",
    "trainable_parameters",
]
