"""Native CPU kernels for the JAX backend, compiled on first use through the XLA FFI: depthwise convolution,
training-mode batch normalisation (optionally with the ReLU / ReLU6 / hard-swish after it in the same
passes), and the forward and kernel gradient of a dense convolution over few input channels (the stems).

Why: XLA:CPU has no fast depthwise convolution. Its ``feature_group_count = C`` convolution is 4-11x slower than a
sum of shifted slices (``layers.shift_add_depthwise``), and the shifted-slice form still materialises a padded
slice per tap and reduces over N·H·W once per tap for the kernel gradient. ``kernels.cc`` computes forward,
input gradient and kernel gradient (NHWC, float32, depth multiplier 1, no dilation) in one pass each, row by row
on XLA's intra-op thread pool, with per-thread double accumulators for the kernel gradient: 2.3-3.7x faster than
shift-and-add for forward + backward on MobileNet layer shapes (``python benchmarks/depthwise.py``).
Training-mode batch norm from Keras' ops is ~10 elementwise ops and two reductions forward and more backward, each
a pass over the tensor as XLA:CPU compiles it; the native kernels take two passes forward (statistics, output)
and two backward (the two sums, the input gradient): a whole MobileNet training step 0.87-0.90x the time with
Keras' ops (CustomMobileNet batch 500, MobileNetV3-Small batch 32, the blog MobileNetV2 batch 50; alternating
steps in one process).

The source ships with the package and is compiled with the C++ compiler ``$CXX`` (default ``g++``) against the
XLA FFI headers that jaxlib ships, with ``-march=native -mtune=generic``, into ``$KERAS_MOBILENETS_CACHE`` (default
``~/.cache/keras_mobilenets``) under a name that hashes the source, the flags and this CPU's feature flags, so a
cache shared between different machines never loads a binary built for another CPU. It is written to a temporary
file and renamed, so processes compiling at the same time never see half a library. If there is no compiler or
the build fails, :func:`available` warns once and returns False and the package uses shift-and-add and Keras'
batch norm ops (same numbers to float rounding, slower). ``KERAS_MOBILENETS_NATIVE=0`` turns the kernels off.
Work is handed to the threads in blocks of rows of about 16K floats (not one image row each), and a row's interior
columns (every tap inside the image) run with fixed tap offsets instead of a pointer pair per tap and pixel: against
one row per item and per-pixel pointers, depthwise forward 0.34-0.55x and backward 0.39-0.63x the time on
CustomMobileNet's 500x32x32 maps, 0.23 / 0.38x on the width-0.1 V1's 128x16x16x8 (``python benchmarks/native_ab.py
OLD.cc NEW.cc``); whole training steps 0.91x (CustomMobileNet), 0.92x (width-0.1 V1), 0.98x (blog MobileNetV2
(a)) (the same script's ``--model`` mode, 4 alternating rounds).
``-mtune=generic`` and GCC vector types in the block sums, because GCC 12's cost model left the 16-channel sums
as mostly scalar code when tuning for the CPU: forward + backward of a 128x32x32x96 depthwise conv on 2 cores of
an AVX-512 AMD EPYC (GCC detects znver3) took 68 + 158 ms with ``-march=native`` and plain loops (58 + 127 ms
tuned for ``icelake-server``), 10 + 26 ms with ``-mtune=generic``, 7 + 19 ms with the vector types under either
tuning (``-march=x86-64-v3``, AVX2: 6 + 17 ms; ``x86-64-v2``: 9 + 25 ms).

The stems (a dense 3x3 / 5x5 convolution over 1-4 input channels, ``layers.NATIVE_CONV_MAX_CHANNELS``) have a
forward and a kernel-gradient kernel too: XLA:CPU turns that kernel gradient into a convolution over transposed
copies of x and dy. Measured on 2 cores of an AVX2 AMD EPYC (one jitted call, median): V3-Small's 32x224x224x3 ->
16 stride-2 stem forward 24-30 -> 11-16 ms, kernel gradient 22-27 -> 11-18 ms; CustomMobileNet's 500x32x32x3 -> 32
kernel gradient 100-112 -> 17-19 ms (forward 19 -> 15 ms); whole JAX training steps 0.94x (V3-Small, batch 32) and
0.93x (CustomMobileNet, batch 500), 4 alternating rounds each. The stem's input gradient stays XLA's transposed
convolution, which XLA drops as dead code when the input is the network's.

``-fno-trapping-math`` (it changes no result: the kernels never read floating-point exception flags) because
without it GCC 12 left the hard-swish loops scalar ("control flow in loop" for its min / max against constants):
BatchNorm + hard-swish forward on 32x56x56x72 took 2.1x the time of the plain BatchNorm, with the flag 1.0-1.2x
(one jitted call each, AVX2 AMD EPYC).

Limits: first-order gradients only (the backward kernels have no gradient of their own; ``jax.hessian`` through a
depthwise or training batch norm layer needs ``KERAS_MOBILENETS_NATIVE=0``); ``vmap`` runs a kernel once per
mapped element.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ENV_SWITCH = "KERAS_MOBILENETS_NATIVE"
ENV_CACHE = "KERAS_MOBILENETS_CACHE"
SOURCE = Path(__file__).with_name("kernels.cc")
FLAGS = ("-O3", "-march=native", "-mtune=generic", "-fno-trapping-math", "-std=c++17", "-fPIC", "-shared", "-w")
FORWARD_TARGET = "keras_mobilenets_depthwise_forward"
BACKWARD_TARGET = "keras_mobilenets_depthwise_backward"
BN_FORWARD_TARGET = "keras_mobilenets_batch_norm_forward"
BN_BACKWARD_TARGET = "keras_mobilenets_batch_norm_backward"
CONV_FORWARD_TARGET = "keras_mobilenets_conv_forward"
CONV_KERNEL_GRAD_TARGET = "keras_mobilenets_conv_kernel_grad"


class NativeBuildError(RuntimeError):
    """The native kernels could not be compiled or loaded (the message says which command and why)."""


def enabled() -> bool:
    """False when ``KERAS_MOBILENETS_NATIVE`` is ``0`` / ``false`` / ``off`` / ``no``."""
    value = os.environ.get(ENV_SWITCH, "1").strip().lower()
    if value in ("0", "false", "off", "no"):
        return False
    if value in ("1", "true", "on", "yes", ""):
        return True
    raise ValueError(f"{ENV_SWITCH}={value!r}: use 1 (native kernels, the default) or 0 (shift-and-add).")


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "keras_mobilenets")


def library_path(compiler: str, include_dir: str) -> Path:
    key = "\n".join([SOURCE.read_text(), compiler, " ".join(FLAGS), include_dir, _cpu_flags(), sys.version])
    return cache_dir() / f"kernels-{hashlib.sha256(key.encode()).hexdigest()[:16]}.so"


def build(compiler: str | None = None) -> Path:
    """Compile the native kernels (if not cached) and return the shared library's path."""
    import jax  # noqa: PLC0415

    compiler = compiler or os.environ.get("CXX") or "g++"
    include_dir = jax.ffi.include_dir()
    target = library_path(compiler, include_dir)
    if target.exists():
        return target
    if shutil.which(compiler) is None:
        raise NativeBuildError(f"no C++ compiler {compiler!r} on PATH (set CXX to one, e.g. g++ or clang++)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
    os.close(fd)
    command = [compiler, *FLAGS, "-I", include_dir, str(SOURCE), "-o", tmp]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise NativeBuildError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


@functools.cache
def _load() -> bool:
    import ctypes  # noqa: PLC0415

    import jax  # noqa: PLC0415

    library = ctypes.cdll.LoadLibrary(str(build()))
    jax.ffi.register_ffi_target(FORWARD_TARGET, jax.ffi.pycapsule(library.KmDepthwiseForward), platform="cpu")
    jax.ffi.register_ffi_target(BACKWARD_TARGET, jax.ffi.pycapsule(library.KmDepthwiseBackward), platform="cpu")
    jax.ffi.register_ffi_target(BN_FORWARD_TARGET, jax.ffi.pycapsule(library.KmBatchNormForward), platform="cpu")
    jax.ffi.register_ffi_target(BN_BACKWARD_TARGET, jax.ffi.pycapsule(library.KmBatchNormBackward), platform="cpu")
    jax.ffi.register_ffi_target(CONV_FORWARD_TARGET, jax.ffi.pycapsule(library.KmConvForward), platform="cpu")
    jax.ffi.register_ffi_target(CONV_KERNEL_GRAD_TARGET, jax.ffi.pycapsule(library.KmConvKernelGrad), platform="cpu")
    return True


@functools.cache
def available() -> bool:
    """True when the native kernels are on and built (compiles them on the first call)."""
    if not enabled():
        return False
    try:
        return _load()
    except (NativeBuildError, OSError) as error:
        warnings.warn(f"keras_mobilenets: native kernels unavailable, using shift-and-add and Keras' batch norm ops ({error})",
                      RuntimeWarning, stacklevel=2)
        return False


def _attributes(strides, pads):
    import numpy as np  # noqa: PLC0415

    return {"sh": np.int64(strides[0]), "sw": np.int64(strides[1]), "pt": np.int64(pads[0]), "pl": np.int64(pads[1])}


def depthwise_forward(x, kernel, out_hw, strides, pads):
    """``y[n, oh, ow, c] = sum_ij x[n, oh*sh + i - pt, ow*sw + j - pl, c] * kernel[i, j, c, 0]`` (zeros outside
    ``x``); ``out_hw`` = (Ho, Wo), ``pads`` = (top, left) -- the bottom / right padding follows from them."""
    import jax  # noqa: PLC0415

    out = jax.ShapeDtypeStruct((x.shape[0], *out_hw, x.shape[3]), x.dtype)
    return jax.ffi.ffi_call(FORWARD_TARGET, out, vmap_method="sequential")(x, kernel, **_attributes(strides, pads))


def depthwise_backward(x, kernel, dy, strides, pads):
    """(dL/dx, dL/dkernel) of :func:`depthwise_forward` for the output cotangent ``dy``."""
    import jax  # noqa: PLC0415

    outs = (jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct(kernel.shape, kernel.dtype))
    dx, dk = jax.ffi.ffi_call(BACKWARD_TARGET, outs, vmap_method="sequential")(x, kernel, dy,
                                                                               **_attributes(strides, pads))
    return dx, dk


def conv_forward(x, kernel, out_hw, strides, pads):
    """A dense convolution (NHWC ``x``, HWIO ``kernel``, groups 1, no dilation): ``y[n, oh, ow, :] = sum_ijc x[n,
    oh*sh + i - pt, ow*sw + j - pl, c] * kernel[i, j, c, :]`` (zeros outside ``x``). Meant for few input channels
    (the stems): its sums run over the kh·kw·C taps of a pixel, vectorised over the output channels."""
    import jax  # noqa: PLC0415

    out = jax.ShapeDtypeStruct((x.shape[0], *out_hw, kernel.shape[3]), x.dtype)
    return jax.ffi.ffi_call(CONV_FORWARD_TARGET, out, vmap_method="sequential")(x, kernel, **_attributes(strides, pads))


def conv_kernel_grad(x, dy, kernel_shape, strides, pads):
    """dL/dkernel of :func:`conv_forward` for the output cotangent ``dy`` (``kernel_shape`` = (kh, kw, C, Co))."""
    import jax  # noqa: PLC0415

    out = jax.ShapeDtypeStruct(tuple(kernel_shape), x.dtype)
    return jax.ffi.ffi_call(CONV_KERNEL_GRAD_TARGET, out, vmap_method="sequential")(x, dy,
                                                                                    **_attributes(strides, pads))


HARD_SWISH = "hard_swish"


def _activation_attributes(activation):
    """The kernels' ``act`` / ``act_max`` attributes for ``activation``: None (no activation), a positive clip value
    (``inf``: ReLU, ``6.0``: ReLU6) or ``"hard_swish"``."""
    import numpy as np  # noqa: PLC0415

    if activation is None:
        return {"act": np.int32(0), "act_max": np.float32(-1.0)}
    if activation == HARD_SWISH:
        return {"act": np.int32(2), "act_max": np.float32(-1.0)}
    if isinstance(activation, str) or not activation > 0:
        raise ValueError("activation: a positive clip value (inf for a plain ReLU), 'hard_swish' or None for none; "
                         f"got {activation!r}")
    return {"act": np.int32(1), "act_max": np.float32(activation)}


def batch_norm_forward(x, gamma, beta, epsilon, activation=None):
    """Training batch norm over the last axis: (``(x - mean) / sqrt(var + epsilon) * gamma + beta``, mean, biased
    variance), the statistics over all other axes; with ``activation`` the output is the activation's, in the same
    pass: clipped to ``[0, activation]`` for a number (``inf``: ReLU, ``6.0``: ReLU6), or ``"hard_swish"``
    (``y * relu6(y + 3) / 6``)."""
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    stats = jax.ShapeDtypeStruct(gamma.shape, x.dtype)
    return jax.ffi.ffi_call(BN_FORWARD_TARGET, (jax.ShapeDtypeStruct(x.shape, x.dtype), stats, stats),
                            vmap_method="sequential")(x, gamma, beta, epsilon=np.float32(epsilon),
                                                      **_activation_attributes(activation))


def batch_norm_backward(x, gamma, beta, mean, var, dy, epsilon, activation=None):
    """(dL/dx, dL/dgamma, dL/dbeta) of :func:`batch_norm_forward`'s output for its cotangent ``dy`` (the batch
    statistics are functions of ``x``: their contribution is in dL/dx); with ``activation``, ``dy`` first goes
    through the activation's gradient at the pre-activation (recomputed from ``x``, ``mean``, ``var``), as JAX's
    autodiff of ``relu`` / ``relu6`` / the hard-swish formula gives it."""
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    stats = jax.ShapeDtypeStruct(gamma.shape, x.dtype)
    return jax.ffi.ffi_call(BN_BACKWARD_TARGET, (jax.ShapeDtypeStruct(x.shape, x.dtype), stats, stats),
                            vmap_method="sequential")(x, gamma, beta, mean, var, dy, epsilon=np.float32(epsilon),
                                                      **_activation_attributes(activation))
