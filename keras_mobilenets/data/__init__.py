"""Data for keras_mobilenets: loaders (samples, .npz, tfds offline, image folders, keypoints) and tf.data pipelines.

Pipelines yield float32 images in [0, 255] (HWC, 3 channels) — every model normalises internally.
"""

from .augment import mixup_batch, pad_crop_flip, to_rgb_float
from .datasets import Splits, load, load_image_folder, load_npz, load_sample, load_tfds
from .keypoints import keypoint_datasets, load_keypoints, write_synthetic
from .pipeline import AugmentConfig, classification_datasets, epoch_stream, steps_per_epoch

__all__ = [
    "AugmentConfig", "Splits", "classification_datasets", "epoch_stream", "keypoint_datasets", "load",
    "load_image_folder", "load_keypoints", "load_npz", "load_sample", "load_tfds", "mixup_batch", "pad_crop_flip",
    "steps_per_epoch", "to_rgb_float", "write_synthetic",
]
