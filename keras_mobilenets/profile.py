"""Parameter, MAC and FLOP counts of a built Keras model, read from layer shapes (nothing is run).

FLOP conventions (the write-ups disagree; never compare numbers across conventions):

* ``"macs"``: conv + dense multiply-accumulates (batch 1, inference, no bias terms).
* ``"flops"``: 2 x MACs.
* ``"fvcore"`` (write-up 000: fvcore ``FlopCountAnalysis`` on the model in train mode): MACs
  + 5 x BatchNorm input elements + input elements of adaptive average pools (``GlobalAveragePooling2D``);
  ``F.avg_pool2d`` (our ``AveragePooling2D``), activations and additions are free.
* ``"thop"`` (write-up 004: thop 0.1.1 ``profile`` MACs x 2): 2 x (MACs + 4 x BatchNorm elements
  + sum over adaptive average pools of (H*W + 1) * C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from keras_mobilenets.layers import GroupConv2D

CONVENTIONS = ("macs", "flops", "fvcore", "thop")


def _numel(shape):
    return math.prod(int(d) for d in shape[1:])


def _count(weights):
    return sum(math.prod(w.shape) for w in weights)


@dataclass
class LayerProfile:
    name: str
    kind: str
    output_shape: tuple
    params: int
    trainable: int
    macs: int
    flops: dict


@dataclass
class Profile:
    trainable: int
    non_trainable: int
    total: int
    macs: int
    flops: dict  # convention -> number
    layers: list

    def __getitem__(self, key):  # dict-style access: profile["macs"], profile["fvcore"]
        if key in self.flops:
            return self.flops[key]
        return getattr(self, key)

    def table(self, only_counted=True):
        """A printable per-layer table."""
        rows = [f"{'layer':<34}{'type':<24}{'output':<22}{'params':>10}{'MACs':>14}"]
        for lp in self.layers:
            if only_counted and not (lp.params or lp.macs):
                continue
            rows.append(f"{lp.name:<34}{lp.kind:<24}{str(lp.output_shape):<22}{lp.params:>10,}{lp.macs:>14,}")
        rows.append(f"total params {self.total:,} (trainable {self.trainable:,}, non-trainable {self.non_trainable:,}); "
                    f"MACs {self.macs:,}; " + ", ".join(f"{k} {v:,}" for k, v in self.flops.items()))
        return "\n".join(rows)


def _layer_macs(layer):
    L = keras.layers
    if isinstance(layer, L.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return _numel(layer.output.shape) * kh * kw
    if isinstance(layer, GroupConv2D):
        kh, kw = layer.kernel_size
        return _numel(layer.output.shape) * kh * kw * layer.input.shape[-1] // layer.groups
    if isinstance(layer, L.Conv2D):
        kh, kw = layer.kernel_size
        cin = layer.input.shape[-1]
        return _numel(layer.output.shape) * kh * kw * cin // layer.groups
    if isinstance(layer, L.Dense):
        return _numel(layer.output.shape) * layer.input.shape[-1]
    return 0


def profile(model: keras.Model) -> Profile:
    """Trainable / non-trainable / total params and MACs + FLOPs (all conventions) per layer and in total."""
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError("profile(model): `model` must be a built keras.Model (e.g. from keras_mobilenets.get_model).")
    if any(d is None for d in model.input_shape[1:]):
        raise ValueError(
            f"profile(model): the input shape {model.input_shape} has unknown dimensions; build the model with a "
            "static `input_shape=(height, width, channels)`."
        )
    rows, macs, bn, pool_in, pool_thop = [], 0, 0, 0, 0
    for layer in model.layers:
        if not hasattr(layer, "output") or isinstance(layer, keras.layers.InputLayer):
            continue
        m = _layer_macs(layer)
        extra = {}
        if isinstance(layer, keras.layers.BatchNormalization):
            n = _numel(layer.input.shape)
            bn += n
            extra = {"fvcore": 5 * n, "thop": 2 * 4 * n}
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            shape = layer.input.shape
            pool_in += _numel(shape)
            thop = (int(shape[1]) * int(shape[2]) + 1) * int(shape[3])
            pool_thop += thop
            extra = {"fvcore": _numel(shape), "thop": 2 * thop}
        macs += m
        flops = {"macs": m, "flops": 2 * m, "fvcore": m + extra.get("fvcore", 0), "thop": 2 * m + extra.get("thop", 0)}
        rows.append(LayerProfile(layer.name, type(layer).__name__, tuple(layer.output.shape[1:]),
                                 _count(layer.weights), _count(layer.trainable_weights), m, flops))
    trainable = _count(model.trainable_weights)
    total = _count(model.weights)
    totals = {"macs": macs, "flops": 2 * macs, "fvcore": macs + 5 * bn + pool_in, "thop": 2 * (macs + 4 * bn + pool_thop)}
    return Profile(trainable, total - trainable, total, macs, totals, rows)
