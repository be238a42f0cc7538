"""The one training path: ``fit(TrainConfig(...))``, its optimizer, schedules, metrics and callbacks.

Importing this package is light (Keras only): ``import keras_mobilenets`` imports it so that the optimizer,
schedules and metrics a recipe's ``.keras`` checkpoint refers to are registered before anyone loads one.
``fit`` / ``validate`` (and with them the ``tf.data`` input pipeline, which imports TensorFlow) load on first use.
"""

import importlib

from . import callbacks, schedules
from .batchnorm import recalibrate_batchnorm
from .config import TrainConfig, main, make_parser, parse_args
from .metrics import AvgPixelDiff
from .optimizers import SGDW, reset_slots

_LAZY = {"fit": ".loop", "validate": ".loop"}

__all__ = ["AvgPixelDiff", "SGDW", "TrainConfig", "callbacks", "fit", "main", "make_parser", "parse_args",
           "recalibrate_batchnorm", "reset_slots", "schedules", "validate"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
