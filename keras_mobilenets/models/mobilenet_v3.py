"""MobileNetV3 family: keras.applications' V3-Small/Large, write-up 004 (torchvision V3-Small, 42 outputs)
and write-up 001's MobileNetV3-Large and cheap-operation variants.

A network is a row table ``(kernel, exp, out, se, act, stride)`` at width 1.0 plus a :class:`V3Spec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_mobilenets import blocks
from keras_mobilenets.layers import ChannelReplicate
from keras_mobilenets.models import base

RE, HS = "relu", "hard_swish"

LARGE = (
    (3, 16, 16, False, RE, 1), (3, 64, 24, False, RE, 2), (3, 72, 24, False, RE, 1),
    (5, 72, 40, True, RE, 2), (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
    (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1), (3, 184, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
    (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
    (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1), (5, 960, 160, True, HS, 1),
)
SMALL = (
    (3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2), (3, 88, 24, False, RE, 1),
    (5, 96, 40, True, HS, 2), (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
    (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1),
    (5, 288, 96, True, HS, 2), (5, 576, 96, True, HS, 1), (5, 576, 96, True, HS, 1),
)
# Write-up 001 "cheap" tables: every expansion is 6 x input width.
CHEAP = (
    (3, 16, 16, False, RE, 1), (3, 96, 24, False, RE, 2), (3, 144, 24, False, RE, 1),
    (5, 144, 40, True, RE, 2), (5, 240, 40, True, RE, 1), (5, 240, 40, True, RE, 1),
    (3, 240, 80, False, HS, 2), (3, 480, 80, False, HS, 1), (3, 480, 80, False, HS, 1), (3, 480, 80, False, HS, 1),
    (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
    (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1), (5, 960, 160, True, HS, 1),
)
REUSE6 = (
    (3, 24, 24, False, RE, 1), (3, 144, 24, False, RE, 2), (3, 144, 24, False, RE, 1),
    (5, 144, 48, True, RE, 2), (5, 288, 48, True, RE, 1), (5, 288, 48, True, RE, 1),
    (3, 288, 96, False, HS, 2), (3, 576, 96, False, HS, 1), (3, 576, 96, False, HS, 1), (3, 576, 96, False, HS, 1),
    (3, 576, 120, True, HS, 1), (3, 720, 120, True, HS, 1),
    (5, 720, 180, True, HS, 2), (5, 1080, 180, True, HS, 1), (5, 1080, 180, True, HS, 1),
)
CV3K = (
    (3, 24, 24, False, RE, 1), (3, 72, 24, False, RE, 2), (3, 72, 24, False, RE, 1),
    (5, 144, 48, True, RE, 2), (5, 144, 48, True, RE, 1), (5, 144, 48, True, RE, 1),
    (3, 288, 72, False, HS, 2), (3, 216, 72, False, HS, 1), (3, 216, 72, False, HS, 1), (3, 216, 72, False, HS, 1),
    (3, 432, 108, True, HS, 1), (3, 648, 108, True, HS, 1),
    (5, 648, 162, True, HS, 2), (5, 972, 162, True, HS, 1), (5, 972, 162, True, HS, 1),
)


def cifar(rows):
    """Write-up 001's CIFAR form: the second block keeps stride 1 (the stem does too, see V3Spec)."""
    return (rows[0], rows[1][:5] + (1,)) + tuple(rows[2:])


@dataclass(frozen=True)
class V3Spec:
    """Switches of a V3-style network.

    Attributes:
        stem: stem width; ``stem_kind`` ``"conv"`` (conv3x3 -> BN -> act), ``"replicate"`` (write-up 001:
            conv3x3 3->3 -> BN -> tile16 -> 1x1 -> BN -> act) or ``"replicate_in"`` (001 ImageNet: tile4 first,
            then conv3x3 12->12).
        expansion: ``"conv"``, ``"tile"`` or ``"tile_grouped"`` (see :func:`blocks.inverted_residual`); the
            expansion of a tile block is followed by the block's activation.
        shuffle: channel-shuffle groups before a tile expansion (``None``: no shuffle).
        out_shuffle: shuffle the projected output with g = exp // cin groups (write-up 001 CV3K).
        grouped_from: blocks from this index on use a 2-channels-per-group kxk conv instead of the depthwise.
        divisor: widths scaled by ``alpha != 1`` are rounded to multiples of this (8 as in keras.applications;
            24 = lcm(8, 6) for 6-group channel shuffles, so that every scaled width still splits into 6 groups).
    """

    rows: tuple
    se: blocks.SE = blocks.SE()
    head: base.Head = base.Head(conv=576, dense=1024, act=HS)
    stem: int = 16
    stem_stride: int = 2
    stem_kind: str = "conv"
    stem_act: str = HS
    expansion: str = "conv"
    shuffle: int | None = None
    out_shuffle: bool = False
    grouped_from: int | None = None
    divisor: int = 8
    style: blocks.Style = blocks.KERAS.replace(bn_momentum=0.999)
    default_shape: tuple = (224, 224, 3)
    preprocessing: str | None = "-1_1"
    dropout: float = 0.2


def _stem(x, spec, alpha, act):
    style, s = spec.style, spec.stem_stride
    if spec.stem_kind == "conv":
        return blocks.conv_bn_act(x, spec.stem, 3, s, act, style, "stem_conv", "stem_bn")
    if spec.stem_kind == "replicate_in":
        x = ChannelReplicate(ratio=4, name="stem_tile_in")(x)
    elif spec.stem_kind != "replicate":
        raise ValueError(f"stem_kind must be 'conv', 'replicate' or 'replicate_in', got {spec.stem_kind!r}.")
    x = blocks.conv(x, x.shape[-1], 3, s, style, "stem_conv")
    x = blocks.batch_norm(x, style, "stem_bn")
    x = ChannelReplicate(out_channels=48, name="stem_tile")(x)
    return blocks.conv_bn_act(x, spec.stem, 1, 1, act, style, "stem_pw", "stem_pw_bn")


def build_v3(spec: V3Spec, name, input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights=None,
             input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax", dropout_rate=None,
             include_preprocessing=True):
    dropout_rate = spec.dropout if dropout_rate is None else dropout_rate
    total_stride = spec.stem_stride * 2 ** sum(r[5] == 2 for r in spec.rows)
    base.check_common(name, alpha, include_top, classes, pooling, weights, classifier_activation, dropout_rate,
                      input_shape, min_size=total_stride)
    inputs = base.make_input(input_shape, spec.default_shape, input_tensor, include_top)
    x = base.preprocess(inputs, spec.preprocessing if include_preprocessing else None)
    x = _stem(x, spec, alpha, RE if minimalistic else spec.stem_act)
    table_in, d = spec.stem, spec.divisor
    for i, (k, exp, out, se, act, s) in enumerate(spec.rows):
        cin = x.shape[-1]
        if alpha != 1.0:  # keras.applications: widths through make_divisible, expansion as a ratio of cin
            out, exp = blocks.make_divisible(out * alpha, d), blocks.make_divisible(cin * exp / table_in, d)
        if minimalistic:
            k, se, act = 3, False, RE
        grouped = spec.grouped_from is not None and i >= spec.grouped_from and exp != cin
        try:
            x = blocks.inverted_residual(
                x, out, exp, s, act, spec.style, f"block{i}", kernel=k, se=spec.se if se else None,
                expansion=spec.expansion, shuffle=spec.shuffle,
                out_shuffle=exp // cin if spec.out_shuffle else None, dw_groups=exp // 2 if grouped else None,
            )
        except ValueError as exc:
            if alpha == 1.0:
                raise
            raise ValueError(
                f"{name}: `alpha`={alpha} gives block {i} {cin} -> {exp} -> {out} channels, which its channel "
                f"shuffles / grouped convolutions cannot split ({exc}). Use alpha=1.0 (the write-up's widths)."
            ) from exc
        table_in = spec.rows[i][2]
    head = spec.head
    if head.conv and alpha != 1.0:
        head = base.Head(**{**head.__dict__, "conv": blocks.make_divisible(x.shape[-1] * 6)})
    if head.dense and alpha > 1.0:
        head = base.Head(**{**head.__dict__, "dense": blocks.make_divisible(head.dense * alpha)})
    if minimalistic:
        head = base.Head(**{**head.__dict__, "act": RE})
    x = base.head_features(x, head, spec.style)
    x = base.top(x, head, spec.style, include_top, classes, pooling, dropout_rate, classifier_activation)
    return base.finish(inputs, x, name)


KERAS_SMALL = V3Spec(SMALL)
KERAS_LARGE = V3Spec(LARGE, head=base.Head(conv=960, dense=1280, act=HS))

# Write-up 004: torchvision mobilenet_v3_small(num_classes=42): symmetric padding, BN eps 1e-3 / torch
# momentum 0.01, kaiming fan_out convs, Dense N(0, 0.01), ImageNet mean/std inside the model.
TORCHVISION_SMALL = V3Spec(
    SMALL, style=blocks.Style(bn_eps=1e-3, bn_momentum=0.99, padding="symmetric", init="he_fan_out", dense_init=0.01),
    preprocessing="imagenet",
)

# Write-up 001 (ShowLo MobileNetV3 base): SE between the depthwise BN and its activation, no-bias Dense SE.
_SHOWLO = dict(
    style=blocks.TORCH.replace(init="he_fan_out", dense_init=0.001),
    se=blocks.SE(reduction=4, divisor=None, bias=False, gate="hard_sigmoid", position="before_act", conv=False),
    head=base.Head(conv=960, dense=1280, dense_bias=False, act=HS),
)
_CIFAR = dict(stem_stride=1, default_shape=(32, 32, 3), preprocessing="cifar100")
_IMAGENET = dict(preprocessing="imagenet")
_TILE_SE = dict(_SHOWLO, se=blocks.SE(reduction=8, divisor=None, bias=False, gate="hard_sigmoid", excite="tile",
                                      position="before_act", conv=False))
_CHEAP_HEAD = base.Head(tile=6, dense_tile=2, act=HS)

SHOWLO_LARGE_CIFAR = V3Spec(cifar(LARGE), **_SHOWLO, **_CIFAR)
SHOWLO_LARGE_IMAGENET = V3Spec(LARGE, **_SHOWLO, **_IMAGENET)
CHEAP_V3 = V3Spec(
    cifar(CHEAP), expansion="tile", **{**_SHOWLO, "head": _CHEAP_HEAD,
    "se": blocks.SE(reduction=4, divisor=None, bias=False, gate=None, excite="tile", position="before_act", conv=False)},
    **_CIFAR,
)
CHEAP_V3_SHUFFLE = V3Spec(cifar(CHEAP), expansion="tile", stem_kind="replicate", **{**_TILE_SE, "head": _CHEAP_HEAD},
                          **_CIFAR)
REUSE_SHUFFLE6 = V3Spec(cifar(REUSE6), expansion="tile", shuffle=6, divisor=24, stem=24, stem_kind="replicate",
                        **{**_TILE_SE, "head": _CHEAP_HEAD}, **_CIFAR)
CHEAP_V3G = V3Spec(**{**REUSE_SHUFFLE6.__dict__, "grouped_from": 7})
REUSE_SHUFFLE6_IMAGENET = V3Spec(REUSE6, expansion="tile", shuffle=6, divisor=24, stem=24, stem_kind="replicate_in",
                                 **{**_TILE_SE, "head": _CHEAP_HEAD}, **_IMAGENET, dropout=0.0)
CV3K_IMAGENET = V3Spec(
    CV3K, stem=24, expansion="tile_grouped", out_shuffle=True,
    **{**_SHOWLO, "head": base.Head(conv=972, dense=1280, dense_bias=False, act=HS),
       "se": blocks.SE(reduction=4, divisor=None, bias=False, gate="hard_sigmoid", excite="tile",
                       position="before_act", conv=False)},
    **_IMAGENET,
)
REUSE6_SHUFFLE6_OL_IMAGENET = V3Spec(
    REUSE6, stem=24, expansion="tile", shuffle=6, divisor=24,
    **{**_TILE_SE, "head": base.Head(conv=1080, dense=1280, dense_bias=False, act=HS)}, **_IMAGENET, dropout=0.0,
)


def MobileNetV3Small(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights=None,
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2,
                     classifier_activation="softmax", include_preprocessing=True, name=None):
    """MobileNetV3-Small (Howard et al., 2019) with keras.applications' arguments and parameter counts.

    Inputs are RGB pixels in [0, 255]; with ``include_preprocessing`` a Rescaling layer maps them to [-1, 1].
    """
    return build_v3(KERAS_SMALL, name or "MobileNetV3Small", input_shape, alpha, minimalistic, include_top,
                    weights, input_tensor, pooling, classes, classifier_activation, dropout_rate,
                    include_preprocessing)


def MobileNetV3Large(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights=None,
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2,
                     classifier_activation="softmax", include_preprocessing=True, name=None):
    """MobileNetV3-Large (Howard et al., 2019) with keras.applications' arguments and parameter counts."""
    return build_v3(KERAS_LARGE, name or "MobileNetV3Large", input_shape, alpha, minimalistic, include_top,
                    weights, input_tensor, pooling, classes, classifier_activation, dropout_rate,
                    include_preprocessing)
