"""MobileNetV1 family: keras.applications' V1 and write-ups 000 (CIFAR baseline, CustomMobileNet) and 002.

A network is a table of depthwise-separable blocks ``(out_channels, stride)`` plus a :class:`V1Spec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_mobilenets import blocks
from keras_mobilenets.models import base

# (out, stride) per block, at width 1.0.
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)) + ((512, 1),) * 5 + ((1024, 2), (1024, 1))
# Write-up 002 (MobileNet-Julia): the same table with four, not five, 512-wide stride-1 blocks.
JULIA_BLOCKS = V1_BLOCKS[:6] + ((512, 1),) * 4 + V1_BLOCKS[-2:]
# Write-up 000 CustomMobileNet: residual blocks, narrower and deeper (stem 16).
CUSTOM_BLOCKS = (
    ((32, 1),) * 3 + ((64, 2),) + ((64, 1),) * 3 + ((128, 2),) + ((128, 1),) * 8
    + ((256, 2),) + ((256, 1),) * 3 + ((512, 2), (512, 1))
)


@dataclass(frozen=True)
class V1Spec:
    blocks: tuple
    stem: int = 32
    stem_stride: int = 2
    act: str = "relu6"
    width: str = "int"  # how alpha scales widths: "int" (keras: int(c*alpha)) or "round" (Julia: round half-even)
    hidden: bool = False  # write-up 002: extra 1x1 conv of width = input width in every block
    residual: bool = False  # write-up 000 CustomMobileNet
    head: base.Head = base.Head()
    style: blocks.Style = blocks.KERAS.replace(bn_momentum=0.99)
    default_shape: tuple = (224, 224, 3)
    preprocessing: str | None = "-1_1"
    dropout: float = 1e-3

    def scale(self, channels, alpha):
        value = channels * alpha
        return max(1, round(value) if self.width == "round" else int(value))


def build_v1(spec: V1Spec, name, input_shape=None, alpha=1.0, depth_multiplier=1, include_top=True,
             weights=None, input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax",
             dropout_rate=None, include_preprocessing=True, stem_channels=None):
    dropout_rate = spec.dropout if dropout_rate is None else dropout_rate
    if not isinstance(depth_multiplier, int) or depth_multiplier < 1:
        raise ValueError(f"{name}: `depth_multiplier` must be a positive int, got {depth_multiplier!r}.")
    total_stride = spec.stem_stride * 2 ** sum(s == 2 for _, s in spec.blocks)
    base.check_common(name, alpha, include_top, classes, pooling, weights, classifier_activation, dropout_rate,
                      input_shape, min_size=total_stride)
    inputs = base.make_input(input_shape, spec.default_shape, input_tensor, include_top)
    x = base.preprocess(inputs, spec.preprocessing if include_preprocessing else None)
    stem = stem_channels or spec.scale(spec.stem, alpha)
    x = blocks.conv_bn_act(x, stem, 3, spec.stem_stride, spec.act, spec.style, "stem_conv", "stem_bn")
    for i, (out, stride) in enumerate(spec.blocks):
        x = blocks.depthwise_separable(
            x, spec.scale(out, alpha), stride, spec.act, spec.style, f"block{i}",
            multiplier=depth_multiplier, hidden=x.shape[-1] if spec.hidden else None, residual=spec.residual,
        )
    x = base.head_features(x, spec.head, spec.style)
    x = base.top(x, spec.head, spec.style, include_top, classes, pooling, dropout_rate, classifier_activation)
    return base.finish(inputs, x, name)


KERAS_V1 = V1Spec(V1_BLOCKS)

# Write-up 000-A: kuangliu/pytorch-cifar MobileNet, stem stride 1, ReLU, torch defaults, no normalisation.
CIFAR_BASELINE = V1Spec(
    V1_BLOCKS, stem_stride=1, act="relu", head=base.Head(fixed_pool=True), style=blocks.TORCH,
    default_shape=(32, 32, 3), preprocessing="0_1", dropout=0.0,
)

# Write-up 000-C: CustomMobileNet, He (fan_out) init everywhere, Dense N(0, 0.01), dropout 0.5.
CUSTOM = V1Spec(
    CUSTOM_BLOCKS, stem=16, stem_stride=1, act="relu", residual=True, head=base.Head(fixed_pool=True),
    style=blocks.TORCH.replace(init="he_fan_out", dense_init=0.01), default_shape=(32, 32, 3),
    preprocessing="0_1", dropout=0.5,
)

# Write-up 002: Flux MobileNetV1 at width 0.1 with a hidden 1x1 conv, ReLU6, glorot, softmax output.
JULIA = V1Spec(
    JULIA_BLOCKS, act="relu6", width="round", hidden=True, style=blocks.TORCH.replace(init="glorot",
    dense_init="glorot"), default_shape=(32, 32, 3), preprocessing="cifar100", dropout=0.0,
)


def MobileNetV1(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights=None,
                input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax",
                include_preprocessing=True, name=None, dropout_rate=None):
    """MobileNetV1 (Howard et al., 2017) with keras.applications' arguments and parameter counts.

    Inputs are RGB pixels in [0, 255] when ``include_preprocessing`` (the layer maps them to [-1, 1], as
    ``keras.applications.mobilenet.preprocess_input`` does).
    """
    return build_v1(KERAS_V1, name or f"mobilenet_{alpha:g}_{depth_multiplier}", input_shape, alpha,
                    depth_multiplier, include_top, weights, input_tensor, pooling, classes, classifier_activation,
                    dropout if dropout_rate is None else dropout_rate, include_preprocessing)
