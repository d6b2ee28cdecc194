"""Output activation, loss and training metric of each label kind (thesis §3.3, Part 2-3).

=========================  ==========  ========================  ==================
label                      activation  loss                      metric
=========================  ==========  ========================  ==================
Mask/Disk/Gaussian         sigmoid     binary cross-entropy      pixel F1
... with ``null_class``    softmax     categorical cross-entr.   pixel F1 (argmax)
Exitwave, Denoise          linear      mean squared error        RMSE
Heights                    linear      mean squared error        RMSE
Class (one per image)      softmax     sparse categorical c.-e.  accuracy
=========================  ==========  ========================  ==================

With a null (background) class the channels of every pixel sum to one, so softmax fits;
without one a pixel may belong to no channel (sigmoid per channel). Disk labels of several
classes never overlap, so either works; the parameter file decides, as in the thesis.
Heights labels are atom counts (0 off the columns), so they are regressed pixel by pixel,
like exit waves, and rounded only when scored (:func:`~hrtemlake.nn.metrics.column_height_scores`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import ops

from hrtemlake.simulate.params import SITE_LABELS

__all__ = ["PixelF1", "Objective", "objective"]


@dataclass(frozen=True)
class Objective:
    """How a network for a label kind ends and learns."""

    activation: str | None
    loss: str
    metric_name: str
    background: bool

    def metric(self) -> keras.metrics.Metric:
        if self.metric_name == "f1":
            return PixelF1(argmax=self.activation == "softmax", background=self.background)
        if self.metric_name == "accuracy":
            return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        return keras.metrics.RootMeanSquaredError(name="rmse")


def objective(label: str, channels: int, null_class: bool) -> Objective:
    """The :class:`Objective` of a parameter file's ``label`` with ``channels`` outputs."""
    if label in SITE_LABELS:
        softmax = bool(null_class) and channels > 1
        return Objective(
            "softmax" if softmax else "sigmoid",
            "categorical_crossentropy" if softmax else "binary_crossentropy",
            "f1", bool(null_class),
        )  # fmt: skip
    if label == "Class":  # one class index per image; the classifier outputs probabilities
        return Objective("softmax", "sparse_categorical_crossentropy", "accuracy", False)
    # Exitwave, Denoise and Heights pixels and Regression targets are real numbers
    return Objective(None, "mean_squared_error", "rmse", False)


@keras.saving.register_keras_serializable(package="hrtemlake")
class PixelF1(keras.metrics.Metric):
    """Pixel F1 score (thesis eq. 3.5) pooled over the pixels and channels of all batches.

    Sigmoid outputs count as positive above 0.5; softmax outputs (``argmax``) assign every
    pixel to its most probable channel. With ``background`` the last (null) channel is not
    scored. An empty truth and an empty prediction score 1.
    """

    def __init__(self, argmax: bool = False, background: bool = False, name: str = "f1",
                 **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.argmax, self.background = argmax, background
        self.counts = self.add_variable(shape=(3,), initializer="zeros", name="counts")

    def update_state(self, y_true, y_pred, sample_weight=None):
        channels = ops.shape(y_pred)[-1]
        if self.argmax:
            truth = ops.one_hot(ops.argmax(y_true, axis=-1), channels) > 0.5
            pred = ops.one_hot(ops.argmax(y_pred, axis=-1), channels) > 0.5
        else:
            truth, pred = y_true > 0.5, y_pred > 0.5
        if self.background:
            truth, pred = truth[..., :-1], pred[..., :-1]
        count = lambda mask: ops.sum(ops.cast(mask, "float32"))  # noqa: E731
        tp = count(ops.logical_and(truth, pred))
        fp = count(ops.logical_and(ops.logical_not(truth), pred))
        fn = count(ops.logical_and(truth, ops.logical_not(pred)))
        self.counts.assign_add(ops.stack([tp, fp, fn]))

    def result(self):
        tp, fp, fn = self.counts[0], self.counts[1], self.counts[2]
        denominator = 2 * tp + fp + fn
        return ops.where(denominator > 0, 2 * tp / ops.maximum(denominator, 1e-12), 1.0)

    def reset_state(self):
        self.counts.assign(ops.zeros((3,)))

    def get_config(self):
        return {**super().get_config(), "argmax": self.argmax, "background": self.background}
