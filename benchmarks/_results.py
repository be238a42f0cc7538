"""What every results file of ``benchmarks/`` records about its run, and the one way they are written."""

from __future__ import annotations

import json
import os
import platform
import sys
import statistics
import time
from pathlib import Path


def run_meta(script: str, argv=None, **extra) -> dict:
    """Date, host, CPU count, load average now and the exact command (``python benchmarks/<script> ...``)."""
    args = argv if argv is not None else sys.argv[1:]
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_before": [round(v, 2) for v in os.getloadavg()],
            "command": f"python benchmarks/{script} " + " ".join(args), **extra}


def save(payload: dict, out, write_markdown) -> Path:
    """``out`` (JSON, via a temp file then rename) and its ``.md`` twin from ``write_markdown(payload, path)``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(out)
    write_markdown(payload, out.with_suffix(".md"))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return out


def provenance(meta: dict) -> str:
    """The first sentence of a results page: command, date, host, load."""
    after = f" / after {meta['load_after']}" if "load_after" in meta else ""
    return (f"`{meta['command']}` on {meta['date']} ({meta['platform']}, {meta['cpus']} CPUs; load before "
            f"{meta['load_before']}{after}).")


def data_file(path) -> Path:
    """``--data``: the cifar10.npz the benchmark reads, or a clear exit."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"--data: {path} is not a file; pass the path of cifar10.npz (x_train / y_train / x_test / "
                         "y_test uint8 arrays, e.g. ../shared/data/cifar10.npz)")
    return path


def tune_allocator_without_keras() -> dict:
    """Apply ``keras_mobilenets.allocator.tune()`` in a plain PyTorch process without importing the package (whose
    ``__init__`` loads Keras and TensorFlow): the same glibc settings for both sides, PyTorch at its best (its
    stand-alone CustomMobileNet step, batch 500: 1.76 -> 1.21 s with them)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "keras_mobilenets" / "allocator.py"
    spec = importlib.util.spec_from_file_location("_km_allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tune()


def median_seconds(step, warmup: int, runs: int) -> float:
    """Median wall seconds of ``runs`` calls of ``step()`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timed_train_step(model_name: str, batch: int):
    """(model, step, median s) for a registry network compiled as ``train_step.py`` does (SGD momentum 0.9, no
    preprocessing layer, uniform [0, 255) images, cycling labels); ``step()`` is one ``train_on_batch``, timed as
    the median of 5 after 3 warm-up calls. For the op-profile scripts."""
    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    import keras_mobilenets as km  # noqa: PLC0415

    model = km.get_model(model_name, include_preprocessing=False)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).uniform(0, 255, (batch,) + model.input_shape[1:]).astype("float32")
    y = np.arange(batch) % model.output_shape[-1]

    def step():
        return model.train_on_batch(x, y)

    return model, step, median_seconds(step, warmup=3, runs=5)


def traced_xspace(start, stop, step, times: int):
    """The profiler's XSpace (TensorFlow's protobuf) of ``times`` calls of ``step()`` between ``start(logdir)`` and
    ``stop()`` (``tf.profiler.experimental`` or ``jax.profiler``), read back from a temporary log directory."""
    import tempfile  # noqa: PLC0415

    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: PLC0415  (the XSpace format, pinned TF)

    with tempfile.TemporaryDirectory() as logdir:
        start(logdir)
        for _ in range(times):
            step()
        stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    return space
