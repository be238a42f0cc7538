"""Initialisers drawn on the host with NumPy.

Keras' built-in random initialisers call the backend's RNG; on JAX every new weight shape then compiles a
fresh XLA program (~0.2 s each; ~20 s to build one MobileNet on 2 cores). These draw with NumPy and hand
the array to the backend, so building a model costs the same on TensorFlow, JAX and PyTorch. The
distributions are those of the Keras initialisers of the same name (fans as in Keras:
``fan_in = kh * kw * shape[-2]``, ``fan_out = kh * kw * shape[-1]``).

Reproducibility: with ``seed=None`` each call draws its seed from NumPy's global generator, which
``keras.utils.set_random_seed`` seeds; with an int seed every call returns the same values.
"""

from __future__ import annotations

import math

import keras
import numpy as np

PACKAGE = "keras_mobilenets"


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class _HostInitializer(keras.initializers.Initializer):
    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"{type(self).__name__}: `seed` must be None or an int, got {seed!r}.")
        self.seed = seed

    def _rng(self):
        seed = self.seed if self.seed is not None else int(np.random.randint(0, 2**31 - 1))
        return np.random.default_rng(seed)

    def __call__(self, shape, dtype=None):
        values = self.sample(tuple(int(d) for d in shape), self._rng())
        return keras.ops.convert_to_tensor(values.astype(dtype or "float32"))

    def get_config(self):
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class VarianceScaling(_HostInitializer):
    """Like ``keras.initializers.VarianceScaling`` (uniform / untruncated_normal / truncated_normal)."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("uniform", "untruncated_normal", "truncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="uniform", seed=None):
        super().__init__(seed)
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: `mode` must be one of {self.MODES}, got {mode!r}.")
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: `distribution` must be one of {self.DISTRIBUTIONS}, got {distribution!r}.")
        if scale <= 0:
            raise ValueError(f"VarianceScaling: `scale` must be > 0, got {scale!r}.")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def sample(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), shape)
        std = math.sqrt(variance) / 0.87962566103423978  # truncated at 2 std, as Keras
        out = rng.normal(0.0, std, shape)
        bad = np.abs(out) > 2 * std
        while bad.any():
            out[bad] = rng.normal(0.0, std, bad.sum())
            bad = np.abs(out) > 2 * std
        return out

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode, "distribution": self.distribution}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomUniform(_HostInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        if not minval < maxval:
            raise ValueError(f"RandomUniform: need `minval` < `maxval`, got {minval!r}, {maxval!r}.")
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomNormal(_HostInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Constant(keras.initializers.Initializer):
    """A constant, built with NumPy (``jnp.full`` would compile per shape on JAX)."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return keras.ops.convert_to_tensor(np.full(tuple(int(d) for d in shape), self.value, dtype or "float32"))

    def get_config(self):
        return {"value": self.value}


ZEROS = Constant(0.0)
ONES = Constant(1.0)
