"""The few custom Keras layers the MobileNet variants need.

Every layer here is registered serialisable (``.keras`` files load with ``safe_mode=True``), uses only
``keras.ops`` (so it runs on TensorFlow, JAX and PyTorch) and lowers to TFLite builtin ops
(CONCATENATION, STRIDED_SLICE, RESHAPE, TRANSPOSE, MUL).
"""

from __future__ import annotations

import contextlib
import functools
import math

import keras
from keras import ops

PACKAGE = "keras_mobilenets"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelReplicate(keras.layers.Layer):
    """Parameter-free change of channel count by replication ("cheap operation").

    Output channel ``j`` is input channel ``offset + (j - C)`` for the tail and ``j mod C`` for the whole
    copies, i.e. ``concat([x] * (out // C) + [x[..., offset:offset + out % C]])``. With ``out < C`` the
    output is ``x[..., offset:offset + out]`` (the "first channels" shortcut of write-up 001).

    Args:
        out_channels: number of output channels (mutually exclusive with ``ratio``).
        ratio: output / input channels; fractional ratios are allowed (e.g. 1.5 for 16 -> 24).
        offset: first input channel of the partial copy (write-up 001 uses ``x[:, 32:64]`` for 64 -> 96).
    """

    def __init__(self, out_channels=None, ratio=None, offset=0, **kwargs):
        super().__init__(**kwargs)
        if (out_channels is None) == (ratio is None):
            raise ValueError(
                "ChannelReplicate: pass exactly one of `out_channels` (int > 0) or `ratio` (float > 0); "
                f"got out_channels={out_channels!r}, ratio={ratio!r}."
            )
        if out_channels is not None and int(out_channels) <= 0:
            raise ValueError(f"ChannelReplicate: `out_channels` must be a positive int, got {out_channels!r}.")
        if ratio is not None and float(ratio) <= 0:
            raise ValueError(f"ChannelReplicate: `ratio` must be > 0, got {ratio!r}.")
        if int(offset) < 0:
            raise ValueError(f"ChannelReplicate: `offset` must be >= 0, got {offset!r}.")
        self.out_channels = None if out_channels is None else int(out_channels)
        self.ratio = None if ratio is None else float(ratio)
        self.offset = int(offset)

    def _target(self, channels):
        if self.out_channels is not None:
            return self.out_channels
        out = self.ratio * channels
        if abs(out - round(out)) > 1e-6:
            raise ValueError(
                f"ChannelReplicate: ratio {self.ratio} times {channels} input channels is not an integer."
            )
        return int(round(out))

    def _plan(self, channels):
        out = self._target(channels)
        copies, rest = divmod(out, channels)
        if rest and self.offset + rest > channels:
            raise ValueError(
                f"ChannelReplicate: partial copy x[..., {self.offset}:{self.offset + rest}] exceeds the "
                f"{channels} input channels; choose `offset` <= {channels - rest}."
            )
        return copies, rest

    def build(self, input_shape):
        self._plan(input_shape[-1])

    def call(self, x):
        copies, rest = self._plan(int(x.shape[-1]))  # a static int also under torch.jit.trace (see predictor.py)
        parts = [x] * copies
        if rest:
            parts.append(x[..., self.offset : self.offset + rest])
        # at most 5 inputs per concatenation: TFLite's XNNPACK engine does not take a 6-way CONCATENATION
        while len(parts) > 1:
            parts = [p[0] if len(p) == 1 else ops.concatenate(p, axis=-1)
                     for p in (parts[i : i + 5] for i in range(0, len(parts), 5))]
        return parts[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self._target(input_shape[-1]),)

    def get_config(self):
        config = super().get_config()
        config.update(out_channels=self.out_channels, ratio=self.ratio, offset=self.offset)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class Reshape(keras.layers.Reshape):
    """``keras.layers.Reshape`` that writes the batch size as ``-1``.

    Keras' own layer builds the target shape from the runtime batch size; TFLite keeps that as a RESHAPE with a
    computed shape (plus SHAPE / STRIDED_SLICE / PACK ops), which its XNNPACK engine does not run, so the graph is
    cut in two. With ``-1`` the converter emits one static RESHAPE that XNNPACK runs.
    """

    def call(self, inputs):
        if -1 in self.target_shape:
            return super().call(inputs)
        return ops.reshape(inputs, (-1, *self.target_shape))


@keras.saving.register_keras_serializable(package=PACKAGE)
class WholeMapAveragePooling2D(keras.layers.AveragePooling2D):
    """``AveragePooling2D`` whose window is the whole feature map (write-up 000's ``F.avg_pool2d(x, 4)`` on 4x4),
    computed as a spatial mean: TFLite's MEAN runs in XNNPACK in int8, its AVERAGE_POOL_2D does not."""

    def call(self, inputs):
        if tuple(inputs.shape[1:3]) != tuple(self.pool_size):
            raise ValueError(f"{self.name}: pool_size {self.pool_size} must equal the feature map size "
                             f"{tuple(inputs.shape[1:3])}.")
        return ops.mean(inputs, axis=(1, 2), keepdims=True)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet channel shuffle for NHWC tensors: (..., g, C/g) -> swap -> (..., C)."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        if int(groups) < 1:
            raise ValueError(f"ChannelShuffle: `groups` must be a positive int, got {groups!r}.")
        self.groups = int(groups)

    def build(self, input_shape):
        if input_shape[-1] % self.groups:
            raise ValueError(
                f"ChannelShuffle: {input_shape[-1]} channels are not divisible by groups={self.groups}."
            )

    def call(self, x):
        if self.groups == 1:
            return x
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        x = ops.reshape(x, (-1, h, w, self.groups, c // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, h, w, c))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups)
        return config


@functools.cache
def _tf_fused_hard_activations():
    """TensorFlow, training: (hard_swish, hard_sigmoid) whose forward and gradient are each one XLA-compiled kernel.

    Keras runs a TensorFlow training step as a graph without XLA (``jit_compile="auto"`` is off on CPU, and XLA's
    convolutions are far slower there), so ``x * relu6(x + 3) / 6`` is four elementwise passes over the activation
    forward and five backward, each its own kernel; PyTorch has one fused kernel each way. These two functions
    call small ``jit_compile=True`` functions from inside that graph (TensorFlow compiles just them with XLA), with
    a hand-written gradient: MobileNetV3-Small's TF training step (batch 32, 224x224; three alternating rounds of
    ``benchmarks/train_step.py --keras-only``) 0.266-0.319 -> 0.252-0.292 s. The gradient is autodiff's of the plain formula: 1 for x >= 3, 0 for x <= -3,
    x / 3 + 1/2 between (hard-sigmoid: 1/6 strictly between -3 and 3). Used only with ``training=True``: an
    inference trace (export, ``predict``) keeps the plain ops, which TFLite's converter fuses into HARD_SWISH."""
    import tensorflow as tf  # noqa: PLC0415

    def gate(x):
        return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)

    @tf.function(jit_compile=True, autograph=False)
    def swish_forward(x):
        return x * gate(x)

    @tf.function(jit_compile=True, autograph=False)
    def swish_backward(x, g):
        slope = tf.where(x >= 3.0, tf.ones_like(x), tf.where(x <= -3.0, tf.zeros_like(x), x * (1.0 / 3.0) + 0.5))
        return g * slope

    @tf.function(jit_compile=True, autograph=False)
    def sigmoid_forward(x):
        return gate(x)

    @tf.function(jit_compile=True, autograph=False)
    def sigmoid_backward(x, g):
        return tf.where((x > -3.0) & (x < 3.0), g * (1.0 / 6.0), tf.zeros_like(g))

    @tf.custom_gradient
    def hard_swish(x):
        return swish_forward(x), lambda g: swish_backward(x, g)

    @tf.custom_gradient
    def hard_sigmoid(x):
        return sigmoid_forward(x), lambda g: sigmoid_backward(x, g)

    return hard_swish, hard_sigmoid


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReLU(keras.layers.ReLU):
    """``keras.layers.ReLU`` (same arguments and outputs) that, on the torch backend, calls ``F.relu`` /
    ``F.relu6`` directly for the plain and the ReLU6 forms: Keras' generic ``activations.relu`` costs ~15 us of
    Python per call on top of the kernel, one call after every convolution of a MobileNet."""

    def call(self, inputs):
        if keras.backend.backend() == "torch" and self.negative_slope == 0.0 and self.threshold == 0.0:
            import torch.nn.functional as F  # noqa: PLC0415, N812

            if self.max_value is None:
                return F.relu(_torch_tensor(inputs))
            if self.max_value == 6.0:
                return F.relu6(_torch_tensor(inputs))
        return super().call(inputs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class HardSigmoid(keras.layers.Layer):
    """``relu6(x + 3) / 6`` (MobileNetV3's hard-sigmoid; not Keras 2's ``0.2x + 0.5``)."""

    def call(self, x, training=None):
        if keras.backend.backend() == "torch":  # one fused kernel (forward and backward) instead of three ops
            import torch.nn.functional as F  # noqa: PLC0415, N812

            return F.hardsigmoid(_torch_tensor(x))
        if training and keras.backend.backend() == "tensorflow":
            return _tf_fused_hard_activations()[1](x)
        return ops.relu6(x + 3.0) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


# How HardSwish is written when a graph is traced. "fused": x * (relu6(x + 3) / 6), which TFLite's converter
# fuses into its builtin HARD_SWISH: one op, the fastest form in float. XNNPACK (TFLite's CPU engine) has no int8
# HARD_SWISH: in an int8 graph each one cut the graph and ran in TFLite's slow reference kernel. "clamp":
# x * (clip(x / 3, -1, 1) / 2 + 1/2), which the converter keeps as MUL (with a fused RELU_N1_TO_1 clamp), MUL,
# ADD, MUL -- all run by XNNPACK in int8 -- and whose gate has a fixed range, so it quantizes well. The int8 export
# traces with "clamp" (keras_mobilenets.export). Shipped MobileNetV3-Small, 1 thread: int8 0.35 ms (fused) ->
# 0.12 ms; top-1 agreement with fp32 on the full CIFAR-10 test split 92.7 % -> 93.7 % (93.7 / 91.4 % with
# percentile / min-max ranges). Also tried: x * min(relu(x / 6 + 1/2), 1) (int8 MINIMUM is not run by XNNPACK:
# 0.14 ms, 92.8 %) and (x / 6) * relu6(x + 3) (agreement -2.9 to +1.3 points, 82.6 % with min-max ranges).
# Other orderings of relu6(x + 3), x and 1/6 are all fused into HARD_SWISH by the converter.
HARD_SWISH_FORMS = ("fused", "clamp")
# How GroupConv2D is written when a graph is traced (see GroupConv2D). "depthwise": a depthwise convolution with
# depth_multiplier = filters / groups plus a sum over each group's inputs (every backend, every runtime).
# "grouped": TensorFlow's own grouped convolution, which TFLite's converter turns into one CONV_2D that XNNPACK runs
# whole; the export traces with it. TFLite's builtin (non-XNNPACK) float DEPTHWISE_CONV_2D kernel, which int8
# calibration runs, takes minutes with a large multiplier: one 4x4x432 input with multiplier 24 did not finish in
# 60 s, and cv3k_imagenet's int8 conversion had not finished after 8 minutes; grouped CONV_2D calibrates in < 1 s.
GROUP_CONV_FORMS = ("depthwise", "grouped")
_trace_forms = {"hard_swish": "fused", "group_conv": "depthwise"}


@contextlib.contextmanager
def trace_forms(hard_swish: str | None = None, group_conv: str | None = None):
    """Trace ``HardSwish`` as ``hard_swish`` (one of ``HARD_SWISH_FORMS``) and ``GroupConv2D`` as ``group_conv``
    (one of ``GROUP_CONV_FORMS``) inside the ``with`` block; ``None`` keeps the current form."""
    new = {}
    for key, form, allowed in (("hard_swish", hard_swish, HARD_SWISH_FORMS), ("group_conv", group_conv, GROUP_CONV_FORMS)):
        if form is None:
            continue
        if form not in allowed:
            raise ValueError(f"{key}_form: form must be one of {allowed}, got {form!r}.")
        new[key] = form
    before = dict(_trace_forms)
    _trace_forms.update(new)
    try:
        yield
    finally:
        _trace_forms.update(before)


def hard_swish_form(form: str):
    """Trace ``HardSwish`` layers as ``form`` (one of ``HARD_SWISH_FORMS``) inside the ``with`` block."""
    return trace_forms(hard_swish=form)  # trace_forms checks `form`


@keras.saving.register_keras_serializable(package=PACKAGE)
class HardSwish(keras.layers.Layer):
    """``x * relu6(x + 3) / 6`` (see ``hard_swish_form`` for the two ways it is written)."""

    def call(self, x, training=None):
        if _trace_forms["hard_swish"] == "clamp":
            return x * (ops.clip(x * (1.0 / 3.0), -1.0, 1.0) * 0.5 + 0.5)
        if keras.backend.backend() == "torch":  # one fused kernel (forward and backward) instead of four ops
            import torch.nn.functional as F  # noqa: PLC0415, N812

            return F.hardswish(_torch_tensor(x))
        if training and keras.backend.backend() == "tensorflow":
            return _tf_fused_hard_activations()[0](x)
        return x * (ops.relu6(x + 3.0) * (1.0 / 6.0))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


CUSTOM_OBJECTS = {
    f"{PACKAGE}>{cls.__name__}": cls for cls in (ChannelReplicate, ChannelShuffle, HardSigmoid, HardSwish, ReLU, Reshape,
                                                 WholeMapAveragePooling2D)
}

# Backends on which a depthwise convolution runs through the native kernels (keras_mobilenets.native: float32,
# depth multiplier 1) or, where those do not apply or could not be built, as a sum of shifted, per-channel-scaled
# slices, instead of the framework's grouped convolution. On XLA:CPU (JAX) ``feature_group_count = C`` convolutions,
# and above all their gradients, take 4-11x longer than the shift-and-add form, which takes 2.3-3.7x longer than the
# native kernels (benchmarks/depthwise.py); TF and torch have tuned depthwise kernels and keep them.
SHIFT_ADD_BACKENDS = ("jax",)


def _same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, (total // 2, total - total // 2)


def _output_geometry(h, w, kh, kw, strides, padding):
    """Output size and (before, after) zero padding per spatial axis: Keras' rules (``"same"``: extra at the end)
    or PyTorch's (``"symmetric"``: ``(k - 1) // 2`` on both sides, i.e. ``nn.Conv2d(padding=k // 2)`` for odd k)."""
    if padding == "symmetric":
        ph, pw = _symmetric_pads((kh, kw))
        return ((h + 2 * ph - kh) // strides[0] + 1, (w + 2 * pw - kw) // strides[1] + 1, (ph, ph), (pw, pw))
    if padding == "same":
        ho, pad_h = _same_pads(h, kh, strides[0])
        wo, pad_w = _same_pads(w, kw, strides[1])
        return ho, wo, pad_h, pad_w
    return (h - kh) // strides[0] + 1, (w - kw) // strides[1] + 1, (0, 0), (0, 0)


def _pad_as_convolution(x, kh, kw, strides, padding):
    """(``x`` zero-padded as a (kh, kw) convolution with these strides and Keras padding would pad it, Ho, Wo)."""
    ho, wo, pad_h, pad_w = _output_geometry(x.shape[1], x.shape[2], kh, kw, strides, padding)
    if any(pad_h) or any(pad_w):
        x = ops.pad(x, [[0, 0], list(pad_h), list(pad_w), [0, 0]])
    return x, ho, wo


def shift_add_depthwise(x, kernel, strides=(1, 1), padding="valid"):
    """Depthwise convolution (NHWC, no dilation) as ``sum_ij x[shifted by (i, j)] * kernel[i, j]``.

    Same result as ``ops.depthwise_conv`` with Keras' padding rules (``"same"`` pads the extra row / column at the
    bottom / right), kernel ``(kh, kw, C, multiplier)``, output channel ``c * multiplier + m``.
    """
    kh, kw, c, m = kernel.shape
    sh, sw = strides
    x, ho, wo = _pad_as_convolution(x, kh, kw, strides, padding)
    out = None
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw, :]
            if m == 1:
                term = patch * kernel[i, j, :, 0]
            else:
                term = ops.reshape(ops.expand_dims(patch, -1) * kernel[i, j], (-1, ho, wo, c * m))
            out = term if out is None else out + term
    return out


def _shift_add_input_grad(g, kernel, input_shape, strides, padding):
    """Gradient of ``shift_add_depthwise`` w.r.t. its input: the cotangent, dilated by the stride (zeros between
    rows / columns) and padded by ``k - 1``, correlated with the flipped kernel -- kh·kw stride-1 slices of one
    padded array, instead of the kh·kw strided-slice transposes (one interior-padded array each) of autodiff."""
    from jax import lax

    kh, kw, c, m = kernel.shape
    sh, sw = strides
    _, h, w, _ = input_shape
    ho, wo, pad_h, pad_w = _output_geometry(h, w, kh, kw, strides, padding)
    hp, wp = h + sum(pad_h), w + sum(pad_w)  # the padded input the forward pass slices
    g = g.reshape(g.shape[0], ho, wo, c, m)
    dilated = lax.pad(g, g.dtype.type(0), [(0, 0, 0), (kh - 1, hp - (ho - 1) * sh - 1, sh - 1),
                                           (kw - 1, wp - (wo - 1) * sw - 1, sw - 1), (0, 0, 0), (0, 0, 0)])
    grad = None
    for i in range(kh):
        for j in range(kw):
            term = dilated[:, i:i + hp, j:j + wp] * kernel[kh - 1 - i, kw - 1 - j]
            grad = term if grad is None else grad + term
    grad = grad.sum(-1) if m > 1 else grad[..., 0]
    return grad[:, pad_h[0]:pad_h[0] + h, pad_w[0]:pad_w[0] + w]


@functools.cache
def _jitted_shift_add():
    """``shift_add_depthwise`` as one ``jax.jit`` function with a hand-written input gradient.

    jit: an eager call compiles one fused program per shape instead of kh·kw·3 single-op programs, and under an
    outer ``jit`` it is inlined as before. Measured (first eager forward after one jitted train step, 2 cores
    shared with two trainings): MobileNetV3-Large 47 -> 31 s, V3-Small 24 -> 14 s, CustomMobileNet 26 -> 8 s.
    custom_vjp (:func:`_shift_add_input_grad`; the kernel gradient stays autodiff's): XLA compiles a training step
    faster (measured, one thread, 32x32 batch 4: cheap_v3_cifar100 17.4 -> 11.5 s, MobileNetV3-Large 16.0 -> 14.3 s,
    MobileNetV2 10.7 -> 10.0 s, mbv2_blog_a 10.4 -> 10.2 s) and runs it no slower (batch 128: cheap_v3 6.9 ->
    5.6 s, mbv2_blog_a 14.9 -> 14.1 s per step)."""
    import jax

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
    def depthwise(x, kernel, strides, padding):
        return shift_add_depthwise(x, kernel, strides, padding)

    def forward(x, kernel, strides, padding):
        return shift_add_depthwise(x, kernel, strides, padding), (x, kernel)

    def backward(strides, padding, residuals, g):
        x, kernel = residuals
        _, kernel_vjp = jax.vjp(lambda k: shift_add_depthwise(x, k, strides, padding), kernel)
        return _shift_add_input_grad(g, kernel, x.shape, strides, padding), kernel_vjp(g)[0]

    depthwise.defvjp(forward, backward)
    return jax.jit(depthwise, static_argnums=(2, 3))


def _native_geometry(shape, kernel_shape, strides, padding):
    """((Ho, Wo), (top, bottom), (left, right)) of a native-kernel convolution of an NHWC ``shape`` input."""
    ho, wo, pad_h, pad_w = _output_geometry(shape[1], shape[2], *kernel_shape[:2], strides, padding)
    return (ho, wo), pad_h, pad_w


def _native_applies(x, kernel) -> bool:
    """The native kernels take float32 data with depth multiplier 1 (GroupConv2D's multiplier > 1 and mixed
    precision keep shift-and-add), and only when they are on and built (``keras_mobilenets.native``)."""
    from keras_mobilenets import native  # noqa: PLC0415

    return (kernel.shape[3] == 1 and str(x.dtype) == "float32" and str(kernel.dtype) == "float32"
            and native.available())


@functools.cache
def _jitted_native_depthwise():
    """Depthwise convolution through the native XLA FFI kernels (forward; input and kernel gradient in one
    backward call), with the same padding rules as :func:`shift_add_depthwise`."""
    import jax

    from keras_mobilenets import native  # noqa: PLC0415

    def geometry(shape, kernel_shape, strides, padding):
        out_hw, pad_h, pad_w = _native_geometry(shape, kernel_shape, strides, padding)
        return out_hw, (pad_h[0], pad_w[0])

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
    def depthwise(x, kernel, strides, padding):
        out_hw, pads = geometry(x.shape, kernel.shape, strides, padding)
        return native.depthwise_forward(x, kernel, out_hw, strides, pads)

    def forward(x, kernel, strides, padding):
        return depthwise(x, kernel, strides, padding), (x, kernel)

    def backward(strides, padding, residuals, g):
        x, kernel = residuals
        return native.depthwise_backward(x, kernel, g, strides, geometry(x.shape, kernel.shape, strides, padding)[1])

    depthwise.defvjp(forward, backward)
    return jax.jit(depthwise, static_argnums=(2, 3))


# A dense convolution (groups 1, no dilation, not 1x1) over at most this many input channels -- the stems, on RGB
# or grey images -- runs through the native kernels on JAX (float32, when they are built). XLA:CPU computes its
# kernel gradient as a convolution over transposed copies of x and dy: V3-Small's 32x224x224x3 -> 16 stem took
# 42 ms for it and 21 ms forward of a 0.26 s training step, CustomMobileNet's 500x32x32x3 -> 32 172 + 55 ms.
NATIVE_CONV_MAX_CHANNELS = 4


def _native_conv_applies(layer, x, kernel) -> bool:
    from keras_mobilenets import native  # noqa: PLC0415

    return (keras.backend.backend() == "jax" and layer.data_format == "channels_last" and layer.groups == 1
            and tuple(layer.dilation_rate) == (1, 1) and tuple(layer.kernel_size) != (1, 1)
            and x.shape[1] is not None and x.shape[2] is not None and kernel.shape[2] <= NATIVE_CONV_MAX_CHANNELS
            and str(x.dtype) == "float32" and str(kernel.dtype) == "float32" and native.available())


@functools.cache
def _jitted_native_conv():
    """A dense convolution through the native kernels: forward and kernel gradient native, the input gradient
    XLA's transposed convolution (dead code that XLA removes when ``x`` is the network's input, as for a stem)."""
    import jax

    from keras_mobilenets import native  # noqa: PLC0415

    @functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
    def conv(x, kernel, strides, padding):
        out_hw, pad_h, pad_w = _native_geometry(x.shape, kernel.shape, strides, padding)
        return native.conv_forward(x, kernel, out_hw, strides, (pad_h[0], pad_w[0]))

    def forward(x, kernel, strides, padding):
        return conv(x, kernel, strides, padding), (x, kernel)

    def backward(strides, padding, residuals, g):
        x, kernel = residuals
        _, pad_h, pad_w = _native_geometry(x.shape, kernel.shape, strides, padding)
        _, input_vjp = jax.vjp(lambda a: jax.lax.conv_general_dilated(
            a, kernel, strides, (pad_h, pad_w), dimension_numbers=("NHWC", "HWIO", "NHWC")), x)
        return input_vjp(g)[0], native.conv_kernel_grad(x, g, kernel.shape, strides, (pad_h[0], pad_w[0]))

    conv.defvjp(forward, backward)
    return jax.jit(conv, static_argnums=(2, 3))


# ------------------------------------------------------------------------------------ symmetric padding
# PyTorch / Flux pad a strided conv by (k - 1) // 2 on every side; Keras' "same" pads the extra row / column at the
# bottom / right only. Our conv layers take ``padding="symmetric"`` for the former: on the torch backend it is the
# convolution's own padding argument (measured, forward + backward, batch 500 channels_last: a separate pad before
# a stride-2 depthwise conv on 32x32x32 maps costs 80 ms vs 31 ms for the padded convolution), elsewhere an explicit
# zero pad before a "valid" convolution (a PAD op in TFLite / ONNX) -- the numbers of ZeroPadding2D + "valid".
PADDINGS = ("valid", "same", "symmetric")


def _symmetric_pads(kernel_size):
    """Zeros on each side of (height, width) for ``padding="symmetric"``: ``(k - 1) // 2``, PyTorch's k // 2."""
    return (kernel_size[0] - 1) // 2, (kernel_size[1] - 1) // 2


def _symmetric_pad(x, kernel_size):
    ph, pw = _symmetric_pads(kernel_size)
    return ops.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]]) if ph or pw else x


def _padded_shape(input_shape, kernel_size):
    """The input shape a "valid" convolution sees after symmetric padding (None stays None)."""
    shape = list(input_shape)
    for axis, p in zip((1, 2), _symmetric_pads(kernel_size)):
        if shape[axis] is not None:
            shape[axis] += 2 * p
    return tuple(shape)


class _SymmetricPadding:
    """Mixin for a Keras conv layer subclass whose ``__init__`` sets ``self.symmetric`` (via
    :func:`_split_padding`) and hands "valid" to Keras: output shape and config of the symmetric form."""

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(_padded_shape(input_shape, self.kernel_size) if self.symmetric
                                            else input_shape)

    def get_config(self):
        config = super().get_config()
        if self.symmetric:
            config["padding"] = "symmetric"
        return config


def _split_padding(layer_name, padding):
    """(padding Keras' base class gets, symmetric?) with a clear error for anything else."""
    if padding not in PADDINGS:
        raise ValueError(f"{layer_name}: `padding` must be one of {PADDINGS}, got {padding!r}.")
    return ("valid", True) if padding == "symmetric" else (padding, False)


# ------------------------------------------------------------------------------------ torch backend fast paths
# Keras' torch backend makes every NHWC conv input NCHW-contiguous (a copy) and then channels_last again (a second
# copy), and computes BatchNorm from ~10 elementwise ops. Profile of one Keras-torch training step of
# mbv2_blog_a_cifar10 (batch 50, 2 threads): aten::copy_ 20 % of CPU time, BatchNorm's sum / mul / pow / div /
# neg / sub ~30 %, convolutions 34 %. The paths below hand PyTorch the NHWC tensor as the channels_last NCHW view
# it already is (no copy) and use its fused batch norm; same results as the Keras layers (tests/test_models.py).
def _torch_tensor(value):
    """``value`` as a torch tensor with the least Python on the way (torch backend): a layer's input already is one
    and a Keras variable hands over its own (``.value`` honours stateless scopes); anything else goes through
    ``ops.convert_to_tensor``, whose generic checks cost ~4 us per call -- a few per layer, ~110 layers per step."""
    import torch  # noqa: PLC0415

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, keras.Variable):
        return value.value
    return ops.convert_to_tensor(value)


def _torch_conv2d(x, kernel, strides, padding):
    """NHWC ``x``, HWIO ``kernel`` -> NHWC, with Keras' padding rules, through ``torch.nn.functional.conv2d``."""
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: PLC0415, N812

    x, kernel = _torch_tensor(x), _torch_tensor(kernel)
    _, _, (top, bottom), (left, right) = _output_geometry(x.shape[1], x.shape[2], kernel.shape[0], kernel.shape[1],
                                                          strides, padding)
    xt = x.permute(0, 3, 1, 2)  # a view: channels_last memory, which PyTorch's CPU convolutions prefer
    pad = (top, left)
    if (top, left) != (bottom, right):  # "same" with the extra row / column at the bottom / right only
        xt, pad = F.pad(xt, (left, right, top, bottom)), (0, 0)
    groups = x.shape[-1] // kernel.shape[2]
    # the HWIO kernel as an OIHW tensor in channels_last memory, as PyTorch's channels_last models hold theirs: the
    # permuted view alone is neither layout, and oneDNN reorders it in every forward and backward call (width-0.1
    # V1, batch 128: convolution backward 8.3-8.9 -> 7.0 ms per step, plain PyTorch 6.2-6.6; torch.profiler)
    w = kernel.permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
    return F.conv2d(xt, w, None, tuple(strides), pad, 1, groups).permute(0, 2, 3, 1)


def _use_torch_path(layer) -> bool:
    return (keras.backend.backend() == "torch" and layer.data_format == "channels_last"
            and tuple(layer.dilation_rate) == (1, 1) and layer.compute_dtype == "float32")


# Backends on which a 1x1 convolution (groups 1, dilation 1) runs as a matrix product over the channel axis
# (:func:`pointwise_matmul`). XLA:CPU (JAX) runs the convolution, forward and above all backward, 2-3x slower than
# the same product (one jitted fwd+bwd, 500x32x32x64 -> 128: 1,664 vs 835 ms; 500x16x16x128 -> 128: 601 vs 228 ms);
# TF and torch map a 1x1 convolution onto their GEMM kernels already.
MATMUL_POINTWISE_BACKENDS = ("jax",)


def _use_matmul_path(layer) -> bool:
    return (keras.backend.backend() in MATMUL_POINTWISE_BACKENDS and layer.data_format == "channels_last"
            and tuple(layer.kernel_size) == (1, 1) and tuple(layer.dilation_rate) == (1, 1) and layer.groups == 1)


def pointwise_matmul(x, kernel, strides=(1, 1)):
    """A 1x1 convolution (NHWC ``x``, kernel ``(1, 1, cin, cout)``) as ``x[:, ::sh, ::sw] @ kernel[0, 0]``. A 1x1
    kernel needs no padding under "valid", "same" or "symmetric", and strides only pick rows and columns."""
    sh, sw = (strides, strides) if isinstance(strides, int) else tuple(strides)
    if (sh, sw) != (1, 1):
        x = x[:, ::sh, ::sw, :]
    kernel = ops.reshape(kernel, (kernel.shape[2], kernel.shape[3]))
    if keras.backend.backend() == "jax":
        return _jax_pointwise()(x, kernel)
    return ops.matmul(x, kernel)


@functools.cache
def _jax_pointwise():
    """``x @ w`` over the last axis with a hand-written VJP whose kernel gradient ``x^T g`` gets its cotangent
    through ``optimization_barrier``. Autodiff's version lets XLA:CPU fuse the transpose that the product needs
    into the loop that produces ``g`` (BatchNorm's backward), a strided-write fusion that was 0.9 of the 3.4 s
    of one CustomMobileNet step (batch 500, profiled); with the barrier the transpose is a separate copy.
    Measured per training step (batch 500 / 50, 2 cores): CustomMobileNet 2.90 -> 1.78-1.96 s, mbv2_blog_a
    1.62 -> 1.28 s (autodiff of the plain product -> this)."""
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415

    @jax.custom_vjp
    def pointwise(x, w):
        return jnp.matmul(x, w)

    def forward(x, w):
        return jnp.matmul(x, w), (x, w)

    def backward(residuals, g):
        x, w = residuals
        g2 = jax.lax.optimization_barrier(g.reshape(-1, g.shape[-1]))
        return jnp.matmul(g, w.T), jnp.matmul(x.reshape(-1, x.shape[-1]).T, g2)

    pointwise.defvjp(forward, backward)
    return pointwise


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conv2D(_SymmetricPadding, keras.layers.Conv2D):
    """``keras.layers.Conv2D`` (same arguments, weights and outputs) that also takes ``padding="symmetric"``
    (PyTorch's); on the torch backend the convolution is one ``F.conv2d`` on a channels_last view instead of Keras'
    two layout copies."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        padding, self.symmetric = _split_padding("Conv2D", padding)
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)

    def convolution_op(self, inputs, kernel):
        if _use_matmul_path(self):
            return pointwise_matmul(inputs, kernel, self.strides)
        if _native_conv_applies(self, inputs, kernel):
            return _jitted_native_conv()(inputs, ops.convert_to_tensor(kernel), tuple(self.strides),
                                         "symmetric" if self.symmetric else self.padding)
        if _use_torch_path(self):
            return _torch_conv2d(inputs, kernel, self.strides, "symmetric" if self.symmetric else self.padding)
        if self.symmetric:
            inputs = _symmetric_pad(inputs, self.kernel_size)
        return super().convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (same arguments, weights, outputs and moving-statistics update) that
    uses the backend's fused batch norm on a 4-D channels-last float32 input: PyTorch's (training and inference)
    on torch; in training on TF, ``FusedBatchNormV3`` from 2^17 values and TF ops with a hand-written gradient below
    (inference keeps Keras' ops, so exported graphs are unchanged); in training on JAX, the native kernels of
    ``keras_mobilenets.native`` when they are built. Keras computes it from ~10 elementwise ops and two
    reductions, each a pass over the tensor, forward and backward."""

    def _fused(self, inputs, mask, train):
        """The active backend's fused function for this call, or None for Keras' own computation."""
        fused, in_inference = FUSED_BATCH_NORM.get(keras.backend.backend(), (None, False))
        if (fused is None or not (train or in_inference) or mask is not None or self.renorm or len(inputs.shape) != 4
                or self.axis not in (-1, 3) or self.compute_dtype != "float32" or self.synchronized):
            return None
        return fused

    def call(self, inputs, training=None, mask=None):
        train = bool(training and self.trainable)
        fused = self._fused(inputs, mask, train)
        result = None if fused is None else fused(self, inputs, train)
        if result is None:  # (no fused function for this call, or it declined: JAX without the native kernels)
            return super().call(inputs, training=training, mask=mask)
        return self._finish(result, train)

    def _finish(self, result, train):
        out, mean, var = result
        if train and mean is not None:  # (torch's fused function updates the moving statistics itself)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + var * (1.0 - m))
        return out

    def call_with_activation(self, inputs, activation, training=None):
        """``activation.call(self.call(inputs, training))`` in one native pass each way (JAX training with the native
        kernels, float32, ``activation`` a layer :func:`fused_activation` accepts: a plain ReLU, a ReLU clipped at
        a positive ``max_value``, or HardSwish), or None where that does not apply: then the caller runs the two
        layers itself. Same outputs, gradients and moving statistics to float rounding (tests/test_native.py); used
        by ``MobileNetModel.call`` on JAX for a BatchNorm whose only reader is such a layer."""
        train = bool(training and self.trainable)
        if not (train and self._fused(inputs, None, train) is _jax_batch_norm):  # (JAX's entry: only there)
            return None
        kind = fused_activation(activation)
        if kind is None:
            return None
        result = _jax_batch_norm(self, inputs, train, kind)
        return None if result is None else self._finish(result, train)


def fused_activation(layer):
    """The activation the native batch norm kernels run in the same passes for ``layer`` (float32 only): ``inf``
    for a plain ``keras.layers.ReLU``, its ``max_value`` for a ReLU clipped there (ReLU6: 6.0), ``"hard_swish"``
    for :class:`HardSwish` traced in its plain form; None for anything else (a leaky or thresholded ReLU, another
    layer)."""
    from keras_mobilenets import native  # noqa: PLC0415

    if getattr(layer, "compute_dtype", None) != "float32":
        return None
    if isinstance(layer, HardSwish):
        return native.HARD_SWISH if _trace_forms["hard_swish"] == "fused" else None
    if not isinstance(layer, keras.layers.ReLU) or layer.negative_slope != 0.0 or layer.threshold != 0.0:
        return None
    if layer.max_value is None:
        return math.inf
    return float(layer.max_value) if layer.max_value > 0 else None


def _torch_batch_norm(layer, inputs, train):
    """PyTorch's fused batch norm on the channels_last view (in training with few channels, on a channels-first
    copy: :func:`_torch_channels_first_batch_norm`): (output, None, None) -- in training it also updates the
    moving statistics in place, as Keras would (below) -- or (output, batch mean, biased variance) when it cannot.

    PyTorch's update is ``running = running * (1 - momentum) + batch * momentum`` (our ``momentum`` is Keras' m, so
    it gets ``1 - m``) with the *unbiased* variance ``v * n / (n - 1)``; Keras stores the biased ``v``. Scaling the
    moving variance by ``n / (n - 1)`` before and by ``(n - 1) / n`` after gives Keras' ``m * mv + (1 - m) * v``
    exactly up to float rounding, in 2 small ops instead of the ~10 that computing and applying ``v`` takes."""
    import torch  # noqa: PLC0415
    from keras.src.backend.common.stateless_scope import in_stateless_scope  # noqa: PLC0415  (no public accessor)

    xt = _torch_tensor(inputs).permute(0, 3, 1, 2)
    if train and _torch_channels_first_batch_norm(xt.shape[1]):
        xt = xt.contiguous()
    gamma = layer.gamma.value if layer.scale else None
    beta = layer.beta.value if layer.center else None
    mean, var = layer.moving_mean.value, layer.moving_variance.value
    if not train:
        return torch.nn.functional.batch_norm(xt, mean, var, gamma, beta, False, 0.0, layer.epsilon).permute(
            0, 2, 3, 1), None, None
    n = xt.numel() // xt.shape[1]
    if n < 2 or in_stateless_scope():  # one value per channel (no unbiased variance) / variables not to be mutated
        out, batch_mean, invstd = torch.native_batch_norm(xt, gamma, beta, None, None, True, 0.0, layer.epsilon)
        with torch.no_grad():  # the biased batch variance, from 1 / sqrt(var + eps)
            batch_var = (invstd.double() ** -2 - layer.epsilon).clamp_min(0.0).float()
        return _torch_nhwc(out), batch_mean.detach(), batch_var
    var.mul_(n / (n - 1))  # (a non-trainable variable: no autograd to keep out, no ``no_grad`` needed)
    out, _, _ = torch.native_batch_norm(xt, gamma, beta, mean, var, True, 1.0 - layer.momentum, layer.epsilon)
    # autograd saved ``var`` (unused by the training-mode backward) and would refuse a later in-place change of it;
    # ``.data`` is the same storage without that version check
    var.data.mul_((n - 1) / n)
    return _torch_nhwc(out), None, None


def _torch_channels_first_batch_norm(channels) -> bool:
    """Whether PyTorch's training batch norm is faster on a channels-first copy than on the channels_last view.

    Its channels_last CPU kernels vectorise over the channel axis in whole vectors of 8 and run the rest scalar: a
    training forward + backward (2 threads) of a 128x16x16 map with 16 channels takes 0.65 ms, with 13 channels
    6.3 ms, with 3 channels 1.7-2.0 ms. Copied to channels-first memory and back (autograd copies the gradient
    both ways too), 3-7, 9-11 and 13-15 channels take 0.22-0.85x the time on 128x4x4 to 500x32x32 maps (78
    shapes), 12 channels 0.63-1.15x; 8 channels 0.61-1.17x and 16 or more 1.3-7x stay on the view
    (``python benchmarks/torch_batchnorm_layout.py``, 2026-12-07). The width-0.1 MobileNetV1 has 3, 6 and
    13-channel batch norms: its training step (batch 128, torch) 48.1 -> 36.5 ms, 1.23x -> 0.94x plain PyTorch
    channels_last (30 alternating steps in one process)."""
    return channels < 16 and channels % 8 != 0


def _torch_nhwc(out):
    """A batch norm's NCHW-shaped output as the NHWC tensor in channels_last memory that the next layer expects (a
    copy when the batch norm ran channels-first)."""
    import torch  # noqa: PLC0415

    if not out.is_contiguous(memory_format=torch.channels_last):
        out = out.contiguous(memory_format=torch.channels_last)
    return out.permute(0, 2, 3, 1)


def _tf_batch_norm(layer, inputs, train):
    """TF training BatchNorm: (output, batch mean, biased batch variance), through ``FusedBatchNormV3`` from
    ``TF_FUSED_MIN_ELEMENTS`` values, below that through :func:`_tf_small_batch_norm` (`train` is always True:
    ``FUSED_BATCH_NORM`` leaves inference to Keras' ops on TF)."""
    big = _static_elements(inputs.shape) >= TF_FUSED_MIN_ELEMENTS
    return (_tf_fused_batch_norm if big else _tf_small_batch_norm)(layer, inputs)


def _tf_scale_offset(layer, x):
    import tensorflow as tf  # noqa: PLC0415

    c = x.shape[-1]
    return (layer.gamma.value if layer.scale else tf.ones([c], x.dtype),
            layer.beta.value if layer.center else tf.zeros([c], x.dtype))


def _tf_fused_batch_norm(layer, inputs):
    """``FusedBatchNormV3`` (NHWC), whose gradient TensorFlow registers; its variance output is Bessel-corrected
    (n / (n - 1)), Keras stores the biased one."""
    import tensorflow as tf  # noqa: PLC0415

    x = tf.convert_to_tensor(inputs)
    gamma, beta = _tf_scale_offset(layer, x)
    empty = tf.constant([], x.dtype)
    out, mean, var, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=layer.epsilon, exponential_avg_factor=1.0,
        data_format="NHWC", is_training=True)
    n = tf.cast(tf.size(x) // x.shape[-1], x.dtype)
    return out, tf.stop_gradient(mean), tf.stop_gradient(var * tf.maximum(n - 1.0, 0.0) / tf.maximum(n, 1.0))


def _tf_small_batch_norm(layer, inputs):
    """Batch norm from TF ops with a hand-written gradient: ~10 ops forward and ~12 backward (the textbook
    ``dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat))``, from the centred input) where autodiff of Keras'
    moments + elementwise form takes ~30, among them two ``Tile``s per layer: 0.70-0.98x Keras' ops' time on all
    44 shapes of benchmarks/tf_batchnorm.py. On small tensors TF's per-op cost is the step's cost: width-0.1 V1
    TF ``train_on_batch`` (batch 128, median of 30) 35.7 / 36.7 / 36.4 / 53.1 -> 31.8 / 32.5 / 37.0 / 32.2 ms
    against Keras' ops (commit 250351e, a git worktree) in four alternating pairs (one-off script)."""
    import tensorflow as tf  # noqa: PLC0415

    x = tf.convert_to_tensor(inputs)
    gamma, beta = _tf_scale_offset(layer, x)
    axes = [0, 1, 2]

    @tf.custom_gradient
    def batch_norm(x, gamma, beta):
        mean = tf.reduce_mean(x, axes)
        centred = x - mean
        var = tf.reduce_mean(tf.square(centred), axes)
        inv = tf.math.rsqrt(var + layer.epsilon)
        scale = inv * gamma

        def gradient(dy, *_):  # (the mean and variance outputs are stop_gradient-ed below: no cotangent)
            n = tf.cast(tf.size(dy) // dy.shape[-1], dy.dtype)
            d_beta = tf.reduce_sum(dy, axes)
            d_gamma = tf.reduce_sum(dy * centred, axes) * inv
            a = scale * inv * d_gamma / -n
            return dy * scale + (centred * a - scale * d_beta / n), d_gamma, d_beta

        return (centred * scale + beta, mean, var), gradient

    out, mean, var = batch_norm(x, gamma, beta)
    return out, tf.stop_gradient(mean), tf.stop_gradient(var)


# From this many values (N·H·W·C) TF's training BatchNorm is FusedBatchNormV3, below it _tf_small_batch_norm. One
# training forward + backward (`python benchmarks/tf_batchnorm.py`, 44 shapes, benchmarks/results/tf_batchnorm.md):
# up to 2^16 values the fused op takes 0.41-0.75 ms, the small-tensor ops 0.24-0.61 ms (0.50-0.97x the fused op's
# time; Keras' ops 0.24-0.77 ms); from 2^18 values the fused op is 1.3-3.8x faster than the small-tensor ops. The
# width-0.1 MobileNetV1 has 36 of its 37 BatchNorms under 2^17 at batch 128; the other write-up networks none at
# their batch sizes.
TF_FUSED_MIN_ELEMENTS = 2 ** 17
# Batch size assumed when it is not static (fit on a tf.data stream batched without drop_remainder).
ASSUMED_BATCH = 128


def _static_elements(shape):
    """N·H·W·C of a (possibly partly unknown) shape: an unknown batch counts as ASSUMED_BATCH, other unknowns as 1."""
    batch = ASSUMED_BATCH if shape[0] is None else shape[0]
    return batch * math.prod(1 if d is None else d for d in shape[1:])


@functools.cache
def _jitted_native_batch_norm():
    """Training batch norm through the native XLA FFI kernels: (output, mean, biased variance), the gradient of the
    output from one backward call (the statistics leave :func:`_jax_batch_norm` stop_gradient-ed). With
    ``activation`` (``inf``: ReLU, ``6.0``: ReLU6, ``"hard_swish"``) the output is the activation's, forward and
    gradient."""
    import jax

    from keras_mobilenets import native  # noqa: PLC0415

    @functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
    def batch_norm(x, gamma, beta, epsilon, activation):
        return native.batch_norm_forward(x, gamma, beta, epsilon, activation)

    def forward(x, gamma, beta, epsilon, activation):
        out, mean, var = native.batch_norm_forward(x, gamma, beta, epsilon, activation)
        return (out, mean, var), (x, gamma, beta, mean, var)

    def backward(epsilon, activation, residuals, cotangents):
        x, gamma, beta, mean, var = residuals
        return native.batch_norm_backward(x, gamma, beta, mean, var, cotangents[0], epsilon, activation)

    batch_norm.defvjp(forward, backward)
    return batch_norm


def _jax_batch_norm(layer, inputs, train, activation=None):
    """JAX training BatchNorm: (output, batch mean, biased batch variance) from the native kernels, or None when
    they are off or not built (`train` is always True: ``FUSED_BATCH_NORM`` leaves inference to Keras' ops); with
    ``activation`` (see :func:`fused_activation`) the output is that activation's of the batch norm's."""
    from keras_mobilenets import native  # noqa: PLC0415

    if not native.available():
        return None
    import jax

    c = inputs.shape[-1]
    gamma = layer.gamma.value if layer.scale else ops.ones((c,), inputs.dtype)
    beta = layer.beta.value if layer.center else ops.zeros((c,), inputs.dtype)
    out, mean, var = _jitted_native_batch_norm()(inputs, gamma, beta, float(layer.epsilon), activation)
    return out, jax.lax.stop_gradient(mean), jax.lax.stop_gradient(var)


# backend -> (fused batch norm, also used in inference?); backends not listed use Keras' ops. On TF and JAX
# inference stays Keras' (on TF so that SavedModel / TFLite / ONNX graphs are unchanged; on JAX XLA fuses the
# inference form, a multiply-add per element, into its neighbours). A function returning None defers to Keras' ops.
FUSED_BATCH_NORM = {"torch": (_torch_batch_norm, True), "tensorflow": (_tf_batch_norm, False),
                    "jax": (_jax_batch_norm, False)}


def depthwise_conv(x, kernel, strides=(1, 1), padding="valid"):
    """``ops.depthwise_conv`` (channels_last), computed the fastest way for the active backend."""
    strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
    if keras.backend.backend() in SHIFT_ADD_BACKENDS and x.shape[1] is not None and x.shape[2] is not None:
        kernel = ops.convert_to_tensor(kernel)
        if _native_applies(x, kernel):
            return _jitted_native_depthwise()(x, kernel, strides, padding)
        return _jitted_shift_add()(x, kernel, strides, padding)
    if keras.backend.backend() == "torch":
        k = _torch_tensor(kernel)
        return _torch_conv2d(x, k.reshape(k.shape[0], k.shape[1], 1, k.shape[2] * k.shape[3]), strides, padding)
    if padding == "symmetric":
        x, padding = _symmetric_pad(x, kernel.shape[:2]), "valid"
    if strides[0] != strides[1] and x.shape[1] is not None and x.shape[2] is not None:
        # TensorFlow's depthwise kernel without oneDNN (TF's default on CPUs without AVX-512 VNNI / AMX) refuses
        # unequal strides ("Current implementation only supports equal length strides"); Keras' own layer fails
        # there too. Pad as the strided convolution would, convolve with stride 1 and keep every s-th row / column.
        x, _, _ = _pad_as_convolution(x, kernel.shape[0], kernel.shape[1], strides, padding)
        y = ops.depthwise_conv(x, kernel, strides=1, padding="valid")
        return y[:, ::strides[0], ::strides[1], :]
    return ops.depthwise_conv(x, kernel, strides=strides, padding=padding)


@keras.saving.register_keras_serializable(package=PACKAGE)
class DepthwiseConv2D(_SymmetricPadding, keras.layers.DepthwiseConv2D):
    """``keras.layers.DepthwiseConv2D`` (same arguments, weights and outputs, plus ``padding="symmetric"``) that
    runs the convolution through :func:`depthwise_conv`, i.e. as shift-and-add on JAX. Other configurations
    (dilation, channels_first) fall back to the Keras implementation."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        padding, self.symmetric = _split_padding("DepthwiseConv2D", padding)
        super().__init__(kernel_size, strides=strides, padding=padding, **kwargs)
        if self.symmetric and (self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1)):
            raise ValueError("DepthwiseConv2D: `padding='symmetric'` needs channels_last data and dilation_rate 1.")

    def call(self, inputs):
        if self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1):
            return super().call(inputs)
        outputs = depthwise_conv(inputs, self.kernel, self.strides, "symmetric" if self.symmetric else self.padding)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs


CUSTOM_OBJECTS.update({f"{PACKAGE}>{cls.__name__}": cls for cls in (BatchNormalization, Conv2D, DepthwiseConv2D)})


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupConv2D(keras.layers.Layer):
    """Grouped convolution computed as a depthwise convolution plus a sum over each group's input channels.

    Same kernel layout, parameters and outputs as ``keras.layers.Conv2D(groups=g, use_bias=False)``
    (kernel ``(kh, kw, cin / g, filters)``, output channel ``j`` of group ``j // (filters / g)``), but Keras'
    TensorFlow backend runs grouped convolutions through an XLA-compiled function that retraces per shape, is
    slow on CPU and cannot be converted to ONNX. The depthwise form (``depth_multiplier = filters / g``) lowers
    to DEPTHWISE_CONV_2D + RESHAPE + SUM in TFLite and to a grouped Conv in ONNX, on every backend.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", groups=1,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
        _split_padding("GroupConv2D", padding)
        if self.groups < 1 or self.filters % self.groups:
            raise ValueError(f"GroupConv2D: `filters`={filters} must be a multiple of `groups`={groups}.")
        self.padding = padding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        cin = input_shape[-1]
        if cin % self.groups:
            raise ValueError(f"GroupConv2D: {cin} input channels are not divisible by `groups`={self.groups}.")
        self.kernel = self.add_weight(name="kernel", shape=(*self.kernel_size, cin // self.groups, self.filters),
                                      initializer=self.kernel_initializer)

    def call(self, x):
        if _trace_forms["group_conv"] == "grouped" and keras.backend.backend() == "tensorflow":
            import tensorflow as tf  # noqa: PLC0415

            if self.padding == "symmetric":
                return tf.nn.conv2d(_symmetric_pad(x, self.kernel_size), self.kernel, self.strides, "VALID")
            return tf.nn.conv2d(x, self.kernel, self.strides, self.padding.upper())  # TF's "SAME" = Keras' "same"
        kh, kw, ipg, filters = self.kernel.shape
        g, opg = self.groups, filters // self.groups
        # depthwise kernel (kh, kw, g*ipg, opg): [.., g*ipg + i, o] = kernel[.., i, g*opg + o]
        k = ops.reshape(self.kernel, (kh, kw, ipg, g, opg))
        k = ops.reshape(ops.transpose(k, (0, 1, 3, 2, 4)), (kh, kw, g * ipg, opg))
        y = depthwise_conv(x, k, strides=self.strides, padding=self.padding)
        h, w = y.shape[1], y.shape[2]
        y = ops.reshape(y, (-1, h * w * g, ipg, opg))  # rank <= 4 keeps every runtime's RESHAPE / SUM happy
        return ops.reshape(ops.sum(y, axis=2), (-1, h, w, filters))

    def compute_output_shape(self, input_shape):
        def side(n, k, s):
            if n is None:
                return None
            return -(-n // s) if self.padding == "same" else (n - k) // s + 1

        if self.padding == "symmetric":
            input_shape = _padded_shape(input_shape, self.kernel_size)
        return (input_shape[0], side(input_shape[1], self.kernel_size[0], self.strides[0]),
                side(input_shape[2], self.kernel_size[1], self.strides[1]), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                      groups=self.groups, kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config


CUSTOM_OBJECTS[f"{PACKAGE}>GroupConv2D"] = GroupConv2D
