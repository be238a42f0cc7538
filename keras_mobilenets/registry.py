"""The single list of models: name -> builder, defaults, source write-up and reference counts.

README tables, tests and the CLI all read :data:`MODELS`. Reference counts are the PyTorch-style parameter
counts (= Keras trainable), the Keras totals (+ BatchNorm moving statistics) and MACs / FLOPs from
``shared/SPECS.md`` (each verified there against the write-up's own number or source code).
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field

from keras_mobilenets.models import mobilenet_v1 as v1
from keras_mobilenets.models import mobilenet_v2 as v2
from keras_mobilenets.models import mobilenet_v3 as v3

SOURCES = {
    "standard": "keras.applications-compatible standard MobileNet",
    "000": "MobileNetV1 optimisation for CIFAR-10 (Song-Joo-Young, PyTorch)",
    "001": "Cheap operations in MobileNetV2/V3 (kai-pixel, PyTorch)",
    "002": "MobileNetV1 in Julia/Flux for CIFAR-100 (dfavenfre)",
    "003": "Replacing MobileNetV2's 1x1 expansion by channel replication (dorsalstream blog)",
    "004": "MobileNetV3-Small 21-keypoint regression (2024 mid report, torchvision layout)",
}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    build: object
    source: str
    description: str
    input_shape: tuple = (224, 224, 3)
    classes: int = 1000
    preprocessing: str | None = None
    params: int | None = None  # trainable (PyTorch-style) reference count
    total_params: int | None = None  # Keras count_params() incl. BN moving statistics
    macs: int | None = None  # conv + dense multiply-accumulates, batch 1
    flops: int | None = None  # the write-up's own FLOP figure under `flops_convention`
    flops_convention: str | None = None
    aliases: tuple = ()
    defaults: dict = field(default_factory=dict)


MODELS: dict[str, ModelInfo] = {}
_ALIASES: dict[str, str] = {}


def register(name, build, source, description, spec=None, classes=1000, aliases=(), **info):
    if name in MODELS or name in _ALIASES:
        raise ValueError(f"model {name!r} is registered twice")
    defaults = dict(info.pop("defaults", {}))
    if classes != 1000:
        defaults.setdefault("classes", classes)
    MODELS[name] = ModelInfo(
        name, build, source, description, input_shape=spec.default_shape if spec else (224, 224, 3),
        classes=classes, preprocessing=spec.preprocessing if spec else "-1_1", aliases=tuple(aliases),
        defaults=defaults, **info,
    )
    for alias in aliases:
        _ALIASES[alias] = name


def _family(builder, spec, name):
    return functools.partial(builder, spec, name)


# ------------------------------------------------------------------------------------------- standard
register("mobilenet_v1", v1.MobileNetV1, "standard", "MobileNetV1, keras.applications arguments (alpha, depth_multiplier)")
register("mobilenet_v2", v2.MobileNetV2, "standard", "MobileNetV2, keras.applications arguments (alpha)")
register("mobilenet_v3_small", v3.MobileNetV3Small, "standard", "MobileNetV3-Small, keras.applications arguments")
register("mobilenet_v3_large", v3.MobileNetV3Large, "standard", "MobileNetV3-Large, keras.applications arguments")

# ------------------------------------------------------------------------------------------- write-up 000
register("mobilenet_v1_cifar10_baseline", _family(v1.build_v1, v1.CIFAR_BASELINE, "mobilenet_v1_cifar10_baseline"),
         "000", "CIFAR MobileNetV1 baseline (kuangliu), ReLU, stem stride 1", v1.CIFAR_BASELINE, 10,
         params=3_217_226, total_params=3_239_114, macs=46_354_432, flops=48_412_672, flops_convention="fvcore")
register("mobilenet_v2_cifar10_chen", _family(v2.build_v2, v2.CHEN, "mobilenet_v2_cifar10_chen"), "000",
         "CIFAR MobileNetV2 (chenhang98), ReLU6, He init", v2.CHEN, 10,
         params=2_237_770, total_params=2_271_946, macs=297_521_664, flops=319_015_424, flops_convention="fvcore")
register("custom_mobilenet_cifar10", _family(v1.build_v1, v1.CUSTOM, "custom_mobilenet_cifar10"), "000",
         "CustomMobileNet: residual V1, 22 blocks, stem 16, dropout 0.5, He init", v1.CUSTOM, 10,
         params=1_001_642, total_params=1_016_874, macs=25_552_896, flops=28_374_016, flops_convention="fvcore")
register("custom_mobilenet_cifar10_stem32_readme",
         functools.partial(v1.build_v1, v1.CUSTOM, "custom_mobilenet_cifar10_stem32_readme", stem_channels=32),
         "000", "CustomMobileNet as its README describes it (32-channel stem)", v1.CUSTOM, 10,
         params=1_002_218, total_params=1_017_450, flops=28_963_840, flops_convention="fvcore")

# ------------------------------------------------------------------------------------------- write-up 001
_v2_001 = [
    ("mobilenet_v2_cifar100", v2.KUANGLIU, "kuangliu-style MobileNetV2, ReLU, projection shortcuts",
     2_412_212, 2_447_300, 91_270_144),
    ("cheap_v2_cifar100", v2.CHEAP_V2, "MobileNetV2 with replication for expansion, shortcuts and last stage",
     1_173_732, 1_191_076, 43_887_616),
]
for _name, _spec, _desc, _p, _t, _m in _v2_001:
    register(_name, _family(v2.build_v2, _spec, _name), "001", _desc, _spec, 100, params=_p, total_params=_t, macs=_m)

_v3_001 = [
    ("mobilenet_v3_large_cifar100", v3.SHOWLO_LARGE_CIFAR, 100, "MobileNetV3-Large (ShowLo), CIFAR strides",
     4_321_948, 4_346_348, 66_572_384, ()),
    ("cheap_v3_cifar100", v3.CHEAP_V3, 100, "V3 with tile6 expansions, tile SE, cheap last stage",
     1_803_076, 1_818_132, 46_478_272, ()),
    ("cheap_v3_shuffle_cifar100", v3.CHEAP_V3_SHUFFLE, 100, "cheap V3 with replicated stem and SE r=8",
     1_414_411, 1_429_473, 46_516_192, ("cheap_v3_8_cifar100", "cheap_v3_reuse_shuffle_cifar100")),
    ("cheap_v3_reuse_shuffle6_cifar100", v3.REUSE_SHUFFLE6, 100, "cheap V3, width 24 stem, shuffle(6) + tile6",
     1_752_715, 1_769_977, 59_656_752, ()),
    ("cheap_v3g_cifar10", v3.CHEAP_V3G, 10, "reuse-shuffle6 with grouped (2 ch/group) convs from block 7 (live branch)",
     1_657_441, 1_674_703, 62_356_176, ()),
    ("mobilenet_v3_large_imagenet", v3.SHOWLO_LARGE_IMAGENET, 1000, "MobileNetV3-Large (ShowLo) at 224",
     5_474_848, 5_499_248, 216_587_936, ()),
    ("cheap_v3_reuse_shuffle6_imagenet", v3.REUSE_SHUFFLE6_IMAGENET, 1000, "reuse-shuffle6 at 224, replicated stem",
     3_698_848, 3_716_128, 217_487_088, ()),
    ("cv3k_imagenet", v3.CV3K_IMAGENET, 1000, "CV3K: tile + grouped 1x1 residual expansion, output shuffle",
     4_366_044, 4_391_232, 171_289_712, ()),
    ("v3_reuse6_shuffle6_ol_imagenet", v3.REUSE6_SHUFFLE6_OL_IMAGENET, 1000, "reuse6/shuffle6 with ordinary last stage",
     4_395_984, 4_415_400, 204_935_888, ()),
]
for _name, _spec, _classes, _desc, _p, _t, _m, _aliases in _v3_001:
    register(_name, _family(v3.build_v3, _spec, _name), "001", _desc, _spec, _classes, aliases=_aliases,
             params=_p, total_params=_t, macs=_m)

# ------------------------------------------------------------------------------------------- write-up 002
register("mobilenet_v1_julia_a0.1_cifar100", _family(v1.build_v1, v1.JULIA, "mobilenet_v1_julia_a0.1_cifar100"),
         "002", "width-0.1 MobileNetV1 with a hidden 1x1 per block, ReLU6, Glorot, softmax", v1.JULIA, 100,
         params=71_004, total_params=73_872, macs=249_500, defaults={"alpha": 0.1})

# ------------------------------------------------------------------------------------------- write-up 003
_blog = {  # variant: (CIFAR-10 params, keras total, CIFAR-100 params, keras total, MACs at 10 classes)
    "a": (2_236_682, 2_270_794, 2_351_972, 2_386_084, 265_691_648),
    "b": (1_484_810, 1_518_922, 1_600_100, 1_634_212, 155_197_952),
    "c": (1_481_802, 1_512_906, 1_597_092, 1_628_196, 155_197_952),
    "d": (1_417_322, 1_437_226, 1_532_612, 1_552_516, 145_152_512),
}  # CIFAR-100 MACs add the 1280 x 90 extra Dense MACs
_blog_desc = {"a": "baseline", "b": "replication + random-affine BN instead of the 1x1 expansion",
              "c": "(b) without BN after the projection", "d": "replication after the depthwise conv"}
for _v, (_p10, _t10, _p100, _t100, _m) in _blog.items():
    for _classes, _p, _t, _mm in ((10, _p10, _t10, _m), (100, _p100, _t100, _m + 1280 * 90)):
        _name = f"mbv2_blog_{_v}_cifar{_classes}"
        register(_name, _family(v2.build_v2, v2.BLOG[_v], _name), "003", f"MobileNetV2 ({_v}) {_blog_desc[_v]}",
                 v2.BLOG[_v], _classes, params=_p, total_params=_t, macs=_mm)

# ------------------------------------------------------------------------------------------- write-up 004
register("mobilenet_v3_small_42", _family(v3.build_v3, v3.TORCHVISION_SMALL, "mobilenet_v3_small_42"), "004",
         "torchvision MobileNetV3-Small with a 42-output (21 keypoints) regression head", v3.TORCHVISION_SMALL, 42,
         params=1_560_906, total_params=1_573_018, macs=55_529_408, flops=122_993_904, flops_convention="thop",
         defaults={"classifier_activation": None})


# ------------------------------------------------------------------------------------------- lookup
def list_models(source=None):
    """Registered model names (optionally only those of one write-up: "000".."004" or "standard")."""
    if source is not None and source not in SOURCES:
        raise ValueError(f"`source` must be one of {sorted(SOURCES)}, got {source!r}.")
    return [n for n, info in MODELS.items() if source is None or info.source == source]


def get_info(name) -> ModelInfo:
    name = _ALIASES.get(name, name)
    if name not in MODELS:
        close = difflib.get_close_matches(str(name), list(MODELS) + list(_ALIASES), n=5, cutoff=0.4)
        hint = f" Closest: {', '.join(close)}." if close else ""
        raise ValueError(f"Unknown model name {name!r}.{hint} See keras_mobilenets.list_models() for all names.")
    return MODELS[name]


def get_model(name, weights=None, **kwargs):
    """Build a registered model: ``get_model("custom_mobilenet_cifar10", classes=100)``.

    ``weights``: None (random init, as the source initialises), a path to a ``.keras`` / ``.weights.h5`` file, or
    the name of a dataset a model in ``saved_models/`` was trained on (e.g. ``"cifar10"``).
    """
    info = get_info(name)
    if weights is None:
        return info.build(**{**info.defaults, **kwargs})
    from keras_mobilenets import pretrained

    model = info.build(**{**info.defaults, **pretrained.build_kwargs(info.name, weights), **kwargs})
    return pretrained.load_into(model, info.name, weights)
