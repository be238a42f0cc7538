"""Write-up 003, MobileNetV2 with replicated expansions (variants a–d: ``--model mbv2_blog_{a,b,c,d}_cifar10`` or
``_cifar100``). SGD batch 50, coupled wd 1e-4, momentum 0.9 (not stated in the blog — assumption),
step LR 0.1 → 0.01 → 1e-3 → 1e-4 → 1e-5 every 50 epochs (250 epochs), then two restarts of the same steps
at 20 epochs each (450 epochs in all). CIFAR-10 is reported at epoch 250 (``--epochs 250``), CIFAR-100 at 450.
Augmentation is not stated: standard pad-4 crop + flip (``--no-flip --pad 0`` to disable).
"""

import _common  # noqa: F401

from keras_mobilenets.training import TrainConfig, main

CONFIG = TrainConfig(
    recipe="w003_replication", model="mbv2_blog_b_cifar10", data="tfds:cifar10",
    optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=50, epochs=450,
    schedule="step_restarts", lr_values=[0.1, 0.01, 1e-3, 1e-4, 1e-5], cycle_epochs=[50, 20, 20],
    pad=4, flip=True,
)

if __name__ == "__main__":
    raise SystemExit(main(defaults=CONFIG, description=__doc__))
