"""Budget accuracy: write-up 000's CustomMobileNet policy, Keras recipe vs the write-up's plain PyTorch loop.

Both sides train ``custom_mobilenet_cifar10`` on ``cifar10.npz`` (50,000 training images) for the same wall-clock
budget with the same policy -- write-up 000: SGD momentum 0.9, lr 0.1 · 0.94^epoch (stepped per epoch), weight
decay 2.5e-3 (PyTorch's coupled L2), batch 500, mixup α = 1 (one λ per batch, the loss mixes the two labels'
cross-entropies), Pad(4) → RandomHorizontalFlip → RandomCrop(32), dropout 0.5, inputs scaled to [0, 1]
(``ToTensor``), the test split evaluated after every epoch (inside the budget, as the write-up's loop does).
The budget is checked after every training step on both sides.

* **PyTorch**: the write-up's loop re-implemented here on ``benchmarks/torch_models.CustomMobileNet`` (same
  blocks and He init), ``channels_last`` (PyTorch's fastest eager layout on this CPU for depthwise nets), the
  whole training set held as one uint8 tensor and augmented per batch with tensor ops (no DataLoader worker
  processes: torchvision is not installable beside the pinned CPU torch, and per-image PIL transforms would only
  slow the PyTorch side down).
  Both sides run with the package's glibc allocator settings (``keras_mobilenets/allocator.py``).
* **Keras**: ``recipes/w000_custom_mobilenet.py`` unchanged (``tf.data`` pipeline, ``model.fit``, checkpoints,
  TensorBoard) with ``--time-budget``, on the backend(s) given.

Each run is its own process, one after the other, so each has both cores. The figure of merit is the test
accuracy of the final weights when the budget runs out (full 10,000-image test split), plus the number of
training steps each side fitted into the budget.

    python benchmarks/budget_accuracy.py --budget 900 --keras-backends torch,tensorflow

Writes ``benchmarks/results/budget_accuracy.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import data_file, provenance, run_meta, save, tune_allocator_without_keras  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar10.npz"

# write-up 000, CustomMobileNet
POLICY = dict(lr=0.1, momentum=0.9, weight_decay=2.5e-3, batch_size=500, lr_gamma=0.94, mixup_alpha=1.0, pad=4,
              epochs=105)


# ------------------------------------------------------------------------------------------------ PyTorch side
def torch_loop(data: Path, budget: float, seed: int = 42, channels_last: bool = True) -> dict:
    """Write-up 000's training loop for CustomMobileNet, stopped after `budget` seconds of training."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(REPO))
    from benchmarks import torch_models as tm

    p = POLICY
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    d = np.load(data)
    x_train = torch.from_numpy(d["x_train"]).permute(0, 3, 1, 2).contiguous()  # uint8 NCHW
    y_train = torch.from_numpy(d["y_train"].astype(np.int64))
    x_test = torch.from_numpy(d["x_test"]).permute(0, 3, 1, 2).contiguous()
    y_test = torch.from_numpy(d["y_test"].astype(np.int64))
    n, b, pad = len(x_train), p["batch_size"], p["pad"]
    padded = F.pad(x_train, (pad, pad, pad, pad))  # Pad(4) with zeros, once
    side = x_train.shape[-1]
    ar = torch.arange(side)

    def augment(idx):  # RandomHorizontalFlip + RandomCrop(32) of the padded images, per image
        imgs = padded[idx]
        k = len(idx)
        rows = torch.randint(0, 2 * pad + 1, (k, 1)) + ar  # crop offsets
        cols = torch.randint(0, 2 * pad + 1, (k, 1)) + ar
        cols = torch.where(torch.rand(k, 1) < 0.5, cols.flip(1), cols)  # flipped crop = crop of the flipped image
        out = imgs.gather(2, rows[:, None, :, None].expand(k, 3, side, imgs.shape[-1]))
        out = out.gather(3, cols[:, None, None, :].expand(k, 3, side, side))
        return out.float().div_(255.0)

    model = tm.build("custom_mobilenet_cifar10", seed=seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"], weight_decay=p["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda e: p["lr_gamma"] ** e)

    @torch.no_grad()
    def evaluate():
        model.eval()
        correct = 0
        for i in range(0, len(x_test), b):
            xb = x_test[i:i + b].float().div_(255.0).contiguous(memory_format=fmt)
            correct += (model(xb).argmax(1) == y_test[i:i + b]).sum().item()
        model.train()
        return correct / len(x_test)

    history, steps, stopped = [], 0, False
    t0 = time.monotonic()
    for epoch in range(p["epochs"]):
        model.train()
        perm = torch.randperm(n)
        losses = []
        for i in range(0, n, b):
            idx = perm[i:i + b]
            x = augment(idx).contiguous(memory_format=fmt)
            y = y_train[idx]
            lam = float(rng.beta(p["mixup_alpha"], p["mixup_alpha"]))  # facebookresearch/mixup-cifar10
            j = torch.randperm(len(idx))
            out = model(lam * x + (1 - lam) * x[j])
            loss = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[j])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            steps += 1
            if time.monotonic() - t0 >= budget:
                stopped = True
                break
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_accuracy": evaluate(),
                        "lr": opt.param_groups[0]["lr"], "seconds": round(time.monotonic() - t0, 1)})
        print(json.dumps(history[-1]), flush=True)
        sched.step()
        if stopped:
            break
    seconds = time.monotonic() - t0
    return {"config": "pytorch_channels_last" if channels_last else "pytorch_eager", "framework": "torch",
            "torch_version": torch.__version__, "threads": torch.get_num_threads(),
            "test_accuracy": evaluate(), "best_val_accuracy": max(h["val_accuracy"] for h in history),
            "steps": steps, "epochs_run": len(history), "seconds": round(seconds, 1), "history": history,
            "params": tm.count_params(model)}


# ------------------------------------------------------------------------------------------------ Keras side
def keras_run(data: Path, budget: float, backend: str, run_dir: Path, seed: int = 42) -> dict:
    cmd = [sys.executable, str(REPO / "recipes" / "w000_custom_mobilenet.py"), "--data", str(data),
           "--time-budget", str(budget), "--restart-from-best-at", "0", "--seed", str(seed),
           "--run-dir", str(run_dir), "--verbose", "2"]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run(cmd, env=env, check=True, cwd=REPO)
    s = json.loads((run_dir / "summary.json").read_text())
    hist = s["history"]
    return {"config": f"keras_{backend}", "framework": "keras", "backend": backend,
            "test_accuracy": s["test_accuracy"], "best_val_accuracy": max(hist.get("val_accuracy", [0.0])),
            "steps": s.get("steps_run"), "epochs_run": s["epochs_run"], "seconds": s["seconds"],
            "history": [{"epoch": e, "loss": hist["loss"][e], "val_accuracy": hist["val_accuracy"][e],
                         "lr": hist.get("learning_rate", [None] * (e + 1))[e]} for e in range(len(hist["loss"]))],
            "params": s["params"]["trainable"], "command": " ".join(cmd[1:])}


# ------------------------------------------------------------------------------------------------ report
def write_markdown(data: dict, path: Path) -> None:
    m = data["meta"]
    lines = [
        "# Budget accuracy: write-up 000 CustomMobileNet, Keras recipe vs plain PyTorch loop", "",
        provenance(m) + f" Budget {m['budget']:.0f} s of training per run (per-epoch test evaluation inside it), "
        "each run in its own process with both cores, one after the other.", "",
        "| run | test accuracy (final weights) | best epoch test accuracy | steps in budget | epochs begun | "
        "images / s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        if "error" in r:
            lines.append(f"| {r['config']} | failed: {r['error']} | | | | |")
            continue
        ips = r["steps"] * POLICY["batch_size"] / m["budget"] if r.get("steps") else float("nan")
        lines.append(f"| {r['config']} | {100 * r['test_accuracy']:.2f} % | {100 * r['best_val_accuracy']:.2f} % | "
                     f"{r.get('steps')} | {r['epochs_run']} | {ips:.0f} |")
    lines += ["", "images / s = steps × 500 / budget (the per-epoch test evaluations run inside the budget).", ""]
    path.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="cifar10.npz (x_train/y_train/x_test/y_test uint8)")
    ap.add_argument("--budget", type=float, default=900.0, help="training seconds per run")
    ap.add_argument("--keras-backends", type=lambda s: [v for v in s.split(",") if v], default=["torch"],
                    help="comma-separated Keras backends to run the recipe on")
    ap.add_argument("--skip-torch", action="store_true", help="do not run the plain PyTorch loop")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default=str(RESULTS / "budget_accuracy.json"))
    ap.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    data = data_file(args.data)
    for b in args.keras_backends:
        if b not in ("tensorflow", "jax", "torch"):
            raise SystemExit(f"--keras-backends: {b!r} is not one of tensorflow, jax, torch")
    if args.torch_child:
        tune_allocator_without_keras()  # the recipe's process has it from `import keras_mobilenets`
        print("RESULT " + json.dumps(torch_loop(data, args.budget, args.seed)), flush=True)
        return

    meta = run_meta("budget_accuracy.py", argv, budget=args.budget, policy=POLICY, data=str(data))
    results = []
    if not args.skip_torch:
        proc = subprocess.run([sys.executable, __file__, "--torch-child", "--data", str(data), "--budget",
                               str(args.budget), "--seed", str(args.seed)], capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        results.append(json.loads(line[-1][7:]) if line else
                       {"config": "pytorch_channels_last", "error": proc.stderr.strip().splitlines()[-1:]})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for backend in args.keras_backends:
        run_dir = REPO / "runs" / "budget_accuracy" / f"{stamp}-{backend}"
        try:
            results.append(keras_run(data, args.budget, backend, run_dir, args.seed))
        except subprocess.CalledProcessError as e:
            results.append({"config": f"keras_{backend}", "error": f"exit {e.returncode}"})
    meta["load_after"] = [round(v, 2) for v in os.getloadavg()]
    save({"meta": meta, "results": results}, args.out, write_markdown)


if __name__ == "__main__":
    main()
