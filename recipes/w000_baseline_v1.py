"""Write-up 000, baseline CIFAR MobileNetV1 (kuangliu): SGD lr 0.03, momentum 0, coupled wd 5e-4, batch 100,
100 epochs, constant LR, Pad(4) → flip → RandomCrop(32), inputs ÷255 only (inside the model). Reported 84.26 %.

    python recipes/w000_baseline_v1.py --data tfds:cifar10        # or --data /work/shared/data/cifar10.npz
"""

import _common  # noqa: F401

from keras_mobilenets.training import TrainConfig, main

CONFIG = TrainConfig(
    recipe="w000_baseline_v1", model="mobilenet_v1_cifar10_baseline", data="tfds:cifar10",
    optimizer="sgd", lr=0.03, momentum=0.0, weight_decay=5e-4, batch_size=100, epochs=100, schedule="constant",
    pad=4, flip=True,
)

if __name__ == "__main__":
    raise SystemExit(main(defaults=CONFIG, description=__doc__))
