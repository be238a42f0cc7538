"""Keras (TF / JAX) vs plain PyTorch ``channels_last`` training steps in alternating processes, round by round.

    python benchmarks/alternating.py --models mobilenet_v3_small_42,mobilenet_v1_julia_a0.1_cifar100 --rounds 3

``train_step.py`` times every cell once, in its own process, one after another; on a host whose speed drifts by
±15-30 % from minute to minute, a TF or JAX ratio against a PyTorch cell timed minutes earlier carries that drift
(Keras-torch is paired with PyTorch inside one process there, but TF's and JAX's idle thread pools slow PyTorch
down when they share a process). This script runs, per model and round, one Keras process and then one PyTorch
``channels_last`` process back to back (``train_step.py``'s own child modes: same networks, batches, steps and
optimizer), and reports each round's ratio Keras / PyTorch and their median: drift between rounds cancels, and
the spread shows how far one round can be trusted.

Writes ``benchmarks/results/alternating.{json,md}`` (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_step as ts  # noqa: E402
from _results import provenance, run_meta, save  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
# the write-up networks of the README's train-step table, at their training batches (train_step.BATCH)
MODELS = ("custom_mobilenet_cifar10", "mobilenet_v1_cifar10_baseline", "mobilenet_v1_julia_a0.1_cifar100",
          "cheap_v3_cifar100", "mbv2_blog_a_cifar10", "mobilenet_v3_small_42")


def measure(name: str, backend: str, rounds: int, steps: int, warmup: int, timeout: float) -> dict:
    batch = ts.BATCH.get(name, (128, ""))[0]
    common = ["--models", name, "--steps", str(steps), "--warmup", str(warmup), "--batch", str(batch)]
    keras_s, torch_s, errors = [], [], []
    for _ in range(rounds):
        pair = []
        for extra, env in ((["--keras-only"], {"KERAS_BACKEND": backend}),
                           (["--torch-only", "--variants", "channels_last"], {})):
            rs, err, _ = ts._spawn(common + extra, env, timeout)
            ok = [r for r in rs or [] if r.get("status") == "ok"]
            if not ok:
                errors.append(err or (rs[0].get("error") if rs else "no result"))
                break
            pair.append(ok[0]["median_s"])
        if len(pair) == 2:
            keras_s.append(pair[0])
            torch_s.append(pair[1])
    ratios = [k / t for k, t in zip(keras_s, torch_s)]
    return {"model": name, "backend": backend, "batch": batch, "keras_s": keras_s, "torch_channels_last_s": torch_s,
            "ratios": ratios, "median_ratio": statistics.median(ratios) if ratios else None, "errors": errors}


def _join(values, digits: int) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def write_markdown(payload: dict, path: Path) -> None:
    m = payload["meta"]
    lines = ["# Keras vs PyTorch channels_last training step, alternating processes", "",
             provenance(m) + f" {m['rounds']} rounds per cell; each round one Keras process then one PyTorch process, "
             f"each the median of {m['steps']} steps after {m['warmup']} warm-up steps.", "",
             "| model (batch) | Keras backend | Keras s per round | PyTorch channels_last s per round | "
             "ratio per round | median ratio |", "|---|---|---|---|---|---:|"]
    for r in payload["results"]:
        med = "failed: " + "; ".join(map(str, r["errors"]))[:200] if r["median_ratio"] is None else \
            f"**{r['median_ratio']:.2f}×**"
        lines.append(f"| `{r['model']}` ({r['batch']}) | {r['backend']} | {_join(r['keras_s'], 4)} | "
                     f"{_join(r['torch_channels_last_s'], 4)} | {_join(r['ratios'], 2)} | {med} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=lambda s: [v for v in s.split(",") if v], default=list(MODELS))
    p.add_argument("--backends", type=lambda s: [v for v in s.split(",") if v], default=["tensorflow", "jax"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--timeout", type=float, default=900.0, help="per-process timeout (s)")
    p.add_argument("--out", default=str(RESULTS / "alternating.json"))
    args = p.parse_args(argv)
    for name in args.models:
        if name not in ts.BATCH:
            raise SystemExit(f"--models: {name!r} has no training configuration; one of {', '.join(ts.BATCH)}")
    for b in args.backends:
        if b not in ("tensorflow", "jax"):
            raise SystemExit(f"--backends: {b!r} is not tensorflow or jax (torch is paired in one process by "
                             "train_step.py)")
    if args.rounds < 1:
        raise SystemExit(f"--rounds: at least 1, got {args.rounds}")
    meta = run_meta("alternating.py", argv, rounds=args.rounds, steps=args.steps, warmup=args.warmup)
    results = []
    for name in args.models:
        for backend in args.backends:
            r = measure(name, backend, args.rounds, args.steps, args.warmup, args.timeout)
            print(f"{name:36s} {backend:10s} ratios {[round(v, 2) for v in r['ratios']]} median "
                  f"{r['median_ratio'] if r['median_ratio'] is None else round(r['median_ratio'], 3)}", flush=True)
            results.append(r)
            save({"meta": meta, "results": results}, args.out, write_markdown)  # partial results survive
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
