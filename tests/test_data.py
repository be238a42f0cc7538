"""Data: samples, .npz, offline tfds error, image folders, keypoint folders, deterministic tf.data pipelines."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mobilenets import data as D
from keras_mobilenets.data.datasets import holds_paths


def test_samples_are_real_and_shaped():
    c = D.load_sample("cifar10")
    assert c.x_train.shape == (2000, 32, 32, 3) and c.x_test.shape == (1000, 32, 32, 3) and c.num_classes == 10
    f = D.load_sample("fashion_mnist")
    assert f.x_train.shape == (2000, 28, 28, 1) and f.class_names[0] == "T-shirt/top"
    with pytest.raises(ValueError, match="allowed: cifar10, fashion_mnist"):
        D.load_sample("mnist")


def test_pipeline_float_0_255_rgb_and_fashion_padding():
    s = D.load_sample("fashion_mnist").subset(20, 10)
    train, test, spe = D.classification_datasets(s, batch_size=8, image_size=32, num_classes=10, epochs=1)
    x, y = next(iter(train))
    assert spe == 3 and x.shape == (8, 32, 32, 3) and x.dtype == tf.float32 and y.shape == (8, 10)
    x = x.numpy()
    assert x.max() <= 255 and x.max() > 1 and np.all(x[:, :2] == 0)  # 28 → 32 by 2-pixel zero padding
    np.testing.assert_array_equal(x[..., 0], x[..., 2])  # grayscale replicated
    # test passes start a new iterator each epoch: autotuning off there (see pipeline.evaluation_stream), kept on
    # for the one long-lived training iterator
    assert test.options().autotune.enabled is False and train.options().autotune.enabled is not False


def test_batched_pad_crop_flip_is_a_per_image_crop_or_mirrored_crop():
    """Every image of a vectorised batch is one of the (2p+1)^2 crops of its own zero-padded image, or that crop
    mirrored (torchvision Pad → RandomHorizontalFlip → RandomCrop); offsets and flips vary across the batch; the
    batch order of the stream is the one-example-at-a-time pipeline's (same labels, same examples)."""
    p, n = 4, 48
    imgs = np.random.default_rng(0).integers(0, 256, size=(n, 8, 8, 3)).astype("float32")
    out = D.pad_crop_flip(tf.constant(imgs), tf.constant([3, 5], tf.int64), pad=p, flip=True).numpy()
    padded = np.pad(imgs, [(0, 0), (p, p), (p, p), (0, 0)])
    seen = set()
    for k in range(n):
        hits = [(r, c, f) for r in range(2 * p + 1) for c in range(2 * p + 1) for f in (0, 1)
                if np.array_equal(out[k], (lambda crop: crop[:, ::-1] if f else crop)(padded[k, r:r + 8, c:c + 8]))]
        assert hits, f"image {k} is not a crop of its padded input"
        seen.add(hits[0])
    assert len({r for r, _, _ in seen}) >= 4 and {f for _, _, f in seen} == {0, 1}
    single = D.pad_crop_flip(tf.constant(imgs[0]), tf.constant([3, 5], tf.int64), pad=p, flip=True)
    assert single.shape == (8, 8, 3)
    s = D.load_sample("cifar10").subset(40, 10)
    plain = D.classification_datasets(s, batch_size=16, image_size=32, num_classes=10, epochs=1, seed=3)[0]
    ys = [y.numpy().argmax(1) for _, y in plain]
    order = np.asarray(tf.random.experimental.stateless_shuffle(tf.range(40, dtype=tf.int64),
                                                                seed=tf.constant([3, 0], tf.int64)))
    np.testing.assert_array_equal(np.concatenate(ys), s.y_train[order])


def test_epoch_stream_is_deterministic_per_epoch_for_resume():
    s = D.load_sample("cifar10").subset(30, 10)
    aug = D.AugmentConfig(pad=4, flip=True, mixup_alpha=1.0)
    full, _, _ = D.classification_datasets(s, batch_size=10, image_size=32, num_classes=10, epochs=3, aug=aug, seed=5)
    tail, _, _ = D.classification_datasets(s, batch_size=10, image_size=32, num_classes=10, epochs=3, start_epoch=1,
                                           aug=aug, seed=5)
    a, b = [x.numpy() for x, _ in full], [x.numpy() for x, _ in tail]
    assert len(a) == 9 and len(b) == 6
    for u, v in zip(a[3:], b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], a[3])  # epochs differ (new shuffle / augmentation)
    ys = [y.numpy() for _, y in full]
    np.testing.assert_allclose(ys[0].sum(-1), 1.0, rtol=1e-5)  # mixup keeps label mass 1
    assert 0 < ys[0].max() <= 1


def test_keras_layers_run_inside_tf_data():
    s = D.load_sample("cifar10").subset(16, 4)
    aug = D.AugmentConfig(cutmix_alpha=1.0, color_jitter=(0.2, 0.2, 0.2, 0.1))  # RandAugment: ~45 s to trace, not in the suite
    train, _, _ = D.classification_datasets(s, batch_size=8, image_size=32, num_classes=10, aug=aug)
    x, y = next(iter(train))
    assert x.shape == (8, 32, 32, 3) and np.isfinite(x.numpy()).all() and y.shape == (8, 10)


def test_npz_and_errors(tmp_path):
    p = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(p, x_train=rng.integers(0, 255, (6, 8, 8, 3), dtype=np.uint8), y_train=np.arange(6) % 3,
             x_test=rng.integers(0, 255, (3, 8, 8, 3), dtype=np.uint8), y_test=np.arange(3))
    s = D.load(str(p))
    assert s.num_classes == 3 and s.image_shape == (8, 8, 3)
    with pytest.raises(ValueError, match="data: no such .npz"):
        D.load(str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 8, 8, 3), "float32"), y_train=[0, 1],
             x_test=np.zeros((1, 8, 8, 3), "uint8"), y_test=[0])
    with pytest.raises(ValueError, match="uint8"):
        D.load(str(tmp_path / "bad.npz"))


def test_tfds_offline_gives_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not prepared.*downloading is disabled"):
        D.load("tfds:cifar100", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="allowed"):
        D.load("tfds:svhn")


def test_image_folder(tmp_path):
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for c in ("cat", "dog"):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(3):
                img = rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)
                tf.io.write_file(str(tmp_path / split / c / f"{i}.png"), tf.io.encode_png(img))
    s = D.load(str(tmp_path))
    assert s.class_names == ["cat", "dog"] and len(s.x_train) == 6
    # a folder's splits hold file paths (decoded one by one in the stream), arrays hold images (a batch per call)
    assert holds_paths(s.x_train) and holds_paths(s.x_test) and s.image_shape is None
    assert not holds_paths(D.load_sample("cifar10").x_train)
    train, test, _ = D.classification_datasets(s, batch_size=4, image_size=16, num_classes=2)
    x, y = next(iter(test))
    assert x.shape == (4, 16, 16, 3) and float(tf.reduce_max(x)) > 1


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_keypoint_loader_transforms_points_with_the_image(tmp_path, fmt):
    """Known keypoints (bright dots) must land on the bright pixels after Resize(shorter side) → CenterCrop."""
    D.write_synthetic(tmp_path, n=6, size=(48, 64), fmt=fmt)
    s = D.load_keypoints(tmp_path, test_fraction=0.34)
    assert len(s.x_train) == 4 and len(s.x_test) == 2 and s.y_train.shape == (4, 21, 2)
    crop = 56
    train, test, spe = D.keypoint_datasets(s, batch_size=2, resize=64, crop=crop)
    assert test.options().autotune.enabled is False  # a new iterator every test pass (pipeline.evaluation_stream)
    x, y = next(iter(test))
    assert x.shape == (2, crop, crop, 3) and y.shape == (2, 42)
    pts = y.numpy().reshape(2, 21, 2) * crop
    img = x.numpy()
    hits = total = 0
    for b in range(2):
        for px, py in pts[b]:
            if 1 <= px < crop - 1 and 1 <= py < crop - 1:  # inside the crop
                total += 1
                hits += img[b, int(round(py)), int(round(px)), 0] > 150
    assert total >= 10 and hits / total > 0.9


def test_keypoint_cache_gives_the_same_batches(tmp_path):
    """Decoding once into memory (the default for sets that fit) must not change a single batch of either split."""
    D.write_synthetic(tmp_path, n=7, size=(40, 52))
    s = D.load_keypoints(tmp_path, test_fraction=0.3)
    kw = dict(batch_size=2, resize=36, crop=32, seed=3, epochs=2)
    cached = D.keypoint_datasets(s, **kw)
    direct = D.keypoint_datasets(s, cache_bytes=0, **kw)
    assert cached[2] == direct[2] == 3
    for a, b in ((cached[0], direct[0]), (cached[1], direct[1])):
        pairs = list(zip(a.as_numpy_iterator(), b.as_numpy_iterator()))
        assert len(pairs) == (6 if a is cached[0] else 1)
        for (xa, ya), (xb, yb) in pairs:
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
            assert xa.dtype == np.float32 and np.array_equal(xa, np.round(xa))  # uint8 values, as PIL gives


def test_keypoint_loader_errors(tmp_path):
    with pytest.raises(ValueError, match="keypoints.csv nor keypoints.json"):
        D.load_keypoints(tmp_path)
    with pytest.raises(ValueError, match="no such directory"):
        D.load_keypoints(tmp_path / "nope")
