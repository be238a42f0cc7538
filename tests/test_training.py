"""The training path: coupled-L2 SGD == torch.optim.SGD, bad input, budget stop, exact resume, distribution."""

import json

import keras
import numpy as np
import pytest

from helpers import backend, run_python
from keras_mobilenets.training import (AvgPixelDiff, SGDW, TrainConfig, fit, main, parse_args, recalibrate_batchnorm,
                                      reset_slots)

TINY = dict(model="mobilenet_v1_julia_a0.1_cifar100", data="sample:cifar10", train_subset=60, test_subset=30,
            batch_size=20, verbose=0, tensorboard=False, recipe="t",
            run_eagerly=backend() != "jax")  # few steps: eager beats graph compilation on TF/torch; jit on JAX


def test_sgdw_matches_torch_sgd_coupled_l2():
    """Keras SGDW(momentum 0.9, l2) == torch.optim.SGD(momentum 0.9, weight_decay) through model.fit, ≤ 1e-6."""
    import torch
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5, 5, 2)).astype("float32")
    y = rng.integers(0, 3, 16)
    inp = keras.Input((5, 5, 2))
    h = keras.layers.Conv2D(4, 3)(inp)
    h = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(h)
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(h))
    m = keras.Model(inp, keras.layers.Dense(3)(h))
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4, eps=1e-5), torch.nn.ReLU(),
                             torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))
    W = m.get_weights()
    with torch.no_grad():
        for p, w in zip([tm[0].weight, tm[0].bias, tm[1].weight, tm[1].bias, tm[5].weight, tm[5].bias],
                        [W[0].transpose(3, 2, 0, 1), W[1], W[2], W[3], W[6].T, W[7]]):
            p.copy_(torch.tensor(w))
    m.compile(optimizer=SGDW(0.1, momentum=0.9, l2=0.05),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x, y, batch_size=16, epochs=6, shuffle=False, verbose=0)  # jit on JAX / tf.function on TF
    opt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05)
    for _ in range(6):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(tm(torch.tensor(x.transpose(0, 3, 1, 2))), torch.tensor(y)).backward()
        opt.step()
    W = m.get_weights()
    pairs = [(W[0].transpose(3, 2, 0, 1), tm[0].weight), (W[1], tm[0].bias), (W[2], tm[1].weight),
             (W[3], tm[1].bias), (W[6].T, tm[5].weight), (W[7], tm[5].bias)]
    moved = max(float(np.abs(a - b.detach().numpy()).max()) for a, b in pairs)
    assert moved <= 1e-6
    # and the decay matters: without l2 the result differs
    assert np.abs(W[2] - 1.0).max() > 1e-3


def test_reset_slots_keeps_iterations():
    opt = SGDW(0.1, momentum=0.9, l2=1e-3)
    v = keras.Variable(np.ones(3, "float32"))
    opt.apply([keras.ops.ones(3)], [v])
    reset_slots(opt)
    assert int(opt.iterations) == 1
    assert all(float(np.abs(keras.ops.convert_to_numpy(m)).max()) == 0 for m in opt.momentums)
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.1)


def test_checkpoint_loads_after_importing_the_package_only(tmp_path):
    """A recipe checkpoint holds the compiled SGDW + schedule: ``import keras_mobilenets`` alone registers them
    (a fresh process), so ``keras.saving.load_model`` and ``keras-mobilenets export`` take ``best.keras`` as it is;
    and that import stays light (no TensorFlow on the JAX / torch backends)."""
    from keras_mobilenets.training.schedules import PiecewiseEpochs

    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    m.compile(optimizer=SGDW(PiecewiseEpochs([1], [0.1, 0.01], 2), momentum=0.9, l2=1e-4),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(np.ones((4, 4), "float32"), np.zeros(4, "int64"), batch_size=2, verbose=0)
    m.save(tmp_path / "best.keras")
    out = run_python(f"""
        import sys
        import keras, keras_mobilenets
        m = keras.saving.load_model({str(tmp_path / "best.keras")!r})
        print(type(m.optimizer).__name__, type(m.optimizer._learning_rate).__name__, int(m.optimizer.iterations),
              "tensorflow" in sys.modules)
        """, backend())
    assert out.split() == ["SGDW", "PiecewiseEpochs", "2", str(backend() == "tensorflow")]


def test_recalibrate_batchnorm_stores_the_batch_statistics():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    conv = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="bn1")(conv)
    x = keras.layers.Conv2D(5, 1, name="conv2")(keras.layers.ReLU()(x))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.99, name="bn2")(x))
    images = np.random.default_rng(0).normal(40.0, 9.0, (64, 6, 6, 3)).astype("float32")
    feats = keras.ops.convert_to_numpy(keras.Model(inputs, conv)(images)).reshape(-1, 4)
    assert recalibrate_batchnorm(model, images) is model
    bn1, bn2 = model.get_layer("bn1"), model.get_layer("bn2")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn1.moving_mean), feats.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn1.moving_variance), feats.var(0), rtol=1e-3)
    assert (bn1.momentum, bn2.momentum) == (0.9, 0.99)
    # inference now normalises the calibration batch: every output channel has mean ~0 and variance ~1
    out = keras.ops.convert_to_numpy(model.predict(images, verbose=0)).reshape(-1, 5)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(out.var(0), 1.0, atol=0.02)
    with pytest.raises(ValueError, match="`images` must be one batch"):
        recalibrate_batchnorm(model, images[0])


def test_avg_pixel_diff_definition():
    m = AvgPixelDiff(image_size=100)
    y = np.zeros((2, 4), "float32")  # 2 images, 2 keypoints
    p = np.array([[0.03, 0.04, 0.0, 0.0], [0.06, 0.08, 0.0, 0.1]], "float32")  # distances 5,0 | 10,10 px
    m.update_state(y, p)
    assert float(m.result()) == pytest.approx((2.5 + 10.0) / 2, rel=1e-5)


@pytest.mark.parametrize("argv, arg", [
    (["--data", "/nonexistent/data.npz"], "data"),
    (["--data", "/nonexistent_folder"], "data"),
    (["--image-size", "8"], "image_size"),
    (["--model", "mobilenet_v9"], "mobilenet_v9"),
    (["--optimizer", "lamb"], "--optimizer"),
    (["--no-such-flag", "1"], "--no-such-flag"),
    (["--schedule", "linear"], "schedule"),
    (["--epochs", "0"], "epochs"),
    (["--bn-momentum", "1.5"], "bn_momentum"),
])
def test_bad_input_names_argument_and_writes_nothing(tmp_path, argv, arg, capsys):
    runs = tmp_path / "runs"
    rc = main(argv + ["--runs-dir", str(runs), "--verbose", "0", "--model", "mobilenet_v1_julia_a0.1_cifar100"]
              if "--model" not in argv else argv + ["--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert rc == 2 and arg in err, err
    assert not runs.exists()  # no half-written run folder


def test_image_size_the_model_cannot_take(tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        fit(TrainConfig(**{**TINY, "image_size": 17, "runs_dir": str(tmp_path / "r")}))
    assert not (tmp_path / "r").exists()


def _bn_momenta(model):
    return [layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_bn_momentum_override_reaches_every_batchnorm_and_the_saved_file(tmp_path):
    from keras_mobilenets.training.loop import _build_model

    c = TrainConfig(model="mobilenet_v3_small", bn_momentum=0.99)
    _, model = _build_model(c, 32, 10)
    assert len(_bn_momenta(model)) == 34 and set(_bn_momenta(model)) == {0.99}
    _, default = _build_model(c.replace(bn_momentum=0.0), 32, 10)
    assert set(_bn_momenta(default)) == {0.999}  # keras.applications' own value
    model.save(tmp_path / "m.keras")
    assert set(_bn_momenta(keras.saving.load_model(tmp_path / "m.keras"))) == {0.99}


def test_every_field_is_a_flag_and_overrides_recipe_defaults():
    base = TrainConfig(lr=0.03, epochs=100)
    c = parse_args(["--lr", "0.5", "--cycle-epochs", "50", "20", "--no-flip", "--model-kwargs", '{"stem_channels": 32}'],
                   defaults=base)
    assert c.lr == 0.5 and c.epochs == 100 and c.cycle_epochs == [50, 20] and c.flip is False
    assert c.model_kwargs == {"stem_channels": 32}


def test_budget_stop_fires(tmp_path):
    s = fit(TrainConfig(**{**TINY, "epochs": 50, "time_budget": 1e-3, "run_dir": str(tmp_path / "run"),
                           "optimizer": "adam", "lr": 1e-3}))
    assert s["stopped_by_budget"] and s["epochs_run"] == 1
    assert s["steps_run"] == 1  # the budget is checked after every step: it stops after the first
    for f in ("config.json", "summary.json", "best.keras", "last.keras", "curves.png", "log.csv"):
        assert (tmp_path / "run" / f).exists(), f
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["backend"] == backend()


class _Kill(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("killed after epoch 1")


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    """A run killed after epoch 1 and restarted with the same --run-dir ends with the same weights and LRs."""
    cfg = dict(TINY, epochs=3, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="exponential",
               lr_gamma=0.5, pad=4, flip=True, mixup_alpha=1.0, seed=3)
    full = fit(TrainConfig(**cfg, run_dir=str(tmp_path / "full")))
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(**cfg, run_dir=str(tmp_path / "cut")), extra_callbacks=[_Kill()])
    resumed = fit(TrainConfig(**cfg, run_dir=str(tmp_path / "cut")))
    assert resumed["resumed_from_epoch"] == 1
    assert resumed["history"]["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125], rel=1e-6)
    assert resumed["history"]["learning_rate"] == full["history"]["learning_rate"]
    a = keras.saving.load_model(tmp_path / "full" / "last.keras", compile=False).get_weights()
    b = keras.saving.load_model(tmp_path / "cut" / "last.keras", compile=False).get_weights()
    diff = max(float(np.abs(x - y).max()) for x, y in zip(a, b))
    assert diff <= (0 if backend() == "tensorflow" else 1e-5), diff
    assert resumed["history"]["loss"][1:] == pytest.approx(full["history"]["loss"][1:], rel=1e-4)


DISTRIBUTE = """
import json, os
{setup}
from keras_mobilenets.training import TrainConfig, fit
s = fit(TrainConfig(model="mobilenet_v1_julia_a0.1_cifar100", data="sample:cifar10", train_subset=40, test_subset=20,
                    batch_size=20, epochs=1, optimizer="adam", lr=1e-3, verbose=0, tensorboard=False, distribute=True,
                    run_dir={run_dir!r}))
print(json.dumps({{"devices": s["devices"], "loss": s["history"]["loss"]}}))
"""


def test_distribute_on_two_simulated_cpu_devices(tmp_path):
    """JAX DataParallel / TF MirroredStrategy on 2 simulated CPUs; the torch backend refuses with a clear error."""
    if backend() == "torch":
        with pytest.raises(ValueError, match="distribute"):
            fit(TrainConfig(**TINY, distribute=True, runs_dir=str(tmp_path)))
        return
    if backend() == "jax":
        setup = "os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=2'"
    else:
        setup = ("import tensorflow as tf\ncpu = tf.config.list_physical_devices('CPU')[0]\n"
                 "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)")
    out = run_python(DISTRIBUTE.format(setup=setup, run_dir=str(tmp_path / "d")), backend(), timeout=600)
    res = json.loads(out.strip().splitlines()[-1])
    assert res["devices"] == 2 and np.isfinite(res["loss"][0])

