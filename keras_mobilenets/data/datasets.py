"""Data sources: embedded samples, local `.npz`, tensorflow-datasets (offline) and image folders.

Every loader returns a :class:`Splits`: uint8 images (N, H, W, C) + integer labels for a train and a test split,
plus the class names. Images are kept as uint8 numpy arrays (small data sets) or as lists of file paths (image
folders); the pipelines in :mod:`keras_mobilenets.data.pipeline` turn them into float32 [0, 255] batches.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLES = ("cifar10", "fashion_mnist")
TFDS_NAMES = ("cifar10", "cifar100", "fashion_mnist", "imagenet2012")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def holds_paths(x: np.ndarray) -> bool:
    """True for an array of image file paths (strings), False for an array of decoded images."""
    return x.dtype.kind in "US"


@dataclasses.dataclass
class Splits:
    """A train/test pair. `x_*` are uint8 arrays (N, H, W, C) or, for image folders, arrays of file paths."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    name: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self):
        """(H, W, C) of the stored images, or None for file-path (image folder) data."""
        if holds_paths(self.x_train):
            return None
        return tuple(self.x_train.shape[1:])

    def subset(self, train: int | None = None, test: int | None = None, seed: int = 0) -> "Splits":
        """Class-stratified-by-shuffle subset (first `train` / `test` rows of a fixed permutation)."""
        rng = np.random.default_rng(seed)
        it = rng.permutation(len(self.x_train))[:train] if train else slice(None)
        ie = rng.permutation(len(self.x_test))[:test] if test else slice(None)
        return Splits(self.x_train[it], self.y_train[it], self.x_test[ie], self.y_test[ie],
                      list(self.class_names), self.name)


def _as_hwc(x: np.ndarray, arg: str) -> np.ndarray:
    if x.ndim == 3:  # (N, H, W) grayscale
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"{arg}: images must be (N, H, W), (N, H, W, 1) or (N, H, W, 3); got shape {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"{arg}: images must be uint8 pixels in [0, 255]; got dtype {x.dtype}")
    return x


def _from_npz(d, name: str, arg: str) -> Splits:
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in d]
    if missing:
        raise ValueError(f"{arg}: {name} lacks arrays {missing}; expected x_train, y_train, x_test, y_test "
                         "(and optionally class_names)")
    x_train, x_test = _as_hwc(d["x_train"], arg), _as_hwc(d["x_test"], arg)
    y_train, y_test = np.asarray(d["y_train"]).astype("int32").reshape(-1), np.asarray(d["y_test"]).astype("int32").reshape(-1)
    if len(y_train) != len(x_train) or len(y_test) != len(x_test):
        raise ValueError(f"{arg}: {name} has {len(x_train)}/{len(x_test)} images but {len(y_train)}/{len(y_test)} labels")
    if "class_names" in d:
        class_names = [str(c) for c in d["class_names"]]
    else:
        class_names = [str(i) for i in range(int(max(y_train.max(), y_test.max())) + 1)]
    return Splits(x_train, y_train, x_test, y_test, class_names, name)


def load_sample(name: str = "cifar10") -> Splits:
    """The embedded real samples: 2,000 train / 1,000 test images of CIFAR-10 or Fashion-MNIST (uint8)."""
    if name not in SAMPLES:
        raise ValueError(f"data: unknown sample {name!r}; allowed: {', '.join(SAMPLES)}")
    with np.load(SAMPLES_DIR / f"{name}_sample.npz") as d:
        return _from_npz(d, f"{name}_sample", "data")


def load_npz(path, arg: str = "data") -> Splits:
    """A local `.npz` with x_train, y_train, x_test, y_test (uint8 images, int labels) and optional class_names."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{arg}: no such .npz file: {path}")
    with np.load(path, allow_pickle=False) as d:
        return _from_npz(d, path.stem, arg)


def load_tfds(name: str, data_dir=None, arg: str = "data") -> Splits:
    """A tensorflow-datasets data set that is already prepared on disk (``download=False``).

    tfds fails with a bare ``AssertionError`` when the data set is not prepared; this turns it into a ValueError
    that says where it looked and how to fix it. ImageNet is too large for arrays and is not supported here
    (use an image folder: ``--data /path/to/imagenet/train``).
    """
    if name not in TFDS_NAMES:
        raise ValueError(f"{arg}: unknown tfds data set {name!r}; allowed: {', '.join(TFDS_NAMES)}")
    if name == "imagenet2012":
        raise ValueError(f"{arg}: imagenet2012 is read from image folders here: pass --data <dir with train/ and "
                         "val/ class sub-folders>")
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            raise AssertionError("not prepared")
        ds = builder.as_dataset(split=["train", "test"], batch_size=-1, as_supervised=True)
    except AssertionError as e:
        where = data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
        hint = " (CIFAR-100 is not available offline on this machine)" if name == "cifar100" else ""
        raise ValueError(
            f"{arg}: tfds data set {name!r} is not prepared in {where} and downloading is disabled{hint}. "
            f"Prepare it with `tfds build {name}` on a machine with network access, set --data-dir / "
            "TFDS_DATA_DIR, or pass a local .npz / image folder / sample:cifar10 / sample:fashion_mnist"
        ) from e
    (xtr, ytr), (xte, yte) = [tfds.as_numpy(s) for s in ds]
    names = builder.info.features["label"].names
    return _from_npz({"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte, "class_names": np.array(names)},
                     name, arg)


def _list_images(folder: Path, arg: str):
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{arg}: {folder} has no class sub-folders (expected <dir>/<class>/<image>)")
    paths, labels = [], []
    for i, c in enumerate(classes):
        files = sorted(p for p in (folder / c).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        paths += [str(p) for p in files]
        labels += [i] * len(files)
    if not paths:
        raise ValueError(f"{arg}: no images ({', '.join(IMAGE_EXTENSIONS)}) under {folder}")
    return np.array(paths), np.array(labels, "int32"), classes


def load_image_folder(path, arg: str = "data") -> Splits:
    """`<path>/train/<class>/*.png` and `<path>/(test|val)/<class>/*.png` (keras `image_dataset_from_directory` layout)."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{arg}: no such directory: {path}")
    test_dir = next((path / d for d in ("test", "val", "validation") if (path / d).is_dir()), None)
    if not (path / "train").is_dir() or test_dir is None:
        raise ValueError(f"{arg}: {path} must contain train/ and test/ (or val/) folders of class sub-folders")
    xtr, ytr, classes = _list_images(path / "train", arg)
    xte, yte, classes_te = _list_images(test_dir, arg)
    if classes_te != classes:
        raise ValueError(f"{arg}: class folders differ between train/ ({classes}) and {test_dir.name}/ ({classes_te})")
    return Splits(xtr, ytr, xte, yte, classes, path.name)


def load(spec: str, data_dir=None, arg: str = "data") -> Splits:
    """Resolve a data argument: ``sample:cifar10``, ``tfds:cifar100`` (or a bare tfds name), a ``.npz`` path or an
    image folder."""
    if not spec:
        raise ValueError(f"{arg}: empty; allowed: sample:{{{','.join(SAMPLES)}}}, tfds:{{{','.join(TFDS_NAMES)}}}, "
                         "a .npz file or an image folder")
    if spec.startswith("sample:"):
        return load_sample(spec.split(":", 1)[1])
    if spec.startswith("tfds:") or spec in TFDS_NAMES:
        return load_tfds(spec.split(":", 1)[-1], data_dir=data_dir, arg=arg)
    p = Path(spec)
    if p.suffix == ".npz":
        return load_npz(p, arg)
    if p.is_dir():
        return load_image_folder(p, arg)
    raise ValueError(f"{arg}: {spec!r} is neither sample:{{{','.join(SAMPLES)}}}, tfds:{{{','.join(TFDS_NAMES)}}}, "
                     "an existing .npz file nor an existing image folder")
