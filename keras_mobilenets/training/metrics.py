"""Metrics. ``AvgPixelDiff`` is write-up 004's keypoint score."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_mobilenets.training")
class AvgPixelDiff(keras.metrics.Metric):
    """Average keypoint error in pixels ("Avg PixelDiff", write-up 004).

    Targets and predictions are 2·K numbers ``(x0, y0, x1, y1, ...)`` in units of the network input side
    (pixel / `image_size`). For each image i and keypoint k the error is the Euclidean distance
    ``d_ik = image_size · sqrt((x̂_ik − x_ik)² + (ŷ_ik − y_ik)²)`` in pixels of the `image_size` × `image_size`
    network input; the metric is the mean of d_ik over all keypoints and all images seen
    (``Σ_i mean_k d_ik / N``; the write-up reports 6856.40465 / 1000 images = 6.856).
    The write-up does not define the per-image term; Euclidean distance averaged over keypoints is our reading.
    """

    def __init__(self, image_size: int = 224, name="avg_pixel_diff", **kwargs):
        super().__init__(name=name, **kwargs)
        self.image_size = int(image_size)
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.cast(y_true, "float32"), (ops.shape(y_true)[0], -1, 2))
        y_pred = ops.reshape(ops.cast(y_pred, "float32"), (ops.shape(y_pred)[0], -1, 2))
        d = ops.sqrt(ops.sum(ops.square(y_pred - y_true), axis=-1)) * self.image_size  # (N, K) pixels
        per_image = ops.mean(d, axis=-1)
        self.total.assign_add(ops.sum(per_image))
        self.count.assign_add(ops.cast(ops.shape(per_image)[0], "float32"))

    def result(self):
        return self.total / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size}
