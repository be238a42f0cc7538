"""Trained models shipped in ``saved_models/<name>/`` (see each folder's ``model_card.md``).

``get_model(name, weights="cifar10")`` builds ``name`` with the arguments recorded in the folder's
``card.json`` and copies the trained weights in; ``weights`` may also be a path to a ``.keras`` or
``.weights.h5`` file. The folder is looked up in ``$KERAS_MOBILENETS_MODELS`` and then in the repository's
``saved_models/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

REPO_MODELS = Path(__file__).resolve().parents[1] / "saved_models"


def top1_accuracy(predict, x, y, batch: int = 250) -> float:
    """Fraction of ``x`` whose arg-max of ``predict(batch)`` equals ``y`` (any predict: Keras, TFLite, ONNX)."""
    import numpy as np

    preds = np.concatenate([np.argmax(predict(x[i : i + batch]), -1) for i in range(0, len(x), batch)])
    return float((preds == np.asarray(y)).mean())


def to_model_input(x, input_shape, chunk: int = 1000):
    """Images (N, H, W[, C]) in [0, 255] → float32 numpy at the model's (square) input size, built by the training
    pipeline's own :func:`keras_mobilenets.data.augment.to_rgb_float`: grayscale replicated to RGB, smaller
    images zero-padded symmetrically (CIFAR-10 32 → 64 for the shipped 64-px MobileNetV3-Small), larger ones
    bilinearly resized."""
    import numpy as np

    from .data.augment import to_rgb_float

    h, w, c = (int(v) for v in input_shape)
    if h != w or c != 3:
        raise ValueError(f"to_model_input: `input_shape` must be square RGB (S, S, 3); got {tuple(input_shape)}.")
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    return np.concatenate([np.asarray(to_rgb_float(x[i : i + chunk], h)) for i in range(0, len(x), chunk)])


def models_dir() -> Path:
    return Path(os.environ.get("KERAS_MOBILENETS_MODELS", REPO_MODELS))


def cards() -> dict:
    """name -> card dict of every shipped model."""
    out = {}
    root = models_dir()
    for card in sorted(root.glob("*/card.json")) if root.is_dir() else []:
        data = json.loads(card.read_text())
        data["dir"] = str(card.parent)
        out[card.parent.name] = data
    return out


def find(name: str, dataset: str) -> dict:
    card = cards().get(name)
    if card is None or card.get("dataset") != dataset:
        available = [f"{n} (weights={c.get('dataset')!r})" for n, c in cards().items()]
        raise ValueError(
            f"No trained {name!r} for weights={dataset!r} in {models_dir()}. Available: "
            f"{', '.join(available) or 'none'}. Pass weights=None, a dataset listed here, or a .keras / "
            ".weights.h5 path."
        )
    return card


def build_kwargs(name: str, weights) -> dict:
    """Architecture arguments a shipped model was trained with (empty for a file path or None)."""
    if weights is None or _is_path(weights):
        return {}
    return dict(find(name, weights).get("build_kwargs", {}))


def _is_path(weights) -> bool:
    return isinstance(weights, os.PathLike) or str(weights).endswith((".keras", ".h5"))


def load_into(model: keras.Model, name: str, weights) -> keras.Model:
    if _is_path(weights):
        path = Path(weights)
    else:
        path = Path(find(name, weights)["dir"]) / "model.keras"
    if not path.exists():
        raise ValueError(f"`weights` file {str(path)!r} does not exist.")
    if path.suffix == ".keras":
        trained = keras.saving.load_model(path, compile=False, safe_mode=True)
        if len(trained.weights) != len(model.weights) or any(
            tuple(a.shape) != tuple(b.shape) for a, b in zip(trained.weights, model.weights)
        ):
            raise ValueError(
                f"`weights` {str(path)!r} holds a different architecture than {name!r} built with these arguments."
            )
        model.set_weights(trained.get_weights())
    else:
        model.load_weights(path)
    return model


def shipped_tflite_kinds(card) -> list:
    """The TFLite files a shipped model has (``fp32`` may be left out for the size cap, ``int8`` never is)."""
    return [k for k in ("fp32", "int8") if f"model_{k}.tflite" in card["files"]]
