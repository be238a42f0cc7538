"""Input-pipeline throughput: images/s of each recipe's `tf.data` training stream alone, vs what training consumes.

For every write-up recipe the training stream is built by ``keras_mobilenets.training.make_datasets`` -- the
function ``fit`` itself calls -- from the recipe's own ``CONFIG`` (augmentation, batch size, image size), on real
data: ``cifar10.npz`` for the classification recipes, and for write-up 004 (keypoints; no public set is reachable
offline) a folder of generated 480×640 PNGs with 21 keypoints each, decoded, resized to 256, centre-cropped to 224
and colour-jittered per image as in the recipe. Batches are pulled as NumPy arrays (what ``model.fit`` receives),
after a warm-up, and timed until ``--seconds`` have passed. One process per Keras backend (the Keras
preprocessing layers inside ``tf.data`` run the TensorFlow implementation there, but the process's backend is
the user's).

The last columns divide the pipeline's images/s by the training step's (batch / median step seconds from
``benchmarks/results/train_step.json`` for the same model and backend, where measured): above 1 the pipeline
outruns training even if it had the whole machine; the "share" column is the CPU time per training step the
pipeline needs, as a fraction of that step, which training gives up when both run on the same two cores.

    python benchmarks/input_pipeline.py [--backends tensorflow,jax,torch] [--seconds 10]

Writes ``benchmarks/results/input_pipeline.{json,md}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import data_file, provenance, run_meta, save  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar10.npz"
BACKENDS = ("tensorflow", "jax", "torch")


def _recipe_configs():
    """recipe label -> TrainConfig, taken from the recipe scripts themselves."""
    sys.path.insert(0, str(REPO / "recipes"))
    out = {}
    for name in ("w000_baseline_v1", "w000_custom_mobilenet", "w001_cheap_ops", "w002_julia_v1", "w003_replication",
                 "w004_keypoints"):
        spec = importlib.util.spec_from_file_location(name, REPO / "recipes" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out[name] = mod.CIFAR100 if name == "w001_cheap_ops" else mod.CONFIG
    # write-up 002 as coded trains with batch 1; the train-step benchmark uses 128, so does this one
    out["w002_julia_v1"] = out["w002_julia_v1"].replace(batch_size=128)
    # the train-step benchmark times variant (a) of write-up 003; the pipeline is the same for (a)-(d)
    out["w003_replication"] = out["w003_replication"].replace(model="mbv2_blog_a_cifar10")
    return out


def measure(data: Path, seconds: float, warmup: int = 3) -> list[dict]:
    sys.path.insert(0, str(REPO))
    import keras_mobilenets as km  # first: the allocator and TensorFlow's oneDNN switch
    import keras
    from keras_mobilenets.data import keypoints as kp
    from keras_mobilenets.training import loop

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        kp_folder = Path(tmp) / "keypoints"
        kp.write_synthetic(kp_folder, n=256, size=(480, 640), seed=0)
        for recipe, c in _recipe_configs().items():
            c = c.replace(data=str(kp_folder) if c.task == "keypoints" else str(data), epochs=1000)
            splits = loop._load_data(c)
            keypoints = c.task == "keypoints"
            image_size = c.image_size or km.get_info(c.model).input_shape[0]
            outputs = 2 * splits.y_train.shape[1] if keypoints else splits.num_classes
            train_ds, _, _ = loop.make_datasets(c, splits, image_size, outputs)
            it = iter(train_ds.as_numpy_iterator())
            for _ in range(warmup):
                next(it)
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                x, _ = next(it)
                n += len(x)
            dt = time.perf_counter() - t0
            results.append({"recipe": recipe, "model": c.model, "backend": keras.backend.backend(),
                            "batch": c.batch_size, "image_size": image_size, "images": n, "seconds": round(dt, 3),
                            "images_per_s": n / dt,
                            "augmentation": {k: getattr(c, k) for k in ("pad", "flip", "mixup_alpha", "cutmix_alpha",
                                                                        "randaugment", "color_jitter", "resize")}})
            print(f"{recipe:24s} {keras.backend.backend():10s} {n / dt:9.0f} images/s", flush=True)
    return results


def _train_rates():
    """(model, backend) -> training images/s from the train-step benchmark's results, where measured."""
    path = RESULTS / "train_step.json"
    if not path.exists():
        return {}, None
    d = json.loads(path.read_text())
    rates = {}
    for r in d["results"]:
        if r.get("framework") == "keras" and r.get("median_s"):
            rates[(r["model"], r["config"].split("_", 1)[1])] = r["batch"] / r["median_s"]
    return rates, d["meta"].get("date")


def write_markdown(payload: dict, path: Path) -> None:
    m = payload["meta"]
    lines = [
        "# Input pipeline throughput (tf.data training stream alone)", "",
        provenance(m) + f" Each cell: images/s over {m['seconds']:.0f} s after 3 warm-up batches, the recipe's own augmentation. "
        f"Training rate from `train_step.json` ({m['train_step_date']}).", "",
        "| recipe | model | batch | backend | pipeline images/s | training images/s | pipeline / training | "
        "share of a step |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in payload["results"]:
        t = r.get("train_images_per_s")
        cells = [f"{t:.0f}", f"{r['images_per_s'] / t:.1f}", f"{100 * t / r['images_per_s']:.1f} %"] if t else ["n/m"] * 3
        lines.append(f"| {r['recipe']} | {r['model']} | {r['batch']} | {r['backend']} | {r['images_per_s']:.0f} | "
                     + " | ".join(cells) + " |")
    lines += ["", "n/m = that model's training step was not measured in `train_step.json`.", ""]
    path.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="cifar10.npz")
    ap.add_argument("--backends", type=lambda s: s.split(","), default=list(BACKENDS))
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per recipe")
    ap.add_argument("--out", default=str(RESULTS / "input_pipeline.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    data = data_file(args.data)
    bad = [b for b in args.backends if b not in BACKENDS]
    if bad:
        raise SystemExit(f"--backends: {bad} not in {', '.join(BACKENDS)}")
    if args.child:
        print("RESULT " + json.dumps(measure(data, args.seconds)), flush=True)
        return
    meta = run_meta("input_pipeline.py", argv, seconds=args.seconds)
    results = []
    for backend in args.backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run([sys.executable, __file__, "--child", "--data", str(data), "--seconds",
                               str(args.seconds)], env=env, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if not line:
            raise SystemExit(f"{backend} child failed:\n{proc.stderr[-3000:]}")
        results += json.loads(line[-1][7:])
    rates, meta["train_step_date"] = _train_rates()
    for r in results:
        r["train_images_per_s"] = rates.get((r["model"], r["backend"]))
    save({"meta": meta, "results": results}, args.out, write_markdown)


if __name__ == "__main__":
    main()
