"""TensorFlow training step of one registry network, split by op: where TF's time goes, and what-if ablations.

    KERAS_BACKEND=tensorflow python benchmarks/tf_op_profile.py [--model mobilenet_v3_small_42] [--batch 32]
        [--hard-activations package|plain|relu] [--top 20]

Times ``train_on_batch`` (median of 5 after 3 warm-up steps; SGD momentum 0.9, no preprocessing layer, as
``train_step.py``), then traces 3 more steps with ``tf.profiler`` and sums each TensorFlow op's kernel time per
step over all threads (ops run concurrently on the inter-op threads, so the sum exceeds the step). The hard
activations of MobileNetV3 can be swapped for the measurement: ``package`` (the package's layers: one XLA kernel
each way in training), ``plain`` (``x * relu6(x + 3) / 6`` as TF ops, the form before the XLA kernels) or ``relu``
(ReLU / sigmoid: a lower bound for what the hard activations cost). Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _results  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mobilenet_v3_small_42")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hard-activations", choices=("package", "plain", "relu"), default="package")
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args(argv)

    import keras_mobilenets  # noqa: F401  (first: the allocator settings)
    import keras
    import tensorflow as tf
    from keras import ops

    if keras.backend.backend() != "tensorflow":
        raise SystemExit(f"KERAS_BACKEND: this profiles TensorFlow's step; got {keras.backend.backend()!r}")
    from keras_mobilenets import layers as kml

    if args.hard_activations == "plain":
        kml.HardSwish.call = lambda self, x, training=None: x * (ops.relu6(x + 3.0) * (1.0 / 6.0))
        kml.HardSigmoid.call = lambda self, x, training=None: ops.relu6(x + 3.0) * (1.0 / 6.0)
    elif args.hard_activations == "relu":
        kml.HardSwish.call = lambda self, x, training=None: ops.relu(x)
        kml.HardSigmoid.call = lambda self, x, training=None: ops.sigmoid(x)

    _, step, step_s = _results.timed_train_step(args.model, args.batch)
    traced = 3
    space = _results.traced_xspace(tf.profiler.experimental.start, tf.profiler.experimental.stop, step, traced)
    ms, count = collections.Counter(), collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name and not name.endswith(":Process"):  # "<node name>:<op type>" (not the executor span)
                    op = name.rsplit(":", 1)[1]
                    ms[op] += event.duration_ps / 1e9 / traced
                    count[op] += 1
    print(f"{args.model} batch {args.batch}, hard activations {args.hard_activations}: "
          f"train_on_batch median {step_s:.3f} s; kernel time summed over threads "
          f"{sum(ms.values()):.1f} ms/step")
    print(f"{'op':48s} {'ms/step':>8s} {'calls/step':>10s}")
    for op, v in ms.most_common(args.top):
        print(f"{op:48s} {v:8.1f} {count[op] / traced:10.0f}")


if __name__ == "__main__":
    main()
