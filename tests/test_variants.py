"""Every registered variant builds (no Lambda layer), trains one step, saves and reloads on the active backend."""

import keras
import numpy as np
import pytest

import keras_mobilenets as km
from keras_mobilenets.layers import ChannelReplicate, ChannelShuffle
from tests.helpers import inference


@pytest.mark.parametrize("name", km.list_models())
def test_builds_trains_one_step_saves_and_reloads(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = km.get_model(name, input_shape=(32, 32, 3), classes=5, classifier_activation=None)
    # saved models must load with safe_mode on: no Lambda layer anywhere
    assert not [layer.name for layer in model.layers if isinstance(layer, keras.layers.Lambda)]
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    y = np.arange(4) % 5
    # One step, eagerly on TensorFlow (tracing a tf.function costs more than the step); JAX jit-compiles.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=keras.backend.backend() == "tensorflow")
    before = {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights}
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    moved = {w.path for w in model.trainable_weights if not np.array_equal(before[w.path], keras.ops.convert_to_numpy(w))}
    # Deep BN gammas of a freshly initialised net can get updates below float32 resolution of 1.0; everything
    # else, and in particular the stem and the classifier, must move.
    assert len(moved) >= 0.9 * len(before), sorted(set(before) - moved)
    assert {"stem_conv/kernel", "predictions/kernel", "predictions/bias"} <= moved
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(inference(loaded, x), inference(model, x))  # same program, same weights


# ------------------------------------------------------------------------------------------ custom layers
def test_channel_replicate_orders_channels_like_the_sources():
    x = np.arange(2 * 1 * 1 * 4, dtype="float32").reshape(2, 1, 1, 4)
    tile = keras.ops.convert_to_numpy(ChannelReplicate(ratio=2.5)(x))
    assert tile.shape == (2, 1, 1, 10)
    np.testing.assert_array_equal(tile[0, 0, 0], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])  # j mod C
    part = keras.ops.convert_to_numpy(ChannelReplicate(out_channels=6, offset=2)(x))
    np.testing.assert_array_equal(part[1, 0, 0], [4, 5, 6, 7, 6, 7])  # concat[x, x[:, 2:4]]
    first = keras.ops.convert_to_numpy(ChannelReplicate(out_channels=3)(x))
    np.testing.assert_array_equal(first[0, 0, 0], [0, 1, 2])  # "first C' channels" shortcut


def test_channel_shuffle_matches_reshape_transpose_definition():
    x = np.arange(12, dtype="float32").reshape(1, 1, 1, 12)
    out = keras.ops.convert_to_numpy(ChannelShuffle(3)(x))[0, 0, 0]
    np.testing.assert_array_equal(out, x.reshape(3, 4).T.reshape(12))
    np.testing.assert_array_equal(out[:6], [0, 4, 8, 1, 5, 9])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: ChannelReplicate(), "exactly one of `out_channels`"),
        (lambda: ChannelReplicate(ratio=-1), "`ratio` must be > 0"),
        (lambda: ChannelReplicate(ratio=1.3)(keras.Input((4, 4, 4))), "not an integer"),
        (lambda: ChannelReplicate(out_channels=7, offset=2)(keras.Input((4, 4, 4))), "choose `offset` <= 1"),
        (lambda: ChannelShuffle(0), "`groups` must be a positive int"),
        (lambda: ChannelShuffle(5)(keras.Input((4, 4, 12))), "not divisible by groups=5"),
    ],
)
def test_custom_layer_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_custom_layers_round_trip_their_config():
    for layer in (ChannelReplicate(ratio=1.5, offset=1, name="r"), ChannelShuffle(6, name="s")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


def test_initialisers_follow_the_porting_rules():
    """torch kaiming_normal_(fan_out) on a depthwise kernel: std = sqrt(2 / (k*k*C)) (SPECS porting rule 4)."""
    keras.utils.set_random_seed(1)
    model = km.get_model("custom_mobilenet_cifar10")
    dw = keras.ops.convert_to_numpy(model.get_layer("block20_dw").kernel)  # 3x3 depthwise on 256 channels
    np.testing.assert_allclose(dw.std(), np.sqrt(2 / (9 * 256)), rtol=0.1)
    pw = keras.ops.convert_to_numpy(model.get_layer("block20_project").kernel)  # 1x1 256 -> 512, fan_out 512
    np.testing.assert_allclose(pw.std(), np.sqrt(2 / 512), rtol=0.05)
    fc = keras.ops.convert_to_numpy(model.get_layer("predictions").kernel)
    np.testing.assert_allclose(fc.std(), 0.01, rtol=0.1)
    torch_default = km.get_model("mobilenet_v1_cifar10_baseline")
    dw = keras.ops.convert_to_numpy(torch_default.get_layer("block0_dw").kernel)
    assert dw.min() >= -1 / 3 and dw.max() <= 1 / 3 and dw.max() > 0.3  # U(-1/k, 1/k), k = 3
    affine = km.get_model("mbv2_blog_b_cifar10").get_layer("block1_expand_bn")
    gamma = keras.ops.convert_to_numpy(affine.gamma)
    assert 0 <= gamma.min() and gamma.max() <= 1 and gamma.std() > 0.2  # random affine U(0, 1)


@pytest.mark.parametrize("kernel,stride,groups,cin,filters", [(3, 1, 6, 12, 12), (5, 2, 4, 8, 16), (1, 1, 3, 12, 6)])
def test_group_conv_equals_keras_grouped_conv2d(kernel, stride, groups, cin, filters):
    from keras_mobilenets.layers import GroupConv2D

    x = np.random.default_rng(0).normal(size=(2, 9, 9, cin)).astype("float32")
    ours = GroupConv2D(filters, kernel, strides=stride, groups=groups)
    ref = keras.layers.Conv2D(filters, kernel, strides=stride, groups=groups, use_bias=False)
    y = keras.ops.convert_to_numpy(ours(x))
    ref.build(x.shape)
    ref.set_weights(ours.get_weights())  # same kernel layout (kh, kw, cin / groups, filters)
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(ref(x)), atol=1e-5)
    assert y.shape == tuple(ours.compute_output_shape(x.shape))
    if keras.backend.backend() == "tensorflow":  # the export's form: TensorFlow's own grouped convolution
        from keras_mobilenets.layers import trace_forms

        with trace_forms(group_conv="grouped"):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x)), y, atol=1e-5)


@pytest.mark.parametrize("kernel,stride,padding,multiplier,size", [
    (3, 1, "same", 1, 8), (3, 2, "same", 1, 8), (3, 2, "same", 1, 9), (5, 2, "same", 1, 10), (5, 1, "same", 2, 7),
    (3, 2, "valid", 1, 9), (3, 1, "valid", 3, 6), (5, 2, "valid", 1, 12), (1, 1, "same", 2, 5),
])
def test_shift_add_depthwise_equals_keras_depthwise(kernel, stride, padding, multiplier, size):
    """The shift-and-add form (used on JAX for speed) gives Keras' depthwise conv, padding rules included,
    forward and gradient, and our DepthwiseConv2D layer equals keras.layers.DepthwiseConv2D on this backend."""
    from keras_mobilenets.layers import DepthwiseConv2D, shift_add_depthwise

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, size, size, 4)).astype("float32")
    k = rng.normal(size=(kernel, kernel, 4, multiplier)).astype("float32")
    ref = keras.ops.depthwise_conv(x, k, strides=stride, padding=padding)
    ours = shift_add_depthwise(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(k), (stride, stride), padding)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(ref), atol=1e-5)

    layer = DepthwiseConv2D(kernel, strides=stride, padding=padding, depth_multiplier=multiplier, use_bias=True,
                            bias_initializer="random_normal")
    plain = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, depth_multiplier=multiplier)
    y = keras.ops.convert_to_numpy(layer(x))
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(plain(x)), atol=1e-5)
    assert y.shape == tuple(layer.compute_output_shape(x.shape))


def _grads(f, *args):
    """Gradients of scalar f(*args) w.r.t. every arg, with the active backend's autodiff."""
    b = keras.backend.backend()
    if b == "jax":
        import jax

        return [np.asarray(g) for g in jax.jit(jax.grad(f, tuple(range(len(args)))))(*args)]
    if b == "tensorflow":
        import tensorflow as tf

        args = [tf.Variable(a) for a in args]
        with tf.GradientTape() as tape:
            y = f(*args)
        return [g.numpy() for g in tape.gradient(y, args)]
    import torch

    args = [torch.tensor(a, requires_grad=True) for a in args]
    f(*args).backward()
    return [a.grad.numpy() for a in args]


@pytest.mark.parametrize("kernel,stride,padding,multiplier,size", [
    (5, 1, "same", 1, 11), (5, 2, "same", 1, 11), (3, 2, "same", 2, 8), (3, 2, "valid", 1, 10), (3, 1, "valid", 3, 7),
])
def test_shift_add_depthwise_gradient_equals_keras(kernel, stride, padding, multiplier, size):
    """d(sum(y^2))/d(x, kernel) of the shift-and-add form (autodiff) and of the package's depthwise path (on JAX the
    hand-written input gradient of its custom VJP) equal the gradient of Keras' depthwise conv."""
    from keras_mobilenets.layers import depthwise_conv, shift_add_depthwise

    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, size, size, 6)).astype("float32")
    k = rng.normal(size=(kernel, kernel, 6, multiplier)).astype("float32")
    s = (stride, stride)
    ref = _grads(lambda x, k: keras.ops.sum(keras.ops.depthwise_conv(x, k, strides=s, padding=padding) ** 2), x, k)
    for f in (shift_add_depthwise, depthwise_conv):
        ours = _grads(lambda x, k: keras.ops.sum(f(x, k, s, padding) ** 2), x, k)
        for g_ours, g_ref in zip(ours, ref):
            np.testing.assert_allclose(g_ours, g_ref, rtol=1e-4, atol=1e-3)
