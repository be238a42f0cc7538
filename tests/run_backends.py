"""Run the test suite once per Keras backend, each in its own process; one summary line per backend.

The three backends run concurrently by default (much of a test run is single-threaded tracing and XLA
compilation, so on 2 cores this roughly halves the wall time); ``--serial`` runs them one after another.
Concurrent processes get ``cores // processes`` (at least 1) intra-op threads each (``--threads`` overrides):
on 2 cores three processes with default thread pools oversubscribe the CPU, and spinning OpenMP / Eigen workers
made a concurrent run 2x slower than with one thread per process (measured: two concurrent torch recipe
tests 135-143 s each with default threads, 57-83 s with ``OMP_NUM_THREADS=1``).
Each backend's output goes to ``.test-logs/<backend>.log`` and is printed when it finishes.
Exit status is non-zero if any backend fails or collects no tests.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")
LOGS = REPO / ".test-logs"


def thread_env(threads: int) -> dict:
    """Environment that caps every runtime's intra-op pool (TF, XLA/JAX, torch/OpenMP, MKL) at `threads`."""
    n = str(threads)
    xla = os.environ.get("XLA_FLAGS", "")
    if threads == 1:
        xla = f"{xla} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
    return dict(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS=n,
                XLA_FLAGS=xla)


def start(backend, extra, threads=0):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    if threads:
        env.update(thread_env(threads))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
           "--durations=10", *extra]
    LOGS.mkdir(exist_ok=True)
    log = open(LOGS / f"{backend}.log", "w")
    print(f"=== KERAS_BACKEND={backend}: {' '.join(cmd[2:])}  (log: {LOGS.name}/{backend}.log"
          f"{f', {threads} thread(s)' if threads else ''})", flush=True)
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True), log, time.time()


def finish(backend, proc, log, started):
    code = proc.wait()
    log.close()
    text = (LOGS / f"{backend}.log").read_text()
    print(f"\n=== KERAS_BACKEND={backend} output\n{text}", flush=True)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected)", last)}
    ran = sum(counts.get(k, 0) for k in ("passed", "failed", "error", "errors"))
    ok = code == 0 and ran > 0
    return ok, f"{backend:<11} {'PASS' if ok else 'FAIL'}  {last.strip('= ')}  ({time.time() - started:.0f} s)"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--serial", action="store_true", help="one backend at a time")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads per process (default: cores // concurrent processes; serial: all)")
    args, extra = parser.parse_known_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = args.threads or (0 if args.serial else max(1, cores // len(args.backends)))
    t0 = time.time()
    results = []
    if args.serial:
        for b in args.backends:
            results.append(finish(b, *start(b, extra, threads)))
    else:
        running = [(b, *start(b, extra, threads)) for b in args.backends]
        results = [finish(*r) for r in running]
    print(f"\n=== summary ({time.time() - t0:.0f} s wall)")
    for _, line in results:
        print(line)
    sys.exit(0 if all(ok for ok, _ in results) else 1)


if __name__ == "__main__":
    main()
