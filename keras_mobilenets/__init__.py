"""keras_mobilenets: every MobileNet as Keras 3 tables, with the write-ups' recipes and verified mobile export."""

from keras_mobilenets import allocator

allocator.tune()  # before Keras and its backend allocate (see allocator.py: no page faults per training step)

from keras_mobilenets import onednn

onednn.enable()  # before TensorFlow loads (see onednn.py: TF's oneDNN kernels on CPUs without AVX-512 VNNI too)

from keras_mobilenets import layers, pretrained  # noqa: F401  (layers: registers the custom layers)
from keras_mobilenets import training  # noqa: F401  (registers the optimizer / schedules / metrics of checkpoints)
from keras_mobilenets.models.mobilenet_v1 import MobileNetV1
from keras_mobilenets.models.mobilenet_v2 import MobileNetV2
from keras_mobilenets.models.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from keras_mobilenets.export import export
from keras_mobilenets.predictor import predictor
from keras_mobilenets.profile import profile
from keras_mobilenets.registry import get_info, get_model, list_models

__version__ = "0.1.0"
__all__ = ["allocator", "onednn", "export", "MobileNetV1", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "get_model", "get_info",
           "list_models", "predictor", "profile"]
