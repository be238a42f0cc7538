"""Verified mobile / server export: TensorFlow SavedModel, TFLite (fp32, fp16, dynamic-range, int8) and ONNX.

Every artifact is written to a temporary path next to the target, loaded in its own runtime
(``ai_edge_litert`` interpreter, ``onnxruntime``, ``tf.saved_model.load``), run on real images and compared
with the Keras model; only then is it renamed to the requested path. A failed check raises
:class:`ExportVerificationError` and leaves neither the artifact nor its sidecar behind.

Conversion always happens on the TensorFlow backend. When the active Keras backend is JAX or PyTorch, the
model is saved as ``.keras`` into a temporary directory and converted in a TensorFlow subprocess
(``python -m keras_mobilenets._export_worker``); the reference outputs are computed here, on the backend the
model was trained on, so the check compares the artifact with the *original* model.

Checks (defaults, see :data:`DEFAULT_CHECKS`):

========================  =====================================================================
fp32 TFLite, ONNX,        max |artifact - keras| over all outputs <= 1e-4
SavedModel
fp16 TFLite               max |softmax(artifact) - softmax(keras)| <= 1e-2 (class probabilities;
                          outputs that already are probabilities are compared as they are)
dynamic-range TFLite      top-1 agreement with keras >= 98 %
int8 TFLite               top-1 agreement with keras >= 98 % (meaningful for a trained model)
========================  =====================================================================

int8 activation ranges are chosen per activation from its values on the calibration images: by default the
0.01th / 99.99th percentiles (``calibration="percentile"``), or the candidate percentile range with the smallest
int8 round-trip error (``calibration="mse"``), or TFLite's min / max (``calibration="minmax"``); see
:func:`_int8_ranged` for how and why.

Every TFLite model is converted with builtin ops only (no Flex / SELECT_TF_OPS) and its op list is checked;
TFLite and ONNX artifacts keep a dynamic batch dimension (the check runs batch 1 and larger batches).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

FORMATS = ("tflite", "saved_model", "onnx")
QUANTIZATIONS = (None, "fp16", "dynamic", "int8")
ONNX_ENGINES = ("auto", "keras", "tf2onnx")
CALIBRATIONS = ("percentile", "mse", "minmax")  # int8 activation ranges, see _int8_ranged
DEFAULT_CALIBRATION = "percentile"

DEFAULT_CHECKS = {
    "fp32_max_abs_error": 1e-4,  # TFLite fp32, ONNX, SavedModel (raw outputs)
    "fp16_max_abs_error": 1e-2,  # TFLite fp16 (class probabilities)
    "dynamic_min_top1_agreement": 0.98,
    "int8_min_top1_agreement": 0.98,
}
DEFAULT_NUM_VERIFY = 500
DEFAULT_NUM_REPRESENTATIVE = 300
SAMPLE_NAME = "cifar10_sample"
_SAMPLE_PATH = Path(__file__).resolve().parent / "data" / "samples" / "cifar10_sample.npz"
_VERIFY_BATCH = 50


class ExportVerificationError(RuntimeError):
    """The exported artifact did not reproduce the Keras model within tolerance (nothing was kept)."""


@dataclasses.dataclass
class ExportResult:
    """What :func:`export` wrote and how well it matched the Keras model."""

    path: str
    format: str
    quantization: str | None
    size_bytes: int
    sidecar: str | None
    max_abs_error: float  # raw outputs, artifact vs keras, over all verification images
    max_abs_error_probs: float  # after softmax (or as-is when the outputs are probabilities)
    top1_agreement: float
    checked: str  # which check was applied, e.g. "max_abs_error <= 0.0001"
    num_verify: int
    batch_sizes: tuple = ()  # batch sizes the artifact was run with during verification
    tflite_ops: tuple = ()
    converter: str = ""  # e.g. "tf.lite.TFLiteConverter", "keras.Model.export(onnx)", "tf2onnx"
    source_backend: str = ""
    seconds: float = 0.0
    notes: tuple = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("batch_sizes", "tflite_ops", "notes"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExportResult":
        d = dict(d)
        for k in ("batch_sizes", "tflite_ops", "notes"):
            d[k] = tuple(d.get(k, ()))
        return cls(**d)


# --------------------------------------------------------------------------------------------- arguments
def _check_args(format, quantization, representative_data, onnx_engine, calibration=DEFAULT_CALIBRATION):
    if calibration not in CALIBRATIONS:
        raise ValueError(
            f"export: unknown `calibration`={calibration!r}; allowed values: {', '.join(map(repr, CALIBRATIONS))}."
        )
    if format not in FORMATS:
        raise ValueError(f"export: unknown `format`={format!r}; allowed values: {', '.join(map(repr, FORMATS))}.")
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"export: unknown `quantization`={quantization!r}; allowed values: "
            f"{', '.join(map(repr, QUANTIZATIONS))}."
        )
    if quantization is not None and format != "tflite":
        raise ValueError(
            f"export: `quantization`={quantization!r} is only available for format='tflite' "
            f"(got format={format!r}); use quantization=None for {format!r}."
        )
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "export: quantization='int8' needs calibration images: pass `representative_data=` an array of "
            "real images shaped (N, H, W, 3), uint8 or float in [0, 255] (a few hundred are enough; they are "
            f"resized to the model input), or representative_data={SAMPLE_NAME!r} to use the CIFAR-10 "
            "training images shipped in keras_mobilenets/data/samples."
        )
    if onnx_engine not in ONNX_ENGINES:
        raise ValueError(
            f"export: unknown `onnx_engine`={onnx_engine!r}; allowed values: {', '.join(map(repr, ONNX_ENGINES))}."
        )


def _sample(split: str) -> np.ndarray:
    with np.load(_SAMPLE_PATH) as d:
        return d[f"x_{split}"]


def _sample_class_names() -> list[str]:
    with np.load(_SAMPLE_PATH) as d:
        return [str(c) for c in d["class_names"]]


def _as_images(data, input_shape, limit, what) -> np.ndarray:
    """float32 (N, H, W, C) images in [0, 255], resized to the model input (bilinear, keras.ops)."""
    if isinstance(data, str):
        if data != SAMPLE_NAME:
            raise ValueError(f"export: `{what}` must be an image array or {SAMPLE_NAME!r}; got {data!r}.")
        data = _sample("train" if what == "representative_data" else "test")
    x = np.asarray(data)
    if x.ndim == 3:  # (N, H, W) grayscale
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"export: `{what}` must be images shaped (N, H, W, C); got shape {x.shape}.")
    if limit:
        x = x[:limit]
    x = x.astype("float32")
    h, w, c = input_shape
    if x.shape[-1] != c:
        if x.shape[-1] == 1 and c == 3:
            x = np.repeat(x, 3, axis=-1)
        elif x.shape[-1] == 3 and c == 1:
            x = (x @ np.array([0.2989, 0.587, 0.114], "float32"))[..., None]
        else:
            raise ValueError(f"export: `{what}` has {x.shape[-1]} channels, the model expects {c}.")
    if x.shape[1:3] != (h, w):
        from keras import ops

        out = []
        for i in range(0, len(x), 256):
            out.append(np.asarray(ops.convert_to_numpy(ops.image.resize(x[i : i + 256], (h, w)))))
        x = np.clip(np.concatenate(out), 0.0, 255.0).astype("float32")
    return np.ascontiguousarray(x)


def _input_shape(model) -> tuple[int, int, int]:
    shape = tuple(model.inputs[0].shape)[1:]
    if len(shape) != 3 or any(s is None for s in shape):
        raise ValueError(
            f"export: the model input must have a static (H, W, C) shape; got {shape}. Build the model with "
            "an explicit input_shape."
        )
    return tuple(int(s) for s in shape)


def _predict(model, x: np.ndarray) -> np.ndarray:
    out = model.predict(x, batch_size=_VERIFY_BATCH, verbose=0)
    if isinstance(out, (list, tuple, dict)):
        raise ValueError("export: only single-output models are supported.")
    return np.asarray(out, dtype="float32")


# ----------------------------------------------------------------------------------------- metrics
def _is_probabilities(y: np.ndarray) -> bool:
    return bool(y.ndim == 2 and np.all(y >= -1e-6) and np.allclose(y.sum(-1), 1.0, atol=1e-3))


def _softmax(y: np.ndarray) -> np.ndarray:
    y = y.astype("float64")
    e = np.exp(y - y.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _compare(out: np.ndarray, ref: np.ndarray) -> dict:
    if out.shape != ref.shape:
        raise ExportVerificationError(f"export: artifact output shape {out.shape} != keras output {ref.shape}.")
    if not np.all(np.isfinite(out)):
        raise ExportVerificationError("export: the artifact produced non-finite outputs.")
    err = float(np.max(np.abs(out.astype("float64") - ref)))
    if _is_probabilities(ref):
        p_out, p_ref = out.astype("float64"), ref.astype("float64")
    else:
        p_out, p_ref = _softmax(out.reshape(len(out), -1)), _softmax(ref.reshape(len(ref), -1))
    err_p = float(np.max(np.abs(p_out - p_ref)))
    flat_o, flat_r = out.reshape(len(out), -1), ref.reshape(len(ref), -1)
    agree = float(np.mean(flat_o.argmax(-1) == flat_r.argmax(-1)))
    return {"max_abs_error": err, "max_abs_error_probs": err_p, "top1_agreement": agree}


def _apply_check(metrics: dict, fmt: str, quantization, checks: dict) -> str:
    if quantization in ("int8", "dynamic"):
        key = f"{quantization}_min_top1_agreement"
        ok, desc = metrics["top1_agreement"] >= checks[key], f"top1_agreement >= {checks[key]}"
        got = f"top1_agreement={metrics['top1_agreement']:.4f}"
    elif quantization == "fp16":
        lim = checks["fp16_max_abs_error"]
        ok, desc = metrics["max_abs_error_probs"] <= lim, f"max_abs_error_probs <= {lim}"
        got = f"max_abs_error_probs={metrics['max_abs_error_probs']:.3g}"
    else:
        lim = checks["fp32_max_abs_error"]
        ok, desc = metrics["max_abs_error"] <= lim, f"max_abs_error <= {lim}"
        got = f"max_abs_error={metrics['max_abs_error']:.3g}"
    if not ok:
        raise ExportVerificationError(
            f"export: {fmt}{'/' + quantization if quantization else ''} failed verification: {got}, required "
            f"{desc} (measured on {metrics['num_verify']} images). Nothing was written."
        )
    return desc


# ------------------------------------------------------------------------------------------- sidecar
def _preprocessing_info(model) -> list[dict]:
    """Rescaling / Normalization layers found before the first convolution (the in-model preprocessing)."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            break
        if isinstance(layer, keras.layers.Rescaling):
            found.append({"layer": "Rescaling", "scale": _jsonable(layer.scale), "offset": _jsonable(layer.offset)})
        elif isinstance(layer, keras.layers.Normalization):
            mean = getattr(layer, "mean", None)
            var = getattr(layer, "variance", None)
            found.append(
                {
                    "layer": "Normalization",
                    "mean": _jsonable(None if mean is None else np.asarray(keras.ops.convert_to_numpy(mean)).ravel()),
                    "variance": _jsonable(None if var is None else np.asarray(keras.ops.convert_to_numpy(var)).ravel()),
                    "invert": bool(getattr(layer, "invert", False)),
                }
            )
    return found


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return [float(a) for a in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(a) for a in v]
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def _model_meta(model, labels, input_range) -> dict:
    input_shape = _input_shape(model)
    out_shape = [None] + [int(s) for s in tuple(model.outputs[0].shape)[1:]]
    meta: dict[str, Any] = {"model_name": model.name}
    info = None
    try:
        from keras_mobilenets import registry  # noqa: PLC0415

        if model.name in registry.list_models():
            info = registry.get_info(model.name)
    except Exception:  # registry not available or name unknown: no extra metadata
        info = None
    if info is not None:
        meta["registry"] = {
            k: _jsonable(getattr(info, k)) for k in ("name", "source", "classes", "preprocessing") if hasattr(info, k)
        }
    if labels is not None:
        labels = [str(a) for a in labels]
        n_out = out_shape[-1]
        if n_out is not None and len(labels) != n_out:
            raise ValueError(f"export: got {len(labels)} labels for a model with {n_out} outputs.")
    pre = _preprocessing_info(model)
    meta.update(
        input={
            "shape": [None, *input_shape],
            "dtype": "float32",
            "layout": "NHWC",
            "color": "RGB" if input_shape[-1] == 3 else "grayscale",
            "range": list(input_range),
            "preprocessing": pre,
            "normalization": (
                "done inside the model by the layers listed in `preprocessing`: feed raw pixel values"
                if pre
                else "none inside the model: feed values exactly as during training"
            ),
        },
        output={"shape": out_shape, "dtype": "float32"},
        labels=labels,
    )
    return meta


def _write_json_atomic(path: Path, obj: dict):
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def sidecar_path(path) -> Path:
    """Where :func:`export` writes the JSON metadata for ``path`` (``model.tflite`` -> ``model.tflite.json``)."""
    p = Path(path)
    return p.with_name(p.name + ".json")


# ------------------------------------------------------------------------------- TensorFlow conversion
def _tf():
    import tensorflow as tf  # noqa: PLC0415

    return tf


def _saved_model(model, directory: str):
    model.export(directory, format="tf_saved_model", verbose=False)


# int8 activation ranges. TFLite's calibrator keeps each activation's min / max over all calibration images, so one
# outlier sets the scale and more images make it worse (measured, CustomMobileNet trained on CIFAR-10, top-1
# agreement with fp32 on 2,000 random test images: 50 images 97.3 %, 500 96.8 %, 2,000 94.6 %). "percentile" keeps
# the [100 - p, p] percentiles of each activation instead (p = PERCENTILE); 500 images: 98.3 %. "mse" picks, per
# activation, the candidate range of MSE_PERCENTILES whose int8 round trip of the activation's values has the
# smallest mean squared error (a clipped outlier costs its distance to the range, a wide range costs rounding
# everywhere). Neither wins everywhere: on the full test split of four trained models, mse - percentile agreement
# was +0.8, +0.8, -0.2 and -1.5 points (README, Export), so the default stays "percentile" and mse is an option.
PERCENTILE = 99.99
MSE_PERCENTILES = (99.0, 99.9, 99.95, 99.99, 99.999, 100.0)
_RANGE_SAMPLES = 200_000  # values kept per activation for the percentiles
_CALIBRATION_KIND = {"percentile": f"{PERCENTILE}th-percentile activation ranges", "mse": "smallest-MSE activation ranges",
                     "minmax": "min/max ranges"}  # as named in ExportResult.converter


def _int8_round_trip_mse(values: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of ``values`` quantized to int8 on the range [lo, hi] (widened to hold 0, as TFLite's
    asymmetric activation quantization: scale (hi - lo) / 255, an integer zero point) and dequantized."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi <= lo:
        return float(np.mean(values**2))
    scale = (hi - lo) / 255.0
    zero = np.round(-128.0 - lo / scale)
    q = np.clip(np.round(values / scale) + zero, -128, 127)
    return float(np.mean(((q - zero) * scale - values) ** 2))


def _activation_range(values: np.ndarray, calibration: str) -> tuple[float, float]:
    """The (lo, hi) range an activation's sampled ``values`` get under ``calibration`` ("percentile" / "mse")."""
    if calibration == "percentile":
        lo, hi = np.percentile(values, [100.0 - PERCENTILE, PERCENTILE])
        return float(lo), float(hi)
    cands = np.percentile(values, [q for p in MSE_PERCENTILES for q in (100.0 - p, p)]).reshape(-1, 2)
    errors = [_int8_round_trip_mse(values, float(lo), float(hi)) for lo, hi in cands]
    lo, hi = cands[int(np.argmin(errors))]
    return float(lo), float(hi)


def _int8_ranged(conv, representative: np.ndarray, notes: list, calibration: str) -> bytes:
    """Full-int8 TFLite bytes from `conv` (set up for int8) with "mse" or "percentile" activation ranges.

    TFLite's own calibration step writes min / max ranges into a float model. It runs here on one image only, for
    the model's form: one pass of our own over all the images then sets every range, the model input's and
    output's to their min / max (what TFLite's calibrator would write) and each other activation's to the one
    :func:`_activation_range` picks from its values, never wider than their min / max. TFLite's MLIR quantizer
    then runs on it as ``TFLiteConverter.convert`` would. (TFLite's calibrator feeds images one at a time with
    logging kernels: 22 s of a 66 s CustomMobileNet export on 2,000 images, against ~6 s for this pass in
    batches.) Uses TensorFlow-internal entry points (``_experimental_calibrate_only``, ``convert.mlir_quantize``)
    of the pinned TensorFlow version; the exporter's check still runs on the result.
    """
    import tensorflow as tf  # noqa: PLC0415
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415
    from tensorflow.lite.python.convert import mlir_quantize  # noqa: PLC0415
    from tensorflow.lite.tools import flatbuffer_utils  # noqa: PLC0415

    conv._experimental_calibrate_only = True  # noqa: SLF001
    conv.representative_dataset = lambda: iter([[np.ascontiguousarray(representative[:1], dtype=np.float32)]])
    calibrated = bytes(conv.convert())
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    graph = model.subgraphs[0]
    keep = set(int(i) for i in graph.inputs) | set(int(i) for i in graph.outputs)
    ranged = [i for i, t in enumerate(graph.tensors)  # the model input and output included: min / max
              if t.quantization is not None and t.quantization.min is not None and len(t.quantization.min) == 1]
    with warnings.catch_warnings():  # "for debugging purposes only": reading every activation is the point here
        warnings.simplefilter("ignore", UserWarning)
        it = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True)
    inp = it.get_input_details()[0]
    h, w = int(inp["shape"][1]), int(inp["shape"][2])
    batch = max(1, min(64, 65536 // (h * w)))
    n_batches = -(-len(representative) // batch)
    per_batch = max(256, _RANGE_SAMPLES // n_batches)
    rng = np.random.default_rng(0)
    values: dict[int, list] = {i: [] for i in ranged}
    lows, highs = {i: np.inf for i in ranged}, {i: -np.inf for i in ranged}
    size = None
    for s in range(0, len(representative), batch):
        xb = np.ascontiguousarray(representative[s : s + batch], dtype=np.float32)
        if size != len(xb):
            it.resize_tensor_input(inp["index"], [len(xb), h, w, int(inp["shape"][3])])
            it.allocate_tensors()
            size = len(xb)
        it.set_tensor(inp["index"], xb)
        it.invoke()
        for i in ranged:
            a = it.get_tensor(i).ravel()
            lows[i], highs[i] = min(lows[i], float(a.min())), max(highs[i], float(a.max()))
            if i not in keep:
                values[i].append(a if a.size <= per_batch else a[rng.integers(0, a.size, per_batch)])
    for i in ranged:
        q = graph.tensors[i].quantization
        lo, hi = (lows[i], highs[i]) if i in keep else _activation_range(np.concatenate(values[i]), calibration)
        q.min = [max(min(float(lo), 0.0), lows[i])]
        q.max = [min(max(float(hi), 0.0), highs[i])]
    notes.append(f"int8 ranges ({_CALIBRATION_KIND[calibration]}) of {len(ranged)} activations on "
                 f"{len(representative)} calibration images")
    data = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    out = mlir_quantize(data, False, input_data_type=tf.float32, output_data_type=tf.float32)
    floats = float_compute_ops(out)
    if floats:  # what the converter's full-int8 mode refuses: let the caller fall back, as for min / max
        raise RuntimeError(f"ops left in float by the quantizer: {floats}")
    return out


def _float_softmax_tail(data: bytes, notes: list) -> bytes:
    """A full-int8 graph ending in ``SOFTMAX -> DEQUANTIZE -> output`` rewritten to end in ``DEQUANTIZE -> SOFTMAX``.

    The quantizer computes a classifier's softmax in int8 (probabilities on a fixed 1/256 grid), and XNNPACK has
    no int8 SOFTMAX, so that op ran in TFLite's reference kernel as a second graph piece. The rewritten graph
    dequantizes the int8 logits and applies a float SOFTMAX (an XNNPACK op) to them; all compute before it stays
    int8. Measured on the shipped CustomMobileNet with its softmax head: XNNPACK pieces 2 -> 1, batch-1 latency
    0.37 -> 0.345 ms (1 thread), top-1 agreement with Keras unchanged (98.4 % on 1,000 test images). Graphs
    without that tail are returned unchanged.
    """
    from tensorflow.lite.python import schema_py_generated as schema  # noqa: PLC0415
    from tensorflow.lite.tools import flatbuffer_utils  # noqa: PLC0415

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    op_of = {int(o): op for op in graph.operators for o in op.outputs}
    out = int(graph.outputs[0])
    deq = op_of.get(out)
    soft = op_of.get(int(deq.inputs[0])) if deq is not None else None
    if (len(graph.outputs) != 1 or soft is None or codes[deq.opcodeIndex] != schema.BuiltinOperator.DEQUANTIZE
            or codes[soft.opcodeIndex] != schema.BuiltinOperator.SOFTMAX
            or graph.tensors[int(soft.outputs[0])].type != schema.TensorType.INT8):
        return data
    logits_q, probs_q = int(soft.inputs[0]), int(soft.outputs[0])
    if any(probs_q in op.inputs for op in graph.operators if op is not deq) or sum(
            logits_q in op.inputs for op in graph.operators) != 1:
        return data
    # float logits: a new tensor with the output's shape, its own (empty) buffer
    model.buffers.append(schema.BufferT())
    logits_f = schema.TensorT()
    ref = graph.tensors[out]
    logits_f.shape, logits_f.shapeSignature, logits_f.type = ref.shape, ref.shapeSignature, schema.TensorType.FLOAT32
    logits_f.buffer, logits_f.name = len(model.buffers) - 1, b"logits_float"
    graph.tensors.append(logits_f)
    deq.inputs, deq.outputs = [logits_q], [len(graph.tensors) - 1]
    soft.inputs, soft.outputs = [len(graph.tensors) - 1], [out]
    graph.operators.remove(soft)
    graph.operators.append(soft)  # after the DEQUANTIZE (operators run in list order)
    notes.append("int8 logits, then DEQUANTIZE and a float SOFTMAX (XNNPACK has no int8 SOFTMAX)")
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def float_compute_ops(model_path_or_bytes) -> list[str]:
    """Sorted names of the ops of a TFLite model that compute in float32 (QUANTIZE / DEQUANTIZE excepted)."""
    it = _op_interpreter(model_path_or_bytes)
    dtypes = {t["index"]: t["dtype"] for t in it.get_tensor_details()}
    out = set()
    for op in it._get_ops_details():  # noqa: SLF001
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        if any(dtypes.get(int(i)) == np.float32 for i in [*op["inputs"], *op["outputs"]] if int(i) >= 0):
            out.add(op["op_name"])
    return sorted(out)


def _has_hard_swish(model) -> bool:
    from keras_mobilenets.layers import HardSwish  # noqa: PLC0415

    return any(isinstance(layer, HardSwish) for layer in model._flatten_layers(include_self=False))  # noqa: SLF001


def _tflite_bytes(model, quantization, representative, scratch: str, notes: list,
                  calibration: str = DEFAULT_CALIBRATION) -> tuple[bytes, str]:
    tf = _tf()
    from keras_mobilenets.layers import trace_forms  # noqa: PLC0415

    # XNNPACK has no int8 HARD_SWISH: for int8, trace hard-swish as x * (clip(x / 3, -1, 1) / 2 + 1/2) (layers.py)
    clamp = quantization == "int8" and _has_hard_swish(model)
    sm_dir = os.path.join(scratch, "saved_model_int8" if clamp else "saved_model")
    if clamp:
        notes.append("hard-swish traced as x * (clip(x / 3, -1, 1) / 2 + 1/2) for int8 (ops XNNPACK runs in int8)")
    if not os.path.isdir(sm_dir):
        # GroupConv2D as TF's grouped convolution: one CONV_2D (see layers.GROUP_CONV_FORMS)
        with trace_forms(hard_swish="clamp" if clamp else "fused", group_conv="grouped"):
            _saved_model(model, sm_dir)

    def converter():
        conv = tf.lite.TFLiteConverter.from_saved_model(sm_dir)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # never SELECT_TF_OPS (Flex)
        conv.allow_custom_ops = False
        return conv

    conv = converter()
    if quantization == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == "int8":

        def rep_gen():
            for i in range(len(representative)):
                yield [representative[i : i + 1]]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep_gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        try:
            data = conv.convert() if calibration == "minmax" else _int8_ranged(conv, representative, notes, calibration)
            kind = _CALIBRATION_KIND[calibration]
            return _float_softmax_tail(data, notes), f"tf.lite.TFLiteConverter (full int8, {kind}, float32 input/output)"
        except Exception as exc:  # an op without an int8 kernel: let it run in float (still builtin)
            notes.append(f"full-int8 conversion failed ({type(exc).__name__}); float fallback ops allowed")
            conv = converter()
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = rep_gen
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
            return conv.convert(), "tf.lite.TFLiteConverter (int8 with float fallback, float32 input/output)"
    return conv.convert(), "tf.lite.TFLiteConverter"


def _onnx_inputs(path: str) -> list[str]:
    import onnx  # noqa: PLC0415

    g = onnx.load(path, load_external_data=False).graph
    inits = {i.name for i in g.initializer}
    return [i.name for i in g.input if i.name not in inits]


def _onnx_file(model, path: str, input_shape, engine: str, opset: int | None, notes: list) -> str:
    if engine in ("auto", "keras"):
        try:
            model.export(path, format="onnx", verbose=False, opset_version=opset)
            extra = _onnx_inputs(path)[1:]
            if not extra:
                return "keras.Model.export(format='onnx') (tf2onnx)"
            # captured constants (e.g. a Normalization layer's mean / variance) became graph inputs
            msg = f"keras ONNX export left constants as graph inputs {extra[:2]}"
        except Exception as exc:
            msg = f"keras ONNX export failed: {type(exc).__name__}: {str(exc)[:200]}"
        if engine == "keras":
            raise ExportVerificationError(f"export: {msg}; use onnx_engine='tf2onnx'.")
        notes.append(msg + "; used tf2onnx on the frozen graph")
        if os.path.exists(path):
            os.remove(path)
    tf = _tf()
    import tf2onnx  # noqa: PLC0415
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # noqa: PLC0415

    try:  # tf2onnx 1.17 predates numpy 2; keras ships the compatibility patch
        from keras.src.export.tf2onnx_lib import patch_tf2onnx  # noqa: PLC0415

        patch_tf2onnx()
    except Exception:
        pass
    spec = tf.TensorSpec((None, *input_shape), tf.float32, name="input")

    @tf.function(input_signature=[spec])
    def serve(x):
        return model(x, training=False)

    # freeze variables *and* captured eager constants into the graph, then convert the GraphDef
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    inputs = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in frozen.outputs]
    tf2onnx.convert.from_graph_def(
        frozen.graph.as_graph_def(), input_names=inputs, output_names=outputs, opset=opset or 17, output_path=path
    )
    return "tf2onnx.convert.from_graph_def (frozen tf.function)"


# ------------------------------------------------------------------------------------------ runtimes
def _op_interpreter(model_path_or_bytes):
    """An interpreter whose op list is the model's own (no default XNNPACK delegate to fold ops into DELEGATE)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: PLC0415

    kw = {"model_content": bytes(model_path_or_bytes)} if isinstance(model_path_or_bytes, (bytes, bytearray)) else {
        "model_path": str(model_path_or_bytes)
    }
    return Interpreter(experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, **kw)


def tflite_ops(model_path_or_bytes) -> list[str]:
    """Sorted op names of a TFLite model."""
    return sorted({d["op_name"] for d in _op_interpreter(model_path_or_bytes)._get_ops_details()})  # noqa: SLF001


def xnnpack_ops(model_path) -> tuple[int, list[str]]:
    """How TFLite's default CPU engine runs a model: (number of XNNPACK pieces, ops left to TFLite's own kernels).

    ``(1, [])`` is the fast case: the whole graph in one XNNPACK piece. Each op XNNPACK refuses (e.g. an int8
    HARD_SWISH, a standalone int8 RELU) splits the graph and runs in TFLite's slower built-in kernel.
    """
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

    it = Interpreter(model_path=str(model_path))
    it.allocate_tensors()
    details = it._get_ops_details()  # noqa: SLF001 -- the model's nodes, then the delegate's
    pieces = [d for d in details if d["op_name"] == "DELEGATE"]
    inside = {t for d in pieces for t in d["outputs"]}
    handed = {t for d in pieces for t in d["inputs"]} | set(it._interpreter.OutputIndices())  # noqa: SLF001
    # a node XNNPACK did not take writes a tensor that a piece (or the graph output) reads and no piece writes
    left = sorted(d["op_name"] for d in details
                  if d["op_name"] != "DELEGATE" and set(d["outputs"]) & handed and not set(d["outputs"]) & inside)
    return len(pieces), left


class TFLiteRunner:
    """Run a TFLite model on float32 batches of any size (resizes the dynamic batch dimension)."""

    def __init__(self, path, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

        self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self._batch = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        it = self.interpreter
        if self._batch != len(x):
            it.resize_tensor_input(self.input["index"], [len(x), *self.input["shape"][1:]])
            it.allocate_tensors()
            self._batch = len(x)
        it.set_tensor(self.input["index"], np.ascontiguousarray(x, dtype=self.input["dtype"]))
        it.invoke()
        return it.get_tensor(self.output["index"]).copy()


class ONNXRunner:
    def __init__(self, path, num_threads: int | None = None):
        import onnxruntime as ort  # noqa: PLC0415

        so = ort.SessionOptions()
        if num_threads:
            so.intra_op_num_threads = num_threads
            so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x):
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, "float32")})[0]


class SavedModelRunner:
    def __init__(self, path):
        self.module = _tf().saved_model.load(str(path))
        self.fn = self.module.serve

    def __call__(self, x):
        return np.asarray(self.fn(_tf().constant(x, "float32")))


def _runner(fmt, path):
    return {"tflite": TFLiteRunner, "onnx": ONNXRunner, "saved_model": SavedModelRunner}[fmt](path)


def _run_batches(run, x) -> tuple[np.ndarray, list[int]]:
    """Batch 1 for the first image, then batches of up to 50 (proves the batch dimension is dynamic)."""
    outs, sizes = [run(x[:1])], [1]
    for i in range(1, len(x), _VERIFY_BATCH):
        xb = x[i : i + _VERIFY_BATCH]
        outs.append(run(xb))
        sizes.append(len(xb))
    return np.concatenate(outs).astype("float32"), sorted(set(sizes))


# ------------------------------------------------------------------------------------------ the core
def _remove(p: Path):
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        p.unlink()


def _size(p: Path) -> int:
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size


def _export_tf(
    model,
    path,
    *,
    format,
    quantization,
    verify_x,
    reference,
    representative,
    meta,
    checks,
    onnx_engine="auto",
    opset=None,
    sidecar=True,
    source_backend="tensorflow",
    scratch=None,
    calibration=DEFAULT_CALIBRATION,
) -> ExportResult:
    """Convert + verify + atomically publish, on the TensorFlow backend (in-process or in the worker)."""
    t0 = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    own_scratch = scratch is None
    scratch = scratch or tempfile.mkdtemp(prefix="km_export_")
    notes: list[str] = []
    ops: list[str] = []
    try:
        if format == "saved_model":
            sm_dir = os.path.join(scratch, "saved_model")
            if os.path.isdir(sm_dir):  # already traced for a TFLite target of this call: reuse it
                shutil.copytree(sm_dir, tmp)
            else:
                _saved_model(model, str(tmp))
                shutil.copytree(tmp, sm_dir)
            converter = "keras.Model.export(format='tf_saved_model')"
        elif format == "tflite":
            data, converter = _tflite_bytes(model, quantization, representative, scratch, notes, calibration)
            tmp.write_bytes(data)
            ops = tflite_ops(data)
            bad = [o for o in ops if o.startswith("Flex") or o in ("CUSTOM", "DELEGATE") or o.islower()]
            if bad:
                raise ExportVerificationError(f"export: TFLite model uses non-builtin ops {bad}; nothing was written.")
        else:
            converter = _onnx_file(model, str(tmp), tuple(verify_x.shape[1:]), onnx_engine, opset, notes)
        out, sizes = _run_batches(_runner(format, tmp), verify_x)
        metrics = _compare(out, reference)
        metrics["num_verify"] = len(verify_x)
        checked = _apply_check(metrics, format, quantization, checks)
        if format == "tflite" and max(sizes) == 1 and len(verify_x) > 1:
            raise ExportVerificationError("export: dynamic batch was not exercised")
        final_side = sidecar_path(path) if sidecar else None
        if path.exists() or path.is_symlink():
            _remove(path)
        os.replace(tmp, path)
        result = ExportResult(
            path=str(path),
            format=format,
            quantization=quantization,
            size_bytes=_size(path),
            sidecar=str(final_side) if final_side else None,
            max_abs_error=metrics["max_abs_error"],
            max_abs_error_probs=metrics["max_abs_error_probs"],
            top1_agreement=metrics["top1_agreement"],
            checked=checked,
            num_verify=len(verify_x),
            batch_sizes=tuple(sizes),
            tflite_ops=tuple(ops),
            converter=converter,
            source_backend=source_backend,
            seconds=time.perf_counter() - t0,
            notes=tuple(notes),
        )
        if final_side is not None:
            side = dict(meta)
            side.update(
                format=format,
                quantization=quantization,
                file=path.name,
                verification={
                    k: getattr(result, k)
                    for k in ("max_abs_error", "max_abs_error_probs", "top1_agreement", "checked", "num_verify")
                }
                | {"batch_sizes": list(sizes), "source_backend": source_backend, "data": meta.get("_verify_source")},
                tflite_ops=list(ops) or None,
                versions=_versions(),
            )
            side.pop("_verify_source", None)
            _write_json_atomic(final_side, side)
        return result
    except BaseException:
        _remove(tmp)
        raise
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _versions() -> dict:
    import keras  # noqa: PLC0415

    v = {"keras": keras.__version__}
    for mod in ("tensorflow", "tf2onnx", "onnx", "onnxruntime", "ai_edge_litert"):
        m = sys.modules.get(mod)
        if m is not None and hasattr(m, "__version__"):
            v[mod] = m.__version__
    return v


def _load(model_or_path):
    import keras  # noqa: PLC0415

    if isinstance(model_or_path, (str, os.PathLike)):
        import keras_mobilenets  # noqa: F401,PLC0415  (registers the custom layers)
        import keras_mobilenets.layers  # noqa: F401,PLC0415

        return keras.saving.load_model(str(model_or_path), compile=False), str(model_or_path)
    return model_or_path, None


def export(
    model_or_path,
    path,
    format: str = "tflite",
    quantization: str | None = None,
    representative_data=None,
    verify_data=None,
    labels: Sequence[str] | None = None,
    *,
    num_verify: int = DEFAULT_NUM_VERIFY,
    num_representative: int = DEFAULT_NUM_REPRESENTATIVE,
    checks: dict | None = None,
    onnx_engine: str = "auto",
    opset: int | None = None,
    sidecar: bool = True,
    input_range: tuple[float, float] = (0.0, 255.0),
    worker_imports: Sequence[str] = (),
    timeout: float = 3600,
    calibration: str = DEFAULT_CALIBRATION,
) -> ExportResult:
    """Export a Keras model (or a ``.keras`` file) and verify the artifact before keeping it.

    Args:
        model_or_path: a ``keras.Model`` or the path of a ``.keras`` file.
        path: target file (``.tflite`` / ``.onnx``) or directory (SavedModel).
        format: ``"tflite"``, ``"saved_model"`` or ``"onnx"``.
        quantization: TFLite only: ``None`` (fp32), ``"fp16"`` (fp16 weights), ``"dynamic"`` (int8 weights,
            float activations) or ``"int8"`` (int8 weights and activations, float32 input/output).
        representative_data: calibration images for int8, (N, H, W, 3) uint8/float in [0, 255] (resized to the
            model input), or ``"cifar10_sample"`` for the shipped CIFAR-10 training sample.
        verify_data: real images for the check (default: the shipped CIFAR-10 test sample, first
            ``num_verify`` images, resized to the model input).
        labels: class names stored in the sidecar JSON (``path + ".json"``).
        checks: overrides for :data:`DEFAULT_CHECKS`.
        onnx_engine: ``"auto"`` (Keras' own ONNX export, tf2onnx directly if that fails), ``"keras"`` or
            ``"tf2onnx"``.
        worker_imports: modules the TensorFlow subprocess must import to deserialise custom layers (JAX /
            torch backends only; ``keras_mobilenets`` is always imported).
        calibration: int8 activation ranges: ``"percentile"`` (default: the 0.01th / 99.99th percentiles of each
            activation on `representative_data`, :data:`PERCENTILE`), ``"mse"`` (per activation, the range
            among the :data:`MSE_PERCENTILES` percentile ranges whose int8 round trip has the smallest squared
            error) or ``"minmax"`` (TFLite's own min / max, sensitive to outliers). Which of the first two agrees
            better with fp32 depends on the model: compare them with ``benchmarks/int8_accuracy.py``.

    Returns:
        :class:`ExportResult`. Raises :class:`ExportVerificationError` (and writes nothing) when the
        artifact does not match the Keras model.
    """
    return export_many(
        model_or_path,
        [dict(path=path, format=format, quantization=quantization)],
        representative_data=representative_data,
        verify_data=verify_data,
        labels=labels,
        num_verify=num_verify,
        num_representative=num_representative,
        checks=checks,
        onnx_engine=onnx_engine,
        opset=opset,
        sidecar=sidecar,
        input_range=input_range,
        worker_imports=worker_imports,
        timeout=timeout,
        calibration=calibration,
    )[0]


def export_many(
    model_or_path,
    targets: Sequence[dict],
    representative_data=None,
    verify_data=None,
    labels: Sequence[str] | None = None,
    *,
    num_verify: int = DEFAULT_NUM_VERIFY,
    num_representative: int = DEFAULT_NUM_REPRESENTATIVE,
    checks: dict | None = None,
    onnx_engine: str = "auto",
    opset: int | None = None,
    sidecar: bool = True,
    input_range: tuple[float, float] = (0.0, 255.0),
    worker_imports: Sequence[str] = (),
    timeout: float = 3600,
    calibration: str = DEFAULT_CALIBRATION,
) -> list[ExportResult]:
    """Several exports of one model (``targets``: dicts with ``path``, ``format``, ``quantization`` and
    optionally ``calibration``, which overrides the argument for that target).

    Shares the reference predictions, the SavedModel trace and -- on JAX / torch -- one TensorFlow
    subprocess. Targets are processed in order; the first failure raises (earlier targets stay written).
    """
    targets = [dict(format="tflite", quantization=None, calibration=calibration) | dict(t) for t in targets]
    for t in targets:
        _check_args(t["format"], t["quantization"], representative_data, onnx_engine, t["calibration"])
    all_checks = dict(DEFAULT_CHECKS)
    if checks:
        unknown = set(checks) - set(DEFAULT_CHECKS)
        if unknown:
            raise ValueError(f"export: unknown `checks` keys {sorted(unknown)}; allowed: {sorted(DEFAULT_CHECKS)}.")
        all_checks.update(checks)

    import keras  # noqa: PLC0415

    model, model_file = _load(model_or_path)
    input_shape = _input_shape(model)
    verify_x = _as_images(SAMPLE_NAME if verify_data is None else verify_data, input_shape, num_verify, "verify_data")
    rep = None
    if any(t["quantization"] == "int8" for t in targets):
        rep = _as_images(representative_data, input_shape, num_representative, "representative_data")
    reference = _predict(model, verify_x)
    meta = _model_meta(model, labels, input_range)
    meta["_verify_source"] = "keras_mobilenets cifar10 test sample" if verify_data is None else "user verify_data"
    backend = keras.backend.backend()
    common = dict(
        verify_x=verify_x,
        reference=reference,
        representative=rep,
        meta=meta,
        checks=all_checks,
        onnx_engine=onnx_engine,
        opset=opset,
        sidecar=sidecar,
        source_backend=backend,
    )
    if backend == "tensorflow":
        scratch = tempfile.mkdtemp(prefix="km_export_")
        try:
            return [
                _export_tf(model, t["path"], format=t["format"], quantization=t["quantization"],
                           calibration=t["calibration"], scratch=scratch, **common)
                for t in targets
            ]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _export_in_subprocess(model, model_file, targets, common, worker_imports, timeout)


# --------------------------------------------------------------------------------- other backends
def _export_in_subprocess(model, model_file, targets, common, worker_imports, timeout) -> list[ExportResult]:
    with tempfile.TemporaryDirectory(prefix="km_export_job_") as job_dir:
        job = Path(job_dir)
        if model_file is None:
            model_file = str(job / "model.keras")
            model.save(model_file)
        arrays = {"verify_x": common["verify_x"], "reference": common["reference"]}
        if common["representative"] is not None:
            arrays["representative"] = common["representative"]
        np.savez(job / "data.npz", **arrays)
        spec = {
            "model": str(Path(model_file).resolve()),
            "targets": [dict(t, path=str(Path(t["path"]).resolve())) for t in targets],
            "meta": common["meta"],
            "checks": common["checks"],
            "onnx_engine": common["onnx_engine"],
            "opset": common["opset"],
            "sidecar": common["sidecar"],
            "source_backend": common["source_backend"],
            "worker_imports": list(worker_imports),
            "data": str(job / "data.npz"),
            "result": str(job / "result.json"),
        }
        (job / "job.json").write_text(json.dumps(spec, default=_jsonable))
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else root
        proc = subprocess.run(
            [sys.executable, "-m", "keras_mobilenets._export_worker", str(job / "job.json")],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        res_file = job / "result.json"
        res = json.loads(res_file.read_text()) if res_file.exists() else None
        if res is None or proc.returncode != 0 and "error" not in res:
            raise RuntimeError(
                f"export: the TensorFlow export subprocess failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        if "error" in res:
            err_cls = {"ValueError": ValueError, "ExportVerificationError": ExportVerificationError}.get(
                res["error"]["type"], RuntimeError
            )
            raise err_cls(res["error"]["message"])
        return [ExportResult.from_dict(r) for r in res["results"]]


def _worker_main(job_file: str) -> int:
    """Entry point of ``python -m keras_mobilenets._export_worker job.json`` (TensorFlow backend)."""
    import importlib  # noqa: PLC0415

    spec = json.loads(Path(job_file).read_text())
    out = Path(spec["result"])
    try:
        import keras  # noqa: PLC0415

        if keras.backend.backend() != "tensorflow":
            raise RuntimeError("the export worker must run with KERAS_BACKEND=tensorflow")
        for mod in spec.get("worker_imports", []):
            importlib.import_module(mod)
        model, _ = _load(spec["model"])
        with np.load(spec["data"]) as d:
            arrays = {k: d[k] for k in d.files}
        scratch = tempfile.mkdtemp(prefix="km_export_")
        try:
            results = [
                _export_tf(
                    model,
                    t["path"],
                    format=t["format"],
                    quantization=t["quantization"],
                    verify_x=arrays["verify_x"],
                    reference=arrays["reference"],
                    representative=arrays.get("representative"),
                    meta=spec["meta"],
                    checks=spec["checks"],
                    onnx_engine=spec["onnx_engine"],
                    opset=spec["opset"],
                    sidecar=spec["sidecar"],
                    source_backend=spec["source_backend"],
                    scratch=scratch,
                    calibration=t["calibration"],
                ).to_dict()
                for t in spec["targets"]
            ]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        out.write_text(json.dumps({"results": results}, default=_jsonable))
        return 0
    except Exception as exc:  # reported to the parent, which re-raises it
        import traceback  # noqa: PLC0415

        out.write_text(
            json.dumps({"error": {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}})
        )
        return 1


# ------------------------------------------------------------------------------------------------- CLI
def add_cli_arguments(parser) -> None:
    """Arguments of the ``keras-mobilenets export`` subcommand (wire with ``set_defaults(func=run_cli)``)."""
    parser.add_argument("model", help="a .keras file or a registry model name (random init unless --weights)")
    parser.add_argument("output", help="target .tflite / .onnx file or SavedModel directory")
    parser.add_argument("--format", default=None, choices=FORMATS, help="default: from the output suffix")
    parser.add_argument("--quantization", default=None, choices=[q for q in QUANTIZATIONS if q])
    parser.add_argument("--weights", default=None, help="weights for a registry model name (see get_model)")
    parser.add_argument(
        "--representative-data", default=None,
        help=f"calibration images for int8: an .npz/.npy file (x_train or the first array) or {SAMPLE_NAME!r}",
    )
    parser.add_argument("--verify-data", default=None, help="verification images (.npz/.npy); default: shipped sample")
    parser.add_argument("--labels", default=None, help="a text file with one class name per line, or 'cifar10'")
    parser.add_argument("--num-verify", type=int, default=DEFAULT_NUM_VERIFY)
    parser.add_argument("--num-representative", type=int, default=DEFAULT_NUM_REPRESENTATIVE,
                        help="int8 calibration images used (the first N)")
    parser.add_argument("--calibration", default=DEFAULT_CALIBRATION, choices=CALIBRATIONS,
                        help=f"int8 activation ranges: {PERCENTILE}th percentiles (percentile, default), the "
                             f"smallest-MSE percentile range per activation (mse) or TFLite's min / max (minmax)")
    parser.add_argument("--onnx-engine", default="auto", choices=ONNX_ENGINES)


def _load_images_arg(value, prefer):
    if value is None or value == SAMPLE_NAME:
        return value
    if value.endswith(".npz"):
        with np.load(value) as d:
            return d[prefer] if prefer in d.files else d[d.files[0]]
    return np.load(value)


def run_cli(args) -> ExportResult:
    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower()
        fmt = {".tflite": "tflite", ".onnx": "onnx"}.get(suffix, "saved_model")
    model = args.model
    if not str(model).endswith(".keras"):
        import keras_mobilenets as km  # noqa: PLC0415

        model = km.get_model(model, weights=args.weights)
    labels = args.labels
    if labels == "cifar10":
        labels = _sample_class_names()
    elif labels:
        labels = [ln.strip() for ln in Path(labels).read_text().splitlines() if ln.strip()]
    result = export(
        model,
        args.output,
        format=fmt,
        quantization=args.quantization,
        representative_data=_load_images_arg(args.representative_data, "x_train"),
        verify_data=_load_images_arg(args.verify_data, "x_test"),
        labels=labels,
        num_verify=args.num_verify,
        num_representative=args.num_representative,
        calibration=args.calibration,
        onnx_engine=args.onnx_engine,
    )
    print(json.dumps(result.to_dict(), indent=2))
    return result
