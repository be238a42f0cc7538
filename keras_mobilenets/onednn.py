"""TensorFlow's oneDNN CPU kernels, switched on before TensorFlow loads.

TensorFlow 2.21 uses oneDNN on x86 only where the CPU has AVX-512 VNNI / BF16 or AMX; everywhere else (AMD EPYC,
AVX2-only Intel, most laptops and CI runners) it runs its Eigen kernels unless ``TF_ENABLE_ONEDNN_OPTS=1`` is set
before it is imported. For these networks that is a large difference. Measured on this 2-core AMD EPYC (AVX2, no
AVX-512), one TF ``train_on_batch``, median of 5 after 3: MobileNetV1 baseline batch 100 2.23 -> 0.73 s with
oneDNN (plain PyTorch channels_last 0.70 s); the other write-up networks in ``benchmarks/results/train_step.md``.
TF's own unequal-stride depthwise kernel also exists only without oneDNN's (``layers.depthwise_conv`` handles
both).

``import keras_mobilenets`` sets ``TF_ENABLE_ONEDNN_OPTS=1`` on x86-64 when the variable is unset and TensorFlow
is not imported yet (import the package before ``keras`` / ``tensorflow`` for that: TensorFlow reads the variable
once, at import). Set ``TF_ENABLE_ONEDNN_OPTS=0`` to keep TensorFlow's default. If TensorFlow was imported first
without oneDNN, :func:`enable` warns once with the fix. Processes the package starts (the TensorFlow export
subprocess) inherit the setting.

This module imports nothing but the standard library.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings

ENV = "TF_ENABLE_ONEDNN_OPTS"
X86 = ("x86_64", "amd64", "x64")

_state: str | None = None


def enable() -> str:
    """Switch oneDNN on for TensorFlow if it can still be done; return what happened: ``"set"`` (this call set
    the variable), ``"user"`` (it was set already: left alone), ``"not-x86"``, or ``"too-late"`` (TensorFlow
    was already imported; it warns when TensorFlow then runs without oneDNN and is the Keras backend)."""
    global _state
    if _state is not None:
        return _state
    if ENV in os.environ:
        _state = "user"
    elif platform.machine().lower() not in X86:
        _state = "not-x86"
    elif "tensorflow" in sys.modules:
        _state = "too-late"
        if tensorflow_uses_onednn() is False and _keras_backend() == "tensorflow":
            warnings.warn(
                "keras_mobilenets: TensorFlow was imported before keras_mobilenets and runs without oneDNN on "
                f"this CPU (training ~3x slower here); set {ENV}=1 in the environment, or import keras_mobilenets "
                f"before keras / tensorflow. {ENV}=0 silences this.", RuntimeWarning, stacklevel=3)
    else:
        os.environ[ENV] = "1"
        _state = "set"
    return _state


def tensorflow_uses_onednn() -> bool | None:
    """Whether the imported TensorFlow runs its oneDNN kernels; None if TensorFlow is not imported or cannot say."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port  # noqa: PLC0415  (no public accessor)

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def _keras_backend() -> str:
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")
