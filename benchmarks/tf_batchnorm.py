"""TensorFlow training BatchNorm by tensor size: FusedBatchNormV3, the package's small-tensor ops, Keras' ops.

    python benchmarks/tf_batchnorm.py [--out benchmarks/results/tf_batchnorm.json]

For each N x H x W x C in a grid (batch 32 / 128 / 500, maps 1-16, channels 8 / 32 / 128, up to 4M values), times
one traced forward + backward of the package's BatchNormalization in training mode (gradients of input, gamma,
beta) three ways -- TF's fused op, the package's small-tensor ops with their hand-written gradient
(``layers._tf_small_batch_norm``) and Keras' own ops -- alternating twice; the cell is the best median of 30 calls
after 5 warm-up ones (ms). ``layers.TF_FUSED_MIN_ELEMENTS`` is the size from which the package uses the fused op.
Runs on the TensorFlow backend whatever KERAS_BACKEND says.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras_mobilenets  # noqa: E402,F401  (first: the allocator settings)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import _results  # noqa: E402
from keras_mobilenets import layers as kml  # noqa: E402


PATHS = {"fused": 0, "small": 2 ** 62, "keras": None}  # path -> TF_FUSED_MIN_ELEMENTS (None: Keras' ops)


def time_ms(shape, path: str) -> float:
    x = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32"))
    layer = kml.BatchNormalization()
    layer.build(shape)
    if PATHS[path] is None:
        layer._fused = lambda *a: None
    else:
        kml.TF_FUSED_MIN_ELEMENTS = PATHS[path]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, training=True)))
        return tape.gradient(loss, [x, *layer.trainable_weights])

    step.get_concrete_function()  # traced now, with this path's threshold
    return 1000 * _results.median_seconds(lambda: step()[0].numpy(), warmup=5, runs=30)


def grid():
    for n in (32, 128, 500):
        for hw in (1, 2, 4, 8, 16):
            for c in (8, 32, 128):
                if n * hw * hw * c <= 4 * 2 ** 20:
                    yield n, hw, hw, c


def write_markdown(data, path):
    lines = ["# TF training BatchNorm: fused op vs small-tensor ops vs Keras' ops\n", _results.provenance(data["meta"]),
             "", f"Package: the fused op from {data['threshold']} values (N·H·W·C), the small-tensor ops below.", "",
             "| N×H×W×C | values | fused ms | small-tensor ops ms | Keras ops ms | fused / Keras | small / Keras |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        fused, small, ops = r["fused_ms"], r["small_ms"], r["keras_ms"]
        lines.append(f"| {'×'.join(map(str, r['shape']))} | {r['values']} | {fused:.3f} | {small:.3f} | {ops:.3f} | "
                     f"{fused / ops:.2f} | {small / ops:.2f} |")
    Path(path).write_text("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "tf_batchnorm.json"))
    args = p.parse_args(argv)
    meta = _results.run_meta("tf_batchnorm.py", argv)
    threshold = kml.TF_FUSED_MIN_ELEMENTS
    rows = []
    for shape in grid():
        times = {path: [] for path in PATHS}
        for _ in range(2):
            for path in PATHS:
                times[path].append(time_ms(shape, path))
        row = dict(shape=shape, values=int(np.prod(shape)), **{f"{p}_ms": min(t) for p, t in times.items()})
        print(f"{str(shape):20s} {row['values']:9d} fused {row['fused_ms']:.3f}  small {row['small_ms']:.3f}  Keras "
              f"{row['keras_ms']:.3f} ms", flush=True)
        rows.append(row)
    kml.TF_FUSED_MIN_ELEMENTS = threshold
    meta["load_after"] = [round(v, 2) for v in os.getloadavg()]
    _results.save(dict(meta=meta, threshold=threshold, rows=rows), args.out, write_markdown)


if __name__ == "__main__":
    main()
