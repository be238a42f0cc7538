"""Where a recipe epoch's time goes beyond the training step: write-up 000's CustomMobileNet recipe, one backend.

    KERAS_BACKEND=torch python benchmarks/fit_overhead.py [--data ../shared/data/cifar10.npz] [--steps 20]

The budget benchmark (``budget_accuracy.py``) runs ``recipes/w000_custom_mobilenet.py`` against a plain PyTorch
loop; this script splits one of the recipe's epochs into its parts, in one process, on the recipe's own data
stream (``training.make_datasets`` with the recipe's ``CONFIG``: pad-crop-flip, mixup, batch 500) and optimizer
(``SGDW``, coupled L2):

* ``train_on_batch`` on batches pulled from the stream beforehand (the step alone);
* the same number of steps through ``model.fit`` on the stream (step time measured between the batch callbacks,
  and the time between consecutive steps, which adds the wait for the next batch and the callbacks);
* ``model.evaluate`` on the full test split at the recipe's evaluation batch (what ``fit`` runs after every epoch)
  and ``test_on_batch`` per batch, so the pipeline's share of the test pass shows;
* ``--test-passes`` more test passes, alternating the package's test stream (tf.data autotuning off,
  ``data.pipeline.evaluation_stream``) and the same stream with autotuning on (what it was before: an autotuned
  iterator stalled until ~10 s after its start in about half of the passes);
* the checkpoint writes ``fit`` does every epoch: two ``.keras`` files (best and last) and the
  ``BackupAndRestore`` weights.

Medians, seconds. Writes ``benchmarks/results/fit_overhead_<backend>.{json,md}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import _results  # noqa: E402


def _recipe_config():
    sys.path.insert(0, str(REPO / "recipes"))
    spec = importlib.util.spec_from_file_location("w000", REPO / "recipes" / "w000_custom_mobilenet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CONFIG


def _autotune_on():
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = True
    return options


def measure(data: Path, steps: int, test_passes: int = 5) -> dict:
    import keras_mobilenets as km  # first: the allocator settings
    import keras
    import numpy as np

    from keras_mobilenets.training import loop

    c = _recipe_config().replace(data=str(data), epochs=2)
    splits = loop._load_data(c)
    info, model = loop._build_model(c, 32, splits.num_classes)
    train_ds, test_ds, spe = loop.make_datasets(c, splits, 32, splits.num_classes)
    loop.compile_model(c, model, spe, 32)
    batches = list(train_ds.take(steps + 2).as_numpy_iterator())

    def timed(fn):
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    out = {"backend": keras.backend.backend(), "model": info.name, "batch": c.batch_size, "steps": steps,
           "test_examples": len(splits.x_test)}
    for x, y in batches[:2]:
        model.train_on_batch(x, y)
    out["train_on_batch_s"] = statistics.median(timed(lambda: model.train_on_batch(x, y)) for x, y in batches[2:])

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps, self.ends, self.test_waits = [], [], []

        def on_train_batch_begin(self, batch, logs=None):
            self.t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            self.steps.append(now - self.t)
            self.ends.append(now)

        def on_test_begin(self, logs=None):
            self.last = time.perf_counter()

        def on_test_batch_begin(self, batch, logs=None):
            self.test_waits.append(time.perf_counter() - self.last)

        def on_test_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()

    cb = StepTimes()
    model.fit(train_ds.take(steps + 2), epochs=1, steps_per_epoch=steps + 2, verbose=0, callbacks=[cb])
    out["fit_step_s"] = statistics.median(cb.steps[2:])
    out["fit_step_to_step_s"] = statistics.median(np.diff(cb.ends[2:]))
    model.evaluate(test_ds.take(2), verbose=0)
    out["evaluate_s"] = timed(lambda: model.evaluate(test_ds, verbose=0, callbacks=[cb]))
    out["evaluate_input_wait_s"] = sum(cb.test_waits)
    x_test, y_test = next(iter(test_ds.as_numpy_iterator()))
    out["test_on_batch_s"] = _results.median_seconds(lambda: model.test_on_batch(x_test, y_test), warmup=0, runs=5)
    out["test_batches"] = len(cb.test_waits)
    # the test pass repeated, on the package's test stream (tf.data autotuning off: data.pipeline.evaluation_stream)
    # and on the same stream with autotuning switched back on, alternating: fit starts a new test iterator per epoch
    autotuned = test_ds.with_options(_autotune_on())
    out["evaluate_passes_s"], out["evaluate_passes_autotune_s"] = [], []
    for _ in range(test_passes):
        out["evaluate_passes_s"].append(timed(lambda: model.evaluate(test_ds, verbose=0)))
        out["evaluate_passes_autotune_s"].append(timed(lambda: model.evaluate(autotuned, verbose=0)))
    with tempfile.TemporaryDirectory() as tmp:
        out["save_keras_s"] = _results.median_seconds(lambda: model.save(Path(tmp) / "m.keras"), warmup=1, runs=3)
        out["save_weights_s"] = _results.median_seconds(lambda: model.save_weights(Path(tmp) / "m.weights.h5"),
                                                        warmup=0, runs=3)
    out["checkpoints_per_epoch_s"] = 2 * out["save_keras_s"] + out["save_weights_s"]
    out["epoch_estimate_s"] = spe * out["fit_step_to_step_s"] + out["evaluate_s"] + out["checkpoints_per_epoch_s"]
    out["steps_per_epoch"] = spe
    return out


def write_markdown(payload: dict, path: Path) -> None:
    r = payload["result"]
    rows = [("`train_on_batch` (step alone)", r["train_on_batch_s"]),
            ("step inside `fit` (batch callbacks)", r["fit_step_s"]),
            ("step to step inside `fit` (+ next batch, callbacks)", r["fit_step_to_step_s"]),
            (f"test pass, `evaluate` ({r['test_batches']} batches)", r["evaluate_s"]),
            ("... of which waiting for test batches", r["evaluate_input_wait_s"]),
            ("`test_on_batch` (one test batch)", r["test_on_batch_s"]),
            ("`.keras` checkpoint (one)", r["save_keras_s"]),
            ("`BackupAndRestore` weights", r["save_weights_s"]),
            ("checkpoints per epoch (2 × `.keras` + weights)", r["checkpoints_per_epoch_s"]),
            (f"epoch estimate ({r['steps_per_epoch']} × step to step + test pass + checkpoints)",
             r["epoch_estimate_s"])]
    passes = [(f"test pass {i + 1}: package stream (autotuning off) / autotuning on", f"{a:.2f} / {b:.2f}")
              for i, (a, b) in enumerate(zip(r.get("evaluate_passes_s", []), r.get("evaluate_passes_autotune_s", [])))]
    lines = [f"# Recipe epoch parts: write-up 000 CustomMobileNet, Keras {r['backend']} backend", "",
             _results.provenance(payload["meta"]) + f" {r['steps']} training steps timed, batch {r['batch']}.", "",
             "| part | seconds |", "|---|---:|"] + [f"| {k} | {v:.3f} |" for k, v in rows] + [
             f"| {k} | {v} |" for k, v in passes]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cifar10.npz"))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--test-passes", type=int, default=5,
                   help="test passes timed on the package's test stream and on it with tf.data autotuning on")
    p.add_argument("--out", default=None, help="default: benchmarks/results/fit_overhead_<backend>.json")
    args = p.parse_args(argv)
    if args.steps < 3:
        raise SystemExit(f"--steps: need at least 3 timed steps, got {args.steps}")
    data = _results.data_file(args.data)
    meta = _results.run_meta("fit_overhead.py", argv)
    result = measure(data, args.steps, args.test_passes)
    import os

    meta["load_after"] = [round(v, 2) for v in os.getloadavg()]
    out = args.out or REPO / "benchmarks" / "results" / f"fit_overhead_{result['backend']}.json"
    _results.save({"meta": meta, "result": result}, out, write_markdown)
    for k, v in result.items():
        print(f"{k:28s} {v}")


if __name__ == "__main__":
    main()
