"""`tf.data` pipelines, deterministic per epoch, that feed `model.fit` under every backend.

The training stream is ``Dataset.range(start_epoch, epochs).flat_map(one_epoch)``: epoch e is shuffled by a
stateless permutation seeded with (seed, e) and every random op is seeded from (seed, e, index). So a run resumed
at epoch k sees exactly the batches an uninterrupted run sees from epoch k on.
Batches are (float32 images in [0, 255], targets) — the models normalise internally.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from . import augment
from .datasets import holds_paths


@dataclasses.dataclass
class AugmentConfig:
    pad: int = 0  # zero padding before the random crop (0 = no crop)
    flip: bool = False
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    randaugment: bool = False
    color_jitter: tuple | None = None  # (brightness, contrast, saturation, hue)


def _decode_file(path, channels=3):
    return tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)


def _image_getter(x: np.ndarray, size: int | None):
    """index → float32 (size, size, 3) image, for uint8 arrays (also a vector of indices → a batch) or file-path
    arrays."""
    if holds_paths(x):
        paths = tf.constant(x.astype(str))

        def get(i):
            img = tf.ensure_shape(_decode_file(paths[i]), [None, None, 3])
            img = tf.cast(img, tf.float32)
            return tf.image.resize(img, [size, size]) if size else img
    else:
        arr = tf.constant(x)

        def get(i):  # one index, or a vector of them (a batch)
            return augment.to_rgb_float(tf.gather(arr, i), size)

    return get


def evaluation_stream(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with tf.data's autotuning off, for a test split. ``fit`` / ``evaluate`` start a new iterator over it
    for every test pass, and an autotuned iterator whose process keeps the CPUs busy with the model's compute
    stalled one ``GetNext`` until ~10 s after it started in about half of the passes: CustomMobileNet's recipe,
    torch backend, 20 test batches of 500, ``evaluate`` 5.7-6.1 s or exactly 10.23-10.25 s (3.3-4.4 s spent
    after the last batch); 20 batches of a plain ``tf.data`` map with PyTorch matmuls in between: 10 of 10 passes
    6.5-6.7 s with autotuning off, 5 of 10 at 10.0-10.4 s with it on. (The training stream keeps it: one
    iterator serves the whole ``fit``.)"""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def steps_per_epoch(n: int, batch_size: int, drop_remainder: bool = False) -> int:
    return n // batch_size if drop_remainder else math.ceil(n / batch_size)


def epoch_stream(n, element_fn, *, batch_size, seed, epochs, start_epoch=0, shuffle=True, batch_fn=None,
                 drop_remainder=False, batched=False):
    """Deterministic per-epoch stream of batches for epochs [start_epoch, epochs).

    ``element_fn(i, seed)`` makes one example from index ``i``; with ``batched=True`` it gets a whole batch of
    indices at once (one gather and one vectorised augmentation per batch instead of one small graph call per
    example). ``batch_fn(x, y, seed)`` then transforms the batch (mixup, Keras layers)."""
    seed = int(seed)

    def one_epoch(e):
        idx = tf.range(n, dtype=tf.int64)
        if shuffle:
            idx = tf.random.experimental.stateless_shuffle(idx, seed=tf.stack([tf.constant(seed, tf.int64), e]))
        ds = tf.data.Dataset.from_tensor_slices(idx)
        if batched:
            ds = ds.batch(batch_size, drop_remainder=drop_remainder).enumerate().map(
                lambda b, ib: element_fn(ib, tf.stack([tf.constant(seed + 1, tf.int64), e * 100_003 + b])),
                num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = ds.map(lambda i: element_fn(i, tf.stack([tf.constant(seed + 1, tf.int64), e * 10_000_019 + i])),
                        num_parallel_calls=tf.data.AUTOTUNE)
            ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        if batch_fn is not None:
            ds = ds.enumerate().map(
                lambda b, xy: batch_fn(xy[0], xy[1], tf.stack([tf.constant(seed + 2, tf.int64), e * 100_003 + b])),
                num_parallel_calls=tf.data.AUTOTUNE)
        return ds

    return tf.data.Dataset.range(start_epoch, epochs).flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


def classification_datasets(splits, *, batch_size, image_size, num_classes, seed=0, epochs=1, start_epoch=0,
                            aug: AugmentConfig | None = None, eval_batch_size=None, drop_remainder=False):
    """(train stream, test dataset, steps_per_epoch) with one-hot float targets."""
    aug = aug or AugmentConfig()
    get_train = _image_getter(splits.x_train, image_size)
    get_test = _image_getter(splits.x_test, image_size)
    ytr = tf.constant(splits.y_train.astype("int32"))
    yte = tf.constant(splits.y_test.astype("int32"))

    # uint8 arrays: a whole batch per call (one gather, vectorised crop / flip); file paths: decoded one by one
    batched = not holds_paths(splits.x_train)

    def train_element(i, s):
        img = get_train(i)
        if aug.pad or aug.flip:
            img = augment.pad_crop_flip(img, s, pad=aug.pad, flip=aug.flip)
        return img, tf.one_hot(tf.gather(ytr, i), num_classes)

    layers = augment.keras_layers(cutmix_alpha=aug.cutmix_alpha, randaugment=aug.randaugment,
                                  color_jitter=aug.color_jitter, seed=seed)

    def train_batch(images, labels, s):
        if aug.mixup_alpha:
            images, labels = augment.mixup_batch(images, labels, aug.mixup_alpha, s)
        if layers:
            images, labels = augment.apply_keras_layers(layers, images, labels)
        return images, labels

    batch_fn = train_batch if (aug.mixup_alpha or layers) else None
    n = len(splits.x_train)
    train = epoch_stream(n, train_element, batch_size=batch_size, seed=seed, epochs=epochs, start_epoch=start_epoch,
                         batch_fn=batch_fn, drop_remainder=drop_remainder, batched=batched)
    test = tf.data.Dataset.range(len(splits.x_test))
    test_bs, test_batched = eval_batch_size or batch_size, not holds_paths(splits.x_test)
    if test_batched:  # one gather per batch
        test = test.batch(test_bs, drop_remainder=drop_remainder)
    test = test.map(lambda i: (get_test(i), tf.one_hot(tf.gather(yte, i), num_classes)),
                    num_parallel_calls=tf.data.AUTOTUNE)
    if not test_batched:
        test = test.batch(test_bs, drop_remainder=drop_remainder)
    test = evaluation_stream(test.prefetch(tf.data.AUTOTUNE))
    return train, test, steps_per_epoch(n, batch_size, drop_remainder)
