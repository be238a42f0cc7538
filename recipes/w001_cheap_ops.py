"""Write-up 001, "cheap operations" (README Train-Policy table). Default: CIFAR-100 column —
SGD m 0.9, lr 0.35, 5 linear warm-up epochs then cosine to 0 (per step), coupled wd 6e-5, batch 128, 400 epochs,
label smoothing 0.1, dropout 0, RandomCrop(32, pad 4) + flip (main.py's augmentation; RandomRotation(15) not used).

    python recipes/w001_cheap_ops.py --model cheap_v3_cifar100 --data tfds:cifar100
    python recipes/w001_cheap_ops.py --preset cifar10 --model cheap_v3g_cifar10 --data tfds:cifar10
    python recipes/w001_cheap_ops.py --preset imagenet --model cv3k_imagenet --data /data/imagenet

Presets change only the write-up's per-data-set column; every value is still a flag.
"""

import sys

import _common  # noqa: F401

from keras_mobilenets.training import TrainConfig, main

CIFAR100 = TrainConfig(
    recipe="w001_cheap_ops", model="cheap_v3_cifar100", data="tfds:cifar100",
    optimizer="sgd", lr=0.35, momentum=0.9, weight_decay=6e-5, batch_size=128, epochs=400,
    schedule="cosine", warmup_epochs=5, final_lr=0.0, per_step_schedule=True,
    label_smoothing=0.1, dropout=0.0, pad=4, flip=True,
)
PRESETS = {
    "cifar100": CIFAR100,
    "cifar10": CIFAR100.replace(model="cheap_v3g_cifar10", data="tfds:cifar10", label_smoothing=0.0),
    # ImageNet script: RandomResizedCrop is approximated by resize + flip here (see README of the recipes).
    "imagenet": CIFAR100.replace(model="cheap_v3_reuse_shuffle6_imagenet", data="tfds:imagenet2012", lr=0.05,
                                 weight_decay=4e-5, batch_size=256, epochs=150, warmup_epochs=0,
                                 label_smoothing=0.0, dropout=0.2, pad=0),
}


def config_for(argv):
    """Pick the preset named by ``--preset`` (removed from argv before the generic flags are parsed)."""
    argv = list(argv)
    name = "cifar100"
    if "--preset" in argv:
        i = argv.index("--preset")
        if i + 1 >= len(argv):
            raise ValueError(f"--preset: needs a value; allowed: {', '.join(PRESETS)}")
        name = argv.pop(i + 1)
        argv.pop(i)
    if name not in PRESETS:
        raise ValueError(f"--preset: unknown {name!r}; allowed: {', '.join(PRESETS)}")
    return PRESETS[name], argv


if __name__ == "__main__":
    try:
        defaults, rest = config_for(sys.argv[1:])
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(rest, defaults=defaults, description=__doc__))
