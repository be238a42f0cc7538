"""BatchNorm statistics from data, for a network whose moving statistics do not describe its activations."""

from __future__ import annotations

import keras
import numpy as np


def recalibrate_batchnorm(model: keras.Model, images) -> keras.Model:
    """Set every BatchNorm's moving mean / variance to the batch statistics of ``images`` (in place).

    One forward pass in training mode with momentum 0: each BatchNorm normalises with, and stores, the statistics
    of its input as produced by the already-recalibrated layers before it. Use it after changing a trained
    model's input size, or to give an untrained network realistic activation ranges (an untrained net's
    moving statistics, mean 0 / variance 1, can shrink activations to ~1e-8, which no int8 scale represents).

    Args:
        model: a built Keras model.
        images: one batch of model inputs, e.g. 128 real images at the model's input size.
    """
    x = np.asarray(images)
    if x.ndim != len(model.inputs[0].shape):
        raise ValueError(f"recalibrate_batchnorm: `images` must be one batch of model inputs with shape "
                         f"{tuple(model.inputs[0].shape)}, got an array of shape {x.shape}.")
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [(layer, layer.momentum) for layer in layers]
    try:
        for layer in layers:
            layer.momentum = 0.0
        if keras.backend.backend() == "jax":
            _jitted_training_call(model, x)
        else:
            model(x, training=True)
    finally:
        for layer, momentum in saved:
            layer.momentum = momentum
    return model


def _jitted_training_call(model: keras.Model, x) -> None:
    """``model(x, training=True)`` on JAX as one compiled program: an eager call compiles every op separately
    (measured: MobileNetV3-Small width 0.5 at 32x32, 14.5 s eager vs 3.7 s). Stores the updated moving statistics."""
    import jax  # noqa: PLC0415

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    _, updated = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=True))(trainable, non_trainable, x)
    for variable, value in zip(model.non_trainable_variables, updated):
        variable.assign(value)
