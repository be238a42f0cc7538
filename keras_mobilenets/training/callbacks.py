"""Callbacks of the training path: LR logging, wall-clock budget, restart-from-best, curves PNG."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import keras

from .optimizers import reset_slots


class LearningRateLogger(keras.callbacks.Callback):
    """Put the learning rate used during the epoch into ``logs["learning_rate"]`` (CSV, TensorBoard, History)."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.schedule.at_epoch(epoch)


class WallClockBudget(keras.callbacks.Callback):
    """Stop training cleanly (at a batch boundary) once `seconds` of training time have passed.

    `already_spent` carries time from before a resume, so the budget covers the whole run.
    """

    def __init__(self, seconds: float, already_spent: float = 0.0):
        super().__init__()
        self.seconds, self.already_spent, self.fired = float(seconds), float(already_spent), False
        self.steps = 0  # training steps run by this process (a resumed run counts from the resume)

    def elapsed(self) -> float:
        return self.already_spent + time.monotonic() - self._t0

    def on_train_begin(self, logs=None):
        self._t0 = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.seconds and self.elapsed() >= self.seconds:
            self.fired = True
            self.model.stop_training = True


class ProgressFile(keras.callbacks.Callback):
    """Write ``progress.json`` (epochs done, cumulative seconds) after every epoch."""

    def __init__(self, path, already_spent: float = 0.0):
        super().__init__()
        self.path, self.already_spent = Path(path), already_spent

    def on_train_begin(self, logs=None):
        self._t0 = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = self.already_spent + time.monotonic() - self._t0
        self.path.write_text(json.dumps({"epochs_done": epoch + 1, "seconds": self.seconds}))


class RestartFromBest(keras.callbacks.Callback):
    """At the start of epoch `epoch`: reload the best checkpoint's weights and zero the optimizer slots (a *new*
    optimizer whose schedule continues), as write-up 000 does for its last 10 epochs."""

    def __init__(self, epoch: int, best_path):
        super().__init__()
        self.epoch, self.best_path, self.fired = int(epoch), Path(best_path), False

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            if self.best_path.exists():
                best = keras.saving.load_model(self.best_path, compile=False)
                self.model.set_weights(best.get_weights())
            reset_slots(self.model.optimizer)
            self.fired = True


def best_so_far(csv_path, monitor: str, mode: str):
    """Best `monitor` value in an existing CSVLogger file (to keep ModelCheckpoint honest after a resume)."""
    p = Path(csv_path)
    if not p.exists():
        return None
    with open(p, newline="") as f:
        vals = [float(r[monitor]) for r in csv.DictReader(f) if r.get(monitor) not in (None, "")]
    if not vals:
        return None
    return max(vals) if mode == "max" else min(vals)


def plot_curves(csv_path, png_path) -> None:
    """Loss and accuracy (or any metric) curves from the CSV log, train vs validation, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]
    metrics = [k for k in rows[0] if k not in ("epoch", "learning_rate") and not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        ax.plot(epochs, [float(r[m]) for r in rows], label=f"train {m}")
        if f"val_{m}" in rows[0]:
            ax.plot(epochs, [float(r[f"val_{m}"]) for r in rows], label=f"test {m}")
        ax.set_xlabel("epoch")
        ax.set_title(m)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
