"""Depthwise convolution, forward + backward, per Keras backend: the framework's kernel vs shift-and-add.

    python benchmarks/depthwise.py [--runs 5]

For each backend (one subprocess each) and a few shapes taken from the write-up models' training configurations,
time a compiled ``value_and_grad`` of ``sum(depthwise(x, k)^2)`` w.r.t. ``x`` and ``k`` — as Keras compiles it on
that backend (``jax.jit``; ``tf.function`` without XLA; torch eager) — with ``keras.ops.depthwise_conv``, with
:func:`keras_mobilenets.layers.shift_add_depthwise` (autodiff gradient) and, on JAX, with the package's
:func:`keras_mobilenets.layers.depthwise_conv` (the native XLA FFI kernels of ``keras_mobilenets.native``; on
the other backends it is ``keras.ops.depthwise_conv``) and with the package's shift-and-add fallback (the
hand-written input gradient of its custom VJP, used where the native kernels do not apply). Median of ``--runs``
after one warm-up call. The package replaces the framework's kernel on the backends listed in
``keras_mobilenets.layers.SHIFT_ADD_BACKENDS``; this script is the evidence for that list. Writes ``benchmarks/results/depthwise.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
# (batch, size, channels, kernel, stride): CIFAR MobileNetV2 stages at batch 128, V3-Small 224 stages at batch 32
SHAPES = [(128, 32, 96, 3, 1), (128, 16, 384, 3, 1), (128, 32, 144, 3, 2), (32, 56, 72, 3, 1), (32, 14, 240, 5, 1),
          (32, 28, 96, 5, 2)]


def worker(runs: int) -> list[dict]:
    import keras_mobilenets  # noqa: F401  (first: the allocator and TensorFlow's oneDNN switch)
    import keras
    import numpy as np

    from keras_mobilenets.layers import _jitted_shift_add, depthwise_conv, shift_add_depthwise

    b = keras.backend.backend()
    rows = []
    for batch, size, ch, kern, stride in SHAPES:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, size, size, ch)).astype("float32")
        k = rng.normal(size=(kern, kern, ch, 1)).astype("float32")
        row = dict(backend=b, shape=[batch, size, size, ch], kernel=kern, stride=stride)
        variants = [("keras", lambda x, k: keras.ops.depthwise_conv(x, k, strides=stride, padding="same")),
                    ("shift_add", lambda x, k: shift_add_depthwise(x, k, (stride, stride), "same"))]
        if b == "jax":
            variants.append(("shift_add_vjp", lambda x, k: _jitted_shift_add()(x, k, (stride, stride), "same")))
            variants.append(("package", lambda x, k: depthwise_conv(x, k, (stride, stride), "same")))
        for name, f in variants:
            step = _value_and_grad(b, f)
            step(x, k)
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                step(x, k)
                times.append(time.perf_counter() - t)
            row[name] = statistics.median(times)
        row["speedup"] = row["keras"] / row["shift_add"]  # the evidence for SHIFT_ADD_BACKENDS
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _value_and_grad(backend, f):
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        g = jax.jit(jax.value_and_grad(lambda x, k: jnp.sum(f(x, k) ** 2), argnums=(0, 1)))
        return lambda x, k: jax.block_until_ready(g(x, k))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def g(x, k):
            with tf.GradientTape() as tape:
                tape.watch([x, k])
                y = tf.reduce_sum(f(x, k) ** 2)
            return y, tape.gradient(y, [x, k])

        return lambda x, k: [t.numpy() for t in tf.nest.flatten(g(tf.constant(x), tf.constant(k)))]
    import torch

    def g(x, k):
        x, k = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
        y = (f(x, k) ** 2).sum()
        y.backward()
        return y.item()

    return g


def write_results(meta: dict, rows: list[dict]) -> None:
    """``benchmarks/results/depthwise.{json,md}`` from one run's rows."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "depthwise.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
    lines = [f"# Depthwise conv forward+backward: Keras kernel vs shift-and-add\n",
             f"`python benchmarks/depthwise.py --runs {meta['runs']}` on {meta['date']}, {meta['platform']}, "
             f"{meta['cpus']} CPUs, load {tuple(round(v, 2) for v in meta['load'])}. Median ms per call.\n",
             "`package` = the package's `depthwise_conv` on JAX: the native XLA FFI kernels (on the other backends "
             "it is the Keras kernel); `shift-add VJP` = its fallback, shift-and-add with a custom-VJP input "
             "gradient.\n",
             "| backend | input (NHWC) | kernel | stride | keras ms | shift-add ms | keras / shift-add "
             "| shift-add VJP ms | package ms | shift-add VJP / package |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        vjp, package = (f"{r[key] * 1e3:.1f}" if key in r else "-" for key in ("shift_add_vjp", "package"))
        gain = f"{r['shift_add_vjp'] / r['package']:.2f}" if "package" in r else "-"
        lines.append(f"| {r['backend']} | {'x'.join(map(str, r['shape']))} | {r['kernel']} | {r['stride']} | "
                     f"{r['keras'] * 1e3:.1f} | {r['shift_add'] * 1e3:.1f} | {r['speedup']:.2f} | {vjp} | {package} "
                     f"| {gain} |")
    (RESULTS / "depthwise.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backends", default="tensorflow,jax,torch")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.runs)))
        return 0
    rows = []
    for b in a.backends.split(","):
        env = dict(os.environ, KERAS_BACKEND=b, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
        out = subprocess.run([sys.executable, __file__, "--worker", "--runs", str(a.runs)], env=env, check=True,
                             capture_output=True, text=True).stdout
        rows += json.loads(out.strip().splitlines()[-1])
    meta = dict(date=time.strftime("%Y-%m-%d %H:%M"), platform=platform.platform(), cpus=os.cpu_count(),
                load=os.getloadavg(), runs=a.runs)
    write_results(meta, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
