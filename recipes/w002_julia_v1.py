"""Write-up 002, width-0.1 MobileNetV1 (Julia/Flux) on CIFAR-100, *as coded* (SPECS 002-A):
Adam with a constant lr 3e-3 (the source's cosine helper is always past its end, so it returns η_min),
batch size 1, 32 epochs, label smoothing 0.1, no augmentation, and the double softmax of the source
(softmax layer kept, loss still applied "from logits"; ``--no-double-softmax`` to drop it).
Deviations: the source re-creates the Adam state every epoch (not done here); its per-split
standardisation lives in the model's preprocessing.

CIFAR-100 is not available offline: ``--data sample:cifar10`` / ``sample:fashion_mnist`` / a .npz work,
the head is sized from the data's classes. ``--batch-size 128`` for a practical run.
"""

import _common  # noqa: F401

from keras_mobilenets.training import TrainConfig, main

CONFIG = TrainConfig(
    recipe="w002_julia_v1", model="mobilenet_v1_julia_a0.1_cifar100", data="tfds:cifar100",
    optimizer="adam", lr=3e-3, schedule="constant", batch_size=1, epochs=32,
    label_smoothing=0.1, double_softmax=True,
)

if __name__ == "__main__":
    raise SystemExit(main(defaults=CONFIG, description=__doc__))
