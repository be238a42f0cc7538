"""Learning-rate schedules as ``keras.optimizers.schedules.LearningRateSchedule`` in *steps*.

Per-epoch schedules (torch ``scheduler.step()`` once per epoch) use ``epoch = step // steps_per_epoch`` so that
epoch e (0-based) trains at ``lr0·f(e)`` for all its steps. Per-step schedules (``per_step=True``) update every
iteration, as the write-up's ImageNet script does. All are serialisable so ``.keras`` checkpoints reload them.
No write-up numbers live here; the recipes pass them in.
"""

from __future__ import annotations

import math

import keras
from keras import ops

_register = keras.saving.register_keras_serializable(package="keras_mobilenets.training")


class _EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, steps_per_epoch: int):
        if int(steps_per_epoch) < 1:
            raise ValueError(f"steps_per_epoch: must be ≥ 1; got {steps_per_epoch}")
        self.steps_per_epoch = int(steps_per_epoch)

    def epoch(self, step):
        return ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)

    def at_epoch(self, epoch: int) -> float:
        """The learning rate used during epoch `epoch` (0-based), as a Python float."""
        return float(ops.convert_to_numpy(self(epoch * self.steps_per_epoch)))


@_register
class Constant(_EpochSchedule):
    """lr(e) = lr0."""

    def __init__(self, initial_learning_rate, steps_per_epoch=1):
        super().__init__(steps_per_epoch)
        self.initial_learning_rate = float(initial_learning_rate)

    def __call__(self, step):
        return ops.cast(self.initial_learning_rate, "float32") + 0.0 * ops.cast(step, "float32")

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "steps_per_epoch": self.steps_per_epoch}


@_register
class ExponentialPerEpoch(_EpochSchedule):
    """torch ``LambdaLR(lambda e: gamma**e)``: lr(e) = lr0·gamma^e, constant within an epoch."""

    def __init__(self, initial_learning_rate, gamma, steps_per_epoch):
        super().__init__(steps_per_epoch)
        self.initial_learning_rate, self.gamma = float(initial_learning_rate), float(gamma)

    def __call__(self, step):
        return self.initial_learning_rate * ops.power(ops.cast(self.gamma, "float32"), self.epoch(step))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "gamma": self.gamma,
                "steps_per_epoch": self.steps_per_epoch}


@_register
class WarmupCosine(_EpochSchedule):
    """Linear warm-up then cosine to `final_learning_rate` (torch ``CosineAnnealingLR`` when warmup=0).

    With t = epoch (``per_step=False``) or t = step / steps_per_epoch (``per_step=True``), W = warmup_epochs,
    T = total_epochs:  t < W: lr0·(t+1)/W (per-epoch) or lr0·t/W (per-step);
    t ≥ W: lr_min + (lr0 − lr_min)·(1 + cos(π·(t − W)/(T − W)))/2.
    """

    def __init__(self, initial_learning_rate, total_epochs, steps_per_epoch, warmup_epochs=0,
                 final_learning_rate=0.0, per_step=False):
        super().__init__(steps_per_epoch)
        if total_epochs <= warmup_epochs:
            raise ValueError(f"epochs: must exceed warmup_epochs ({warmup_epochs}); got {total_epochs}")
        self.initial_learning_rate, self.final_learning_rate = float(initial_learning_rate), float(final_learning_rate)
        self.total_epochs, self.warmup_epochs, self.per_step = int(total_epochs), int(warmup_epochs), bool(per_step)

    def __call__(self, step):
        if self.per_step:
            t = ops.cast(step, "float32") / self.steps_per_epoch
            warm = self.initial_learning_rate * t / max(self.warmup_epochs, 1)
        else:
            t = self.epoch(step)
            warm = self.initial_learning_rate * (t + 1.0) / max(self.warmup_epochs, 1)
        w, total = float(self.warmup_epochs), float(self.total_epochs)
        progress = ops.clip((t - w) / (total - w), 0.0, 1.0)
        cos = self.final_learning_rate + (self.initial_learning_rate - self.final_learning_rate) * 0.5 * (
            1.0 + ops.cos(math.pi * progress))
        return ops.where(t < w, warm, cos)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "total_epochs": self.total_epochs,
                "steps_per_epoch": self.steps_per_epoch, "warmup_epochs": self.warmup_epochs,
                "final_learning_rate": self.final_learning_rate, "per_step": self.per_step}


@_register
class PiecewiseEpochs(_EpochSchedule):
    """Piecewise-constant in epochs: ``values[i]`` for epochs in [boundaries[i-1], boundaries[i])."""

    def __init__(self, boundaries, values, steps_per_epoch):
        super().__init__(steps_per_epoch)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"lr_values: need len(boundaries)+1 = {len(boundaries) + 1} values; got {len(values)}")
        self.boundaries, self.values = [int(b) for b in boundaries], [float(v) for v in values]

    def __call__(self, step):
        e = self.epoch(step)
        lr = ops.cast(self.values[0], "float32") + 0.0 * e
        for b, v in zip(self.boundaries, self.values[1:]):
            lr = ops.where(e >= b, v, lr)
        return lr

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "steps_per_epoch": self.steps_per_epoch}


def step_restarts(values, cycle_epochs):
    """Boundaries/values for a step schedule restarted several times: cycle k holds each of `values` for
    ``cycle_epochs[k]`` epochs. E.g. values (0.1, 0.01), cycles (50, 20) → 0.1×50, 0.01×50, 0.1×20, 0.01×20."""
    boundaries, out, e = [], [], 0
    for length in cycle_epochs:
        for v in values:
            out.append(float(v))
            e += int(length)
            boundaries.append(e)
    return boundaries[:-1], out


def build(kind: str, *, lr: float, epochs: int, steps_per_epoch: int, gamma: float = 1.0, warmup_epochs: int = 0,
          final_lr: float = 0.0, per_step: bool = False, lr_values=(), cycle_epochs=()):
    """Schedule factory used by :func:`keras_mobilenets.training.fit` (``--schedule``)."""
    if kind == "constant":
        return Constant(lr, steps_per_epoch)
    if kind == "exponential":
        return ExponentialPerEpoch(lr, gamma, steps_per_epoch)
    if kind == "cosine":
        return WarmupCosine(lr, epochs, steps_per_epoch, warmup_epochs, final_lr, per_step)
    if kind == "step_restarts":
        if not lr_values or not cycle_epochs:
            raise ValueError("lr_values / cycle_epochs: both are required with --schedule step_restarts")
        b, v = step_restarts(lr_values, cycle_epochs)
        return PiecewiseEpochs(b, v, steps_per_epoch)
    raise ValueError(f"schedule: unknown {kind!r}; allowed: {', '.join(SCHEDULES)}")


SCHEDULES = ("constant", "exponential", "cosine", "step_restarts")
