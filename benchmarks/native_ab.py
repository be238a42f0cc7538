"""A/B of two (or more) versions of the native kernels' source (``keras_mobilenets/native/kernels.cc``), JAX.

    git show HEAD~1:keras_mobilenets/native/kernels.cc > /tmp/old.cc
    python benchmarks/native_ab.py /tmp/old.cc keras_mobilenets/native/kernels.cc              # kernels alone
    python benchmarks/native_ab.py /tmp/old.cc keras_mobilenets/native/kernels.cc \\
        --model custom_mobilenet_cifar10 --batch 500 --rounds 4                                 # training steps

Kernel mode: every source is compiled (the package's flags) into its own library, registered under its own FFI
target names in one process, and the depthwise forward / backward and BatchNorm (+ ReLU6) forward / backward of
each shape are timed in turn, source after source, ``--rounds`` times (median ms); also the largest relative
difference of each source's outputs from the first's. Model mode: per round one process per source (in
alternating order) times ``train_on_batch`` (``train_step.py``'s Keras model, SGD momentum 0.9; median of 6 steps
after 3 warm-up steps) with ``keras_mobilenets.native.SOURCE`` pointed at that source; prints the seconds and the
ratio of each source to the first per round and their median. The host's speed drifts by tens of percent from
minute to minute; alternating is what makes the ratios comparable. Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# (NHWC input, stride): CustomMobileNet (batch 500), width-0.1 V1 (128) and V3-Small (32) stages
SHAPES = [((500, 32, 32, 32), 1), ((500, 32, 32, 16), 1), ((500, 16, 16, 64), 1), ((500, 8, 8, 128), 1),
          ((500, 32, 32, 32), 2), ((128, 16, 16, 8), 1), ((32, 56, 56, 72), 2), ((32, 28, 28, 96), 1)]
NAMES = ("DepthwiseForward", "DepthwiseBackward", "BatchNormForward", "BatchNormBackward")


def _kernels(index, source):
    """Compile ``source`` and register its four handlers as ``v{index}<name>``."""
    import jax

    from keras_mobilenets import native

    library = Path(f"/tmp/keras_mobilenets_native_ab_{os.getpid()}_{index}.so")
    subprocess.run([os.environ.get("CXX", "g++"), *native.FLAGS, "-I", jax.ffi.include_dir(), str(source), "-o",
                    str(library)], check=True)
    handle = ctypes.CDLL(str(library))
    for name in NAMES:
        jax.ffi.register_ffi_target(f"v{index}{name}", jax.ffi.pycapsule(getattr(handle, "Km" + name)), platform="cpu")


def _calls(index, shape, stride):
    import jax
    import numpy as np

    n, h, w, c = shape
    ho, wo = -(-h // stride), -(-w // stride)
    pad = 1 if stride == 1 else 0  # "same" for a 3x3 kernel
    geo = dict(sh=np.int64(stride), sw=np.int64(stride), pt=np.int64(pad), pl=np.int64(pad))
    bn = dict(epsilon=np.float32(1e-3), act=np.int32(1), act_max=np.float32(6.0))
    like = jax.ShapeDtypeStruct
    stats = like((c,), np.float32)
    return (
        jax.jit(lambda x, k: jax.ffi.ffi_call(f"v{index}DepthwiseForward", like((n, ho, wo, c), x.dtype))(x, k, **geo)),
        jax.jit(lambda x, k, dy: jax.ffi.ffi_call(f"v{index}DepthwiseBackward", (like(x.shape, x.dtype),
                                                                               like(k.shape, k.dtype)))(x, k, dy, **geo)),
        jax.jit(lambda x, g, b: jax.ffi.ffi_call(f"v{index}BatchNormForward", (like(x.shape, x.dtype), stats, stats))(
            x, g, b, **bn)),
        jax.jit(lambda x, g, b, m, v, dy: jax.ffi.ffi_call(f"v{index}BatchNormBackward", (like(x.shape, x.dtype), stats,
                                                                                         stats))(x, g, b, m, v, dy, **bn)),
    )


def _timed(f, *args):
    import jax

    start = time.perf_counter()
    jax.block_until_ready(f(*args))
    return time.perf_counter() - start


def kernel_mode(sources, rounds):
    os.environ["KERAS_BACKEND"] = "jax"
    sys.path.insert(0, str(REPO))
    import keras_mobilenets  # noqa: F401  (the allocator settings first)
    import jax.numpy as jnp
    import numpy as np

    for i, source in enumerate(sources):
        _kernels(i, source)
    rng = np.random.default_rng(0)
    print("shape, stride | " + " | ".join(f"{n} ms (" + " / ".join(f"v{i}" for i in range(len(sources))) + ")"
                                        for n in NAMES) + " | max rel. diff vs v0")
    for shape, stride in SHAPES:
        x = jnp.asarray(rng.standard_normal(shape, dtype=np.float32))
        k = jnp.asarray(rng.standard_normal((3, 3, shape[3], 1), dtype=np.float32))
        g, b = jnp.asarray(rng.random(shape[3], dtype=np.float32) + 0.5), jnp.zeros(shape[3])
        calls = [_calls(i, shape, stride) for i in range(len(sources))]
        outputs = []
        for fwd, bwd, bn_fwd, bn_bwd in calls:
            y = fwd(x, k)
            bn_y, mean, var = bn_fwd(x, g, b)
            outputs.append((y, *bwd(x, k, y), bn_y, bn_bwd(x, g, b, mean, var, x)[0]))
        diff = [max(float(jnp.max(jnp.abs(a - r)) / (jnp.max(jnp.abs(r)) + 1e-30)) for a, r in zip(o, outputs[0]))
                for o in outputs[1:]]
        times = np.zeros((len(sources), 4, rounds))
        for r in range(rounds):
            for i, (fwd, bwd, bn_fwd, bn_bwd) in enumerate(calls):
                y, (_, mean, var) = outputs[i][0], bn_fwd(x, g, b)
                times[i, :, r] = (_timed(fwd, x, k), _timed(bwd, x, k, y), _timed(bn_fwd, x, g, b),
                                  _timed(bn_bwd, x, g, b, mean, var, x))
        median = np.median(times, axis=2) * 1e3
        cells = [" / ".join(f"{median[i, j]:.2f}" for i in range(len(sources))) for j in range(4)]
        print(f"{shape}, {stride} | " + " | ".join(cells) + " | " + ", ".join(f"{d:.1e}" for d in diff), flush=True)


def _child(source, name, batch):
    os.environ["KERAS_BACKEND"] = "jax"
    sys.path.insert(0, str(REPO))
    from keras_mobilenets import native

    native.SOURCE = Path(source).resolve()
    from benchmarks import train_step as ts

    step, _ = ts.keras_stepper(name, batch)
    times, _ = ts._time_steps(step, 6, 3)
    print("RESULT " + json.dumps(statistics.median(times[3:])))


def model_mode(sources, name, batch, rounds):
    seconds = {s: [] for s in sources}
    for r in range(rounds):
        for source in sources if r % 2 == 0 else sources[::-1]:
            out = subprocess.run([sys.executable, __file__, "--child", source, "--model", name, "--batch", str(batch)],
                                 capture_output=True, text=True, cwd=REPO)
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if not lines:
                sys.exit(f"{source}: the child failed:\n{out.stderr[-3000:]}")
            seconds[source].append(json.loads(lines[0][7:]))
    for source in sources:
        ratios = [b / a for a, b in zip(seconds[sources[0]], seconds[source])]
        print(f"{name} batch {batch} {source}: s per step {[round(v, 4) for v in seconds[source]]}, / first source "
              f"{[round(v, 3) for v in ratios]}, median {statistics.median(ratios):.3f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="*", type=Path)
    p.add_argument("--model", help="time training steps of this registry model instead of the kernels alone")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return _child(a.child, a.model, a.batch)
    if len(a.sources) < 2:
        p.error("sources: give at least two kernels.cc versions to compare")
    for source in a.sources:
        if not source.is_file():
            p.error(f"sources: {source} is not a file")
    if a.model:
        return model_mode([str(s) for s in a.sources], a.model, a.batch, a.rounds)
    return kernel_mode(a.sources, a.rounds)


if __name__ == "__main__":
    main()
