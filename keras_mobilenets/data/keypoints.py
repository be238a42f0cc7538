"""Keypoint regression data (write-up 004): a folder of images + a CSV or JSON of 21 (x, y) points per image.

Layouts accepted (``--data DIR``):
* ``DIR/keypoints.csv`` (or ``.json``) next to the images; the test split is a fixed ``test_fraction`` of them;
* ``DIR/train/`` and ``DIR/test/``, each with its own ``keypoints.csv`` / ``keypoints.json``.

CSV: header ``image,x0,y0,x1,y1,...`` (one row per image, 2·K coordinates in pixels of the original image).
JSON: ``{"image.png": [[x0, y0], ...], ...}`` or ``[{"image": "image.png", "keypoints": [[x0, y0], ...]}, ...]``.

Preprocessing = the write-up's torchvision chain ``Resize(resize) → CenterCrop(crop)`` applied to the image *and*
the points (shorter side scaled to `resize`, then the centred crop offset subtracted). Targets are the 2·K
coordinates in crop pixels divided by `crop` (so ≈ [0, 1]); :class:`keras_mobilenets.training.metrics.AvgPixelDiff`
turns them back into pixels.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from .datasets import IMAGE_EXTENSIONS, Splits
from .pipeline import epoch_stream, evaluation_stream, steps_per_epoch


def _read_annotations(folder: Path, arg: str):
    csv_path, json_path = folder / "keypoints.csv", folder / "keypoints.json"
    if csv_path.is_file():
        with open(csv_path, newline="") as f:
            rows = list(csv.reader(f))
        if len(rows) < 2:
            raise ValueError(f"{arg}: {csv_path} has no data rows")
        items = [(r[0], [float(v) for v in r[1:]]) for r in rows[1:] if r]
    elif json_path.is_file():
        data = json.loads(json_path.read_text())
        if isinstance(data, dict):
            items = [(k, np.ravel(v).tolist()) for k, v in data.items()]
        else:
            items = [(d["image"], np.ravel(d["keypoints"]).tolist()) for d in data]
    else:
        raise ValueError(f"{arg}: {folder} has neither keypoints.csv nor keypoints.json")
    lengths = {len(v) for _, v in items}
    if len(lengths) != 1 or lengths.pop() % 2:
        raise ValueError(f"{arg}: every annotation in {folder} needs the same even number of coordinates (x, y pairs)")
    paths, points = [], []
    for name, coords in items:
        p = folder / name
        if not p.is_file() or p.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ValueError(f"{arg}: annotated image {name!r} not found in {folder}")
        paths.append(str(p))
        points.append(coords)
    return np.array(paths), np.array(points, "float32").reshape(len(paths), -1, 2)


def load_keypoints(path, test_fraction: float = 0.1, seed: int = 0, arg: str = "data") -> Splits:
    """Splits whose x are image paths and y are (N, K, 2) pixel keypoints; class_names = ["x0", "y0", ...]."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{arg}: no such directory: {path}")
    if (path / "train").is_dir() and (path / "test").is_dir():
        xtr, ytr = _read_annotations(path / "train", arg)
        xte, yte = _read_annotations(path / "test", arg)
    else:
        x, y = _read_annotations(path, arg)
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction: must be in (0, 1); got {test_fraction}")
        perm = np.random.default_rng(seed).permutation(len(x))
        n_test = max(1, int(round(len(x) * test_fraction)))
        xte, yte, xtr, ytr = x[perm[:n_test]], y[perm[:n_test]], x[perm[n_test:]], y[perm[n_test:]]
    names = [f"{a}{i}" for i in range(ytr.shape[1]) for a in "xy"]
    return Splits(xtr, ytr, xte, yte, names, path.name)


def resize_center_crop(image, points, resize: int, crop: int):
    """torchvision ``Resize(resize)`` (shorter side, bilinear) + ``CenterCrop(crop)`` on an image and (K, 2) points."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    h, w = shape[0], shape[1]
    scale = resize / tf.minimum(h, w)
    nh = tf.cast(tf.floor(h * scale + 1e-4), tf.int32)
    nw = tf.cast(tf.floor(w * scale + 1e-4), tf.int32)
    nh, nw = tf.maximum(nh, resize), tf.maximum(nw, resize)
    image = tf.image.resize(tf.cast(image, tf.float32), tf.stack([nh, nw]))
    top = tf.cast(tf.round(tf.cast(nh - crop, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(nw - crop, tf.float32) / 2.0), tf.int32)
    image = image[top:top + crop, left:left + crop, :]
    image = tf.ensure_shape(image, [crop, crop, 3])
    sx = tf.cast(nw, tf.float32) / w
    sy = tf.cast(nh, tf.float32) / h
    points = tf.stack([points[:, 0] * sx - tf.cast(left, tf.float32), points[:, 1] * sy - tf.cast(top, tf.float32)], -1)
    return image, points


CACHE_BYTES = 1 << 30  # decoded + resized + cropped uint8 images of both splits kept in memory up to this size


def _decode_all(get, n: int):
    """Every (uint8 image, target) of a split through `get`, decoded once with tf.data's parallel map."""
    import keras  # noqa: PLC0415

    ds = tf.data.Dataset.range(n).map(get, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
    bar = keras.utils.Progbar(n, unit_name="image") if n >= 2000 else None
    images, targets = [], []
    for x, y in ds:
        images.append(x)
        targets.append(y)
        if bar:
            bar.add(int(x.shape[0]))
    images, targets = tf.concat(images, 0), tf.concat(targets, 0)
    return lambda i: (tf.gather(images, i), tf.gather(targets, i))


def keypoint_datasets(splits: Splits, *, batch_size, resize=256, crop=224, seed=0, epochs=1, start_epoch=0,
                      color_jitter=None, drop_remainder=False, cache_bytes: int = CACHE_BYTES):
    """(train stream, test dataset, steps_per_epoch); targets = flattened points / crop.

    Resize → CenterCrop is deterministic, so when both splits' uint8 crops fit in `cache_bytes` they are decoded
    once, before the first epoch, and every epoch only gathers them and colour-jitters (PNG / JPEG decoding and
    the resize were half of this pipeline's cost: 300 images/s for 480×640 PNGs on 2 cores). Images are rounded
    to uint8 after the resize either way -- what the write-up's PIL-based torchvision ``Resize`` returns.
    """
    from .augment import apply_keras_layers, keras_layers

    def getter(x, y):
        paths, pts = tf.constant(x.astype(str)), tf.constant(y)

        def get(i):
            img = tf.io.decode_image(tf.io.read_file(paths[i]), channels=3, expand_animations=False)
            img, p = resize_center_crop(img, pts[i], resize, crop)
            return tf.cast(tf.round(tf.clip_by_value(img, 0.0, 255.0)), tf.uint8), tf.reshape(p, [-1]) / crop

        return get

    get_train, get_test = getter(splits.x_train, splits.y_train), getter(splits.x_test, splits.y_test)
    n, n_test = len(splits.x_train), len(splits.x_test)
    if (n + n_test) * crop * crop * 3 <= cache_bytes:
        get_train, get_test = _decode_all(get_train, n), _decode_all(get_test, n_test)

    def as_float(get):
        def element(i):
            img, target = get(i)
            return tf.cast(img, tf.float32), target

        return element

    get_train, get_test = as_float(get_train), as_float(get_test)
    layers = keras_layers(color_jitter=color_jitter, seed=seed)
    batch_fn = (lambda x, y, s: apply_keras_layers(layers, x, y)) if layers else None
    train = epoch_stream(n, lambda i, s: get_train(i), batch_size=batch_size, seed=seed, epochs=epochs,
                         start_epoch=start_epoch, batch_fn=batch_fn, drop_remainder=drop_remainder)
    test = evaluation_stream(tf.data.Dataset.range(n_test).map(get_test, num_parallel_calls=tf.data.AUTOTUNE)
                             .batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE))
    return train, test, steps_per_epoch(n, batch_size, drop_remainder)


def write_synthetic(folder, n: int = 32, size=(48, 64), k: int = 21, seed: int = 0, fmt: str = "csv"):
    """Write `n` PNG images with `k` known keypoints (bright 3x3 dots on a dark noisy background) + annotations.

    Used by the tests and the offline demo; the loader above reads them like any real data set.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    rows = {}
    for j in range(n):
        img = rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
        pts = np.stack([rng.uniform(2, w - 3, k), rng.uniform(2, h - 3, k)], -1)
        for x, y in pts.round().astype(int):
            img[y - 1:y + 2, x - 1:x + 2] = (255, 200, 50)
        name = f"img_{j:04d}.png"
        tf.io.write_file(str(folder / name), tf.io.encode_png(img))
        rows[name] = pts.round().tolist()
    if fmt == "csv":
        with open(folder / "keypoints.csv", "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["image"] + [f"{a}{i}" for i in range(k) for a in "xy"])
            for name, pts in rows.items():
                wr.writerow([name] + [v for p in pts for v in p])
    else:
        (folder / "keypoints.json").write_text(json.dumps(rows))
    return folder
