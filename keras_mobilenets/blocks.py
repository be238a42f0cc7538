"""Block builders shared by every MobileNet in the package.

Each function takes a Keras tensor and returns one, adding named layers. The *porting conventions* of a
family (BatchNorm eps/momentum, stride-2 padding, initialisers) travel in one frozen :class:`Style`, so
a block never hard-codes a framework's defaults.

Layer names (used by the weight-transfer tests and documented for users):
``stem_conv, stem_bn, block{i}_expand, block{i}_expand_bn, block{i}_dw, block{i}_dw_bn, block{i}_hidden,
block{i}_se_reduce, block{i}_se_expand, block{i}_project, block{i}_project_bn, block{i}_shortcut,
block{i}_shortcut_bn, head_conv, head_bn, head_dense, predictions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import keras
from keras import layers

from keras_mobilenets import initializers as init
from keras_mobilenets.layers import BatchNormalization, ChannelReplicate, ChannelShuffle, Conv2D, DepthwiseConv2D, GroupConv2D, HardSigmoid, HardSwish, ReLU, Reshape

ACTIVATIONS = ("relu", "relu6", "hard_swish", "hard_sigmoid", "sigmoid", None)
INITS = ("keras", "torch", "he_fan_out", "glorot")


def make_divisible(value, divisor=8, min_value=None):
    """Round ``value`` to a multiple of ``divisor``, never going below 90 % of it (MobileNetV2/V3 rule)."""
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


@dataclass(frozen=True)
class Style:
    """Porting conventions of one model family.

    Attributes:
        bn_eps, bn_momentum: Keras BatchNormalization arguments (Keras momentum = 1 - torch momentum).
        padding: ``"same"`` (TensorFlow: stride-2 pads bottom/right) or ``"symmetric"`` (PyTorch/Flux:
            ``(k-1)//2`` zeros on every side of every strided conv: the conv layers' ``padding="symmetric"``).
        init: conv/depthwise initialisers: ``"keras"`` (Glorot uniform, Keras defaults), ``"torch"``
            (PyTorch's default U(+-1/sqrt(fan_in))), ``"he_fan_out"`` (``kaiming_normal_(mode="fan_out")``,
            untruncated), ``"glorot"`` (Flux ``glorot_uniform``).
        dense_init: ``"keras"``, ``"torch"`` (weight and bias U(+-1/sqrt(in))), ``"glorot"`` or a float =
            std of a zero-mean normal with zero bias (e.g. 0.01).
    """

    bn_eps: float = 1e-3
    bn_momentum: float = 0.99
    padding: str = "same"
    init: str = "keras"
    dense_init: object = "keras"

    def __post_init__(self):
        if self.padding not in ("same", "symmetric"):
            raise ValueError(f"Style.padding must be 'same' or 'symmetric', got {self.padding!r}.")
        if self.init not in INITS:
            raise ValueError(f"Style.init must be one of {INITS}, got {self.init!r}.")

    def replace(self, **changes):
        return replace(self, **changes)


KERAS = Style()
TORCH = Style(bn_eps=1e-5, bn_momentum=0.9, padding="symmetric", init="torch", dense_init="torch")


# ----------------------------------------------------------------------------------------------- initialisers
def conv_initializer(style, kernel, cin_per_group):
    if style.init == "torch":  # U(+-1/sqrt(fan_in)) = VarianceScaling(1/3, fan_in, uniform)
        return init.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")
    if style.init == "he_fan_out":
        return init.VarianceScaling(2.0, "fan_out", "untruncated_normal")
    return init.GlorotUniform()


def depthwise_initializer(style, kernel):
    # Keras sees a depthwise kernel (k, k, C, 1) with fan_in = k*k*C, fan_out = k*k: the torch fans swapped.
    if style.init == "torch":  # torch fan_in = k*k
        return init.RandomUniform(-1.0 / kernel, 1.0 / kernel)
    if style.init == "he_fan_out":  # torch fan_out = C*k*k = Keras fan_in
        return init.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    return init.GlorotUniform()


def dense_initializers(style, fan_in):
    """(kernel, bias) initialisers for a Dense (or 1x1 conv on a pooled vector) with ``fan_in`` inputs."""
    kind = style.dense_init
    if isinstance(kind, (int, float)):
        return init.RandomNormal(0.0, float(kind)), init.ZEROS
    if kind == "torch":
        bound = 1.0 / math.sqrt(fan_in)
        return init.RandomUniform(-bound, bound), init.RandomUniform(-bound, bound)
    return init.GlorotUniform(), init.ZEROS


# ------------------------------------------------------------------------------------------------- primitives
def activation(x, kind, name):
    """Apply a TFLite-builtin-friendly activation; ``None`` is the identity."""
    if kind is None:
        return x
    if kind == "relu":
        return ReLU(name=name)(x)
    if kind == "relu6":
        return ReLU(6.0, name=name)(x)
    if kind == "hard_swish":
        return HardSwish(name=name)(x)
    if kind == "hard_sigmoid":
        return HardSigmoid(name=name)(x)
    if kind == "sigmoid":
        return layers.Activation("sigmoid", name=name)(x)
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {kind!r}.")


def batch_norm(x, style, name, gamma_initializer=None, beta_initializer=None):
    return BatchNormalization(
        epsilon=style.bn_eps,
        momentum=style.bn_momentum,
        gamma_initializer=gamma_initializer or init.ONES,
        beta_initializer=beta_initializer or init.ZEROS,
        moving_mean_initializer=init.ZEROS,
        moving_variance_initializer=init.ONES,
        name=name,
    )(x)


def _pad(x, kernel, stride, style, name):
    """Return (tensor, padding) so a conv of ``kernel``/``stride`` pads like the source framework."""
    if kernel == 1:
        return x, "valid"
    if stride == 1 or style.padding == "same":
        if stride == 1 and kernel % 2 == 0:
            raise ValueError(f"even kernel {kernel} with stride 1 is not supported")
        return x, "same"
    return x, "symmetric"  # (k - 1) // 2 zeros on every side, inside the conv layer (see layers.PADDINGS)


def conv(x, filters, kernel, stride, style, name, groups=1, use_bias=False):
    """Conv2D with source-framework padding (no BN)."""
    cin = x.shape[-1]
    x, padding = _pad(x, kernel, stride, style, name)
    bias_init = init.ZEROS
    if use_bias and style.init == "torch":
        bound = 1.0 / math.sqrt(cin // groups * kernel * kernel)
        bias_init = init.RandomUniform(-bound, bound)
    if groups > 1:  # see GroupConv2D: Keras' grouped Conv2D is XLA-only on TensorFlow (slow, no ONNX)
        return GroupConv2D(filters, kernel, strides=stride, padding=padding, groups=groups,
                           kernel_initializer=conv_initializer(style, kernel, cin // groups), name=name)(x)
    return Conv2D(
        filters,
        kernel,
        strides=stride,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=conv_initializer(style, kernel, cin // groups),
        bias_initializer=bias_init,
        name=name,
    )(x)


def conv_bn_act(x, filters, kernel, stride, act, style, name, bn_name=None):
    """conv -> BN -> act, with layers ``{name}``, ``bn_name`` (default ``{name}_bn``), ``{name}_act``."""
    x = conv(x, filters, kernel, stride, style, name)
    x = batch_norm(x, style, bn_name or f"{name}_bn")
    return activation(x, act, f"{name}_act")


def depthwise(x, kernel, stride, style, name, multiplier=1):
    x, padding = _pad(x, kernel, stride, style, name)
    return DepthwiseConv2D(
        kernel,
        strides=stride,
        padding=padding,
        depth_multiplier=multiplier,
        use_bias=False,
        depthwise_initializer=depthwise_initializer(style, kernel),
        name=name,
    )(x)


def dense(x, units, style, name, use_bias=True, act=None):
    kernel_init, bias_init = dense_initializers(style, x.shape[-1])
    return layers.Dense(
        units,
        use_bias=use_bias,
        activation=act,
        kernel_initializer=kernel_init,
        bias_initializer=bias_init,
        name=name,
    )(x)


# ------------------------------------------------------------------------------------------------- SE
@dataclass(frozen=True)
class SE:
    """Squeeze-and-excite options (the write-ups disagree on every one of them).

    Attributes:
        reduction: squeeze width = ``make_divisible(C / reduction, divisor)`` (``divisor=None``: ``C // reduction``).
        divisor: rounding of the squeeze width, or None.
        bias: whether the two FC layers have biases.
        gate: activation of the excitation (``"hard_sigmoid"``, ``"sigmoid"``, None).
        excite: ``"fc"`` (a second FC back to C) or ``"tile"`` (replicate the squeezed vector ``reduction`` times).
        position: ``"after_act"`` (keras.applications / torchvision: dw -> BN -> act -> SE) or ``"before_act"``
            (ShowLo, write-up 001: dw -> BN -> SE -> act).
        conv: implement the FCs as 1x1 convs on a (1, 1, C) map (keras.applications / torchvision) or as Dense.
    """

    reduction: float = 4
    divisor: int | None = 8
    bias: bool = True
    gate: str | None = "hard_sigmoid"
    excite: str = "fc"
    position: str = "after_act"
    conv: bool = True

    def squeeze_width(self, channels):
        if self.divisor is None:
            return int(channels // self.reduction)
        return make_divisible(channels / self.reduction, self.divisor)


def squeeze_excite(x, se, style, name):
    channels = x.shape[-1]
    width = se.squeeze_width(channels)
    # Dense FCs act on the pooled (N, C) vector, reshaped to (N, 1, 1, C) at the end: a Dense on a 4-D tensor
    # lowers to dynamic-shape reshapes (SHAPE / GATHER / PACK / REDUCE_PROD) that TFLite's XNNPACK cannot run.
    s = layers.GlobalAveragePooling2D(keepdims=se.conv, name=f"{name}_pool")(x)
    kernel_init, bias_init = dense_initializers(style, channels)
    fc = (lambda n, u, b, ki, bi: Conv2D(u, 1, use_bias=b, kernel_initializer=ki, bias_initializer=bi, name=n)) if se.conv else (
        lambda n, u, b, ki, bi: layers.Dense(u, use_bias=b, kernel_initializer=ki, bias_initializer=bi, name=n)
    )
    s = fc(f"{name}_reduce", width, se.bias, kernel_init, bias_init)(s)
    s = ReLU(name=f"{name}_relu")(s)
    if se.excite == "fc":
        kernel_init, bias_init = dense_initializers(style, width)
        s = fc(f"{name}_expand", channels, se.bias, kernel_init, bias_init)(s)
    elif se.excite == "tile":
        s = ChannelReplicate(out_channels=channels, name=f"{name}_tile")(s)
    else:
        raise ValueError(f"SE.excite must be 'fc' or 'tile', got {se.excite!r}.")
    s = activation(s, se.gate, f"{name}_gate")
    if not se.conv:
        s = Reshape((1, 1, channels), name=f"{name}_unflatten")(s)
    return layers.Multiply(name=f"{name}_mul")([x, s])


# ------------------------------------------------------------------------------------------------- blocks
def depthwise_separable(x, out, stride, act, style, name, kernel=3, multiplier=1, hidden=None, residual=False):
    """MobileNetV1 block: dw -> BN -> act -> [hidden 1x1 -> BN -> act] -> pw -> BN -> act [+ shortcut].

    ``hidden``: width of write-up 002's extra 1x1 conv. ``residual``: write-up 000's CustomMobileNet adds
    an identity (same shape) or a strided 1x1 conv + BN projection shortcut after the last activation.
    """
    inputs = x
    x = depthwise(x, kernel, stride, style, f"{name}_dw", multiplier)
    x = batch_norm(x, style, f"{name}_dw_bn")
    x = activation(x, act, f"{name}_dw_act")
    if hidden:
        x = conv_bn_act(x, hidden, 1, 1, act, style, f"{name}_hidden")
    x = conv_bn_act(x, out, 1, 1, act, style, f"{name}_project")
    if residual:
        x = layers.Add(name=f"{name}_add")([x, _shortcut(inputs, out, stride, "projection", style, name)])
    return x


def _shortcut(x, out, stride, kind, style, name, offset=0):
    """Shortcut branch: identity, 1x1 conv + BN projection, or parameter-free channel replication."""
    if kind == "projection":
        if stride == 1 and x.shape[-1] == out:
            return x
        x = conv(x, out, 1, stride, style, f"{name}_shortcut")
        return batch_norm(x, style, f"{name}_shortcut_bn")
    if kind == "replicate":
        if x.shape[-1] == out:
            return x
        return ChannelReplicate(out_channels=out, offset=offset, name=f"{name}_shortcut")(x)
    raise ValueError(f"shortcut must be 'projection' or 'replicate', got {kind!r}.")


EXPANSIONS = ("conv", "tile", "tile_bn", "tile_grouped", "dw_tile_bn")


def inverted_residual(
    x,
    out,
    exp,
    stride,
    act,
    style,
    name,
    kernel=3,
    se=None,
    expansion="conv",
    always_expand=False,
    expand_act=True,
    shuffle=None,
    out_shuffle=None,
    dw_groups=None,
    project_bn=True,
    shortcut="identity",
    shortcut_offset=0,
    expand_bn_init=(None, None),
):
    """MobileNetV2/V3 inverted residual block and the write-ups' cheap-operation variants.

    Args:
        out, exp: output and expanded channel counts. No expansion stage when ``exp == cin`` unless
            ``always_expand`` (write-ups 000/001 keep a 1x1 conv even for t=1).
        expansion: ``"conv"`` (1x1 conv + BN), ``"tile"`` (replicate, no BN: write-up 001),
            ``"tile_bn"`` (replicate + BN, write-up 003 b/c), ``"tile_grouped"`` (replicate then add a
            BN'd grouped 1x1 conv with 3*g groups: write-up 001 CV3K), ``"dw_tile_bn"`` (strided depthwise
            conv on cin channels, then replicate + BN: write-up 003 d).
        expand_act: whether the expansion is followed by ``act``.
        shuffle: channel-shuffle groups applied before a tile expansion (write-up 001).
        out_shuffle: channel-shuffle groups applied to the projected output (write-up 001 CV3K).
        dw_groups: replace the depthwise conv by a grouped conv with this many groups (write-up 001 G).
        project_bn: BN after the projection (write-up 003 c drops it).
        shortcut: ``"identity"`` (add iff stride 1 and cin == out), ``"projection"`` (also 1x1 conv + BN when
            stride 1 and cin != out), ``"replicate"`` (parameter-free channel replication when stride 1),
            ``"none"``.
        expand_bn_init: (gamma, beta) initialisers of the expansion BN (003's "random affine" init).
    """
    if expansion not in EXPANSIONS:
        raise ValueError(f"expansion must be one of {EXPANSIONS}, got {expansion!r}.")
    inputs = x
    cin = x.shape[-1]
    ratio = exp / cin
    dw_done = False
    if exp != cin or always_expand:
        if expansion == "conv":
            x = conv(x, exp, 1, 1, style, f"{name}_expand")
            x = batch_norm(x, style, f"{name}_expand_bn")
        else:
            if shuffle:
                x = ChannelShuffle(shuffle, name=f"{name}_shuffle")(x)
            if expansion == "dw_tile_bn":
                x = depthwise(x, kernel, stride, style, f"{name}_dw")
                dw_done = True
            if expansion == "tile" and expand_act:
                # act(tile(x)) == tile(act(x)) on 1/ratio of the channels; a TFLite int8 RELU that cannot fuse
                # into the op before it (here a CONCATENATION) is not run by XNNPACK and splits the graph.
                x = activation(x, act, f"{name}_expand_act")
            x = ChannelReplicate(ratio=ratio, name=f"{name}_tile")(x)
            if expansion in ("tile_bn", "dw_tile_bn"):
                x = batch_norm(x, style, f"{name}_expand_bn", *expand_bn_init)
            elif expansion == "tile_grouped":
                g = conv(x, exp, 1, 1, style, f"{name}_expand", groups=3 * round(ratio))
                g = batch_norm(g, style, f"{name}_expand_bn")
                x = layers.Add(name=f"{name}_expand_add")([x, g])
        if expand_act and expansion != "tile":
            x = activation(x, act, f"{name}_expand_act")
    if not dw_done:
        if dw_groups:
            x = conv(x, exp, kernel, stride, style, f"{name}_dw", groups=dw_groups)
        else:
            x = depthwise(x, kernel, stride, style, f"{name}_dw")
        x = batch_norm(x, style, f"{name}_dw_bn")
    if se is not None and se.position == "before_act":
        x = squeeze_excite(x, se, style, f"{name}_se")
    if not dw_done:
        x = activation(x, act, f"{name}_dw_act")
    if se is not None and se.position == "after_act":
        x = squeeze_excite(x, se, style, f"{name}_se")
    x = conv(x, out, 1, 1, style, f"{name}_project")
    if project_bn:
        x = batch_norm(x, style, f"{name}_project_bn")
    if out_shuffle and out_shuffle > 1:
        x = ChannelShuffle(out_shuffle, name=f"{name}_out_shuffle")(x)
    if stride == 1 and shortcut != "none":
        if shortcut == "identity":
            if cin == out:
                x = layers.Add(name=f"{name}_add")([x, inputs])
        else:
            short = _shortcut(inputs, out, 1, shortcut, style, name, shortcut_offset)
            x = layers.Add(name=f"{name}_add")([x, short])
    return x
