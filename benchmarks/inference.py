"""Batch-1 CPU inference latency of the write-up models: Keras (each backend), TFLite fp32 / fp16 / int8, ONNX Runtime.

    python benchmarks/inference.py                      # every write-up model (long: ~1-2 min per model)
    python benchmarks/inference.py --models custom_mobilenet_cifar10,cv3k_imagenet --runs 300

For each model: build it from the registry (random init, seed 0; BatchNorm statistics recalibrated on 128 real
images so that activations, and so int8 ranges, have a trained net's scale -- an untrained net's ~1e-8
activations change which int8 ops XNNPACK accepts, hence the latency),
time ``model.predict_on_batch`` on every Keras backend (one subprocess per backend: tf.function / jax.jit /
torch no_grad, as Keras compiles them) and :func:`keras_mobilenets.predictor` (torch.jit.trace / jax.jit /
tf.function of the model, without Keras' per-layer dispatch), export it with :func:`keras_mobilenets.export.export_many` (each
artifact verified; the int8 / fp16 accuracy bounds are relaxed because untrained networks have no class margin),
then time the TFLite interpreter (XNNPACK, the default delegate) and ONNX Runtime (CPU EP) in this process.
Every number is the median of ``--runs`` timed calls after ``--warmup`` calls, all in one process per runtime,
on one real CIFAR-10 image (resized to the model input) with ``--threads`` intra-op threads (default 1: stable on
a shared machine, and what a phone's single big core sees).

Writes ``benchmarks/results/inference.json`` and the markdown table ``benchmarks/results/inference.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
RUNTIMES = ("tflite_fp32", "tflite_fp16", "tflite_int8", "onnxruntime")


def _thread_env(threads: int) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=str(threads))
    # only --flags: XLA stops reading XLA_FLAGS at the first token that is not one
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
    ).strip()
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _timeit(fn, x, runs, warmup) -> dict:
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p10_ms": times[int(0.1 * (len(times) - 1))],
        "p90_ms": times[int(0.9 * (len(times) - 1))],
        "runs": runs,
    }


def _image(shape):
    E = importlib.import_module("keras_mobilenets.export")

    return E._as_images(E._sample("test")[:1], shape, 0, "verify_data")


def _model_kwargs(name):
    return {}


# ------------------------------------------------------------------------------ Keras, one backend per process
def keras_worker(models, runs, warmup, threads):
    import keras_mobilenets as km  # first: the allocator and TensorFlow's oneDNN switch
    import keras
    E = importlib.import_module("keras_mobilenets.export")

    b = keras.backend.backend()
    if b == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    elif b == "torch":
        import torch

        torch.set_num_threads(threads)
    out = {}
    for name in models:
        keras.utils.set_random_seed(0)
        model = km.get_model(name, **_model_kwargs(name))
        x = _image(E._input_shape(model))
        out[name] = _timeit(model.predict_on_batch, x, runs, warmup)
        out[name]["predictor"] = _timeit(km.predictor(model, x), x, runs, warmup)
    print("@@RESULT@@" + json.dumps({"backend": b, "versions": _versions(b), "results": out}))


def _versions(b):
    import keras

    v = {"keras": keras.__version__}
    mod = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[b]
    v[mod] = __import__(mod).__version__
    return v


def _run_keras_backend(backend, models, args) -> dict:
    env = _thread_env(args.threads)
    env["KERAS_BACKEND"] = backend
    cmd = [sys.executable, __file__, "--keras-worker", "--models", ",".join(models), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    if proc.returncode != 0 or not line:
        print(f"[{backend}] Keras timing failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return {}
    return json.loads(line[0][len("@@RESULT@@"):])


# --------------------------------------------------------------------------------------------- exports
def _export_and_time(name, args, workdir) -> tuple[dict, dict]:
    import keras_mobilenets as km  # first: the allocator and TensorFlow's oneDNN switch
    import keras
    from keras_mobilenets.training import recalibrate_batchnorm
    E = importlib.import_module("keras_mobilenets.export")

    keras.utils.set_random_seed(0)
    model = km.get_model(name, **_model_kwargs(name))
    # untrained weights: BatchNorm statistics from 128 real images, so activations (and int8 ranges) have the
    # scale of a trained net's, not ~1e-8 (XNNPACK refuses int8 ADDs whose input / output scales differ that much)
    shape = E._input_shape(model)
    recalibrate_batchnorm(model, E._as_images(E._sample("train")[:128], shape, 0, "representative_data"))
    d = Path(workdir) / name
    res = E.export_many(
        model,
        [
            dict(path=d / "fp32.tflite"),
            dict(path=d / "fp16.tflite", quantization="fp16"),
            dict(path=d / "int8.tflite", quantization="int8"),
            dict(path=d / "model.onnx", format="onnx"),
        ],
        representative_data="cifar10_sample",
        num_verify=100,
        num_representative=100,
        checks={"fp16_max_abs_error": 1.0, "int8_min_top1_agreement": 0.0},  # untrained: no class margin
    )
    x = _image(E._input_shape(model))
    timings, info = {}, {}
    for key, r in zip(RUNTIMES, res):
        run = E.ONNXRunner(r.path, args.threads) if r.format == "onnx" else E.TFLiteRunner(r.path, args.threads)
        timings[key] = _timeit(run, x, args.runs, args.warmup)
        info[key] = {"size_bytes": r.size_bytes, "max_abs_error": r.max_abs_error, "top1_agreement": r.top1_agreement,
                     "export_seconds": r.seconds}
        if r.format == "tflite":  # (XNNPACK pieces, ops TFLite's own kernels run)
            info[key]["xnnpack_pieces"], info[key]["xnnpack_left_out"] = E.xnnpack_ops(r.path)
    return timings, info


def _secs(v) -> str:
    return "–" if v is None else f"{v:.0f}"


def _table(result) -> str:
    cols = ([f"Keras {b}" for b in result["keras_backends"]] + [f"km.predictor {b}" for b in result["keras_backends"]]
            + ["TFLite fp32", "TFLite fp16", "TFLite int8", "ONNX Runtime"])
    lines = [
        f"Batch-1 CPU latency, median of {result['runs']} runs (ms), {result['threads']} thread(s); "
        f"{result['cpu']}, load average at start {result['loadavg']}.",
        "",
        "| model | input | " + " | ".join(cols) + " | int8 size | XNNPACK pieces fp32 / int8 | export + verify s fp32 / int8 |",
        "|---|---|" + "---|" * len(cols) + "---|---|---|",
    ]
    for name, row in result["models"].items():
        cells = [row["keras"].get(b, {}).get("median_ms") for b in result["keras_backends"]]
        cells += [row["keras"].get(b, {}).get("predictor", {}).get("median_ms") for b in result["keras_backends"]]
        cells += [row["runtimes"].get(k, {}).get("median_ms") for k in RUNTIMES]
        size = row["artifacts"].get("tflite_int8", {}).get("size_bytes")
        lines.append(
            f"| {name} | {'x'.join(map(str, row['input_shape'][:2]))} | "
            + " | ".join("–" if c is None else f"{c:.2f}" for c in cells)
            + f" | {'–' if size is None else f'{size / 1e6:.2f} MB'} | "
            + " / ".join(str(row["artifacts"].get(k, {}).get("xnnpack_pieces", "–")) for k in ("tflite_fp32", "tflite_int8"))
            + " | " + " / ".join(_secs(row["artifacts"].get(k, {}).get("export_seconds")) for k in ("tflite_fp32", "tflite_int8"))
            + " |"
        )
    lines += ["", "Reproduce: `python benchmarks/inference.py` (see the script's docstring)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=None, help="comma-separated registry names (default: every write-up model)")
    ap.add_argument("--backends", default=",".join(KERAS_BACKENDS))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS / "inference.json"))
    ap.add_argument("--keras-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.keras_worker:
        return keras_worker(args.models.split(","), args.runs, args.warmup, args.threads)

    import keras_mobilenets as km

    if args.models:
        models = args.models.split(",")
    else:
        models = [n for n in km.list_models() if km.get_info(n).source != "standard"]
    backends = [b for b in args.backends.split(",") if b]
    t0 = time.time()
    result = {
        "runs": args.runs, "warmup": args.warmup, "threads": args.threads, "keras_backends": backends,
        "cpu": platform.processor() or platform.machine(), "platform": platform.platform(),
        "loadavg": " ".join(f"{v:.1f}" for v in os.getloadavg()), "models": {},
    }
    keras_times = {b: _run_keras_backend(b, models, args) for b in backends}
    result["versions"] = {b: keras_times[b].get("versions") for b in backends}
    with tempfile.TemporaryDirectory(prefix="km_bench_") as work:
        for name in models:
            info = km.get_info(name)
            row = {"input_shape": list(info.input_shape), "keras": {}, "runtimes": {}, "artifacts": {}}
            for b in backends:
                if name in keras_times[b].get("results", {}):
                    row["keras"][b] = keras_times[b]["results"][name]
            try:
                row["runtimes"], row["artifacts"] = _export_and_time(name, args, work)
            except Exception as exc:  # keep the other models' numbers
                row["error"] = f"{type(exc).__name__}: {exc}"[:500]
            result["models"][name] = row
            print(name, {k: round(v["median_ms"], 2) for k, v in {**row["keras"], **row["runtimes"]}.items()}, flush=True)
    result["seconds"] = time.time() - t0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(_table(result))
    print(_table(result))


if __name__ == "__main__":
    main()
