"""Keep freed memory in the process: glibc ``malloc`` settings that stop training steps from page-faulting.

A training step of these networks allocates and frees activations of tens to hundreds of MB. glibc's default
``malloc`` serves blocks above 32 MB with fresh ``mmap`` pages, trims the heap top back to the kernel once it holds
more than a few MB free, and gives each thread its own arena. So the next step touches brand-new pages again and
the kernel has to fault in and zero every one of them. Measured here (CustomMobileNet, batch 500, 2 cores, one
``train_on_batch``): Keras on torch 84,000 page faults and 1.34 s per step (plain PyTorch 0 faults, 1.09 s); Keras
on JAX 1.4-1.7 million page faults and 5.8-6.9 s per step. With the three settings below: 2 faults, 1.05 s (torch)
and 0 faults, 3.5 s (JAX). TensorFlow's own allocator already avoids the faults.

The settings (``mallopt``, the same as the ``MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1``
environment variables, but applied from inside the process):

* ``M_ARENA_MAX = 1``: one arena, so memory freed by one thread is reused by the next allocation of any thread;
* ``M_MMAP_MAX = 0``: large blocks come from the heap and are reused instead of being unmapped on ``free``;
* ``M_TRIM_THRESHOLD = -1``: never hand the heap top back to the kernel.

The cost: the process keeps its peak heap until it exits (resident memory does not shrink after a large step).
On JAX the peak is also larger and varies from run to run (measured, cheap V3 batch 128: 6.5-17.2 GB RSS tuned,
6.6-6.7 GB with the system defaults, which ran 1.7x slower per step); set the variable below if RAM is short.
``import keras_mobilenets`` applies them on Linux with glibc, as early as it can (before Keras and the backends
are imported, when it is imported first). Set ``KERAS_MOBILENETS_MALLOC=system`` to keep the system defaults.

This module imports nothing but the standard library, so a plain PyTorch benchmark can load it by path too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

ENV = "KERAS_MOBILENETS_MALLOC"
# glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
SETTINGS = {"M_ARENA_MAX": (M_ARENA_MAX, 1), "M_MMAP_MAX": (M_MMAP_MAX, 0), "M_TRIM_THRESHOLD": (M_TRIM_THRESHOLD, -1)}

_applied: dict | None = None


def _glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def tune() -> dict:
    """Apply the settings above (once per process); return ``{setting: applied?}``, empty where they do not apply
    (not glibc, or ``KERAS_MOBILENETS_MALLOC=system``)."""
    global _applied
    if _applied is not None:
        return dict(_applied)
    mode = os.environ.get(ENV, "tuned").strip().lower()
    if mode not in ("tuned", "system"):
        raise ValueError(f"{ENV}={mode!r}: allowed values are 'tuned' (default) and 'system'.")
    libc = _glibc()
    if libc is None or mode == "system":
        _applied = {}
    else:
        _applied = {name: bool(libc.mallopt(param, value)) for name, (param, value) in SETTINGS.items()}
    return dict(_applied)


def applied() -> dict:
    """What :func:`tune` set in this process (empty if nothing, or if it has not run)."""
    return dict(_applied or {})
