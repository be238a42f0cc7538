"""MobileNetV2 family: keras.applications' V2 and write-ups 000 (chenhang98), 001 (kuangliu V2, cheap V2)
and 003 (channel replication instead of the 1x1 expansion, variants a-d).

A network is a stage table ``(t, c, n, s)`` (expansion, width, repeats, first stride) plus a :class:`V2Spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keras_mobilenets import blocks
from keras_mobilenets import initializers as init
from keras_mobilenets.models import base

# (t, c, n, s) stages.
IMAGENET_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                   (6, 320, 1, 1))
CHEN_STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 1), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))
KUANGLIU_STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                   (6, 320, 1, 1))
BLOG_STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 1), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))


@dataclass(frozen=True)
class V2Spec:
    stages: tuple
    stem_stride: int = 2
    act: str = "relu6"
    always_expand: bool = False  # a 1x1 expansion conv even for t=1 (write-ups 000 and 001)
    expansion: str = "conv"  # see blocks.inverted_residual
    expand_act: bool = True
    expand_bn_init: tuple = (None, None)  # (gamma, beta) initialisers of the expansion BN; None = 1, 0
    project_bn: bool = True
    shortcut: str = "identity"
    shortcut_offsets: dict = field(default_factory=dict)  # block index -> first channel of a partial copy
    head: base.Head = base.Head(conv=1280, act="relu6")
    style: blocks.Style = blocks.KERAS.replace(bn_momentum=0.999)
    default_shape: tuple = (224, 224, 3)
    preprocessing: str | None = "-1_1"
    dropout: float = 0.0

    def expansion_for(self, t):
        return "conv" if t == 1 else self.expansion


def build_v2(spec: V2Spec, name, input_shape=None, alpha=1.0, include_top=True, weights=None, input_tensor=None,
             pooling=None, classes=1000, classifier_activation="softmax", dropout_rate=None,
             include_preprocessing=True):
    dropout_rate = spec.dropout if dropout_rate is None else dropout_rate
    total_stride = spec.stem_stride * 2 ** sum(s == 2 for *_, s in spec.stages)
    base.check_common(name, alpha, include_top, classes, pooling, weights, classifier_activation, dropout_rate,
                      input_shape, min_size=total_stride)
    inputs = base.make_input(input_shape, spec.default_shape, input_tensor, include_top)
    x = base.preprocess(inputs, spec.preprocessing if include_preprocessing else None)
    x = blocks.conv_bn_act(x, blocks.make_divisible(32 * alpha, 8), 3, spec.stem_stride, spec.act, spec.style,
                           "stem_conv", "stem_bn")
    i, width_1 = 0, 32  # width_1: the block's input width at alpha = 1
    for t, c, n, s in spec.stages:
        out = blocks.make_divisible(int(c * alpha), 8)
        for r in range(n):
            # a partial-copy shortcut starts at the same fraction of the (scaled) input channels, within them
            cin = x.shape[-1]
            tail = out % cin if out >= cin else out
            offset = min(round(spec.shortcut_offsets.get(i, 0) * cin / width_1), cin - tail)
            x = blocks.inverted_residual(
                x, out, cin * t, s if r == 0 else 1, spec.act, spec.style, f"block{i}",
                expansion=spec.expansion_for(t), always_expand=spec.always_expand, expand_act=spec.expand_act,
                expand_bn_init=spec.expand_bn_init, project_bn=spec.project_bn, shortcut=spec.shortcut,
                shortcut_offset=offset,
            )
            i, width_1 = i + 1, c
    head = spec.head
    if head.conv and alpha > 1.0:  # keras.applications widens the last conv only for alpha > 1
        head = base.Head(**{**head.__dict__, "conv": blocks.make_divisible(head.conv * alpha, 8)})
    x = base.head_features(x, head, spec.style)
    x = base.top(x, head, spec.style, include_top, classes, pooling, dropout_rate, classifier_activation)
    return base.finish(inputs, x, name)


KERAS_V2 = V2Spec(IMAGENET_STAGES)

# Write-up 000-B: chenhang98 MobileNetV2 for CIFAR-10 (He init, ReLU6, expansion conv even at t=1).
CHEN = V2Spec(
    CHEN_STAGES, stem_stride=1, always_expand=True, style=blocks.TORCH.replace(init="he_fan_out"),
    default_shape=(32, 32, 3), preprocessing="0_1",
)

# Write-up 001-A: kuangliu-style MobileNetV2 (ReLU, projection shortcuts at stride 1).
KUANGLIU = V2Spec(
    KUANGLIU_STAGES, stem_stride=1, act="relu", always_expand=True, shortcut="projection",
    head=base.Head(conv=1280, act="relu"), style=blocks.TORCH, default_shape=(32, 32, 3), preprocessing="cifar100",
)

# Write-up 001-B: every 1x1 expansion, the last 1x1 conv and the shortcuts replaced by replication.
CHEAP_V2 = V2Spec(
    KUANGLIU_STAGES, stem_stride=1, act="relu", expansion="tile", expand_act=False, shortcut="replicate",
    shortcut_offsets={10: 32}, head=base.Head(tile=4, tile_act=False, act="relu"), style=blocks.TORCH,
    default_shape=(32, 32, 3), preprocessing="cifar100",
)

# Write-up 003 (dorsalstream blog): variants a-d. The "random affine" BN init is gamma, beta ~ U(0, 1)
# (the blog does not say; PyTorch 0.3's BN drew gamma from U(0, 1)).
RANDOM_AFFINE = (init.RandomUniform(0.0, 1.0), init.RandomUniform(0.0, 1.0))
BLOG = {
    "a": V2Spec(BLOG_STAGES, stem_stride=1, style=blocks.TORCH, default_shape=(32, 32, 3), preprocessing="cifar10"),
}
BLOG["b"] = V2Spec(**{**BLOG["a"].__dict__, "expansion": "tile_bn", "expand_bn_init": RANDOM_AFFINE})
BLOG["c"] = V2Spec(**{**BLOG["b"].__dict__, "project_bn": False})
BLOG["d"] = V2Spec(**{**BLOG["b"].__dict__, "expansion": "dw_tile_bn"})


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights=None, input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", dropout_rate=0.0, include_preprocessing=True,
                name=None):
    """MobileNetV2 (Sandler et al., 2018) with keras.applications' arguments and parameter counts.

    Inputs are RGB pixels in [0, 255] when ``include_preprocessing`` (mapped to [-1, 1] inside the model).
    """
    return build_v2(KERAS_V2, name or f"mobilenetv2_{alpha:0.2f}", input_shape, alpha, include_top, weights,
                    input_tensor, pooling, classes, classifier_activation, dropout_rate, include_preprocessing)
