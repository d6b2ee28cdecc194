"""Segmentation and regression networks for HR-TEM images (Keras 3 on TensorFlow).

Build (:func:`build_network`: U-net, U-net++, MSD-net), train from the lake's image sets
(:func:`train_network`), keep in the lake's network registry (:func:`load_network`,
:func:`list_networks`) and score (:func:`evaluate_network`, :class:`SimulatedImage`).
"""

from hrtemlake.nn.architectures import ARCHITECTURES, build_network, trainable_parameters
from hrtemlake.nn.augment import Augmentation
from hrtemlake.nn.data import ImageSet, LakeBatches, SynthesisBatches, open_image_set
from hrtemlake.nn.evaluate import SimulatedImage, evaluate_network, predict_images, summarise_scores
from hrtemlake.nn.registry import NetworkError, NetworkInfo, list_networks, load_network, network_info
from hrtemlake.nn.training import TrainingError, TrainingOptions, TrainingResult, train_network

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
    "predict_images",
    "summarise_scores",
    "train_network",
    "trainable_parameters",
]
