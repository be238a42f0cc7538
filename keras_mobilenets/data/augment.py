"""Augmentations that run inside `tf.data` under every Keras backend.

Per-image ops here are plain TensorFlow *stateless* ops seeded from (run seed, epoch, example index), so the
augmented stream of epoch e is the same whether or not the run was interrupted before it (exact resume).
Keras layers such as ``ZeroPadding2D`` fail inside tf.data under JAX/torch, so padding uses ``tf.pad``.
Batch-level Keras 3 preprocessing layers (CutMix, RandAugment, RandomColorJitter — the keras-cv replacements)
are built by :func:`keras_layers` and run inside tf.data too (Keras switches them to its TF backend there);
they draw from their own seed generators, so they are not part of the exact-resume guarantee.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def to_rgb_float(image, size: int | None = None):
    """uint8 (H, W, 1|3) or a batch (N, H, W, 1|3) → float32 (..., size, size, 3) in [0, 255].

    Grayscale is replicated to 3 channels. Smaller images are zero-padded symmetrically to `size` (Fashion-MNIST
    28 → 32, like torchvision's ``Pad(2)``), larger ones are bilinearly resized.
    """
    image = tf.cast(image, tf.float32)
    lead = image.shape.rank - 3  # 0 for one image, 1 for a batch
    if image.shape[-1] == 1:
        image = tf.tile(image, [1] * (lead + 2) + [3])
    if size is None:
        return image
    h, w = image.shape[-3], image.shape[-2]
    if h is not None and w is not None and h <= size and w <= size:
        if (h, w) != (size, size):
            top, left = (size - h) // 2, (size - w) // 2
            image = tf.pad(image, [[0, 0]] * lead + [[top, size - h - top], [left, size - w - left], [0, 0]])
        return image
    return tf.image.resize(image, [size, size])


def pad_crop_flip(images, seed, pad: int = 4, flip: bool = True):
    """torchvision ``Pad(pad) → RandomHorizontalFlip → RandomCrop(H)`` with zero padding, for one image (H, W, C)
    or, vectorised, a batch (N, H, W, C) with an independent crop offset and flip per image; `seed` is a [2] int
    tensor. (A crop of the flipped image is the mirrored crop at the mirrored offset, which is as likely.)"""
    single = images.shape.rank == 3
    x = images[None] if single else images
    n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    rows, cols = tf.range(h)[None], tf.range(w)[None]  # (1, h), (1, w): no crop, no flip
    if pad:
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        offsets = tf.random.stateless_uniform([n, 2], seed=seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32)
        rows, cols = offsets[:, :1] + rows, offsets[:, 1:] + cols
    if flip:
        mirrored = tf.random.stateless_uniform([n, 1], seed=seed + 1) < 0.5
        cols = tf.where(mirrored, tf.reverse(cols, [1]), tf.broadcast_to(cols, [n, w]))
    x = tf.gather(x, tf.broadcast_to(rows, [n, h]), axis=1, batch_dims=1)
    x = tf.gather(x, tf.broadcast_to(cols, [n, w]), axis=2, batch_dims=1)
    return x[0] if single else x


def _stateless_beta(alpha: float, seed):
    a = tf.random.stateless_gamma([], seed=seed, alpha=alpha)
    b = tf.random.stateless_gamma([], seed=seed + 7, alpha=alpha)
    return a / (a + b)


def mixup_batch(images, labels, alpha: float, seed):
    """Source-style mixup: ONE λ ~ Beta(α, α) per batch, partner = a random permutation of the batch.

    With one-hot labels, CE(mix(y_a, y_b)) = λ·CE(y_a) + (1−λ)·CE(y_b), the source's loss.
    (``keras.layers.MixUp`` draws one λ per example instead.)
    """
    lam = _stateless_beta(alpha, seed)
    n = tf.shape(images)[0]
    perm = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed + 13)
    images = lam * images + (1.0 - lam) * tf.gather(images, perm)
    labels = lam * labels + (1.0 - lam) * tf.gather(labels, perm)
    return images, labels


def keras_layers(*, cutmix_alpha: float = 0.0, randaugment: bool = False, color_jitter=None, seed: int | None = None):
    """Batch-level Keras 3 preprocessing layers for the enabled options (images in [0, 255])."""
    layers = []
    if color_jitter:
        b, c, s, h = color_jitter
        layers.append(keras.layers.RandomColorJitter(value_range=(0, 255), brightness_factor=b or None,
                                                     contrast_factor=c or None, saturation_factor=s or None,
                                                     hue_factor=h or None, seed=seed))
    if randaugment:
        layers.append(keras.layers.RandAugment(value_range=(0, 255), seed=seed))
    if cutmix_alpha:
        layers.append(keras.layers.CutMix(factor=cutmix_alpha, seed=seed))
    return layers


def apply_keras_layers(layers, images, labels):
    """Run layers that take ``{"images", "labels"}`` dicts (CutMix mixes labels too)."""
    for layer in layers:
        if isinstance(layer, keras.layers.CutMix):
            out = layer({"images": images, "labels": labels}, training=True)
            images, labels = out["images"], out["labels"]
        else:
            images = layer(images, training=True)
    return images, labels
