"""Architecture tests: parameter / MAC / FLOP counts, shapes, serialisation, errors. Run under every backend."""

import math

import keras
import numpy as np
import pytest

import keras_mobilenets as km
from tests.helpers import inference, other_backends, randomize_batchnorm, run_python

# ----------------------------------------------------------------------------------------------------------
# SPECS.md reference numbers: name -> (params = Keras trainable, Keras total, MACs, (convention, FLOPs) or None)
SPECS = {
    "mobilenet_v1_cifar10_baseline": (3_217_226, 3_239_114, 46_354_432, ("fvcore", 48_412_672)),
    "mobilenet_v2_cifar10_chen": (2_237_770, 2_271_946, 297_521_664, ("fvcore", 319_015_424)),
    "custom_mobilenet_cifar10": (1_001_642, 1_016_874, 25_552_896, ("fvcore", 28_374_016)),
    "custom_mobilenet_cifar10_stem32_readme": (1_002_218, 1_017_450, None, ("fvcore", 28_963_840)),
    "mobilenet_v2_cifar100": (2_412_212, 2_447_300, 91_270_144, None),
    "cheap_v2_cifar100": (1_173_732, 1_191_076, 43_887_616, None),
    "mobilenet_v3_large_cifar100": (4_321_948, 4_346_348, 66_572_384, None),
    "cheap_v3_cifar100": (1_803_076, 1_818_132, 46_478_272, None),
    "cheap_v3_shuffle_cifar100": (1_414_411, 1_429_473, 46_516_192, None),
    "cheap_v3_reuse_shuffle6_cifar100": (1_752_715, 1_769_977, 59_656_752, None),
    "cheap_v3g_cifar10": (1_657_441, 1_674_703, 62_356_176, None),
    "mobilenet_v3_large_imagenet": (5_474_848, 5_499_248, 216_587_936, None),
    "cheap_v3_reuse_shuffle6_imagenet": (3_698_848, 3_716_128, 217_487_088, None),
    "cv3k_imagenet": (4_366_044, 4_391_232, 171_289_712, None),
    "v3_reuse6_shuffle6_ol_imagenet": (4_395_984, 4_415_400, 204_935_888, None),
    "mobilenet_v1_julia_a0.1_cifar100": (71_004, 73_872, 249_500, None),
    "mbv2_blog_a_cifar10": (2_236_682, 2_270_794, 265_691_648, None),
    "mbv2_blog_b_cifar10": (1_484_810, 1_518_922, 155_197_952, None),
    "mbv2_blog_c_cifar10": (1_481_802, 1_512_906, 155_197_952, None),
    "mbv2_blog_d_cifar10": (1_417_322, 1_437_226, 145_152_512, None),
    "mbv2_blog_a_cifar100": (2_351_972, 2_386_084, None, None),
    "mbv2_blog_b_cifar100": (1_600_100, 1_634_212, None, None),
    "mbv2_blog_c_cifar100": (1_597_092, 1_628_196, None, None),
    "mbv2_blog_d_cifar100": (1_532_612, 1_552_516, None, None),
    "mobilenet_v3_small_42": (1_560_906, 1_573_018, 55_529_408, ("thop", 122_993_904)),
}
WRITEUP_MODELS = [n for n in km.list_models() if km.get_info(n).source != "standard"]


def test_every_writeup_model_has_a_spec_row():
    assert sorted(WRITEUP_MODELS) == sorted(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_counts_match_specs(name):
    params, total, macs, flops = SPECS[name]
    model = km.get_model(name)
    prof = km.profile(model)
    assert prof.trainable == params
    assert prof.total == total == model.count_params()
    assert prof.non_trainable == total - params
    if macs is not None:
        assert prof.macs == macs
    if flops is not None:
        convention, value = flops
        assert prof[convention] == value
    info = km.get_info(name)  # the registry (README, CLI) carries the same numbers
    assert (info.params, info.total_params) == (params, total)


# ----------------------------------------------------------------------------------------------------------
# keras.applications parity (weights=None, same arguments).
APPS = (
    [("MobileNet", "MobileNetV1", {"alpha": a}) for a in (0.25, 0.5, 0.75, 1.0)]
    + [("MobileNetV2", "MobileNetV2", {"alpha": a}) for a in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)]
    + [(k, k, {"alpha": a, "minimalistic": m}) for k in ("MobileNetV3Small", "MobileNetV3Large")
       for a in (0.75, 1.0) for m in (False, True)]
)


def _trainable(model):
    return sum(math.prod(w.shape) for w in model.trainable_weights)


_APPS_CODE = """
import json, math, keras
out = []
for ref_name, kwargs, include_top in CASES:
    m = getattr(keras.applications, ref_name)(weights=None, include_top=include_top, **kwargs)
    out.append([m.count_params(), sum(math.prod(w.shape) for w in m.trainable_weights), list(m.output_shape)])
print(json.dumps(out))
"""


def _cases():
    return [(ref, ours, kw, top) for ref, ours, kw in APPS for top in ((True, False) if kw["alpha"] == 1.0 else (True,))]


@pytest.fixture(scope="module")
def keras_applications_counts():
    """(total, trainable, output shape) of each keras.applications reference, built on TensorFlow.

    On JAX, building Keras' models in-process is slow (symbolic shape inference traces every op, and the
    initialisers compile an XLA program per weight shape: minutes for 28 models), so there the references are
    built once in a TensorFlow subprocess; TensorFlow and torch build them in-process (torch: 28 models in ~10 s,
    the subprocess took 34 s).
    """
    cases = [(ref, kw, top) for ref, _, kw, top in _cases()]
    code = f"CASES = {cases!r}\n" + _APPS_CODE
    import json

    if keras.backend.backend() != "jax":
        out = {}
        exec(compile(code.replace("print(json.dumps(out))", "RESULT = out"), "<apps>", "exec"), out)
        rows = out["RESULT"]
    else:
        rows = json.loads(run_python(code, "tensorflow").strip().splitlines()[-1])
    return {(ref, repr(kw), top): tuple(row[:2]) + (tuple(row[2]),) for (ref, kw, top), row in zip(cases, rows)}


@pytest.mark.parametrize("ref_name,our_name,kwargs,include_top", _cases(),
                         ids=[f"{a}-{k}-top{t}" for a, _, k, t in _cases()])
def test_keras_applications_param_parity(keras_applications_counts, ref_name, our_name, kwargs, include_top):
    total, trainable, shape = keras_applications_counts[(ref_name, repr(kwargs), include_top)]
    ours = getattr(km, our_name)(include_top=include_top, **kwargs)
    assert ours.count_params() == total
    assert _trainable(ours) == trainable
    assert ours.output_shape == shape


# ----------------------------------------------------------------------------------------------------------
STANDARD = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"]


@pytest.mark.parametrize("name", STANDARD)
@pytest.mark.parametrize("include_top,pooling", [(True, None), (False, None), (False, "avg"), (False, "max")])
def test_forward_shapes(name, include_top, pooling):
    model = km.get_model(name, input_shape=(64, 64, 3), include_top=include_top, pooling=pooling, classes=7,
                         alpha=0.5 if name != "mobilenet_v1" else 0.25)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    y = inference(model, x)
    if include_top:
        assert y.shape == (2, 7)
        np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)  # softmax head
    elif pooling:
        assert y.shape == (2, model.output_shape[-1])
    else:
        assert y.shape[:3] == (2, 2, 2)  # total stride 32


@pytest.mark.parametrize("name,alpha", [("cheap_v2_cifar100", 0.5), ("cheap_v2_cifar100", 1.4),
                                        ("cheap_v3_reuse_shuffle6_cifar100", 0.5), ("cheap_v3g_cifar10", 0.75)])
def test_width_multiplier_on_cheap_operation_nets(name, alpha):
    """`alpha` scales the write-up 001 nets too: cheap V2's partial-copy shortcut (x[..., 32:64] for 64 -> 96 at
    alpha 1) moves with the input width, and the 6-group shuffle nets round widths to multiples of 24."""
    model = km.get_model(name, alpha=alpha, classes=10)
    assert model.count_params() != km.get_model(name, classes=10).count_params()
    if name == "cheap_v2_cifar100":
        rep = model.get_layer("block10_shortcut")
        cin = rep.input.shape[-1]
        tail = rep.output.shape[-1] - cin
        assert cin == {0.5: 32, 1.4: 88}[alpha] and 0 < rep.offset and rep.offset + tail <= cin
    else:
        shuffled = [layer.input.shape[-1] for layer in model.layers if type(layer).__name__ == "ChannelShuffle"]
        assert shuffled and all(c % 6 == 0 for c in shuffled)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = inference(model, x)
    assert y.shape == (2, 10) and np.all(np.isfinite(y))


def test_minimalistic_has_no_se_and_relu_only():
    model = km.MobileNetV3Small(input_shape=(32, 32, 3), minimalistic=True)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "HardSwish" not in kinds and "Multiply" not in kinds


# ----------------------------------------------------------------------------------------------------------
def _sample(shape, n=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, *shape)).astype("float32")


CROSS = ["cheap_v3_reuse_shuffle6_cifar100", "cv3k_imagenet", "custom_mobilenet_cifar10", "mobilenet_v3_small_42"]


def test_saved_model_loads_on_other_backends(tmp_path):
    """A .keras saved under this backend reloads under the other two with outputs equal to <= 1e-5."""
    x = _sample((32, 32, 3), n=3)
    np.save(tmp_path / "x.npy", x)
    for i, name in enumerate(CROSS):
        keras.utils.set_random_seed(i)
        model = randomize_batchnorm(km.get_model(name, input_shape=(32, 32, 3)), seed=i)
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", inference(model, x))
    code = f"""
        import numpy as np, keras, keras_mobilenets
        from tests.helpers import inference
        x = np.load(r"{tmp_path}/x.npy")
        for name in {CROSS!r}:
            m = keras.saving.load_model(r"{tmp_path}/" + name + ".keras", safe_mode=True)
            ref = np.load(r"{tmp_path}/" + name + ".npy")
            err = float(np.abs(inference(m, x) - ref).max())
            print(name, err)
            assert err <= 1e-5, (name, err)
    """
    for other in other_backends():
        out = run_python(code, other)
        assert len(out.strip().splitlines()) == len(CROSS)


# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: km.MobileNetV2(alpha=0), "`alpha` must be a number > 0"),
        (lambda: km.MobileNetV1(alpha=-1.0), "`alpha`"),
        (lambda: km.get_model("cv3k_imagenet", alpha=0.5), r"cv3k_imagenet: `alpha`=0.5 .* Use alpha=1.0"),
        (lambda: km.MobileNetV3Small(input_shape=(16, 16, 3)), r"`input_shape` .* too small .* >= 32"),
        (lambda: km.get_model("custom_mobilenet_cifar10", input_shape=(8, 8, 3)), r"`input_shape`.*>= 16"),
        (lambda: km.MobileNetV2(include_top=False, pooling="mean"), r"`pooling` must be one of \(None, 'avg', 'max'\)"),
        (lambda: km.MobileNetV2(classes=0), "`classes` must be a positive int"),
        (lambda: km.get_model("mobilenet_v3_small_42", classes="ten"), "`classes`"),
        (lambda: km.MobileNetV1(weights="imagenet"), "`weights='imagenet'`.*load_weights"),
        (lambda: km.get_model("mobilenet_v3_smal"), r"Unknown model name 'mobilenet_v3_smal'.*Closest: mobilenet_v3_small"),
        (lambda: km.get_model("cheap_v3_cifar"), r"Closest:.*cheap_v3_cifar100"),
        (lambda: km.MobileNetV3Large(dropout_rate=1.5), "`dropout_rate` must be in"),
        (lambda: km.MobileNetV1(depth_multiplier=0), "`depth_multiplier`"),
        (lambda: km.list_models(source="005"), "`source` must be one of"),
        (lambda: km.profile("not a model"), "`model` must be a built keras.Model"),
    ],
)
def test_bad_input_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_registry_lists_and_resolves_aliases():
    names = km.list_models()
    assert len(names) == len(set(names)) == 29
    assert set(STANDARD) <= set(names)
    assert km.list_models(source="003") == [f"mbv2_blog_{v}_cifar{c}" for v in "abcd" for c in (10, 100)]
    alias = km.get_model("cheap_v3_8_cifar100")
    assert alias.count_params() == SPECS["cheap_v3_shuffle_cifar100"][1]


def test_registry_defaults_can_be_overridden():
    model = km.get_model("custom_mobilenet_cifar10", classes=100)
    assert model.output_shape == (None, 100)
    # only the classifier changes: 512 * 90 + 90 more weights
    assert model.count_params() - SPECS["custom_mobilenet_cifar10"][1] == 512 * 90 + 90


def test_profile_per_layer_rows_sum_to_totals():
    prof = km.profile(km.get_model("mobilenet_v3_small_42"))
    assert sum(r.macs for r in prof.layers) == prof.macs
    assert sum(r.params for r in prof.layers) == prof.total
    assert sum(r.flops["thop"] for r in prof.layers) == prof["thop"]
    assert "total params 1,573,018" in prof.table()


def test_writeup004_torchsummary_rows():
    """Walk the Keras model in torch module order and reproduce the seed's 161-row torchsummary listing."""
    from pathlib import Path

    rows = [line.split("\t") for line in (Path(__file__).parent / "data/seed004_torchsummary.tsv").read_text().splitlines()]
    model = km.get_model("mobilenet_v3_small_42")
    kinds = {"Conv2D": "Conv2d", "DepthwiseConv2D": "Conv2d", "BatchNormalization": "BatchNorm2d",
             "HardSwish": "Hardswish", "ReLU": "ReLU", "GlobalAveragePooling2D": "AdaptiveAvgPool2d",
             "HardSigmoid": "Hardsigmoid", "Multiply": "SqueezeExcitation", "Dense": "Linear", "Dropout": "Dropout"}
    ours, block = [], None

    def close_block():
        if block is not None:
            ours.append(("InvertedResidual", (last_shape[2], last_shape[0], last_shape[1]), 0))

    for layer in model.layers:
        prefix = layer.name.split("_")[0] if layer.name.startswith("block") else None
        if prefix != block:
            close_block()
            block = prefix
        kind = type(layer).__name__
        shape = tuple(layer.output.shape[1:])
        last_shape = shape
        if kind not in kinds:
            continue
        if kind == "GlobalAveragePooling2D" and len(shape) == 1:  # nn.AdaptiveAvgPool2d keeps 1x1 dims
            shape = (1, 1, shape[0])
        torch_shape = (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape
        ours.append((kinds[kind], torch_shape, _trainable(layer)))  # torchsummary: no BN running stats
    close_block()
    assert len(ours) == len(rows) == 161
    for i, ((kind, shape, params), (ref_name, ref_shape, ref_params)) in enumerate(zip(ours, rows), 1):
        assert ref_name == f"{kind}-{i}"
        assert [-1, *shape] == [int(v) for v in ref_shape.strip("[]").split(",")], ref_name
        assert params == int(ref_params.replace(",", "")), ref_name


CONV_CASES = [  # (input NHWC, layer kwargs): "same" with symmetric and with bottom / right-only padding, groups
    ((3, 9, 9, 4), dict(filters=6, kernel_size=3, strides=1, padding="same", use_bias=True)),
    ((3, 9, 9, 4), dict(filters=6, kernel_size=3, strides=2, padding="same", use_bias=False)),
    ((3, 8, 8, 4), dict(filters=5, kernel_size=3, strides=2, padding="same")),
    ((3, 8, 8, 4), dict(filters=5, kernel_size=(1, 3), strides=(1, 2), padding="valid")),
    ((3, 8, 8, 6), dict(filters=9, kernel_size=1, groups=3)),
    # 1x1 (a matrix product on JAX): stride 1, stride 2 on odd and even sizes under "same" and "valid"
    ((3, 8, 8, 6), dict(filters=7, kernel_size=1, use_bias=True)),
    ((3, 9, 9, 6), dict(filters=7, kernel_size=1, strides=2, padding="same", use_bias=False)),
    ((3, 8, 7, 6), dict(filters=7, kernel_size=1, strides=2, padding="valid")),
]


def _grads(layer, x, variables, power=2, **call_kwargs):
    """d sum(layer(x, **call_kwargs) ** power) / d(x, *variables) as NumPy, with the active backend's autodiff."""
    b = keras.backend.backend()
    if b == "torch":
        import torch  # noqa: PLC0415

        xt = torch.tensor(x, requires_grad=True)
        for v in variables:
            v.value.grad = None
        (layer(xt, **call_kwargs) ** power).sum().backward()
        return [xt.grad.numpy()] + [v.value.grad.numpy() for v in variables]
    if b == "jax":
        import jax  # noqa: PLC0415

        trainable = list(layer.trainable_variables)
        index = [[id(t) for t in trainable].index(id(v)) for v in variables]
        fixed = [t.value for t in trainable]
        non_trainable = [t.value for t in layer.non_trainable_variables]

        def loss(xv, *vs):
            values = list(fixed)
            for i, v in zip(index, vs):
                values[i] = v
            y, _ = layer.stateless_call(values, non_trainable, xv, **call_kwargs)
            return (y ** power).sum()

        grads = jax.jit(jax.grad(loss, argnums=tuple(range(len(variables) + 1))))(x, *[fixed[i] for i in index])
        return [np.asarray(g) for g in grads]
    import tensorflow as tf  # noqa: PLC0415

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.reduce_sum(layer(xt, **call_kwargs) ** power)
    return [g.numpy() for g in tape.gradient(y, [xt] + [v.value for v in variables])]


class _Subsample(keras.layers.Layer):
    """Every `strides[0]`-th row and `strides[1]`-th column of an NHWC tensor."""

    def __init__(self, strides, **kwargs):
        super().__init__(**kwargs)
        self.strides = tuple(strides)

    def call(self, x):
        return x[:, ::self.strides[0], ::self.strides[1], :]


@pytest.mark.parametrize("shape,kwargs", CONV_CASES)
def test_package_conv_and_depthwise_equal_keras_layers(shape, kwargs):
    """The package's Conv2D / DepthwiseConv2D (torch: one F.conv2d on a channels_last view; JAX: shift-and-add
    depthwise, 1x1 as a matrix product with its own VJP) give Keras' outputs and gradients w.r.t. input and kernel
    on every backend."""
    from keras_mobilenets.layers import Conv2D, DepthwiseConv2D, pointwise_matmul  # noqa: PLC0415

    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    dw_kwargs = {k: v for k, v in kwargs.items() if k not in ("filters", "groups")}
    strides = kwargs.get("strides", 1)
    strides = (strides, strides) if isinstance(strides, int) else strides
    if strides[0] != strides[1]:
        # Keras' DepthwiseConv2D refuses unequal strides on TensorFlow without oneDNN (CPUs without AVX-512 VNNI);
        # the reference there is Keras' stride-1 layer on the same valid window, every s-th row / column kept
        assert dw_kwargs["padding"] == "valid"
        reference = keras.Sequential([keras.layers.DepthwiseConv2D(
            depth_multiplier=2, **{**dw_kwargs, "strides": 1}), _Subsample(strides)])
        reference.build(shape)
        reference.kernel = reference.layers[0].kernel
    else:
        reference = keras.layers.DepthwiseConv2D(depth_multiplier=2, **dw_kwargs)
    for ours, theirs in [(Conv2D(**kwargs), keras.layers.Conv2D(**kwargs)),
                         (DepthwiseConv2D(depth_multiplier=2, **dw_kwargs), reference)]:
        ours.build(shape), theirs.built or theirs.build(shape)
        theirs.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in ours.weights])
        ours.set_weights(theirs.get_weights())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x)), keras.ops.convert_to_numpy(theirs(x)),
                                   rtol=1e-5, atol=1e-5)
        assert ours.compute_output_shape(shape) == tuple(ours(x).shape)
        for a, b in zip(_grads(ours, x, [ours.kernel]), _grads(theirs, x, [theirs.kernel])):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    if kwargs["kernel_size"] == 1 and kwargs.get("groups", 1) == 1:  # the product itself, any backend
        conv = keras.layers.Conv2D(**{**kwargs, "use_bias": False})
        conv.build(shape)
        y = pointwise_matmul(x, conv.kernel, kwargs.get("strides", 1))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(conv(x)),
                                   rtol=1e-5, atol=1e-5)


SYMMETRIC_CASES = [  # (input NHWC, kernel, stride): odd / even sizes, stride 1 and 2, non-square kernel
    ((2, 9, 9, 4), 3, 2), ((2, 8, 8, 4), 3, 2), ((2, 8, 8, 4), 5, 2), ((2, 7, 7, 4), 3, 1), ((2, 8, 8, 4), (3, 5), 2),
]


@pytest.mark.parametrize("shape,kernel,stride", SYMMETRIC_CASES)
def test_symmetric_padding_equals_zero_padding_then_valid(shape, kernel, stride):
    """``padding="symmetric"`` on the package's Conv2D / DepthwiseConv2D / GroupConv2D (PyTorch's padding
    k // 2, inside the convolution) gives the outputs, input gradients and output shapes of ZeroPadding2D((k-1)//2)
    followed by the Keras layer with "valid", on every backend (gradients w.r.t. input and kernel too); the config
    round-trips."""
    from keras_mobilenets.layers import Conv2D, DepthwiseConv2D, GroupConv2D  # noqa: PLC0415

    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    pad = keras.layers.ZeroPadding2D((((kh - 1) // 2,) * 2, ((kw - 1) // 2,) * 2))
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    common = dict(kernel_size=kernel, strides=stride, use_bias=False)
    pairs = [(Conv2D(6, padding="symmetric", **common), keras.layers.Conv2D(6, padding="valid", **common)),
             (DepthwiseConv2D(depth_multiplier=2, padding="symmetric", **common),
              keras.layers.DepthwiseConv2D(depth_multiplier=2, padding="valid", **common)),
             (GroupConv2D(6, kernel, stride, padding="symmetric", groups=2),
              GroupConv2D(6, kernel, stride, padding="valid", groups=2))]
    for ours, theirs in pairs:
        ours.build(shape), theirs.build(pad.compute_output_shape(shape))
        ours.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in ours.weights])
        theirs.set_weights(ours.get_weights())
        y = keras.ops.convert_to_numpy(ours(x))
        np.testing.assert_allclose(y, keras.ops.convert_to_numpy(theirs(pad(x))), rtol=1e-5, atol=1e-5)
        assert ours.compute_output_shape(shape) == y.shape
        clone = type(ours).from_config(ours.get_config())
        assert clone.get_config()["padding"] == "symmetric" and clone.compute_output_shape(shape) == y.shape
        padded = keras.Sequential([keras.Input(shape[1:]), pad, theirs])
        for a, b in zip(_grads(ours, x, [ours.kernel]), _grads(padded, x, [theirs.kernel])):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="`padding` must be one of"):
        Conv2D(4, 3, padding="reflect")


@pytest.mark.parametrize("epsilon", [1e-3, 1e-5])  # Keras' default; PyTorch's (the write-ups' ports)
@pytest.mark.parametrize("tf_min_fused", [0, 2 ** 62])  # TF training: FusedBatchNormV3 / the small-tensor ops
@pytest.mark.parametrize("channels", [6, 16])  # torch training: on a channels-first copy / on the channels_last view
def test_package_batchnorm_equals_keras_layer(epsilon, tf_min_fused, channels, monkeypatch):
    """Training and inference outputs, the moving-statistics update and the gradients (input, gamma, beta) of the
    package's BatchNormalization (torch: PyTorch's fused batch norm; TF training: FusedBatchNormV3, or for small
    tensors TF ops with a hand-written gradient; JAX training: the native kernels) equal
    keras.layers.BatchNormalization's on every backend."""
    from keras_mobilenets import layers as kml  # noqa: PLC0415
    from keras_mobilenets.layers import BatchNormalization  # noqa: PLC0415

    monkeypatch.setattr(kml, "TF_FUSED_MIN_ELEMENTS", tf_min_fused)

    x = np.random.default_rng(0).normal(3.0, 2.0, size=(8, 5, 5, channels)).astype("float32")
    kw = dict(momentum=0.9, epsilon=epsilon)
    ours, theirs = BatchNormalization(**kw), keras.layers.BatchNormalization(**kw)
    ours.build(x.shape), theirs.build(x.shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=channels).astype("float32"), rng.normal(size=channels).astype("float32"),
               rng.normal(size=channels).astype("float32"), rng.uniform(0.5, 2.0, size=channels).astype("float32")]
    ours.set_weights(weights), theirs.set_weights(weights)
    for training in (True, False, True):
        out = ours(x, training=training)
        if keras.backend.backend() == "torch":  # NHWC in channels_last memory, whichever layout the batch norm used
            assert out.is_contiguous()
        a = keras.ops.convert_to_numpy(out)
        b = keras.ops.convert_to_numpy(theirs(x, training=training))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        for wa, wb in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours.get_weights()[2], weights[2])  # the moving mean did move
    grads = [_grads(layer, x, [layer.gamma, layer.beta], power=3, training=True) for layer in (ours, theirs)]
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    # one value per channel (torch: no unbiased variance, another path), and stateless_call, which must return the
    # updated statistics without changing the arrays passed in (torch otherwise updates them in place)
    for layer in (ours, theirs):
        layer.set_weights(weights)
    single = [keras.ops.convert_to_numpy(layer(x[:1, :1, :1], training=True)) for layer in (ours, theirs)]
    for out in single:  # x - mean = 0: the output is beta, up to Keras' rounding of E[x²] - E[x]² (~1e-6, not 0)
        np.testing.assert_allclose(out.reshape(-1), weights[1], rtol=0, atol=3e-4)
    for wa, wb in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    states = []
    for layer in (ours, theirs):
        trainable = [keras.ops.convert_to_tensor(w) for w in weights[:2]]
        non_trainable = [keras.ops.convert_to_tensor(w) for w in weights[2:]]
        out, new = layer.stateless_call(trainable, non_trainable, x, training=True)
        for passed, w in zip(non_trainable, weights[2:]):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(passed), w)
        states.append([keras.ops.convert_to_numpy(v) for v in [out, *new]])
    for a, b in zip(*states):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(states[0][1], weights[2])


@pytest.mark.parametrize("shape", [(None, 16, 16, 32), (64, 16, 16, 32), (None, 2, 2, 51), (64, 4, 4, 26),
                                   (2048, 2, 2, 51)])
def test_batchnorm_takes_the_fused_function_where_it_is_faster(shape, monkeypatch):
    """Training-mode BatchNormalization: PyTorch's fused function on torch, the native kernels on JAX, and on TF
    FusedBatchNormV3 from 2^17 values (N·H·W·C; N = 128 when the batch size is not static), below that the
    small-tensor ops (benchmarks/tf_batchnorm.py)."""
    from keras_mobilenets import layers as kml  # noqa: PLC0415

    calls = []

    def spy(name, function):
        return lambda *a: calls.append(name) or function(*a)

    monkeypatch.setitem(kml.FUSED_BATCH_NORM, "torch", (spy("torch", kml._torch_batch_norm), True))
    monkeypatch.setitem(kml.FUSED_BATCH_NORM, "jax", (spy("jax", kml._jax_batch_norm), False))
    for name in ("_tf_fused_batch_norm", "_tf_small_batch_norm"):
        monkeypatch.setattr(kml, name, spy(name, getattr(kml, name)))
    backend = keras.backend.backend()
    layer = kml.BatchNormalization()
    x = np.ones((shape[0] or 4,) + shape[1:], "float32")
    if backend == "tensorflow" and shape[0] is None:  # traced with an unknown batch size, as fit traces a stream
        import tensorflow as tf  # noqa: PLC0415

        tf.function(lambda t: layer(t, training=True), input_signature=[tf.TensorSpec(shape)])(x)
    else:
        layer(x, training=True)
    big = (shape[0] or 128) * shape[1] * shape[2] * shape[3] >= 2 ** 17
    expected = {"torch": ["torch"], "jax": ["jax"],
                "tensorflow": ["_tf_fused_batch_norm" if big else "_tf_small_batch_norm"]}[backend]
    assert sorted(set(calls)) == expected, (shape, calls)  # (a trace may call it more than once)


def test_hard_activations_equal_their_formulas():
    """HardSwish = x·relu6(x + 3)/6 and HardSigmoid = relu6(x + 3)/6 on every backend, in inference and training
    mode (torch: PyTorch's fused kernels; TensorFlow training: XLA-compiled forward and hand-written gradient),
    gradients included: autodiff's of the formula, 1 / 0 at exactly +3 / -3 for HardSwish (the kink points)."""
    from keras_mobilenets import layers as kml  # noqa: PLC0415

    x = np.concatenate([np.linspace(-5, 5, 401) + 1e-3, [-3.0, 3.0, -6.0, 6.0]]).astype("float32").reshape(1, 1, -1, 1)
    gate = np.clip(x + 3.0, 0.0, 6.0) / 6.0
    d_gate = ((x > -3) & (x < 3)) / 6.0
    d_swish = gate + x * d_gate
    kml._tf_fused_hard_activations.cache_clear()
    for layer, want, d_want in ((kml.HardSwish(), x * gate, d_swish), (kml.HardSigmoid(), gate, d_gate)):
        for training in (None, True):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=training)), want,
                                       rtol=1e-6, atol=1e-6)
            (grad,) = _grads(layer, x, [], power=1, training=training)
            np.testing.assert_allclose(grad, d_want, rtol=1e-6, atol=1e-6)
    # the training calls above took the XLA path on TensorFlow; no other backend builds it
    assert kml._tf_fused_hard_activations.cache_info().currsize == (keras.backend.backend() == "tensorflow")


@pytest.mark.parametrize("max_value", [None, 6.0, 4.0])
def test_relu_equals_keras_relu_and_takes_torchs_kernel(max_value, monkeypatch):
    """layers.ReLU computes what keras.layers.ReLU does (values and gradients, the kinks at 0 and max_value
    included) on every backend; on torch the plain and ReLU6 forms call PyTorch's kernel directly, never Keras'
    generic ``activations.relu`` (other forms still do)."""
    from keras.src.layers.activations import relu as keras_relu_module  # noqa: PLC0415

    from keras_mobilenets.layers import ReLU  # noqa: PLC0415

    x = np.concatenate([np.linspace(-8, 8, 161) + 1e-3, [0.0, 6.0, 4.0]]).astype("float32").reshape(1, 1, -1, 1)
    ours, theirs = ReLU(max_value), keras.layers.ReLU(max_value)
    want = keras.ops.convert_to_numpy(theirs(x))
    (d_want,) = _grads(theirs, x, [], power=1)
    generic = keras_relu_module.activations.relu
    calls = []
    monkeypatch.setattr(keras_relu_module.activations, "relu", lambda *a, **k: calls.append(1) or generic(*a, **k))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours(x)), want)
    (grad,) = _grads(ours, x, [], power=1)
    np.testing.assert_array_equal(grad, d_want)
    fast = keras.backend.backend() == "torch" and max_value in (None, 6.0)
    assert bool(calls) != fast


def test_static_reshape_and_whole_map_pool_equal_keras_layers():
    """layers.Reshape (batch written as -1) and WholeMapAveragePooling2D (a spatial mean) compute what
    keras.layers.Reshape / AveragePooling2D do; a pool window that is not the whole map is a clear error."""
    from keras_mobilenets.layers import Reshape, WholeMapAveragePooling2D  # noqa: PLC0415

    x = np.random.default_rng(0).normal(size=(3, 4, 4, 5)).astype("float32")
    pooled = keras.ops.convert_to_numpy(WholeMapAveragePooling2D(pool_size=(4, 4))(x))
    np.testing.assert_allclose(pooled, keras.ops.convert_to_numpy(keras.layers.AveragePooling2D((4, 4))(x)), atol=1e-6)
    assert pooled.shape == (3, 1, 1, 5)
    for target in [(5,), (1, 5, 1), (-1,)]:
        ours = keras.ops.convert_to_numpy(Reshape(target)(pooled))
        np.testing.assert_array_equal(ours, keras.ops.convert_to_numpy(keras.layers.Reshape(target)(pooled)))
    with pytest.raises(ValueError, match="pool_size .* must equal the feature map size"):
        WholeMapAveragePooling2D(pool_size=(2, 2))(x)


# ----------------------------------------------------------------------------------------------------------
def test_predictor_equals_predict_on_batch_and_follows_new_weights():
    """km.predictor: one compiled inference function per backend (torch.jit.trace / jax.jit / tf.function), equal
    to predict_on_batch at any batch size, reading the model's current weights (cheap V2: ChannelReplicate)."""
    keras.utils.set_random_seed(5)
    model = km.get_model("cheap_v2_cifar100", alpha=0.5, classes=10, classifier_activation=None)
    f = km.predictor(model)
    x = np.random.default_rng(3).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    for b in (1, 3):
        np.testing.assert_allclose(f(x[:b]), np.asarray(model.predict_on_batch(x[:b])), atol=1e-5, rtol=0)
    before = f(x)
    head = model.get_layer("predictions")
    kernel, bias = head.get_weights()
    head.set_weights([kernel, bias + np.arange(10, dtype="float32")])  # logits shift by exactly 0, 1, ..., 9
    after = f(x)
    np.testing.assert_allclose(after - before, np.tile(np.arange(10.0), (3, 1)), atol=1e-4)
    np.testing.assert_allclose(after, np.asarray(model.predict_on_batch(x)), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="`model` must be a built keras.Model"):
        km.predictor("cheap_v2_cifar100")
    with pytest.raises(ValueError, match=r"`example` must have shape \(N, 32, 32, 3\)"):
        km.predictor(model, np.zeros((1, 64, 64, 3), "float32"))


def _small_graph(style):
    """Every node kind the builders make, small enough for JAX's op-by-op eager calls: stride-2 symmetric conv,
    hard-swish, an inverted residual with squeeze-excite (Multiply) and its Add, a Dense-SE one, dropout."""
    from keras_mobilenets import blocks  # noqa: PLC0415
    from keras_mobilenets.models.base import MobileNetModel  # noqa: PLC0415

    inputs = keras.Input((8, 8, 3))
    x = blocks.conv_bn_act(inputs, 8, 3, 2, "hard_swish", style, "stem")
    x = blocks.inverted_residual(x, 8, 16, 1, "relu", style, "b1", se=blocks.SE())
    x = blocks.inverted_residual(x, 8, 16, 1, "hard_swish", style, "b2", se=blocks.SE(conv=False, excite="tile"),
                                 expansion="tile_bn")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    return MobileNetModel(inputs, blocks.dense(x, 5, style, "predictions"), name="small")


def test_direct_graph_walk_equals_functional_call():
    """MobileNetModel.call_direct -- each layer's ``call`` in graph order, what ``call`` runs on the torch
    backend -- gives Functional.call's outputs (inference; training with dropout reseeded alike) and the same
    BatchNorm moving statistics, on every backend; on torch ``call`` takes that walk (and not with a mask), and a
    compiled train_on_batch step through it ends with the weights Functional.call's step gives."""
    from keras.src.models.functional import Functional  # noqa: PLC0415

    from keras_mobilenets.blocks import Style  # noqa: PLC0415

    keras.utils.set_random_seed(0)
    model = _small_graph(Style(padding="symmetric", bn_momentum=0.9))
    randomize_batchnorm(model)
    start = model.get_weights()
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    seed_state = model.get_layer("dropout").seed_generator.state
    seed_start = keras.ops.convert_to_numpy(seed_state)
    results = []
    for walk in (lambda t: model.call_direct(x, training=t), lambda t: Functional.call(model, x, training=t)):
        model.set_weights(start)
        seed_state.assign(seed_start), keras.utils.set_random_seed(1)  # dropout's seed (TF, JAX; torch: global)
        outs = [keras.ops.convert_to_numpy(walk(t)) for t in (False, True, True)]
        results.append((outs, model.get_weights()))
    (direct, w_direct), (functional, w_functional) = results
    for a, b in zip(direct, functional):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(direct[1], direct[0], atol=1e-3)  # training mode (batch statistics, dropout) differs
    for a, b in zip(w_direct, w_functional):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    n_bn = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert n_bn == 7 and sum(not np.array_equal(a, b) for a, b in zip(w_direct, start)) == 2 * n_bn  # mean + var
    if keras.backend.backend() != "torch":
        return
    from keras_mobilenets.models import base  # noqa: PLC0415

    calls = []
    original = base.MobileNetModel.call_direct
    base.MobileNetModel.call_direct = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    try:
        model(x), model(x, mask=np.ones((4, 8, 8), bool))
    finally:
        base.MobileNetModel.call_direct = original
    assert calls == [1]  # the masked call went through Functional.call
    y = np.arange(4) % 5
    trained = []
    for direct_call in (True, False):
        model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        if not direct_call:
            model.call_direct = lambda inputs, training=None: Functional.call(model, inputs, training=training)
        seed_state.assign(seed_start), keras.utils.set_random_seed(2)
        model.train_on_batch(x, y), model.train_on_batch(x, y)
        trained.append(model.get_weights())
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert sum(not np.allclose(a, b) for a, b in zip(trained[0], start)) > 20


def test_direct_graph_walk_frees_each_tensor_after_its_last_reader():
    """call_direct drops a layer's output once the last layer reading it has run, so in inference (nothing else
    keeps them) only the tensors feeding the head are left when it runs; the walk's result is unchanged."""
    import weakref  # noqa: PLC0415

    from keras.src.models.functional import Functional  # noqa: PLC0415

    from keras_mobilenets.blocks import Style  # noqa: PLC0415

    keras.utils.set_random_seed(0)
    model = _small_graph(Style(padding="symmetric", bn_momentum=0.9))
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    outputs, alive_at_head = {}, []

    def recording(layer):
        call = layer.call

        def wrapped(*args, **kwargs):
            if layer.name == "predictions":
                alive_at_head.extend(name for name, ref in outputs.items() if ref() is not None)
            out = call(*args, **kwargs)
            outputs[layer.name] = weakref.ref(out)
            return out

        return wrapped

    for layer in model.layers[1:]:
        layer.call = recording(layer)
    if keras.backend.backend() == "torch":  # as predict / evaluate run it (with autograd, backward keeps tensors)
        import torch  # noqa: PLC0415

        with torch.no_grad():
            y = model.call_direct(x, training=False)
    else:
        y = model.call_direct(x, training=False)
    assert len(outputs) == len(model.layers) - 1 > 30
    assert set(alive_at_head) <= {"pool", "dropout"}  # the head's input (dropout passes it through in inference)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y),
                               keras.ops.convert_to_numpy(Functional.call(model, x, training=False)), atol=1e-6)


def test_torch_parameters_registered_once_and_again_when_they_change():
    """MobileNetModel._post_build: ``train_on_batch`` does not re-register the variables as torch parameters when
    they are already registered (same ParameterDict object across calls), re-registers when they are not (an entry
    removed, a variable's tensor replaced), and every variable stays a torch parameter of the model (what ``model.parameters()`` hands an
    optimizer). TF / JAX register nothing (Keras' own ``_post_build``): there the test only trains the graph."""
    from keras_mobilenets.blocks import Style  # noqa: PLC0415

    keras.utils.set_random_seed(0)
    model = _small_graph(Style())
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32"), np.arange(4) % 5
    model.train_on_batch(x, y)
    if keras.backend.backend() != "torch":
        return
    registered = model._torch_params
    model.train_on_batch(x, y), model.predict_on_batch(x)
    assert model._torch_params is registered
    by_id = {id(p) for p in model.parameters()}
    assert all(id(v.value) in by_id for v in model.variables) and len(by_id) == len(model.variables)
    del model._torch_params[model.variables[0].path]
    model.train_on_batch(x, y)
    assert model._torch_params is not registered and len(model._torch_params) == len(model.variables)
    import torch  # noqa: PLC0415

    registered, variable = model._torch_params, model.variables[1]
    variable._value = torch.nn.Parameter(variable._value.detach().clone())  # same variable, a new tensor
    model.test_on_batch(x, y)
    assert model._torch_params is not registered and model._torch_params[variable.path] is variable._value
