"""Plain-PyTorch reference implementations of the write-up networks (see ``SPECS.md``).

These modules are written the way the write-ups wrote them (NCHW, symmetric ``(k-1)//2`` padding, torch
BatchNorm, the per-seed initialisation of porting rule 4).  They serve two purposes:

* numeric porting proofs: :func:`copy_torch_to_keras` copies the weights of a torch model into the Keras
  model of the same name and the eval-mode outputs are compared;
* training-step benchmarks (``benchmarks/train_step.py``).

Naming contract (so weights can be copied by name).  A torch module path maps to a Keras layer name::

    stem_conv            -> stem_conv
    blocks.{i}.{attr}    -> block{i}_{attr}      (i = 0-based block index over the whole network)
    head_conv / head_bn / head_dense / predictions -> same name

Block attributes: ``expand``/``expand_bn``, ``dw``/``dw_bn``, ``hidden``/``hidden_bn`` (seed 002),
``se_reduce``/``se_expand``, ``project``/``project_bn``, ``shortcut``/``shortcut_bn``.
Channel operations (NCHW): ``tile(x, n) = cat([x]*n, dim=1)`` (output channel j = input channel j mod C);
``shuffle(x, g)`` = view (N, g, C/g, H, W) -> transpose(1, 2) -> reshape (N, C, H, W).

Only ``torch`` and ``numpy`` are needed to build/run the models; ``keras`` is imported lazily by the
Keras helpers.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "TORCH_MODELS",
    "DEFAULT_NUM_CLASSES",
    "INPUT_SHAPES",
    "build",
    "tile",
    "shuffle",
    "count_params",
    "randomize_batchnorm_",
    "torch_reference_output",
    "randomize_for_parity_",
    "keras_parity",
    "keras_name",
    "copy_torch_to_keras",
    "WeightTransferError",
]

# --------------------------------------------------------------------------------------------------
# channel operations and activations
# --------------------------------------------------------------------------------------------------


def tile(x: torch.Tensor, n: int) -> torch.Tensor:
    """Replicate along the channel axis (dim 1): output channel j = input channel j mod C."""
    return x if n == 1 else torch.cat([x] * n, dim=1)


def shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle with ``groups`` groups (NCHW)."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _act(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "relu":
        return F.relu(x)
    if kind == "relu6":
        return F.relu6(x)
    if kind == "hswish":
        return F.hardswish(x)
    if kind == "hsigmoid":
        return F.hardsigmoid(x)
    raise ValueError(f"unknown activation {kind!r}")


# ShowLo's "RE"/"HS" notation (seed 001) and torchvision's (seed 004)
_NL = {"RE": "relu", "HS": "hswish"}


def _bn(c: int, bn: dict) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=bn["eps"], momentum=bn["momentum"])


TORCH_BN = {"eps": 1e-5, "momentum": 0.1}  # torch (and Flux) defaults
TV_V3_BN = {"eps": 1e-3, "momentum": 0.01}  # torchvision MobileNetV3


def _conv(cin, cout, k, stride=1, groups=1, bias=False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=bias)


def _dw(c, k, stride) -> nn.Conv2d:
    return _conv(c, c, k, stride, groups=c)


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Channel rounding of the MobileNet reference code (round to nearest, never below 90 % of v)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# --------------------------------------------------------------------------------------------------
# initialisers (porting rule 4)
# --------------------------------------------------------------------------------------------------


def _bn_ones_zeros(m):
    if isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def _init_he_out_channels(model: nn.Module) -> None:
    """seed 000 "He": conv weight ~ N(0, sqrt(2 / (k*k*out_channels))) incl. depthwise; BN 1/0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        _bn_ones_zeros(m)


def _init_kaiming_fan_out(model: nn.Module, linear_std: float) -> None:
    """seeds 001 (ShowLo) / 004 (torchvision): conv kaiming_normal fan_out, BN 1/0, Linear N(0, std)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, linear_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        _bn_ones_zeros(m)


def _init_glorot(model: nn.Module) -> None:
    """Flux glorot_uniform (seed 002); torch's fan computation gives Flux's limits, also for depthwise."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        _bn_ones_zeros(m)


# --------------------------------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------------------------------


class DepthwiseSeparable(nn.Module):
    """V1 block: dw -> BN -> act -> [hidden pw -> BN -> act] -> pw -> BN -> act [+ shortcut].

    ``residual`` (CustomMobileNet, seed 000-C): out = y + shortcut(x), shortcut = identity or
    pw(stride s) + BN; no activation after the addition.  ``hidden`` = seed 002's extra 1x1 conv.
    """

    def __init__(self, cin, cout, stride, act="relu", bn=TORCH_BN, hidden=None, residual=False):
        super().__init__()
        self.act = act
        self.dw = _dw(cin, 3, stride)
        self.dw_bn = _bn(cin, bn)
        mid = cin
        if hidden is not None:
            self.hidden = _conv(cin, hidden, 1)
            self.hidden_bn = _bn(hidden, bn)
            mid = hidden
        else:
            self.hidden = None
        self.project = _conv(mid, cout, 1)
        self.project_bn = _bn(cout, bn)
        self.residual = residual
        if residual and (stride != 1 or cin != cout):
            self.shortcut = _conv(cin, cout, 1, stride)
            self.shortcut_bn = _bn(cout, bn)
        else:
            self.shortcut = None

    def forward(self, x):
        y = _act(self.dw_bn(self.dw(x)), self.act)
        if self.hidden is not None:
            y = _act(self.hidden_bn(self.hidden(y)), self.act)
        y = _act(self.project_bn(self.project(y)), self.act)
        if not self.residual:
            return y
        return y + (x if self.shortcut is None else self.shortcut_bn(self.shortcut(x)))


class InvertedResidual(nn.Module):
    """V2 bottleneck: [pw expand -> BN -> act] -> dw3x3 s -> BN -> act -> pw -> BN (+ shortcut).

    expand: build the 1x1 expansion (chen / kuangliu build it even for t=1).
    shortcut: "paper"  = identity iff stride 1 and cin == cout, nothing otherwise;
              "kuangliu" = on stride 1: identity or pw + BN projection; nothing on stride 2.
    """

    def __init__(self, cin, cout, t, stride, act, expand=True, shortcut="paper", bn=TORCH_BN):
        super().__init__()
        self.act = act
        hid = cin * t
        if expand:
            self.expand = _conv(cin, hid, 1)
            self.expand_bn = _bn(hid, bn)
        else:
            assert t == 1
            self.expand = None
        self.dw = _dw(hid, 3, stride)
        self.dw_bn = _bn(hid, bn)
        self.project = _conv(hid, cout, 1)
        self.project_bn = _bn(cout, bn)
        self.shortcut = None
        self.identity = False
        if stride == 1:
            if cin == cout:
                self.identity = True
            elif shortcut == "kuangliu":
                self.shortcut = _conv(cin, cout, 1)
                self.shortcut_bn = _bn(cout, bn)

    def forward(self, x):
        y = x
        if self.expand is not None:
            y = _act(self.expand_bn(self.expand(y)), self.act)
        y = _act(self.dw_bn(self.dw(y)), self.act)
        y = self.project_bn(self.project(y))
        if self.identity:
            return y + x
        if self.shortcut is not None:
            return y + self.shortcut_bn(self.shortcut(x))
        return y


def _replicate(x, cout, offset=0):
    """Parameter-free channel change: whole copies, then x[:, offset:offset+rest]; slice if cout < C."""
    c = x.shape[1]
    copies, rest = divmod(cout, c)
    parts = [x] * copies
    if rest:
        parts.append(x[:, offset : offset + rest])
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class CheapInvertedResidual(nn.Module):
    """seed 001-B: [tile t] -> dw3x3 s -> BN -> ReLU -> pw -> BN (+ parameter-free shortcut on stride 1)."""

    def __init__(self, cin, cout, t, stride, shortcut_offset=0, bn=TORCH_BN):
        super().__init__()
        self.t = t
        hid = cin * t
        self.dw = _dw(hid, 3, stride)
        self.dw_bn = _bn(hid, bn)
        self.project = _conv(hid, cout, 1)
        self.project_bn = _bn(cout, bn)
        self.has_shortcut = stride == 1
        self.cout = cout
        self.shortcut_offset = shortcut_offset

    def forward(self, x):
        y = tile(x, self.t)
        y = F.relu(self.dw_bn(self.dw(y)))
        y = self.project_bn(self.project(y))
        if self.has_shortcut:
            y = y + _replicate(x, self.cout, self.shortcut_offset)
        return y


class BlogBottleneck(nn.Module):
    """seed 003 variants (b), (c), (d) for t > 1 and the t=1 block of every variant (b/c/d).

    (b) tile_t -> BN(random affine) -> ReLU6 -> dw3x3 s -> BN -> ReLU6 -> pw -> BN
    (c) (b) without the last BN (also in the t=1 block)
    (d) dw3x3 s (no BN, no act) -> tile_t -> BN(random affine) -> ReLU6 -> pw -> BN
    t=1: dw3x3 s -> BN -> ReLU6 -> pw -> [BN]. Identity residual iff stride 1 and cin == cout.
    """

    def __init__(self, cin, cout, t, stride, variant, bn=TORCH_BN):
        super().__init__()
        assert variant in "bcd"
        self.variant = variant if t > 1 else "t1"
        self.t = t
        hid = cin * t
        if self.variant == "d":
            self.dw = _dw(cin, 3, stride)
            self.expand_bn = _bn(hid, bn)
        else:
            if t > 1:
                self.expand_bn = _bn(hid, bn)
            self.dw = _dw(hid, 3, stride)
            self.dw_bn = _bn(hid, bn)
        self.project = _conv(hid, cout, 1)
        self.project_bn = _bn(cout, bn) if variant != "c" else None
        self.identity = stride == 1 and cin == cout

    def forward(self, x):
        if self.variant == "d":
            y = F.relu6(self.expand_bn(tile(self.dw(x), self.t)))
        else:
            y = x
            if self.t > 1:
                y = F.relu6(self.expand_bn(tile(y, self.t)))
            y = F.relu6(self.dw_bn(self.dw(y)))
        y = self.project(y)
        if self.project_bn is not None:
            y = self.project_bn(y)
        return y + x if self.identity else y


class V3Block(nn.Module):
    """MobileNetV3-style bottleneck, covering ShowLo's V3 (seed 001), its cheap variants and torchvision.

    expand: "conv"  -> pw + BN + NL;  "tile" -> tile(exp/cin) + NL;  "shuffle_tile" -> shuffle(6), tile, NL.
            (no expansion and no NL when exp == cin)
    se:     None; "showlo" (Linear C->C/r no bias, ReLU, Linear C/r->C no bias, hard-sigmoid);
            "tile" (Linear C->C/r no bias, ReLU, tile r, no gate nonlinearity);
            "tile_hsigmoid" (Linear C->C/r no bias, ReLU, tile r, hard-sigmoid);
            "torchvision" (1x1 convs with bias, squeeze = make_divisible(C/4, 8), hard-sigmoid).
    se_after_act: SE after the depthwise NL (torchvision) instead of between the dw BN and NL (ShowLo).
    """

    def __init__(self, cin, k, exp, cout, se, nl, stride, *, expand="conv", se_r=4, se_after_act=False,
                 bn=TORCH_BN, shuffle_groups=6):
        super().__init__()
        self.nl = _NL.get(nl, nl)
        self.expand_mode = expand if exp != cin else None
        self.ratio = exp // cin
        self.shuffle_groups = shuffle_groups
        if self.expand_mode == "conv":
            self.expand = _conv(cin, exp, 1)
            self.expand_bn = _bn(exp, bn)
        elif self.expand_mode in ("tile", "shuffle_tile"):
            assert exp == self.ratio * cin, (cin, exp)
        elif self.expand_mode is not None:
            raise ValueError(expand)
        self.dw = _dw(exp, k, stride)
        self.dw_bn = _bn(exp, bn)
        self.se = se
        self.se_r = se_r
        self.se_after_act = se_after_act
        if se in ("showlo", "tile", "tile_hsigmoid"):
            self.se_reduce = nn.Linear(exp, exp // se_r, bias=False)
            if se == "showlo":
                self.se_expand = nn.Linear(exp // se_r, exp, bias=False)
        elif se == "torchvision":
            sq = make_divisible(exp / 4, 8)
            self.se_reduce = nn.Conv2d(exp, sq, 1, bias=True)
            self.se_expand = nn.Conv2d(sq, exp, 1, bias=True)
        elif se is not None:
            raise ValueError(se)
        self.project = _conv(exp, cout, 1)
        self.project_bn = _bn(cout, bn)
        self.identity = stride == 1 and cin == cout

    def _se(self, x):
        if self.se == "torchvision":
            s = x.mean((2, 3), keepdim=True)
            s = F.hardsigmoid(self.se_expand(F.relu(self.se_reduce(s))))
            return x * s
        s = F.relu(self.se_reduce(x.mean((2, 3))))
        if self.se == "showlo":
            s = F.hardsigmoid(self.se_expand(s))
        else:
            s = tile(s, self.se_r)
            if self.se == "tile_hsigmoid":
                s = F.hardsigmoid(s)
        return x * s[:, :, None, None]

    def forward(self, x):
        y = x
        if self.expand_mode == "conv":
            y = _act(self.expand_bn(self.expand(y)), self.nl)
        elif self.expand_mode == "tile":
            y = _act(tile(y, self.ratio), self.nl)
        elif self.expand_mode == "shuffle_tile":
            y = _act(tile(shuffle(y, self.shuffle_groups), self.ratio), self.nl)
        y = self.dw_bn(self.dw(y))
        if self.se is not None and not self.se_after_act:
            y = self._se(y)
        y = _act(y, self.nl)
        if self.se is not None and self.se_after_act:
            y = self._se(y)
        y = self.project_bn(self.project(y))
        return y + x if self.identity else y


# --------------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------------


class _Net(nn.Module):
    """Common skeleton: subclasses define stem(), head() and ``self.blocks``."""

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)


class MobileNetV1Baseline(_Net):
    """000-A: kuangliu/pytorch-cifar MobileNet (CIFAR-10). Torch default init."""

    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem_conv = _conv(3, 32, 3)
        self.stem_bn = _bn(32, TORCH_BN)
        blocks, c = [], 32
        for cout, s in self.CFG:
            blocks.append(DepthwiseSeparable(c, cout, s, "relu"))
            c = cout
        self.blocks = nn.ModuleList(blocks)
        self.predictions = nn.Linear(1024, num_classes)

    def stem(self, x):
        return F.relu(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        return self.predictions(F.avg_pool2d(x, 2).flatten(1))


class MobileNetV2Chen(_Net):
    """000-B: chenhang98/mobileNet-v2_cifar10 (ReLU6, expansion even for t=1, no projection shortcut)."""

    STAGES = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 1), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem_conv = _conv(3, 32, 3)
        self.stem_bn = _bn(32, TORCH_BN)
        blocks, c = [], 32
        for t, cout, n, s in self.STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(c, cout, t, s if i == 0 else 1, "relu6", expand=True))
                c = cout
        self.blocks = nn.ModuleList(blocks)
        self.head_conv = _conv(320, 1280, 1)
        self.head_bn = _bn(1280, TORCH_BN)
        self.predictions = nn.Linear(1280, num_classes)
        _init_he_out_channels(self)  # Linear keeps torch's default init

    def stem(self, x):
        return F.relu6(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        x = F.relu6(self.head_bn(self.head_conv(x)))
        return self.predictions(x.mean((2, 3)))


class CustomMobileNet(_Net):
    """000-C: CustomMobileNet (residual V1, 22 blocks, dropout 0.5)."""

    CFG = ([(32, 1)] * 3 + [(64, 2)] + [(64, 1)] * 3 + [(128, 2)] + [(128, 1)] * 8 + [(256, 2)] + [(256, 1)] * 3
           + [(512, 2), (512, 1)])

    def __init__(self, num_classes=10, stem_channels=16):
        super().__init__()
        self.stem_conv = _conv(3, stem_channels, 3)
        self.stem_bn = _bn(stem_channels, TORCH_BN)
        blocks, c = [], stem_channels
        for cout, s in self.CFG:
            blocks.append(DepthwiseSeparable(c, cout, s, "relu", residual=True))
            c = cout
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(0.5)
        self.predictions = nn.Linear(512, num_classes)
        _init_he_out_channels(self)
        nn.init.normal_(self.predictions.weight, 0.0, 0.01)
        nn.init.zeros_(self.predictions.bias)

    def stem(self, x):
        return F.relu(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        return self.predictions(self.dropout(F.avg_pool2d(x, 2).flatten(1)))


class MobileNetV2Cifar100(_Net):
    """001-A: kuangliu-style MobileNetV2 (ReLU, projection shortcuts on stride-1 width changes)."""

    STAGES = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=100):
        super().__init__()
        self.stem_conv = _conv(3, 32, 3)
        self.stem_bn = _bn(32, TORCH_BN)
        blocks, c = [], 32
        for t, cout, n, s in self.STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(c, cout, t, s if i == 0 else 1, "relu", shortcut="kuangliu"))
                c = cout
        self.blocks = nn.ModuleList(blocks)
        self.head_conv = _conv(320, 1280, 1)
        self.head_bn = _bn(1280, TORCH_BN)
        self.predictions = nn.Linear(1280, num_classes)

    def stem(self, x):
        return F.relu(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        x = F.relu(self.head_bn(self.head_conv(x)))
        return self.predictions(x.mean((2, 3)))


class CheapV2Cifar100(_Net):
    """001-B: cheap MobileNetV2 (tile6 expansion, parameter-free shortcuts, tile4 last stage)."""

    STAGES = MobileNetV2Cifar100.STAGES

    def __init__(self, num_classes=100):
        super().__init__()
        self.stem_conv = _conv(3, 32, 3)
        self.stem_bn = _bn(32, TORCH_BN)
        blocks, c = [], 32
        for t, cout, n, s in self.STAGES:
            for i in range(n):
                offset = 32 if (c, cout) == (64, 96) else 0  # concat[x, x[:, 32:64]]
                blocks.append(CheapInvertedResidual(c, cout, t, s if i == 0 else 1, shortcut_offset=offset))
                c = cout
        self.blocks = nn.ModuleList(blocks)
        self.predictions = nn.Linear(1280, num_classes)

    def stem(self, x):
        return F.relu(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        return self.predictions(tile(x, 4).mean((2, 3)))


# (k, exp, out, SE, NL, s) with s of the second block given for CIFAR (1); ImageNet would use 2
V3_LARGE_CIFAR = [
    (3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 1), (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1),
]
CHEAP_V3_CIFAR = [
    (3, 16, 16, False, "RE", 1), (3, 96, 24, False, "RE", 1), (3, 144, 24, False, "RE", 1),
    (5, 144, 40, True, "RE", 2), (5, 240, 40, True, "RE", 1), (5, 240, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2), (3, 480, 80, False, "HS", 1), (3, 480, 80, False, "HS", 1),
    (3, 480, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1),
]
REUSE_SHUFFLE6_CIFAR = [
    (3, 24, 24, False, "RE", 1), (3, 144, 24, False, "RE", 1), (3, 144, 24, False, "RE", 1),
    (5, 144, 48, True, "RE", 2), (5, 288, 48, True, "RE", 1), (5, 288, 48, True, "RE", 1),
    (3, 288, 96, False, "HS", 2), (3, 576, 96, False, "HS", 1), (3, 576, 96, False, "HS", 1),
    (3, 576, 96, False, "HS", 1), (3, 576, 120, True, "HS", 1), (3, 720, 120, True, "HS", 1),
    (5, 720, 180, True, "HS", 2), (5, 1080, 180, True, "HS", 1), (5, 1080, 180, True, "HS", 1),
]


class ShowLoV3(_Net):
    """seed 001 MobileNetV3-Large family at 32x32 (stem and 2nd block stride 1).

    variant "large"  (001-C): conv stem 3->16 BN HS; pw expansion; SE r=4 hard-sigmoid; head pw->960 BN HS,
                              pool, Dense 960->1280 (no bias), HS, Dropout, Dense.
    variant "cheap"  (001-D): tile6 expansion (+NL, no BN); SE r=4 tile4 without gate nonlinearity;
                              last stage tile6, HS, pool, tile2, HS, Dropout, Dense 1920->classes.
    variant "shuffle" (001-E): as "cheap" with stem conv3x3 3->3, BN, tile16, pw 48->16, BN, HS and SE r=8
                              tile8 + hard-sigmoid (shuffle with groups=C is the identity).
    variant "reuse_shuffle6" (001-F): as "shuffle" with stem out 24, widened config, shuffle(6) -> tile6.
    """

    def __init__(self, variant="large", num_classes=100, dropout=0.2):
        super().__init__()
        self.variant = variant
        cfg = {"large": V3_LARGE_CIFAR, "cheap": CHEAP_V3_CIFAR, "shuffle": CHEAP_V3_CIFAR,
               "reuse_shuffle6": REUSE_SHUFFLE6_CIFAR}[variant]
        c = cfg[0][1]
        if variant in ("large", "cheap"):
            self.stem_conv = _conv(3, c, 3)
            self.stem_bn = _bn(c, TORCH_BN)
        else:
            self.stem_conv = _conv(3, 3, 3)
            self.stem_bn = _bn(3, TORCH_BN)
            self.stem_pw = _conv(48, c, 1)
            self.stem_pw_bn = _bn(c, TORCH_BN)
        kw = {
            "large": dict(expand="conv", se="showlo", se_r=4),
            "cheap": dict(expand="tile", se="tile", se_r=4),
            "shuffle": dict(expand="tile", se="tile_hsigmoid", se_r=8),
            "reuse_shuffle6": dict(expand="shuffle_tile", se="tile_hsigmoid", se_r=8),
        }[variant]
        blocks = []
        for k, exp, cout, se, nl, s in cfg:
            blocks.append(V3Block(c, k, exp, cout, kw["se"] if se else None, nl, s,
                                  expand=kw["expand"], se_r=kw["se_r"]))
            c = cout
        self.blocks = nn.ModuleList(blocks)
        self.last = c
        if variant == "large":
            self.head_conv = _conv(c, 960, 1)
            self.head_bn = _bn(960, TORCH_BN)
            self.head_dense = nn.Linear(960, 1280, bias=False)
            feat = 1280
        else:
            feat = 12 * c  # tile6 then tile2
        self.dropout = nn.Dropout(dropout)
        self.predictions = nn.Linear(feat, num_classes)
        _init_kaiming_fan_out(self, linear_std=0.001)

    def stem(self, x):
        if self.variant in ("large", "cheap"):
            return F.hardswish(self.stem_bn(self.stem_conv(x)))
        x = tile(self.stem_bn(self.stem_conv(x)), 16)
        return F.hardswish(self.stem_pw_bn(self.stem_pw(x)))

    def head(self, x):
        if self.variant == "large":
            x = F.hardswish(self.head_bn(self.head_conv(x))).mean((2, 3))
            x = F.hardswish(self.head_dense(x))
        else:
            x = F.hardswish(tile(x, 6)).mean((2, 3))
            x = F.hardswish(tile(x, 2))
        return self.predictions(self.dropout(x))


class MobileNetV1Julia(_Net):
    """002: torch port of the Flux MobileNet_V1(100; alpha=0.1) (extra hidden 1x1 per block, softmax output)."""

    def __init__(self, num_classes=100, alpha=0.1, rho=0.9997, include_softmax=True):
        super().__init__()

        def c(f):
            return int(round(alpha * f))  # Python round = half-to-even, like Julia's; no ties occur

        self.stem_conv = nn.Conv2d(3, c(32), 3, stride=2, padding=1, bias=False)
        self.stem_bn = _bn(c(32), TORCH_BN)
        cfg = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)]
        cfg += [(512, 512, 1)] * 4 + [(512, 1024, 2), (1024, 1024, 1)]
        blocks = []
        for inp, oup, s in cfg:
            hidden = max(1, int(round(c(inp) * rho)))
            blocks.append(DepthwiseSeparable(c(inp), c(oup), s, "relu6", hidden=hidden))
        self.blocks = nn.ModuleList(blocks)
        self.predictions = nn.Linear(c(1024), num_classes)
        self.include_softmax = include_softmax
        _init_glorot(self)

    def stem(self, x):
        return F.relu6(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        x = self.predictions(x.mean((2, 3)))
        return F.softmax(x, dim=1) if self.include_softmax else x


class MobileNetV2Blog(_Net):
    """003: dorsalstream blog MobileNetV2 variants (a)-(d), paper-style residuals, ReLU6."""

    STAGES = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 1), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, variant="a", num_classes=10, random_affine=(0.0, 1.0)):
        super().__init__()
        self.stem_conv = _conv(3, 32, 3)
        self.stem_bn = _bn(32, TORCH_BN)
        blocks, c = [], 32
        for t, cout, n, s in self.STAGES:
            for i in range(n):
                stride = s if i == 0 else 1
                if variant == "a":
                    blocks.append(InvertedResidual(c, cout, t, stride, "relu6", expand=t != 1))
                else:
                    blocks.append(BlogBottleneck(c, cout, t, stride, variant))
                c = cout
        self.blocks = nn.ModuleList(blocks)
        self.head_conv = _conv(320, 1280, 1)
        self.head_bn = _bn(1280, TORCH_BN)
        self.predictions = nn.Linear(1280, num_classes)
        # "random affine" init of the post-replication BN (UNVERIFIED proposal of SPECS: U(0, 1) for both)
        if random_affine is not None:
            lo, hi = random_affine
            for b in self.blocks:
                bn = getattr(b, "expand_bn", None)
                if isinstance(b, BlogBottleneck) and bn is not None:
                    nn.init.uniform_(bn.weight, lo, hi)
                    nn.init.uniform_(bn.bias, lo, hi)

    def stem(self, x):
        return F.relu6(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        x = F.relu6(self.head_bn(self.head_conv(x)))
        return self.predictions(x.mean((2, 3)))


V3_SMALL = [  # (k, exp, out, SE, NL, s)
    (3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1),
]


class MobileNetV3Small(_Net):
    """004: torchvision-layout MobileNetV3-Small (BN eps 1e-3 momentum 0.01, SE after the dw activation)."""

    def __init__(self, num_classes=42, dropout=0.2):
        super().__init__()
        self.stem_conv = _conv(3, 16, 3, stride=2)
        self.stem_bn = _bn(16, TV_V3_BN)
        blocks, c = [], 16
        for k, exp, cout, se, nl, s in V3_SMALL:
            blocks.append(V3Block(c, k, exp, cout, "torchvision" if se else None, nl, s, expand="conv",
                                  se_after_act=True, bn=TV_V3_BN))
            c = cout
        self.blocks = nn.ModuleList(blocks)
        self.head_conv = _conv(96, 576, 1)
        self.head_bn = _bn(576, TV_V3_BN)
        self.head_dense = nn.Linear(576, 1024)
        self.dropout = nn.Dropout(dropout)
        self.predictions = nn.Linear(1024, num_classes)
        _init_kaiming_fan_out(self, linear_std=0.01)

    def stem(self, x):
        return F.hardswish(self.stem_bn(self.stem_conv(x)))

    def head(self, x):
        x = F.hardswish(self.head_bn(self.head_conv(x))).mean((2, 3))
        x = F.hardswish(self.head_dense(x))
        return self.predictions(self.dropout(x))


# --------------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------------

TORCH_MODELS: dict[str, Callable[..., nn.Module]] = {
    "mobilenet_v1_cifar10_baseline": MobileNetV1Baseline,
    "mobilenet_v2_cifar10_chen": MobileNetV2Chen,
    "custom_mobilenet_cifar10": CustomMobileNet,
    "custom_mobilenet_cifar10_stem32_readme": lambda num_classes=10: CustomMobileNet(num_classes, stem_channels=32),
    "mobilenet_v2_cifar100": MobileNetV2Cifar100,
    "cheap_v2_cifar100": CheapV2Cifar100,
    "mobilenet_v3_large_cifar100": lambda num_classes=100: ShowLoV3("large", num_classes),
    "cheap_v3_cifar100": lambda num_classes=100: ShowLoV3("cheap", num_classes),
    "cheap_v3_shuffle_cifar100": lambda num_classes=100: ShowLoV3("shuffle", num_classes),
    "cheap_v3_reuse_shuffle6_cifar100": lambda num_classes=100: ShowLoV3("reuse_shuffle6", num_classes),
    "mobilenet_v1_julia_a0.1_cifar100": MobileNetV1Julia,
    "mbv2_blog_a": lambda num_classes=10: MobileNetV2Blog("a", num_classes),
    "mbv2_blog_b": lambda num_classes=10: MobileNetV2Blog("b", num_classes),
    "mbv2_blog_c": lambda num_classes=10: MobileNetV2Blog("c", num_classes),
    "mbv2_blog_d": lambda num_classes=10: MobileNetV2Blog("d", num_classes),
    "mobilenet_v3_small_42": MobileNetV3Small,
}

DEFAULT_NUM_CLASSES = {
    "mobilenet_v1_cifar10_baseline": 10, "mobilenet_v2_cifar10_chen": 10, "custom_mobilenet_cifar10": 10,
    "custom_mobilenet_cifar10_stem32_readme": 10, "mobilenet_v2_cifar100": 100, "cheap_v2_cifar100": 100,
    "mobilenet_v3_large_cifar100": 100, "cheap_v3_cifar100": 100, "cheap_v3_shuffle_cifar100": 100,
    "cheap_v3_reuse_shuffle6_cifar100": 100, "mobilenet_v1_julia_a0.1_cifar100": 100,
    "mbv2_blog_a": 10, "mbv2_blog_b": 10, "mbv2_blog_c": 10, "mbv2_blog_d": 10, "mobilenet_v3_small_42": 42,
}

INPUT_SHAPES = {name: (224, 224, 3) if name == "mobilenet_v3_small_42" else (32, 32, 3) for name in TORCH_MODELS}


def _canonical(name: str) -> tuple[str, int | None]:
    """Accept ``mbv2_blog_a_cifar100``-style names (class count in the suffix)."""
    if name in TORCH_MODELS:
        return name, None
    for suffix, n in (("_cifar100", 100), ("_cifar10", 10)):
        if name.endswith(suffix) and name[: -len(suffix)] in TORCH_MODELS:
            return name[: -len(suffix)], n
    raise KeyError(f"unknown torch reference model {name!r}; known: {sorted(TORCH_MODELS)}")


def build(name: str, num_classes: int | None = None, seed: int | None = None) -> nn.Module:
    """Build the reference model ``name`` (with its per-seed init; ``seed`` fixes torch's RNG first)."""
    base, suffix_classes = _canonical(name)
    if num_classes is None:
        num_classes = suffix_classes or DEFAULT_NUM_CLASSES[base]
    if seed is not None:
        torch.manual_seed(seed)
    return TORCH_MODELS[base](num_classes=num_classes)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------------
# parity helpers
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def randomize_batchnorm_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN non-trivial gamma/beta/running stats so eval-mode parity tests exercise them."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.copy_(torch.rand(c, generator=g) * 1.0 + 0.5)
            m.bias.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) * 1.0 + 0.5)
    return model


@torch.no_grad()
def randomize_for_parity_(model: nn.Module, seed: int = 0) -> nn.Module:
    """:func:`randomize_batchnorm_` plus O(1)-scale Linear weights and non-zero biases.

    The seed-001 V3 family initialises every Linear with N(0, 0.001) and torchvision's head uses N(0, 0.01),
    which makes the logits ~1e-4 and an absolute 1e-4 parity tolerance meaningless; this rescales them.
    """
    randomize_batchnorm_(model, seed)
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound)
        if isinstance(m, (nn.Linear, nn.Conv2d)) and m.bias is not None:
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


@torch.no_grad()
def torch_reference_output(name_or_model, x_nhwc: np.ndarray, seed: int = 0, num_classes=None,
                           randomize_bn: bool = True):
    """Eval-mode output of a reference model for an NHWC float input (already normalised).

    A model given by name is built with ``seed`` and randomised with :func:`randomize_for_parity_`
    (``randomize_bn=False`` keeps the source initialisation); a given module is used as is.

    Returns ``(output_numpy, model)`` so the same model can be copied into Keras.
    """
    if isinstance(name_or_model, nn.Module):
        model = name_or_model
    else:
        model = build(name_or_model, num_classes=num_classes, seed=seed)
        if randomize_bn:
            randomize_for_parity_(model, seed)
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(x_nhwc, dtype=np.float32).transpose(0, 3, 1, 2)))
    out = model(x)
    return out.numpy(), model


# --------------------------------------------------------------------------------------------------
# weight transfer torch -> keras
# --------------------------------------------------------------------------------------------------


class WeightTransferError(ValueError):
    pass


def keras_name(torch_path: str) -> str:
    """``blocks.3.expand_bn`` -> ``block3_expand_bn``; top-level names are unchanged."""
    parts = torch_path.split(".")
    if len(parts) == 3 and parts[0] == "blocks" and parts[1].isdigit():
        return f"block{parts[1]}_{parts[2]}"
    if len(parts) == 1:
        return parts[0]
    raise WeightTransferError(f"torch module path {torch_path!r} does not follow the naming contract")


def _keras_layers(model):
    """All leaf layers of a Keras model (nested models flattened)."""
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and isinstance(getattr(layer, "layers"), list) and layer.layers:
            out.extend(_keras_layers(layer))
        else:
            out.append(layer)
    return out


def _torch_param_modules(model: nn.Module) -> dict[str, nn.Module]:
    mods = {}
    for path, m in model.named_modules():
        if path and any(True for _ in m.parameters(recurse=False)):
            mods[path] = m
    return mods


def _converted(torch_mod: nn.Module, layer) -> list[np.ndarray]:
    """Torch module weights in the order of ``layer.weights`` (matched by variable name)."""
    import keras

    def np_(t):
        return t.detach().cpu().numpy()

    names = [v.name.split("/")[-1] for v in layer.weights]
    shapes = [tuple(v.shape) for v in layer.weights]
    lname = layer.name
    if isinstance(torch_mod, nn.BatchNorm2d):
        if not isinstance(layer, keras.layers.BatchNormalization):
            raise WeightTransferError(f"{lname}: torch BatchNorm2d but Keras {type(layer).__name__}")
        src = {"gamma": np_(torch_mod.weight), "beta": np_(torch_mod.bias),
               "moving_mean": np_(torch_mod.running_mean), "moving_variance": np_(torch_mod.running_var)}
        if abs(float(layer.epsilon) - torch_mod.eps) > 1e-12:
            raise WeightTransferError(f"{lname}: BN epsilon Keras {layer.epsilon} != torch {torch_mod.eps}")
    elif isinstance(torch_mod, (nn.Conv2d, nn.Linear)):
        w = np_(torch_mod.weight)
        if isinstance(torch_mod, nn.Linear):
            w = w[:, :, None, None]  # treat as 1x1 conv (O, I, 1, 1)
        o, ig, kh, kw = w.shape
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            m = int(layer.depth_multiplier)
            if not isinstance(torch_mod, nn.Conv2d) or ig != 1 or torch_mod.groups * m != o:
                raise WeightTransferError(f"{lname}: Keras DepthwiseConv2D but torch module is not depthwise")
            kern = w.reshape(o // m, m, kh, kw).transpose(2, 3, 0, 1)  # (k, k, C, m)
            kname = "depthwise_kernel" if "depthwise_kernel" in names else "kernel"  # name varies by version
        elif isinstance(layer, keras.layers.Conv2D):
            kern = w.transpose(2, 3, 1, 0)  # (kh, kw, I/g, O)
            kname = "kernel"
        elif isinstance(layer, keras.layers.Dense):
            if (kh, kw) != (1, 1):
                raise WeightTransferError(f"{lname}: Keras Dense but torch kernel is {kh}x{kw}")
            if isinstance(torch_mod, nn.Conv2d) and torch_mod.groups != 1:
                raise WeightTransferError(f"{lname}: Keras Dense but torch conv has groups={torch_mod.groups}")
            kern = w[:, :, 0, 0].T  # (I, O)
            kname = "kernel"
        else:
            raise WeightTransferError(f"{lname}: torch {type(torch_mod).__name__} but Keras {type(layer).__name__}")
        src = {kname: kern}
        if torch_mod.bias is not None:
            src["bias"] = np_(torch_mod.bias)
    else:
        raise WeightTransferError(f"{lname}: unsupported torch module {type(torch_mod).__name__}")

    if sorted(names) != sorted(src):
        raise WeightTransferError(
            f"{lname}: Keras variables {names} do not match torch {type(torch_mod).__name__} -> {sorted(src)}"
            " (bias / affine flags differ?)"
        )
    values = []
    for n, shape in zip(names, shapes):
        v = src[n]
        if tuple(v.shape) != shape:
            if n == "kernel" and int(np.prod(v.shape)) == int(np.prod(shape)) and len(shape) in (2, 4):
                v = v.reshape(shape)  # Dense (I, O) <-> 1x1 Conv2D (1, 1, I, O)
            else:
                raise WeightTransferError(f"{lname}/{n}: Keras shape {shape} != converted torch shape {v.shape}")
        values.append(np.ascontiguousarray(v, dtype=np.float32))
    return values


def copy_torch_to_keras(torch_model: nn.Module, keras_model, strict: bool = True) -> list[str]:
    """Copy every parameterised torch module into the Keras layer with the mapped name.

    Every torch module with parameters must find its Keras layer and every Keras layer with trainable
    weights (plus every BatchNormalization) must be covered; otherwise :class:`WeightTransferError` lists
    the unmatched names on both sides (``strict=False`` only copies the matches).
    Returns the copied Keras layer names.
    """
    import keras

    tmods = {keras_name(p): m for p, m in _torch_param_modules(torch_model).items()}
    klayers = {}
    for layer in _keras_layers(keras_model):
        if layer.trainable_weights or isinstance(layer, keras.layers.BatchNormalization):
            if layer.weights:
                klayers[layer.name] = layer
    only_torch = sorted(set(tmods) - set(klayers))
    only_keras = sorted(set(klayers) - set(tmods))
    if strict and (only_torch or only_keras):
        raise WeightTransferError(
            "torch/Keras layer names do not match.\n"
            f"  torch modules without a Keras layer ({len(only_torch)}): {only_torch}\n"
            f"  Keras layers with weights not covered by torch ({len(only_keras)}): {only_keras}"
        )
    copied = []
    errors = []
    for name in sorted(set(tmods) & set(klayers)):
        try:
            klayers[name].set_weights(_converted(tmods[name], klayers[name]))
            copied.append(name)
        except WeightTransferError as e:
            errors.append(str(e))
    if errors:
        raise WeightTransferError("weight conversion failed:\n  " + "\n  ".join(errors))
    return copied


def keras_parity(name: str, batch: int = 2, seed: int = 0, num_classes: int | None = None,
                 keras_model=None) -> dict:
    """Build torch reference + Keras model ``name``, copy the weights, compare eval-mode outputs.

    The Keras model is ``keras_mobilenets.get_model(name, include_preprocessing=False,
    classifier_activation=None)`` (the torch references output logits; seed 002 keeps its softmax layer
    in both).  Input: N(0, 1) NHWC at the model's training size.  Returns a dict with ``max_abs_diff``,
    ``max_abs_ref`` and the copied layer names.
    """
    import keras

    base, suffix_classes = _canonical(name)
    kw = {"include_preprocessing": False}
    if base != "mobilenet_v1_julia_a0.1_cifar100":
        kw["classifier_activation"] = None
    classes = num_classes or suffix_classes
    if keras_model is None:
        import keras_mobilenets

        if classes is not None and suffix_classes is None:
            kw["classes"] = classes
        keras_model = keras_mobilenets.get_model(name, **kw)
    tmodel = randomize_for_parity_(build(name, num_classes=classes, seed=seed), seed)
    copied = copy_torch_to_keras(tmodel, keras_model)
    x = np.random.default_rng(seed).normal(size=(batch,) + INPUT_SHAPES[base]).astype("float32")
    ref, _ = torch_reference_output(tmodel, x)
    got = np.asarray(keras_model.predict_on_batch(x))  # one compiled call (eager JAX op-by-op is slow)
    return {"name": name, "max_abs_diff": float(np.abs(got - ref).max()), "max_abs_ref": float(np.abs(ref).max()),
            "copied": copied, "backend": keras.backend.backend()}
