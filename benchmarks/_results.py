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
