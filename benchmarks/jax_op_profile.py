"""JAX training step of one registry network, split by XLA op kind: where JAX's time goes.

    python benchmarks/jax_op_profile.py [--model custom_mobilenet_cifar10] [--batch 500] [--top 15]

Times ``train_on_batch`` on the JAX backend (median of 5 after 3 warm-up steps; SGD momentum 0.9, no preprocessing
layer, as ``train_step.py``), then traces 2 more steps with ``jax.profiler`` and sums the events of XLA's
executor threads by op kind (the HLO name without its number: ``ffi_call`` = the package's native depthwise /
BatchNorm kernels, ``ynn_fusion`` / ``dot_general`` = the 1x1 convolutions and dense layers, ``*_fusion`` =
elementwise work). One op runs on several of those threads at once, so an op kind's time is the union of its
events' spans (ms per step), and the threads' own ``ThunkExecutor`` events are left out; independent ops can run
side by side, so the kinds' times may add up to more than the busy total. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _results  # noqa: E402


def _union_ps(intervals):
    """Total length of the union of (start, end) intervals."""
    total, end = 0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total, end = total + (b - a), b
        elif b > end:
            total, end = total + (b - end), b
    return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="custom_mobilenet_cifar10")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    if os.environ.setdefault("KERAS_BACKEND", "jax") != "jax":
        raise SystemExit(f"KERAS_BACKEND: this profiles JAX's step; got {os.environ['KERAS_BACKEND']!r}")

    import keras_mobilenets  # noqa: F401  (first: the allocator settings)
    import jax

    _, step, step_s = _results.timed_train_step(args.model, args.batch)
    traced = 2
    space = _results.traced_xspace(jax.profiler.start_trace, jax.profiler.stop_trace, step, traced)
    spans, count = collections.defaultdict(list), collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_XLAEigen"):  # XLA:CPU's intra-op threads
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if not name or name.startswith(("ThunkExecutor", "end: ")):
                    continue
                start = line.timestamp_ns * 1000 + event.offset_ps
                spans[re.sub(r"\.\d+$", "", name)].append((start, start + event.duration_ps))
                spans[""].append((start, start + event.duration_ps))
                count[name] += 1
    # One op runs on several threads at once: an op kind's time is the union of its spans, in ms per step.
    ms = collections.Counter({kind: _union_ps(v) / 1e9 / traced for kind, v in spans.items()})
    calls = collections.Counter()
    for name in count:
        calls[re.sub(r"\.\d+$", "", name)] += 1  # distinct HLO ops of the kind (each runs once per step)
    total = ms.pop("")
    print(f"{args.model} batch {args.batch}: train_on_batch median {step_s:.3f} s; "
          f"XLA's threads busy {total:.1f} ms/step ({total / 1e3 / step_s:.0%} of the step)")
    print(f"{'op kind':32s} {'ms/step':>8s} {'share':>6s} {'calls/step':>10s}")
    for kind, v in ms.most_common(args.top):
        print(f"{kind:32s} {v:8.1f} {v / total:6.1%} {calls[kind]:10d}")


if __name__ == "__main__":
    main()
