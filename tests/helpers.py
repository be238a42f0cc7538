"""Shared test helpers: run code under another Keras backend in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")


def backend() -> str:
    return keras.backend.backend()


def other_backends() -> list[str]:
    return [b for b in BACKENDS if b != backend()]


def run_python(code: str, backend: str, timeout: float = 900, cwd: str | os.PathLike | None = None) -> str:
    """Run `code` in a new interpreter with KERAS_BACKEND=`backend`; return stdout, raise with stderr."""
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"subprocess under {backend} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def randomize_batchnorm(model, seed=0):
    """Give every BatchNorm non-trivial moving statistics and affine parameters (so parity tests cover them)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                               rng.uniform(0.5, 1.5, c)])
    return model


def inference(model, x):
    """Inference outputs as numpy, the cheapest way for the active backend. On JAX an eager call compiles every op
    separately (measured: 265 small XLA compilations, 25 s for MobileNetV3-Large) while ``predict_on_batch``
    compiles one program, and a reloaded model's identical program then comes from the persistent compilation
    cache (``conftest.py``): 1 s. On TensorFlow and torch the eager call is the cheap one (no graph tracing)."""
    import numpy as np

    if keras.backend.backend() == "jax":
        return np.asarray(model.predict_on_batch(x))
    return keras.ops.convert_to_numpy(model(x, training=False))
