"""Write-up 000, CustomMobileNet: SGD momentum 0.9, lr 0.1, coupled wd 2.5e-3, batch 500, LambdaLR 0.1·0.94^epoch
(stepped per epoch), mixup α = 1 (one λ per batch), Pad(4) → flip → RandomCrop(32), dropout 0.5 (model default),
3,600 s wall-clock budget, 105 epochs. Reported 91.81 %.

The source trains 95 epochs, then restarts from the best checkpoint with a *new* SGD (momentum reset) at
lr 0.1·0.94^95 and continues ×0.94 per epoch for 10 more. Here: one run of 105 epochs whose schedule is
0.1·0.94^e throughout (identical LRs), with ``--restart-from-best-at 95`` reloading best.keras and zeroing the
momentum buffers at the start of epoch 95 — the same two-phase policy in one resumable run.
"""

import _common  # noqa: F401

from keras_mobilenets.training import TrainConfig, main

CONFIG = TrainConfig(
    recipe="w000_custom_mobilenet", model="custom_mobilenet_cifar10", data="tfds:cifar10",
    optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=2.5e-3, batch_size=500, epochs=105,
    schedule="exponential", lr_gamma=0.94, restart_from_best_at=95,
    mixup_alpha=1.0, pad=4, flip=True, dropout=0.5, time_budget=3600.0, seed=42,
)

if __name__ == "__main__":
    raise SystemExit(main(defaults=CONFIG, description=__doc__))
