"""Training-step time: our Keras models (TF / JAX / torch backends) vs plain PyTorch references.

For each write-up model at its training input size and batch size, the median wall time of one training step
(forward + backward + SGD(momentum 0.9) update on a fixed in-memory batch, after warm-up) is measured for

* plain PyTorch eager (NCHW), PyTorch eager ``channels_last``, ``torch.compile`` (inductor; failures are
  recorded) -- the reference modules of ``benchmarks/torch_models.py``;
* ``keras_mobilenets.get_model(name)`` compiled with ``jit_compile="auto"`` (XLA on TF, jit on JAX, eager
  on the torch backend) and timed with ``model.train_on_batch``, one Keras backend per process.

Every (model, configuration) runs in its own subprocess so that the peak RSS (``ru_maxrss``) belongs to that
configuration alone -- except Keras on the torch backend, whose process also times PyTorch eager and
``channels_last`` (``--paired-variants``), one step of each in turn: the host's speed drifts by +-30 % between
minutes, so only steps timed side by side give a trustworthy ratio (the stand-alone cells once put Keras-torch at
0.68x PyTorch on CustomMobileNet; side by side it was 1.1-1.2x). TF / JAX stay in their own processes: their idle
thread pools slow PyTorch down 2-3x when they share one.  Both sides: no weight decay (the comparison is about the step, not the recipe), BN
and dropout in training mode, Keras models built with ``include_preprocessing=False`` and logits outputs
(seed 002 keeps its softmax layer in both frameworks: its CE is applied to the softmax, as in the source).
Loss: cross-entropy, except ``mobilenet_v3_small_42`` (a 42-value keypoint regressor) which uses MSE.

Usage::

    python benchmarks/train_step.py                                  # everything, default models
    python benchmarks/train_step.py --models custom_mobilenet_cifar10 --steps 5 --warmup 2
    KERAS_BACKEND=jax python benchmarks/train_step.py --keras-only --models mbv2_blog_a_cifar10
    python benchmarks/train_step.py --torch-only --variants eager,compile --models cheap_v3_cifar100

Writes ``benchmarks/results/train_step.json`` and ``benchmarks/results/train_step.md`` (parent mode only;
``--keras-only`` / ``--torch-only`` print ``RESULT {json}`` lines).
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

# model -> (batch size, note); input size from torch_models.INPUT_SHAPES
BATCH = {
    "custom_mobilenet_cifar10": (500, "000-C recipe batch"),
    "mobilenet_v2_cifar10_chen": (100, "000-B recipe batch"),
    "mobilenet_v2_cifar100": (128, "001 README batch"),
    "mbv2_blog_a_cifar10": (50, "003 recipe batch"),
    "mobilenet_v1_julia_a0.1_cifar100": (128, "002 as coded uses batch 1 (pathological: BN on 1x1 maps of one "
                                              "sample); 128 used here"),
    "mobilenet_v3_small_42": (32, "004 batch not stated; 32 assumed"),
    "cheap_v3_cifar100": (128, "001 README batch"),
    # not in the default list, available through --models
    "mobilenet_v1_cifar10_baseline": (100, "000-A recipe batch"),
    "cheap_v2_cifar100": (128, "001 README batch"),
    "mobilenet_v3_large_cifar100": (128, "001 README batch"),
    "cheap_v3_shuffle_cifar100": (128, "001 README batch"),
    "cheap_v3_reuse_shuffle6_cifar100": (128, "001 README batch"),
    "mbv2_blog_b_cifar10": (50, "003 recipe batch"),
    "mbv2_blog_c_cifar10": (50, "003 recipe batch"),
    "mbv2_blog_d_cifar10": (50, "003 recipe batch"),
}
DEFAULT_MODELS = ["custom_mobilenet_cifar10", "mobilenet_v2_cifar10_chen", "mobilenet_v2_cifar100",
                  "mbv2_blog_a_cifar10", "mobilenet_v1_julia_a0.1_cifar100", "mobilenet_v3_small_42",
                  "cheap_v3_cifar100"]
TORCH_VARIANTS = ("eager", "channels_last", "compile")
MALLOC_TUNING = {}  # what the stand-alone PyTorch child applied (keras_mobilenets/allocator.py)
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
LR = 0.01


def _is_regression(name):
    return name == "mobilenet_v3_small_42"


def _peak_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _current_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _batch(name, batch, seed=0):
    import numpy as np

    sys.path.insert(0, str(REPO))
    from benchmarks import torch_models as tm

    base, suffix_classes = tm._canonical(name)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch,) + tm.INPUT_SHAPES[base]).astype("float32")
    n_out = suffix_classes or tm.DEFAULT_NUM_CLASSES[base]
    if _is_regression(name):
        y = rng.uniform(size=(batch, n_out)).astype("float32")
    else:
        y = rng.integers(0, n_out, size=(batch,)).astype("int64")
    return x, y


def _summary(times, warmup):
    timed = times[warmup:]
    return {
        "median_s": statistics.median(timed),
        "mean_s": statistics.fmean(timed),
        "min_s": min(timed),
        "max_s": max(timed),
        "first_step_s": times[0],
        "warmup_total_s": sum(times[:warmup]),
        "timed_steps": len(timed),
    }


# ---------------------------------------------------------------------------------------------- torch side
def _time_steps(step, steps, warmup):
    times = []
    for _ in range(warmup + steps):
        t0 = time.perf_counter()
        out = step()
        times.append(time.perf_counter() - t0)
    return times, out


def torch_stepper(name, variant, batch):
    """(step function returning the loss, result fields) for the PyTorch reference of `name`."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(REPO))
    from benchmarks import torch_models as tm

    x_np, y_np = _batch(name, batch)
    torch.manual_seed(0)
    model = tm.build(name).train()
    x = torch.from_numpy(x_np.transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(y_np)
    if variant in ("channels_last", "compile_channels_last"):
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    fwd = torch.compile(model) if variant.startswith("compile") else model
    loss_fn = F.mse_loss if _is_regression(name) else F.cross_entropy
    rss_build = _current_rss_mb()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(fwd(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step, dict(framework="torch", config=f"torch_{variant}", threads=torch.get_num_threads(),
                      malloc_tuning=dict(MALLOC_TUNING) or "keras_mobilenets (same process)",
                      torch_version=torch.__version__, rss_after_build_mb=rss_build)


def run_torch(name, variant, batch, steps, warmup):
    step, fields = torch_stepper(name, variant, batch)
    times, loss = _time_steps(step, steps, warmup)
    return {**_summary(times, warmup), **fields, "final_loss": loss}


# ---------------------------------------------------------------------------------------------- keras side
def keras_stepper(name, batch, jit_compile="auto"):
    """(step function returning the loss, result fields) for our Keras model on the active backend."""
    sys.path.insert(0, str(REPO))
    import keras_mobilenets  # first: it sets the allocator and TensorFlow's oneDNN switch before the backend loads
    import keras

    x, y = _batch(name, batch)
    keras.utils.set_random_seed(0)
    kw = {"include_preprocessing": False}
    if "julia" not in name:
        kw["classifier_activation"] = None
    model = keras_mobilenets.get_model(name, **kw)
    if _is_regression(name):
        loss = keras.losses.MeanSquaredError()
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    jit = "auto" if jit_compile == "auto" else jit_compile == "true"
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=0.9), loss=loss, jit_compile=jit)
    rss_build = _current_rss_mb()
    backend = keras.backend.backend()
    res = dict(framework="keras", config=f"keras_{backend}", jit_compile=model.jit_compile,
               keras_version=keras.__version__, rss_after_build_mb=rss_build,
               malloc_tuning=keras_mobilenets.allocator.applied())
    if backend == "tensorflow":
        import tensorflow as tf

        res["tf_version"] = tf.__version__
    elif backend == "jax":
        import jax

        res["jax_version"] = jax.__version__
    return lambda: float(model.train_on_batch(x, y)), res  # train_on_batch returns numpy: synchronises


def run_keras(name, batch, steps, warmup, jit_compile="auto"):
    step, fields = keras_stepper(name, batch, jit_compile)
    times, loss = _time_steps(step, steps, warmup)
    return {**_summary(times, warmup), **fields, "final_loss": loss}


def run_paired(name, batch, steps, warmup, jit_compile, variants):
    """Keras on the active backend and the PyTorch reference(s) in ONE process, one step of each in turn, so a
    change of machine speed during the run (seen here: +-30 % between minutes) hits both sides alike. The Keras
    package is imported, so both sides run with its allocator settings (keras_mobilenets/allocator.py)."""
    k_step, k_fields = keras_stepper(name, batch, jit_compile)
    for _ in range(2):  # Keras' own peak memory, before the PyTorch models exist in this process
        k_step()
    k_fields["peak_rss_keras_alone_mb"] = _peak_rss_mb()
    steppers = [torch_stepper(name, v, batch) for v in variants] + [(k_step, k_fields)]
    times = [[] for _ in steppers]
    losses = [None] * len(steppers)
    for _ in range(warmup + steps):
        for i, (step, _) in enumerate(steppers):
            t0 = time.perf_counter()
            losses[i] = step()
            times[i].append(time.perf_counter() - t0)
    backend = k_fields["config"][len("keras_"):]
    out = []
    for (_, fields), t, loss in zip(steppers, times, losses):
        r = {**_summary(t, warmup), **fields, "final_loss": loss, "paired_backend": backend}
        if r["framework"] == "torch":
            r["config"] = f"paired_{r['config']}_{backend}"  # not the stand-alone torch_<variant> cells
        out.append(r)
    k_times = times[-1][warmup:]
    for v, t in zip(variants, times):  # per-round ratios: robust to drift between rounds
        ratios = sorted(k / p for k, p in zip(k_times, t[warmup:]))
        out[-1][f"ratio_vs_torch_{v}"] = statistics.median(ratios)
    return out


def _failure(kind, variant, e):
    import traceback

    cfg = f"keras_{os.environ.get('KERAS_BACKEND', 'tensorflow')}" if kind == "keras" else f"torch_{variant}"
    return {"config": cfg, "framework": kind, "status": "failed", "error": f"{type(e).__name__}: {e}"[:2000],
            "traceback": traceback.format_exc()[-3000:]}


def _child_main(args):
    if args.keras_only and args.paired:
        configs = [("paired", None)]
    elif args.keras_only:
        configs = [("keras", None)]
    else:
        configs = [("torch", v) for v in args.variants]
    out = []
    for name in args.models:
        batch = args.batch or BATCH.get(name, (128, ""))[0]
        base = {"model": name, "batch": batch, "steps": args.steps, "warmup": args.warmup}
        for kind, variant in configs:
            try:
                if kind == "paired":
                    rs = run_paired(name, batch, args.steps, args.warmup, args.keras_jit, args.variants)
                elif kind == "keras":
                    rs = [run_keras(name, batch, args.steps, args.warmup, args.keras_jit)]
                else:
                    rs = [run_torch(name, variant, batch, args.steps, args.warmup)]
                for r in rs:
                    r["status"] = "ok"
            except Exception as e:  # record, do not abort the benchmark
                rs = [_failure("keras" if kind == "paired" else kind, variant, e)]
            for r in rs:
                r.update(base)
                r["peak_rss_process_mb"] = _peak_rss_mb()
                # the Keras cell of a paired process: its peak before the PyTorch references were built
                r["peak_rss_mb"] = r.get("peak_rss_keras_alone_mb") or r["peak_rss_process_mb"]
                print("RESULT " + json.dumps(r), flush=True)
                out.append(r)
    return out


# ---------------------------------------------------------------------------------------------- parent
def _spawn(cmd_args, env_extra, timeout):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3", **env_extra)
    t0 = time.time()
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve())] + cmd_args, env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timeout after {timeout} s", time.time() - t0
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    err = None if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    return results, err, time.time() - t0


def _fmt(v, digits=3):
    return "—" if v is None else f"{v:.{digits}f}"


def _resolved_jit(res):
    seen = {}
    for r in res:
        if r.get("framework") == "keras" and r.get("status") == "ok":
            seen.setdefault(r["config"][6:], set()).add(str(r.get("jit_compile")))
    return ", ".join(f"{b}={'/'.join(sorted(v))}" for b, v in seen.items()) or "n/a"


def write_markdown(data, path):
    res = data["results"]
    configs = [f"torch_{v}" for v in TORCH_VARIANTS] + [f"keras_{b}" for b in KERAS_BACKENDS]
    by = {(r["model"], r["config"]): r for r in res}
    models = list(dict.fromkeys(r["model"] for r in res))
    m = data["meta"]
    lines = [
        "# Training-step time: Keras (keras_mobilenets) vs plain PyTorch",
        "",
        f"Generated by `benchmarks/train_step.py` on {m['date']} ({m['platform']}, {m['cpu_count']} logical CPUs), "
        f"{m['steps']} timed steps after {m['warmup']} warm-up steps, median seconds per step "
        "(forward + backward + SGD momentum 0.9 update, fixed in-memory batch).",
        "",
        f"**Load caveat:** {m['load_note']} Load average before/after: {m['loadavg_start']} / {m['loadavg_end']}.",
        "Treat the numbers as rough ratios, not absolute throughput.",
        "",
        "| model | batch | " + " | ".join(configs) + " | best torch | Keras TF / best | Keras JAX / best | Keras torch / best |",
        "|---|---|" + "---|" * (len(configs) + 4),
    ]
    for model in models:
        cells, meds = [], {}
        batch = next(r["batch"] for r in res if r["model"] == model)
        for c in configs:
            r = by.get((model, c))
            if r is None:
                cells.append("n/r")
            elif r.get("status") != "ok":
                cells.append("failed" if r.get("status") == "failed" else r.get("status", "?"))
            else:
                meds[c] = r["median_s"]
                cells.append(_fmt(r["median_s"]))
        torch_meds = {c: v for c, v in meds.items() if c.startswith("torch_")}
        best = min(torch_meds.items(), key=lambda kv: kv[1]) if torch_meds else None
        ratios = []
        for b in KERAS_BACKENDS:
            k = meds.get(f"keras_{b}")
            kr = by.get((model, f"keras_{b}"), {})
            # vs the PyTorch variant that was fastest in the same process
            paired = {v: by[(model, f"paired_torch_{v}_{b}")]["median_s"] for v in TORCH_VARIANTS
                      if f"ratio_vs_torch_{v}" in kr and (model, f"paired_torch_{v}_{b}") in by}
            if k is not None and paired:
                ratios.append(f"**{kr['ratio_vs_torch_' + min(paired, key=paired.get)]:.2f}**")
            else:
                ratios.append("—" if (k is None or best is None) else f"{k / best[1]:.2f}")
        best_cell = "—" if best is None else f"{_fmt(best[1])} ({best[0][6:]})"
        lines.append(f"| {model} | {batch} | " + " | ".join(cells) + f" | {best_cell} | " + " | ".join(ratios) + " |")
    paired = [r for r in res if r.get("framework") == "keras" and r.get("status") == "ok"
              and any(k.startswith("ratio_vs_torch_") for k in r)]
    if paired:
        lines += ["", "Same process, alternating steps (each PyTorch variant's step, then Keras' step, repeated; the "
                  "**bold** ratios above are against the variant that was faster here): median seconds per step "
                  "and the median over rounds of Keras / PyTorch:", "",
                  "| model | Keras backend | Keras | PyTorch eager | PyTorch channels_last | Keras / eager | "
                  "Keras / channels_last |", "|---|---|---:|---:|---:|---:|---:|"]
        for r in paired:
            b = r["config"][len("keras_"):]
            tm_ = {v: by.get((r["model"], f"paired_torch_{v}_{b}"), {}).get("median_s") for v in ("eager", "channels_last")}
            lines.append(f"| {r['model']} | {b} | {_fmt(r['median_s'])} | {_fmt(tm_['eager'])} | "
                         f"{_fmt(tm_['channels_last'])} | {r.get('ratio_vs_torch_eager', float('nan')):.2f} | "
                         f"{r.get('ratio_vs_torch_channels_last', float('nan')):.2f} |")
    lines += ["", "Peak RSS (MiB, whole process incl. framework imports; one process per cell; keras_torch: its process's peak "
              "after two Keras steps, before the paired PyTorch references were built in it):", "",
              "| model | " + " | ".join(configs) + " |", "|---|" + "---|" * len(configs)]
    for model in models:
        cells = []
        for c in configs:
            r = by.get((model, c))
            cells.append("n/r" if r is None or r.get("peak_rss_mb") is None else f"{r['peak_rss_mb']:.0f}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", "First step (s; includes tracing / XLA or inductor compilation):", "",
              "| model | " + " | ".join(configs) + " |", "|---|" + "---|" * len(configs)]
    for model in models:
        cells = []
        for c in configs:
            r = by.get((model, c))
            cells.append("n/r" if r is None or r.get("status") != "ok" else _fmt(r["first_step_s"], 1))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    failures = [r for r in res if r.get("status") != "ok"]
    if failures:
        lines += ["", "Failures:", ""]
        for r in failures:
            lines.append(f"- {r['model']} / {r['config']}: {r.get('error', r.get('status'))[:300]}")
    notes = sorted({(r["model"], BATCH.get(r["model"], (0, ""))[1]) for r in res})
    if not m.get("complete", True):
        lines += ["", "**Partial run** (not every requested model finished)."]
    lines += ["", "Notes:", "",
              "- `n/r` = not run; `failed` = see Failures. Keras: `model.compile(jit_compile=...)` with the value "
              f"given by `--keras-jit` (resolved `model.jit_compile` per backend: {_resolved_jit(res)}); "
              "torch `compile` = `torch.compile(model)` (inductor), optimizer step eager.",
              "- No weight decay on either side; BN/dropout in training mode; CE loss (MSE for the 42-value "
              "keypoint regressor mobilenet_v3_small_42); Keras models without the preprocessing layer.",
              "- Ratio = Keras median / fastest PyTorch variant's median (> 1: Keras slower)."]
    for model, note in notes:
        if note:
            lines.append(f"- {model}: batch — {note}.")
    path.write_text("\n".join(lines) + "\n")


def _write(args, results, started, load_start):
    import datetime

    import torch

    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "steps": args.steps,
        "warmup": args.warmup,
        "loadavg_start": [round(v, 2) for v in load_start],
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "wall_s": round(time.time() - started, 1),
        "load_note": args.load_note,
        "batches": {m: args.batch or BATCH.get(m, (128, ""))[0] for m in args.models},
        "complete": len({r["model"] for r in results}) == len(args.models),
    }
    data = {"meta": meta, "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    write_markdown(data, out.with_suffix(".md"))
    return out


def _parent_main(args):
    started = time.time()
    load_start = os.getloadavg()
    results = []
    for name in args.models:
        batch = args.batch or BATCH.get(name, (128, ""))[0]
        common = ["--models", name, "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch", str(batch)]
        jobs = []
        if not args.skip_torch:
            jobs += [(["--torch-only", "--variants", v], {}, f"torch_{v}") for v in args.variants]
        if not args.skip_keras:
            paired = ["--paired", "--variants", ",".join(args.paired_variants)] if args.paired_variants else []
            # paired only with Keras' torch backend: in a TF / JAX process their idle thread pools slow PyTorch's
            # steps down (measured: 2-3x on mobilenet_v1_julia_a0.1_cifar100), which would flatter Keras
            jobs += [(["--keras-only", "--keras-jit", args.keras_jit] + (paired if b == "torch" else []),
                      {"KERAS_BACKEND": b}, f"keras_{b}") for b in args.backends]
        for extra, env, cfg in jobs:
            rs, err, wall = _spawn(common + extra, env, args.timeout)
            if not rs:
                rs = [{"model": name, "batch": batch, "config": cfg, "framework": cfg.split("_")[0],
                       "status": "timeout" if err and err.startswith("timeout") else "failed", "error": err}]
            for r in rs:
                r["process_wall_s"] = wall
                results.append(r)
                med = r.get("median_s")
                print(f"{name:38s} {r['config']:20s} {r['status']:8s} "
                      f"median {'-' if med is None else f'{med:.4f}'} s  peak RSS {r.get('peak_rss_mb') or 0:.0f} MiB",
                      flush=True)
        out = _write(args, results, started, load_start)  # after every model: partial results survive
    print(f"wrote {out} and {out.with_suffix('.md')}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=lambda s: s.split(","), default=DEFAULT_MODELS,
                   help="comma-separated registry names (default: the seven write-up training configurations)")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (compilation happens here)")
    p.add_argument("--batch", type=int, default=None, help="override every model's batch size")
    p.add_argument("--variants", type=lambda s: s.split(","), default=list(TORCH_VARIANTS),
                   help="torch variants: eager,channels_last,compile (compile_channels_last also accepted)")
    p.add_argument("--backends", type=lambda s: s.split(","), default=list(KERAS_BACKENDS))
    p.add_argument("--keras-jit", default="auto", choices=["auto", "true", "false"])
    p.add_argument("--keras-only", action="store_true", help="child mode: time the Keras model on $KERAS_BACKEND")
    p.add_argument("--torch-only", action="store_true", help="child mode: time the PyTorch references")
    p.add_argument("--paired-variants", type=lambda s: [v for v in s.split(",") if v],
                   default=["eager", "channels_last"],
                   help="PyTorch variants timed in the same process as each Keras backend, alternating steps (the "
                        "ratios in the table); empty = none")
    p.add_argument("--paired", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--skip-keras", action="store_true")
    p.add_argument("--timeout", type=float, default=1800, help="per-subprocess timeout (s)")
    p.add_argument("--out", default=str(RESULTS / "train_step.json"))
    p.add_argument("--load-note", default="timed on a 2-core machine shared with other jobs; other processes "
                   "were competing for the CPUs during the run.")
    args = p.parse_args(argv)
    if args.torch_only:  # before torch allocates anything; Keras children get it from `import keras_mobilenets`
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _results import tune_allocator_without_keras

        MALLOC_TUNING.update(tune_allocator_without_keras())
    if args.keras_only or args.torch_only:
        _child_main(args)
    else:
        _parent_main(args)


if __name__ == "__main__":
    main()
