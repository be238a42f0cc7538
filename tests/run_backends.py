"""Run the test suite once per Keras backend, each backend in its own processes; one summary line per backend.

Each backend's test files are split into three shards (``SHARDS``) and the shards run from one queue, at most
``--jobs`` processes at a time (default 2, one per core), longest shard first (``EXPECTED_SECONDS``). Three at a
time on 2 cores took more CPU for about the same wall time (same tests: 3 jobs 1,375 s wall, 2,606 s user CPU
with the venv install; 2 jobs 1,346 s, 2,390 s without it); the export shards' TensorFlow subprocesses fill the
idle time anyway. With one process per
backend the run ended with JAX alone on one core while the other sat idle (measured: TF done at 22 min, torch at
17, JAX at 31); with shards in backend order the torch export shard still ran its last 5 minutes alone (CPU use
171 % of 200 %), hence the longest-first order. JAX processes share one fresh persistent compilation cache.
Processes get ``cores // jobs`` (at least 1) intra-op threads each (``--threads`` overrides): on 2 cores, concurrent processes
with default thread pools oversubscribe the CPU, and spinning OpenMP / Eigen workers made a concurrent run 2x
slower than with one thread per process (measured: two concurrent torch recipe tests 135-143 s each with default
threads, 57-83 s with ``OMP_NUM_THREADS=1``). ``--serial`` runs one process at a time with all threads.
Shard output goes to ``.test-logs/<backend>-<shard>.log`` and is printed when the shard finishes.
Exit status is non-zero if any shard fails or a backend collects no tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "tensorflow", "torch")
LOGS = REPO / ".test-logs"
JAX_CACHE = LOGS / "jax-cache"
# Three shards per backend. With two (variants + models + training + torch reference in one), JAX's second shard
# alone ran 27 of the 29 minutes (clean-clone run on this machine); JAX's every-variant test is its largest file.
SHARDS = {
    "variants": ["tests/test_variants.py"],
    "export": ["tests/test_export.py", "tests/test_recipes.py", "tests/test_saved_models.py", "tests/test_data.py",
               "tests/test_schedules.py"],
    "models": ["tests/test_models.py", "tests/test_training.py", "tests/test_torch_reference.py",
               "tests/test_native.py"],
}


# Queue order: longest shard first (LPT), so that the last minutes are not one long shard alone on one core.
# Seconds per shard from the last full run on this machine (2 processes on 2 cores); unknown shards go last.
EXPECTED_SECONDS = {  # clean clone 2026-12-05 00:44, with the fp32 TFLite regeneration of shipped models (suite 964 s)
    ("tensorflow", "export"): 418, ("jax", "export"): 371, ("jax", "models"): 300, ("jax", "variants"): 299,
    ("torch", "export"): 170, ("tensorflow", "models"): 122, ("torch", "models"): 67, ("tensorflow", "variants"): 58,
    ("torch", "variants"): 39,
}


# Extra environment per shard. JAX's variants shard compiles one training step and one inference program for each
# of the 29 registry networks and runs each once: compiling is nearly all of its time. Two XLA CPU compiler options
# make that much cheaper (measured, 4 networks in one process, one thread, train step + predict: 90 s with XLA's
# defaults, 67 s with LLVM optimisation level 0, 76 s without the new fusion emitters, 36 s with both). The other
# shards run many steps per compiled program and keep XLA's defaults, as do benchmarks and users.
SHARD_ENV = {("jax", "variants"): {"XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"}}


def shards(extra) -> dict:
    """``SHARDS`` plus any test file they do not list (in the last shard); one shard if `extra` names test paths."""
    if any(a.endswith(".py") or "::" in a or Path(a).is_dir() for a in extra if not a.startswith("-")):
        return {"all": []}
    listed = {f for files in SHARDS.values() for f in files}
    unlisted = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*.py")
                      if str(p.relative_to(REPO)) not in listed)
    out = {k: list(v) for k, v in SHARDS.items()}
    out[list(out)[-1]] += unlisted
    return out


def thread_env(threads: int) -> dict:
    """Environment that caps every runtime's intra-op pool (TF, XLA/JAX, torch/OpenMP, MKL) at `threads`."""
    n = str(threads)
    xla = os.environ.get("XLA_FLAGS", "")
    if threads == 1:  # (XLA stops reading XLA_FLAGS at a token that is not a flag: only --flags here)
        xla = f"{xla} --xla_cpu_multi_thread_eigen=false".strip()
    return dict(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS=n,
                XLA_FLAGS=xla)


def start(backend, shard, files, extra, threads=0):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3",
               JAX_COMPILATION_CACHE_DIR=str(JAX_CACHE))  # one fresh cache for all shards (see conftest.py)
    if threads:
        env.update(thread_env(threads))
    for key, value in SHARD_ENV.get((backend, shard), {}).items():
        env[key] = f"{env.get(key, '')} {value}".strip()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
           "--durations=10", *files, *extra]
    LOGS.mkdir(exist_ok=True)
    log = open(LOGS / f"{backend}-{shard}.log", "w")
    print(f"=== start KERAS_BACKEND={backend} shard {shard} ({len(files)} files{f', {threads} thread(s)' if threads else ''}"
          f"; log {LOGS.name}/{backend}-{shard}.log)", flush=True)
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True), log, time.time()


def collect(backend, shard, proc, log, started):
    """Shard result: (backend, exit code, counts, seconds); prints the shard's output."""
    code = proc.wait()
    log.close()
    text = (LOGS / f"{backend}-{shard}.log").read_text()
    print(f"\n=== KERAS_BACKEND={backend} shard {shard} output ({time.time() - started:.0f} s)\n{text}", flush=True)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    counts = {k.rstrip("s") if k.startswith("error") else k: int(v)
              for v, k in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected)", last)}
    return code, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--serial", action="store_true", help="one process at a time")
    parser.add_argument("--jobs", type=int, default=2, help="concurrent test processes")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads per process (default: cores // jobs; serial: all)")
    args, extra = parser.parse_known_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    jobs = 1 if args.serial else max(1, args.jobs)
    threads = args.threads or (0 if args.serial else max(1, cores // jobs))
    queue = [(b, s, files) for b in args.backends for s, files in shards(extra).items()]
    queue.sort(key=lambda q: -EXPECTED_SECONDS.get(q[:2], 0))
    shutil.rmtree(JAX_CACHE, ignore_errors=True)  # timings and results never depend on an earlier run
    t0 = time.time()
    running, done = [], {b: [] for b in args.backends}
    finished_at = {}
    while queue or running:
        while queue and len(running) < jobs:
            b, s, files = queue.pop(0)
            running.append((b, s, *start(b, s, files, extra, threads)))
        time.sleep(1)
        for r in [r for r in running if r[2].poll() is not None]:
            running.remove(r)
            done[r[0]].append(collect(*r))
            finished_at[r[0]] = time.time() - t0
    print(f"\n=== summary ({time.time() - t0:.0f} s wall)")
    all_ok = True
    for b in args.backends:
        total = {}
        for _, counts in done[b]:
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v
        ran = sum(total.get(k, 0) for k in ("passed", "failed", "error"))
        # exit code 5 = a shard collected nothing (e.g. under -k); the backend still has to run something
        ok = all(code in (0, 5) for code, _ in done[b]) and ran > 0 and not total.get("failed") and not total.get("error")
        all_ok &= ok
        summary = ", ".join(f"{v} {k}" for k, v in total.items())
        print(f"{b:<11} {'PASS' if ok else 'FAIL'}  {summary}  (done at {finished_at[b]:.0f} s)")
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
