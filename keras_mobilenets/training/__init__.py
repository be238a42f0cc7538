"""The one training path: ``fit(TrainConfig(...))``, its optimizer, schedules, metrics and callbacks."""

from . import callbacks, schedules
from .batchnorm import recalibrate_batchnorm
from .config import TrainConfig, main, make_parser, parse_args
from .loop import fit, validate
from .metrics import AvgPixelDiff
from .optimizers import SGDW, reset_slots

__all__ = ["AvgPixelDiff", "SGDW", "TrainConfig", "callbacks", "fit", "main", "make_parser", "parse_args",
           "recalibrate_batchnorm", "reset_slots", "schedules", "validate"]
