"""Where a backend's training step goes, layer kind by layer kind: three-layer blocks, forward + backward + SGD.

    KERAS_BACKEND=jax python benchmarks/layer_blocks.py [--batch 500] [--kinds dw,dw+bn,...]

Each block is ``Input(32, 32, 64)`` -> three times [depthwise 3x3 ("dw") and/or 1x1 conv ("pw"), each optionally
followed by the package's BatchNormalization ("bn") and a ReLU ("act")] -> global pool -> Dense(10), built with
the package's layers and timed with ``train_on_batch`` (median of 5 after 2 warm-up steps, ms). Differences between
kinds give a layer kind's cost on the active backend; run it once per backend (and with ``taskset -c 0`` to see
what uses the second core). Prints one line per kind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras_mobilenets  # noqa: E402,F401  (first: the allocator settings)
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from benchmarks import _results  # noqa: E402
from keras_mobilenets.layers import BatchNormalization, Conv2D, DepthwiseConv2D  # noqa: E402

KINDS = ("dw", "dw+bn", "dw+act", "pw", "pw+bn", "pw+act", "dw+pw+bn+act")


def build(kind: str, size: int = 32, channels: int = 64, depth: int = 3) -> keras.Model:
    parts = kind.split("+")
    inputs = keras.Input((size, size, channels))
    x = inputs
    for i in range(depth):
        for op in ("dw", "pw"):
            if op not in parts:
                continue
            x = (DepthwiseConv2D(3, padding="same", use_bias=False) if op == "dw" else
                 Conv2D(channels, 1, use_bias=False))(x)
            if "bn" in parts:
                x = BatchNormalization()(x)
            if "act" in parts:
                x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10)(x))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--kinds", type=lambda s: s.split(","), default=list(KINDS))
    args = p.parse_args(argv)
    x = np.random.default_rng(0).normal(size=(args.batch, 32, 32, 64)).astype("float32")
    y = np.arange(args.batch) % 10
    for kind in args.kinds:
        model = build(kind)
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        step_s = _results.median_seconds(lambda: model.train_on_batch(x, y), warmup=2, runs=5)
        print(f"{keras.backend.backend():10s} {kind:14s} {1000 * step_s:7.1f} ms", flush=True)


if __name__ == "__main__":
    main()
