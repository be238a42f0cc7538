"""The native depthwise kernels (keras_mobilenets.native, XLA FFI): values and gradients against a NumPy reference,
the JAX backend's dispatch to them, and the build's failure modes. The kernels are called through JAX directly,
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

    assert native.depthwise_available(), "the native kernels did not build here (see the RuntimeWarning)"
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


def test_native_switch_and_build_errors(tmp_path, monkeypatch):
    """KERAS_MOBILENETS_NATIVE=0 turns the kernels off and a bad value names the variable; a missing compiler and a
    failing build raise NativeBuildError naming the command, and leave nothing half-written in the cache."""
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    assert native.enabled() is False and native.depthwise_available.__wrapped__() is False
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
