"""The native kernels (keras_mobilenets.native, XLA FFI: depthwise convolution, training batch norm): values and
gradients against a NumPy reference, the JAX backend's dispatch to them, and the build's failure modes. The kernels are called through JAX directly,
so every backend's run checks the compiled library; the dispatch check is the JAX backend's."""

import os

import keras
import numpy as np
import pytest

from keras_mobilenets import layers, native

# (input NHWC, kernel (kh, kw), strides, padding): 27 channels = one 16-block, one 8-block and a 3-channel tail of
# the kernels' channel loops; odd / even sizes; square and non-square kernels and strides; all three paddings.
CASES = [
    ((9, 11, 13, 27), (3, 3), (1, 1), "same"),
    ((5, 12, 12, 27), (3, 3), (2, 2), "same"),
    ((5, 13, 11, 24), (5, 5), (2, 2), "same"),
    ((4, 12, 10, 16), (3, 5), (1, 2), "valid"),
    ((3, 9, 9, 8), (5, 5), (2, 2), "symmetric"),
    ((3, 8, 8, 5), (3, 3), (2, 2), "symmetric"),
    ((2, 7, 9, 3), (1, 1), (2, 2), "valid"),
    # wide rows (long interior runs between the edge columns), 32 + 8 and 64 + 16 + 6 channel blocks, stride 3
    ((2, 5, 40, 40), (3, 3), (1, 1), "same"),
    ((2, 7, 37, 86), (3, 3), (2, 2), "symmetric"),
    ((2, 10, 23, 16), (3, 3), (3, 3), "valid"),
]


def _reference(x, k, dy, strides, padding):
    """float64 NumPy forward, input gradient and kernel gradient by padding the input explicitly (a different
    formulation from the kernels' bounds checks)."""
    n, h, w, c = x.shape
    kh, kw = k.shape[:2]
    ho, wo, (pt, _), (pl, _) = layers._output_geometry(h, w, kh, kw, strides, padding)
    sh, sw = strides
    hp, wp = (ho - 1) * sh + kh, (wo - 1) * sw + kw  # rows / columns the output reads
    xp = np.zeros((n, max(hp, pt + h), max(wp, pl + w), c))
    xp[:, pt:pt + h, pl:pl + w] = x
    y = np.zeros((n, ho, wo, c))
    dxp = np.zeros_like(xp)
    dk = np.zeros((kh, kw, c))
    for i in range(kh):
        for j in range(kw):
            window = (slice(None), slice(i, i + (ho - 1) * sh + 1, sh), slice(j, j + (wo - 1) * sw + 1, sw))
            y += xp[window] * k[i, j, :, 0]
            if dy is not None:
                dxp[window] += dy * k[i, j, :, 0]
                dk[i, j] = (xp[window] * dy).sum((0, 1, 2))
    return y, dxp[:, pt:pt + h, pl:pl + w], dk[..., None]


@pytest.mark.parametrize("shape,kernel,strides,padding", CASES)
def test_native_depthwise_equals_numpy_reference(shape, kernel, strides, padding):
    """Forward, dL/dx and dL/dkernel of the compiled kernels (eager and under jit, through the package's custom
    VJP) equal a float64 NumPy reference to float32 rounding."""
    import jax

    assert native.available(), "the native kernels did not build here (see the RuntimeWarning)"
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    k = rng.normal(size=(*kernel, shape[3], 1)).astype("float32")
    depthwise = layers._jitted_native_depthwise()
    y = np.asarray(depthwise(x, k, strides, padding))
    dy = rng.normal(size=y.shape).astype("float32")
    ref_y, ref_dx, ref_dk = _reference(x.astype("float64"), k.astype("float64"), dy.astype("float64"), strides, padding)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-5)
    grad = jax.jit(jax.grad(lambda a, b: (depthwise(a, b, strides, padding) * dy).sum(), (0, 1)))
    dx, dk = (np.asarray(g) for g in grad(x, k))
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dk, ref_dk, rtol=1e-5, atol=1e-4)  # sums over N*Ho*Wo products


def test_native_depthwise_on_an_empty_batch_and_one_image():
    """Zero images give empty outputs and a zero kernel gradient; one image (one row per work item) the reference."""
    import jax

    depthwise = layers._jitted_native_depthwise()
    k = np.random.default_rng(1).normal(size=(3, 3, 16, 1)).astype("float32")
    for n in (0, 1):
        x = np.random.default_rng(2).normal(size=(n, 6, 6, 16)).astype("float32")
        y, vjp = jax.vjp(lambda a, b: depthwise(a, b, (1, 1), "same"), x, k)
        dx, dk = vjp(np.ones(y.shape, "float32"))
        ref = _reference(x.astype("float64"), k.astype("float64"), np.ones(y.shape), (1, 1), "same")
        for ours, theirs in zip((y, dx, dk), ref):
            assert ours.shape == theirs.shape
            np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-5, atol=1e-5)


def test_jax_backend_dispatches_depthwise_to_the_native_kernels(monkeypatch):
    """On JAX the package's depthwise path is the native kernel for float32 and depth multiplier 1 (shift-and-add
    for multiplier 2 and for float16); on TF and torch it never is."""
    from keras_mobilenets.layers import depthwise_conv

    x = np.random.default_rng(3).normal(size=(2, 8, 8, 4)).astype("float32")
    k1 = np.random.default_rng(4).normal(size=(3, 3, 4, 1)).astype("float32")
    k2 = np.random.default_rng(4).normal(size=(3, 3, 4, 2)).astype("float32")
    ref = keras.ops.convert_to_numpy(keras.ops.depthwise_conv(x, k1, strides=1, padding="same"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(depthwise_conv(x, k1, 1, "same")), ref, atol=1e-5)
    if keras.backend.backend() != "jax":  # the native path is never even considered
        def refuse(*_):
            raise AssertionError("native depthwise consulted off JAX")

        monkeypatch.setattr(layers, "_native_applies", refuse)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(depthwise_conv(x, k1, 1, "same")), ref, atol=1e-5)
        return
    import jax

    def program(*args):
        return str(jax.make_jaxpr(lambda a, b: depthwise_conv(a, b, (1, 1), "same"))(*args))

    assert native.FORWARD_TARGET in program(x, k1)
    assert native.FORWARD_TARGET not in program(x, k2)
    assert native.FORWARD_TARGET not in program(x.astype("float16"), k1.astype("float16"))
    grad_program = str(jax.make_jaxpr(jax.grad(lambda a, b: depthwise_conv(a, b, (1, 1), "same").sum()))(x, k1))
    assert native.BACKWARD_TARGET in grad_program


# (shape, mean offset): 37 channels (a vector block and a tail); rows 1, 255, 257 and 2 * 256 + 3 around the
# kernels' 256-row work items; a mean 100x the spread (the shifted sums keep the variance accurate there)
BN_CASES = [((1, 1, 1, 37), 0.0), ((3, 5, 17, 37), 0.0), ((257, 1, 1, 8), 2.0), ((5, 11, 19, 13), 300.0),
            ((2, 16, 16, 64), -1.0)]


def _batch_norm_reference(x, gamma, beta, dy, epsilon):
    """float64 training batch norm over the last axis and its gradients, written out from the definition."""
    axes = tuple(range(x.ndim - 1))
    n = x.size // x.shape[-1]
    mean = x.mean(axes)
    var = ((x - mean) ** 2).mean(axes)
    inv = 1.0 / np.sqrt(var + epsilon)
    xhat = (x - mean) * inv
    d_beta = dy.sum(axes)
    d_gamma = (dy * xhat).sum(axes)
    dx = gamma * inv * (dy - d_beta / n - xhat * d_gamma / n)
    return xhat * gamma + beta, mean, var, dx, d_gamma, d_beta


@pytest.mark.parametrize("shape,offset", BN_CASES)
def test_native_batch_norm_equals_numpy_reference(shape, offset):
    """Output, batch mean and biased variance, and dL/dx, dL/dgamma, dL/dbeta of the compiled batch norm kernels
    (under jit, through the package's custom VJP) equal a float64 NumPy reference to float32 rounding."""
    import jax

    assert native.available(), "the native kernels did not build here (see the RuntimeWarning)"
    rng = np.random.default_rng(5)
    x = (rng.normal(size=shape) * 0.5 + offset).astype("float32")
    gamma, beta = (rng.normal(size=shape[-1]).astype("float32") for _ in range(2))
    dy = rng.normal(size=shape).astype("float32")
    epsilon = 1e-3
    batch_norm = layers._jitted_native_batch_norm()
    f = jax.jit(lambda a, g, b: batch_norm(a, g, b, epsilon, None))
    ref = _batch_norm_reference(*(v.astype("float64") for v in (x, gamma, beta, dy)), epsilon)
    for ours, theirs in zip(f(x, gamma, beta), ref[:3]):
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-5, atol=1e-4 if offset else 1e-5)
    grad = jax.jit(jax.grad(lambda a, g, b: (batch_norm(a, g, b, epsilon, None)[0] * dy).sum(), (0, 1, 2)))
    scale = [max(np.abs(r).max(), 1.0) for r in ref[3:]]  # (one row: dx is 0 up to float rounding)
    for ours, theirs, s in zip(grad(x, gamma, beta), ref[3:], scale):
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=0, atol=1e-4 * s)


def test_native_batch_norm_on_an_empty_batch():
    """Zero rows: an empty output, zero statistics and zero gamma / beta gradients (no division by zero)."""
    import jax

    batch_norm = layers._jitted_native_batch_norm()
    x = np.zeros((0, 4, 4, 9), "float32")
    gamma, beta = np.ones(9, "float32"), np.zeros(9, "float32")
    (out, mean, var), vjp = jax.vjp(lambda a, g, b: batch_norm(a, g, b, 1e-3, None), x, gamma, beta)
    dx, d_gamma, d_beta = vjp((np.zeros((0, 4, 4, 9), "float32"), np.zeros(9, "float32"), np.zeros(9, "float32")))
    assert out.shape == dx.shape == (0, 4, 4, 9)
    for v in (mean, var, d_gamma, d_beta):
        np.testing.assert_array_equal(np.asarray(v), np.zeros(9))


def test_jax_backend_dispatches_training_batch_norm_to_the_native_kernels(monkeypatch):
    """On JAX the package's BatchNormalization runs the native kernels in training (forward and gradient) and
    Keras' ops in inference, and Keras' ops in training too when the kernels are switched off; outputs equal."""
    if keras.backend.backend() != "jax":
        monkeypatch.setattr(native, "batch_norm_forward", None)  # never consulted off JAX: calling it would fail
        layer = layers.BatchNormalization()
        x = np.random.default_rng(6).normal(size=(4, 3, 3, 5)).astype("float32")
        assert keras.ops.convert_to_numpy(layer(x, training=True)).shape == x.shape
        return
    import jax

    layer = layers.BatchNormalization()
    x = np.random.default_rng(6).normal(size=(4, 3, 3, 5)).astype("float32")
    layer.build(x.shape)
    variables = [v.value for v in layer.trainable_variables], [v.value for v in layer.non_trainable_variables]

    def program(training, grad=False):
        def f(t, nt, a):
            return layer.stateless_call(t, nt, a, training=training)[0].sum()
        return str(jax.make_jaxpr(jax.grad(f) if grad else f)(*variables, x))

    assert native.BN_FORWARD_TARGET in program(True)
    assert native.BN_BACKWARD_TARGET in program(True, grad=True)
    assert native.BN_FORWARD_TARGET not in program(False)
    with_native = keras.ops.convert_to_numpy(layer(x, training=True))
    monkeypatch.setattr(native, "available", lambda: False)
    assert native.BN_FORWARD_TARGET not in program(True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=True)), with_native, rtol=1e-5,
                               atol=1e-5)


def test_native_switch_and_build_errors(tmp_path, monkeypatch):
    """KERAS_MOBILENETS_NATIVE=0 turns the kernels off and a bad value names the variable; a missing compiler and a
    failing build raise NativeBuildError naming the command, and leave nothing half-written in the cache."""
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    assert native.enabled() is False and native.available.__wrapped__() is False
    monkeypatch.setenv(native.ENV_SWITCH, "maybe")
    with pytest.raises(ValueError, match="KERAS_MOBILENETS_NATIVE='maybe'"):
        native.enabled()
    monkeypatch.setenv(native.ENV_SWITCH, "1")
    monkeypatch.setenv(native.ENV_CACHE, str(tmp_path))
    with pytest.raises(native.NativeBuildError, match="no C.. compiler 'no-such-compiler-km'"):
        native.build("no-such-compiler-km")
    with pytest.raises(native.NativeBuildError, match="false .*failed"):
        native.build("false")
    assert os.listdir(tmp_path) == []
    built = native.build()  # a fresh cache: compiles, and the name is the same on the next call
    assert built.parent == tmp_path and built.exists() and native.build() == built
    assert [p.name for p in tmp_path.iterdir()] == [built.name]


def _activation_reference(pre, activation):
    """(output, slope) of the activation after the batch norm at the float64 pre-activation: a clip to
    [0, activation], or hard-swish (slope 0 below -3, 1 above 3, pre / 3 + 1/2 between)."""
    if activation == "hard_swish":
        slope = np.where(pre >= 3, 1.0, np.where(pre <= -3, 0.0, pre / 3 + 0.5))
        return pre * np.clip(pre + 3, 0, 6) / 6, slope
    return np.clip(pre, 0, activation), ((pre > 0) & (pre < activation)).astype("float64")


@pytest.mark.parametrize("activation", [np.inf, 6.0, "hard_swish"])
def test_native_batch_norm_with_activation_equals_numpy_reference(activation):
    """The batch norm kernels with the ReLU (inf) / ReLU6 (6.0) / hard-swish after them: output = the reference
    batch norm's activation, and gradients = the reference batch norm's for the cotangent times the activation's
    slope (JAX's relu / relu6 gradient: 0 outside (0, max); hard-swish's: 0, pre / 3 + 1/2, 1). The data put
    pre-activations on both sides of 0 and 6 (of -3 and 3 for hard-swish)."""
    import jax

    assert native.available(), "the native kernels did not build here (see the RuntimeWarning)"
    rng = np.random.default_rng(11)
    shape = (5, 11, 19, 37)
    x = rng.normal(size=shape).astype("float32")
    gamma = rng.uniform(1.0, 6.0, size=shape[-1]).astype("float32")
    beta = rng.uniform(-1.0, 4.0, size=shape[-1]).astype("float32")
    dy = rng.normal(size=shape).astype("float32")
    epsilon = 1e-3
    batch_norm = layers._jitted_native_batch_norm()
    pre, mean, var, *_ = _batch_norm_reference(*(v.astype("float64") for v in (x, gamma, beta, dy)), epsilon)
    expected, slope = _activation_reference(pre, activation)
    edges = (-3, 3) if activation == "hard_swish" else (0, activation)
    assert (pre < edges[0]).mean() > 0.05 and (activation == np.inf or (pre > edges[1]).mean() > 0.05)
    assert ((pre > edges[0]) & (pre < edges[1])).mean() > 0.1
    ref = _batch_norm_reference(*(v.astype("float64") for v in (x, gamma, beta, dy * slope)), epsilon)
    out, ours_mean, ours_var = jax.jit(lambda a, g, b: batch_norm(a, g, b, epsilon, activation))(x, gamma, beta)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ours_mean), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ours_var), var, rtol=1e-5, atol=1e-6)
    grad = jax.jit(jax.grad(lambda a, g, b: (batch_norm(a, g, b, epsilon, activation)[0] * dy).sum(), (0, 1, 2)))
    for ours, theirs in zip(grad(x, gamma, beta), ref[3:]):
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=0, atol=1e-4 * max(np.abs(theirs).max(), 1.0))
    for bad in (0.0, "swish"):
        with pytest.raises(ValueError, match="activation: a positive clip value"):
            native.batch_norm_forward(x, gamma, beta, epsilon, bad)


def _pairs_model():
    """Input -> conv -> BN -> ReLU -> conv -> BN -> ReLU6 -> conv -> BN -> HardSwish -> BN (two readers: a ReLU and
    the sum) -> ... and a BN -> leaky ReLU -> frozen BN -> ReLU: three pairs that fuse, and three BatchNorms that
    must not."""
    from keras_mobilenets.models import base

    inputs = keras.Input((8, 8, 6))
    x = layers.Conv2D(12, 3, padding="same")(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    x = layers.HardSwish()(layers.BatchNormalization()(layers.Conv2D(12, 1)(x)))
    shared = layers.BatchNormalization()(x)
    x = keras.layers.Add()([layers.ReLU()(shared), shared])
    x = keras.layers.LeakyReLU(0.1)(layers.BatchNormalization()(x))
    x = layers.ReLU()(layers.BatchNormalization(trainable=False)(x))  # frozen: inference form, not fused
    x = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x))
    return base.finish(inputs, x, "pairs")


def test_jax_training_runs_batch_norm_activation_pairs_natively_with_equal_results(monkeypatch):
    """MobileNetModel's JAX training call runs each BatchNorm whose only reader is a ReLU / ReLU6 / HardSwish as one native
    batch norm + activation, and leaves every other BatchNorm alone (a second reader, a leaky ReLU, a frozen layer):
    loss, outputs, gradients and moving statistics equal the layer-by-layer Functional call's. Other backends never
    take that path (call_with_activation declines)."""
    model = _pairs_model()
    x = np.random.default_rng(12).normal(size=(4, 8, 8, 6)).astype("float32")
    if keras.backend.backend() != "jax":
        bn, relu, swish = model.layers[2], model.layers[3], model.layers[9]
        assert layers.fused_activation(relu) == np.inf and layers.fused_activation(swish) == "hard_swish"
        assert bn.call_with_activation(keras.ops.convert_to_tensor(x[..., :0]), relu, True) is None
        return
    import jax

    from keras_mobilenets.models import base

    assert sorted(model._activation_pairs()) == [1, 4, 7, 14]  # (the frozen layer's pair declines at call time)
    y = np.arange(4) % 3
    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]
    fused = []
    original = layers.BatchNormalization.call_with_activation

    def spy(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        fused.append(result is not None)
        return result

    monkeypatch.setattr(layers.BatchNormalization, "call_with_activation", spy)

    def loss(t, nt):
        out, nt2 = model.stateless_call(t, nt, x, training=True)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, out), (out, nt2)

    results = []
    for pairs in (True, False):
        if not pairs:
            monkeypatch.setattr(base.MobileNetModel, "_activation_pairs", lambda self: {})
        (value, (out, nt2)), grads = jax.value_and_grad(loss, has_aux=True)(trainable, frozen)
        results.append((value, out, nt2, grads))
    assert fused == [True, True, True, False]
    (v1, o1, n1, g1), (v2, o2, n2, g2) = results
    np.testing.assert_allclose(float(v1), float(v2), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(o1), np.asarray(o2), rtol=1e-5, atol=1e-6)
    for a, b in zip(n1, n2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5 * max(np.abs(np.asarray(b)).max(), 1))


# (input NHWC, kernel (kh, kw), output channels, strides, padding) of the dense few-input-channel convolution: 1-4
# input channels; 16 + 8 + 4 + 1 (29), 2 x 16 (32), 5 (a tail only) and 40 output channels, i.e. every channel
# block of the kernels' ladder on AVX2 and AVX-512; 4-pixel / 4-tap groups with remainders; all three paddings.
CONV_CASES = [
    ((3, 11, 13, 3), (3, 3), 29, (2, 2), "same"),
    ((2, 9, 9, 3), (3, 3), 32, (1, 1), "symmetric"),
    ((2, 10, 7, 1), (3, 3), 5, (2, 2), "symmetric"),
    ((2, 9, 11, 4), (5, 5), 40, (2, 2), "valid"),
    ((3, 6, 9, 2), (3, 2), 16, (1, 2), "same"),
]


def _conv_reference(x, k, dy, strides, padding):
    """float64 NumPy forward, input gradient and kernel gradient of a dense convolution, by explicit padding."""
    n, h, w, _ = x.shape
    kh, kw, _, co = k.shape
    ho, wo, (pt, _), (pl, _) = layers._output_geometry(h, w, kh, kw, strides, padding)
    sh, sw = strides
    xp = np.zeros((n, max((ho - 1) * sh + kh, pt + h), max((wo - 1) * sw + kw, pl + w), x.shape[3]))
    xp[:, pt:pt + h, pl:pl + w] = x
    y, dxp, dk = np.zeros((n, ho, wo, co)), np.zeros_like(xp), np.zeros_like(k)
    for i in range(kh):
        for j in range(kw):
            window = (slice(None), slice(i, i + (ho - 1) * sh + 1, sh), slice(j, j + (wo - 1) * sw + 1, sw))
            y += xp[window] @ k[i, j]
            dxp[window] += dy @ k[i, j].T
            dk[i, j] = np.einsum("nhwc,nhwo->co", xp[window], dy)
    return y, dxp[:, pt:pt + h, pl:pl + w], dk


@pytest.mark.parametrize("shape,kernel,filters,strides,padding", CONV_CASES)
def test_native_conv_equals_numpy_reference(shape, kernel, filters, strides, padding):
    """Forward and dL/dkernel of the native few-input-channel convolution, and dL/dx of its custom VJP (XLA's
    transposed convolution), equal a float64 NumPy reference to float32 rounding."""
    import jax

    assert native.available(), "the native kernels did not build here (see the RuntimeWarning)"
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape).astype("float32")
    k = rng.normal(size=(*kernel, shape[3], filters)).astype("float32")
    conv = layers._jitted_native_conv()
    y = np.asarray(conv(x, k, strides, padding))
    dy = rng.normal(size=y.shape).astype("float32")
    ref_y, ref_dx, ref_dk = _conv_reference(x.astype("float64"), k.astype("float64"), dy.astype("float64"),
                                            strides, padding)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-4)
    dx, dk = (np.asarray(g) for g in jax.jit(jax.grad(lambda a, b: (conv(a, b, strides, padding) * dy).sum(),
                                                      (0, 1)))(x, k))
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dk, ref_dk, rtol=1e-5, atol=1e-3)  # sums over N*Ho*Wo products


def test_jax_backend_dispatches_stem_convolutions_to_the_native_kernels():
    """On JAX a Conv2D over at most NATIVE_CONV_MAX_CHANNELS input channels (3x3, not 1x1) runs the native forward,
    and a gradient with respect to the kernel alone compiles to a program with no convolution left (XLA removes
    the unused input gradient); 5 input channels and 1x1 kernels keep their paths. Outputs equal Keras' Conv2D
    with the same weights on every backend."""
    rng = np.random.default_rng(6)
    x3 = rng.normal(size=(2, 12, 12, 3)).astype("float32")
    x5 = rng.normal(size=(2, 12, 12, 5)).astype("float32")
    for x, kernel_size, padding in ((x3, 3, "symmetric"), (x3, 3, "same"), (x5, 3, "same"), (x3, 1, "valid")):
        ours = layers.Conv2D(8, kernel_size, strides=2, padding=padding, use_bias=False)
        ours.build(x.shape)
        keras_padding = "valid" if padding == "symmetric" else padding
        theirs = keras.layers.Conv2D(8, kernel_size, strides=2, padding=keras_padding, use_bias=False)
        theirs.build(x.shape)
        theirs.set_weights(ours.get_weights())
        xin = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))) if padding == "symmetric" else x
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x)), keras.ops.convert_to_numpy(theirs(xin)),
                                   rtol=1e-5, atol=1e-5)
        if keras.backend.backend() != "jax":
            continue
        import jax

        kernel = keras.ops.convert_to_tensor(ours.kernel)
        expected = x.shape[3] <= layers.NATIVE_CONV_MAX_CHANNELS and kernel_size > 1
        program = str(jax.make_jaxpr(lambda a, k: ours.convolution_op(a, k))(x, kernel))
        assert (native.CONV_FORWARD_TARGET in program) == expected, (x.shape, kernel_size)
        if expected:
            grad = jax.jit(jax.grad(lambda k: ours.convolution_op(x, k).sum()))
            hlo = grad.lower(kernel).compile().as_text()
            assert native.CONV_KERNEL_GRAD_TARGET in hlo and "convolution(" not in hlo
