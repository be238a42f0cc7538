"""``TrainConfig``: a training run as data. Every field is a command-line flag (``--field-name``).

Recipes build a ``TrainConfig`` with their write-up's values and call :func:`main` (flags override them);
the package CLI can call :func:`main` too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing

TASKS = ("classification", "keypoints")
OPTIMIZERS = ("sgd", "adam")
MONITORS = ("val_accuracy", "val_loss", "val_avg_pixel_diff")


def _f(default, help, **kw):
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **kw})
    return dataclasses.field(default=default, metadata={"help": help, **kw})


@dataclasses.dataclass
class TrainConfig:
    # what
    recipe: str = _f("custom", "run name: outputs go to <runs-dir>/<recipe>/<timestamp>/")
    model: str = _f("mobilenet_v1_cifar10_baseline", "registry name (keras_mobilenets.list_models())")
    model_kwargs: dict = _f({}, "extra get_model kwargs as JSON, e.g. '{\"stem_channels\": 32}'")
    task: str = _f("classification", "classification | keypoints", choices=TASKS)
    data: str = _f("sample:cifar10", "sample:cifar10 | sample:fashion_mnist | tfds:<name> | <file>.npz | <folder>")
    data_dir: str = _f("", "tensorflow-datasets data dir (default TFDS_DATA_DIR / ~/tensorflow_datasets)")
    train_subset: int = _f(0, "use only the first N (shuffled) training examples; 0 = all")
    test_subset: int = _f(0, "use only the first N (shuffled) test examples; 0 = all")
    image_size: int = _f(0, "network input side; 0 = the model's default (classification) / 224 (keypoints)")
    resize: int = _f(0, "keypoints: shorter side before the centre crop; 0 = image_size·256/224")
    test_fraction: float = _f(0.1, "keypoints: test fraction when the folder has no train/ and test/")
    # optimisation
    epochs: int = _f(1, "epochs")
    batch_size: int = _f(128, "training batch size")
    eval_batch_size: int = _f(0, "evaluation batch size; 0 = max(batch_size, 100)")
    optimizer: str = _f("sgd", "sgd | adam", choices=OPTIMIZERS)
    lr: float = _f(0.1, "initial learning rate")
    momentum: float = _f(0.9, "SGD momentum")
    nesterov: bool = _f(False, "SGD Nesterov momentum")
    weight_decay: float = _f(0.0, "PyTorch-style coupled L2 (g += wd·w on every parameter, before momentum); SGD only")
    schedule: str = _f("constant", "constant | exponential | cosine | step_restarts")
    lr_gamma: float = _f(1.0, "exponential: lr0·gamma^epoch")
    warmup_epochs: int = _f(0, "cosine: linear warm-up epochs")
    final_lr: float = _f(0.0, "cosine: final learning rate")
    per_step_schedule: bool = _f(False, "cosine: update every step instead of once per epoch")
    lr_values: list = _f([], "step_restarts: the LR steps of one cycle, e.g. 0.1 0.01 0.001", nargs="*", type=float)
    cycle_epochs: list = _f([], "step_restarts: epochs per LR step in each cycle, e.g. 50 20 20", nargs="*", type=int)
    restart_from_best_at: int = _f(0, "at this epoch reload the best checkpoint and reset the optimizer state; 0 = off")
    # loss / regularisation
    label_smoothing: float = _f(0.0, "label smoothing")
    dropout: float = _f(-1.0, "classifier dropout rate; -1 = the model's default")
    bn_momentum: float = _f(0.0, "set every BatchNormalization momentum (Keras convention = 1 - torch momentum, "
                                 "e.g. 0.99); 0 = the model's own")
    double_softmax: bool = _f(False, "keep the model's softmax and still treat its output as logits (write-up 002)")
    # augmentation
    pad: int = _f(0, "zero padding before the random crop back to image size (0 = no crop)")
    flip: bool = _f(False, "random horizontal flip")
    mixup_alpha: float = _f(0.0, "mixup α (one λ ~ Beta(α, α) per batch); 0 = off")
    cutmix_alpha: float = _f(0.0, "CutMix α (keras.layers.CutMix); 0 = off")
    randaugment: bool = _f(False, "keras.layers.RandAugment")
    color_jitter: list = _f([], "brightness contrast saturation hue for keras.layers.RandomColorJitter", nargs="*",
                            type=float)
    # run control
    time_budget: float = _f(0.0, "wall-clock training budget in seconds (stops cleanly); 0 = none")
    seed: int = _f(0, "random seed (weights, shuffling, augmentation)")
    runs_dir: str = _f("runs", "parent folder of run folders")
    run_dir: str = _f("", "fixed run folder (needed to resume a killed run); default <runs-dir>/<recipe>/<timestamp>")
    monitor: str = _f("", "checkpoint metric for best.keras; default val_accuracy / val_avg_pixel_diff")
    distribute: bool = _f(False, "data-parallel over all local devices (JAX DataParallel / TF MirroredStrategy)")
    tensorboard: bool = _f(True, "write TensorBoard logs (scalars + sample augmented images)")
    verbose: int = _f(1, "0 = silent, 1 = progress bar, 2 = one line per epoch")
    run_eagerly: bool = _f(False, "no graph compilation / jit (debugging, and the fast few-step tests)")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def replace(self, **kw) -> "TrainConfig":
        unknown = set(kw) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; allowed: "
                             f"{', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **kw)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits; we raise so callers/tests get a ValueError naming the flag
        raise ValueError(f"{message}. Allowed flags: {' '.join('--' + f.name.replace('_', '-') for f in dataclasses.fields(TrainConfig))}")


def make_parser(defaults: TrainConfig | None = None, description: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one flag per TrainConfig field, defaulting to `defaults` (a recipe's values)."""
    defaults = defaults or TrainConfig()
    p = _Parser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        flag, default, meta = "--" + f.name.replace("_", "-"), getattr(defaults, f.name), dict(f.metadata)
        help = meta.pop("help", None)
        t = hints[f.name]
        if t is bool:
            p.add_argument(flag, default=default, action=argparse.BooleanOptionalAction, help=help)
        elif t is dict:
            p.add_argument(flag, default=default, type=json.loads, help=help)
        elif t is list:
            p.add_argument(flag, default=default, help=help, **meta)
        else:
            p.add_argument(flag, default=default, type=t, help=help, **meta)
    return p


def parse_args(argv=None, defaults: TrainConfig | None = None, description: str | None = None) -> TrainConfig:
    ns = make_parser(defaults, description).parse_args(argv)
    return TrainConfig(**vars(ns))


def main(argv=None, defaults: TrainConfig | None = None, description: str | None = None) -> int:
    """Parse flags (over `defaults`), train, print the summary. Returns a process exit code."""
    from .loop import fit

    try:
        config = parse_args(argv, defaults, description)
        summary = fit(config)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0
