"""int8 accuracy drop of a trained CIFAR-10 model: Keras fp32 vs TFLite fp32 vs TFLite int8, full test split.

    python benchmarks/int8_accuracy.py --model saved_models/custom_mobilenet_cifar10.keras

Works on any backend (on JAX / torch the conversion runs in a TensorFlow subprocess). The int8 model is
calibrated on ``--num-representative`` random *training* images and verified by the exporter on 500 test
images (top-1 agreement >= 98 %, unless ``--no-check``); then the full 10,000-image test split is evaluated
with the Keras model and both TFLite models. Writes ``benchmarks/results/int8_accuracy.json`` and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="trained .keras file (10 classes, raw [0,255] RGB input)")
    ap.add_argument("--data", default="/work/shared/data/cifar10.npz")
    ap.add_argument("--num-representative", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "int8_accuracy.json"))
    ap.add_argument("--keep-dir", default=None, help="keep the .tflite files (and sidecars) here")
    ap.add_argument("--no-check", action="store_true", help="measure even if int8 agreement < 98 %% on 500 images")
    args = ap.parse_args(argv)

    import keras

    import keras_mobilenets  # noqa: F401  (custom layers)
    E = importlib.import_module("keras_mobilenets.export")

    data = np.load(args.data)
    x_test, y_test = data["x_test"], data["y_test"].astype("int64").ravel()
    labels = [str(c) for c in data["class_names"]] if "class_names" in data.files else None
    rng = np.random.default_rng(args.seed)
    rep = data["x_train"][rng.choice(len(data["x_train"]), args.num_representative, replace=False)]

    model = keras.saving.load_model(args.model)
    shape = E._input_shape(model)
    out_dir = Path(args.keep_dir) if args.keep_dir else Path(tempfile.mkdtemp(prefix="km_int8_"))
    checks = {"int8_min_top1_agreement": 0.0} if args.no_check else None
    t0 = time.perf_counter()
    res32, res8 = E.export_many(
        model,
        [dict(path=out_dir / "model_fp32.tflite"), dict(path=out_dir / "model_int8.tflite", quantization="int8")],
        representative_data=rep,
        verify_data=x_test[:500],
        labels=labels,
        checks=checks,
    )
    export_s = time.perf_counter() - t0

    x = E._as_images(x_test, shape, 0, "verify_data")
    keras_logits = np.concatenate([np.asarray(model.predict(x[i : i + 500], verbose=0)) for i in range(0, len(x), 500)])
    preds = {"keras_fp32": keras_logits.argmax(-1)}
    for name, r in (("tflite_fp32", res32), ("tflite_int8", res8)):
        run = E.TFLiteRunner(r.path)
        preds[name] = np.concatenate([run(x[i : i + 100]) for i in range(0, len(x), 100)]).argmax(-1)
    acc = {k: float(np.mean(p == y_test)) for k, p in preds.items()}
    result = {
        "model": str(args.model),
        "model_name": model.name,
        "data": args.data,
        "test_images": int(len(x)),
        "representative_images": int(args.num_representative),
        "accuracy": acc,
        "int8_drop_vs_keras_fp32_pp": 100 * (acc["keras_fp32"] - acc["tflite_int8"]),
        "int8_top1_agreement_full_test": float(np.mean(preds["tflite_int8"] == preds["keras_fp32"])),
        "int8_top1_agreement_500_verify": res8.top1_agreement,
        "fp32_tflite_max_abs_error_500": res32.max_abs_error,
        "size_bytes": {"fp32": res32.size_bytes, "int8": res8.size_bytes},
        "int8_converter": res8.converter,
        "backend": keras.backend.backend(),
        "export_seconds": export_s,
        "platform": platform.platform(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| model | Keras fp32 | TFLite fp32 | TFLite int8 | drop (pp) | int8/fp32 top-1 agreement | size fp32 → int8 |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {model.name} | {acc['keras_fp32']:.2%} | {acc['tflite_fp32']:.2%} | {acc['tflite_int8']:.2%} | "
        f"{result['int8_drop_vs_keras_fp32_pp']:.2f} | {result['int8_top1_agreement_full_test']:.2%} | "
        f"{res32.size_bytes / 1e6:.2f} MB → {res8.size_bytes / 1e6:.2f} MB |"
    )
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
