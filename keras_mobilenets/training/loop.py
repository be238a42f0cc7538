"""``fit(config)`` — the one training path every recipe and the CLI use.

config → validated → data (tf.data, deterministic per epoch) → registry model → optimizer (coupled-L2 SGD or
Adam) + LR schedule → ``model.fit`` with callbacks (BackupAndRestore, best/last checkpoints, CSV, TensorBoard,
budget, NaN guard) → run folder::

    <runs-dir>/<recipe>/<timestamp>/   (or --run-dir)
        config.json  summary.json  curves.png  log.csv  progress.json
        best.keras  last.keras  logs/ (TensorBoard)  backup/ (BackupAndRestore state for resuming)

Nothing is written before every argument has been checked (data found, model buildable at the image size).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from datetime import datetime
from pathlib import Path

import keras

from .. import data as kdata
from . import callbacks as cb
from . import schedules
from .config import MONITORS, OPTIMIZERS, TASKS, TrainConfig
from .metrics import AvgPixelDiff
from .optimizers import SGDW


def _check(cond, arg, msg):
    if not cond:
        raise ValueError(f"{arg}: {msg}")


def validate(c: TrainConfig) -> None:
    """Raise ValueError naming the first bad argument (and its allowed values)."""
    _check(c.task in TASKS, "task", f"{c.task!r} not in {TASKS}")
    _check(c.optimizer in OPTIMIZERS, "optimizer", f"{c.optimizer!r} not in {OPTIMIZERS}")
    _check(c.schedule in schedules.SCHEDULES, "schedule", f"{c.schedule!r} not in {schedules.SCHEDULES}")
    _check(c.epochs >= 1, "epochs", f"must be ≥ 1; got {c.epochs}")
    _check(c.batch_size >= 1, "batch_size", f"must be ≥ 1; got {c.batch_size}")
    _check(c.lr > 0, "lr", f"must be > 0; got {c.lr}")
    _check(c.weight_decay >= 0, "weight_decay", f"must be ≥ 0; got {c.weight_decay}")
    _check(c.optimizer == "sgd" or c.weight_decay == 0, "weight_decay",
           "coupled L2 is implemented for --optimizer sgd only (write-ups 002/004 use Adam without decay)")
    _check(c.image_size == 0 or 16 <= c.image_size <= 1024, "image_size", f"must be 0 (model default) or in [16, 1024]; got {c.image_size}")
    _check(c.pad >= 0, "pad", f"must be ≥ 0; got {c.pad}")
    _check(len(c.color_jitter) in (0, 4), "color_jitter", "needs 4 values: brightness contrast saturation hue")
    _check(not c.monitor or c.monitor in MONITORS, "monitor", f"{c.monitor!r} not in {MONITORS}")
    _check(0 <= c.label_smoothing < 1, "label_smoothing", f"must be in [0, 1); got {c.label_smoothing}")
    _check(c.bn_momentum == 0 or 0 < c.bn_momentum < 1, "bn_momentum", f"must be in (0, 1), or 0 for the model's own; "
           f"got {c.bn_momentum}")
    _check(c.restart_from_best_at < c.epochs, "restart_from_best_at", "must be < epochs")
    _check(c.time_budget >= 0, "time_budget", f"must be ≥ 0; got {c.time_budget}")
    _check(not c.distribute or keras.backend.backend() in ("jax", "tensorflow"), "distribute",
           f"supported on the jax and tensorflow backends, not {keras.backend.backend()}")
    if c.schedule == "cosine":
        _check(c.epochs > c.warmup_epochs, "warmup_epochs", f"must be < epochs ({c.epochs}); got {c.warmup_epochs}")
    if c.schedule == "step_restarts":
        _check(bool(c.lr_values) and bool(c.cycle_epochs), "lr_values", "step_restarts needs --lr-values and --cycle-epochs")


def _load_data(c: TrainConfig):
    if c.task == "keypoints":
        splits = kdata.load_keypoints(c.data, test_fraction=c.test_fraction, seed=c.seed)
    else:
        splits = kdata.load(c.data, data_dir=c.data_dir or None)
    if c.train_subset or c.test_subset:
        splits = splits.subset(c.train_subset or None, c.test_subset or None, seed=c.seed)
    return splits


def _resolve_run_dir(c: TrainConfig) -> Path:
    if c.run_dir:
        return Path(c.run_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return Path(c.runs_dir) / c.recipe / stamp


def _start_epoch(run_dir: Path) -> int:
    meta = run_dir / "backup" / "training_metadata.json"
    return int(json.loads(meta.read_text())["epoch"]) if meta.exists() else 0


@contextlib.contextmanager
def _distribution(enabled: bool):
    """Yield a scope for model creation/compile: JAX DataParallel or TF MirroredStrategy; no-op otherwise."""
    if not enabled:
        yield None
        return
    if keras.backend.backend() == "jax":
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        try:
            yield keras.distribution.distribution()
        finally:
            keras.distribution.set_distribution(previous)
    else:
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        with strategy.scope():
            yield strategy


def _num_devices(enabled: bool) -> int:
    if not enabled:
        return 1
    if keras.backend.backend() == "jax":
        import jax

        return jax.local_device_count()
    import tensorflow as tf

    return max(1, len(tf.config.list_logical_devices("CPU")) if not tf.config.list_logical_devices("GPU")
               else len(tf.config.list_logical_devices("GPU")))


def _build_model(c: TrainConfig, image_size: int, outputs: int):
    import keras_mobilenets as km

    info = km.get_info(c.model)  # ValueError naming close matches for a bad --model
    kwargs = dict(input_shape=(image_size, image_size, 3), classes=outputs,
                  classifier_activation="softmax" if c.double_softmax else None, **c.model_kwargs)
    if c.dropout >= 0:
        kwargs["dropout_rate"] = c.dropout
    try:
        model = km.get_model(info.name, **kwargs)
    except Exception as e:  # noqa: BLE001  (re-raised as a ValueError naming the argument)
        raise ValueError(f"image_size / model_kwargs: cannot build {info.name!r} with input {image_size}x{image_size}x3 "
                         f"and {kwargs}: {e}") from e
    if c.bn_momentum:
        # keras.applications' V2 / V3 use 0.999: over a short run the moving statistics lag the weights so far that
        # evaluation sits at chance (measured: MobileNetV3-Small on CIFAR-10, 62 % train / 10.7 % test accuracy
        # after 6 epochs). The momentum is saved in each layer's config, so the .keras file keeps it.
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = c.bn_momentum
    return info, model


def _write_sample_images(train_ds, logdir: Path, n: int = 8) -> None:
    import numpy as np
    import tensorflow as tf

    for images, _ in train_ds.take(1):
        imgs = np.clip(np.asarray(images)[:n] / 255.0, 0, 1)
        with tf.summary.create_file_writer(str(logdir / "samples")).as_default():
            tf.summary.image("augmented_train_batch", imgs, step=0, max_outputs=n)


def make_datasets(c: TrainConfig, splits, image_size: int, outputs: int, start_epoch: int = 0, devices: int = 1):
    """The `tf.data` train / test streams and steps per epoch that `fit` feeds for config `c` (one place, so
    `benchmarks/input_pipeline.py` measures exactly what training consumes)."""
    keypoints = c.task == "keypoints"
    eval_bs = c.eval_batch_size or max(c.batch_size, 100)
    if c.distribute:  # equal, divisible batches on every device: drop the partial last batch
        eval_bs = min(eval_bs, len(splits.x_test)) // devices * devices
        _check(eval_bs >= devices, "test_subset", f"needs at least {devices} test examples with --distribute")
    if keypoints:
        resize = c.resize or round(image_size * 256 / 224)
        train_ds, test_ds, spe = kdata.keypoint_datasets(
            splits, batch_size=c.batch_size, resize=resize, crop=image_size, seed=c.seed, epochs=c.epochs,
            start_epoch=start_epoch, color_jitter=tuple(c.color_jitter) or None, drop_remainder=c.distribute)
    else:
        aug = kdata.AugmentConfig(pad=c.pad, flip=c.flip, mixup_alpha=c.mixup_alpha, cutmix_alpha=c.cutmix_alpha,
                                  randaugment=c.randaugment, color_jitter=tuple(c.color_jitter) or None)
        train_ds, test_ds, spe = kdata.classification_datasets(
            splits, batch_size=c.batch_size, image_size=image_size, num_classes=outputs, seed=c.seed,
            epochs=c.epochs, start_epoch=start_epoch, aug=aug, eval_batch_size=eval_bs,
            drop_remainder=c.distribute)
    _check(spe >= 1, "batch_size", f"{c.batch_size} is larger than the {len(splits.x_train)} training examples")
    return train_ds, test_ds, spe


def compile_model(c: TrainConfig, model, steps_per_epoch: int, image_size: int):
    """``model.compile`` with config `c`'s LR schedule, optimizer (coupled-L2 ``SGDW`` or Adam), loss and metrics
    -- what `fit` trains with (one place, so ``benchmarks/fit_overhead.py`` times exactly that); returns the
    schedule."""
    schedule = schedules.build(c.schedule, lr=c.lr, epochs=c.epochs, steps_per_epoch=steps_per_epoch, gamma=c.lr_gamma,
                               warmup_epochs=c.warmup_epochs, final_lr=c.final_lr, per_step=c.per_step_schedule,
                               lr_values=c.lr_values, cycle_epochs=c.cycle_epochs)
    if c.optimizer == "sgd":
        optimizer = SGDW(schedule, momentum=c.momentum, nesterov=c.nesterov, l2=c.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(schedule)
    if c.task == "keypoints":
        loss, metrics = keras.losses.MeanSquaredError(), [AvgPixelDiff(image_size)]
    else:
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=c.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, run_eagerly=c.run_eagerly)
    return schedule


def fit(config: TrainConfig, extra_callbacks=()) -> dict:
    """Train `config`; return the summary dict (also written to ``summary.json`` in the run folder)."""
    c = config
    validate(c)
    t_start = time.time()
    keras.utils.set_random_seed(c.seed)
    splits = _load_data(c)
    keypoints = c.task == "keypoints"
    image_size = c.image_size or (224 if keypoints else None)
    run_dir = _resolve_run_dir(c)
    start_epoch = _start_epoch(run_dir)
    n_dev = _num_devices(c.distribute)
    _check(not c.distribute or c.batch_size % n_dev == 0, "batch_size",
           f"must be divisible by the {n_dev} devices with --distribute")

    with _distribution(c.distribute):
        if image_size is None:
            import keras_mobilenets as km

            image_size = km.get_info(c.model).input_shape[0]
        outputs = 2 * splits.y_train.shape[1] if keypoints else splits.num_classes
        info, model = _build_model(c, image_size, outputs)

        train_ds, test_ds, spe = make_datasets(c, splits, image_size, outputs, start_epoch=start_epoch, devices=n_dev)
        schedule = compile_model(c, model, spe, image_size)

    # ---- every argument is valid: only now touch the file system
    monitor = c.monitor or ("val_avg_pixel_diff" if keypoints else "val_accuracy")
    mode = "max" if monitor == "val_accuracy" else "min"
    if run_dir.exists() and not (run_dir / "backup").exists() and any(run_dir.iterdir()):
        raise ValueError(f"run_dir: {run_dir} exists and holds no resumable run; pick another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(c.to_json())
    progress = run_dir / "progress.json"
    spent = json.loads(progress.read_text())["seconds"] if progress.exists() and start_epoch else 0.0
    budget = cb.WallClockBudget(c.time_budget, already_spent=spent)
    restart = cb.RestartFromBest(c.restart_from_best_at, run_dir / "best.keras") if c.restart_from_best_at else None
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.TerminateOnNaN(),
        cb.LearningRateLogger(schedule),
        keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor=monitor, mode=mode, save_best_only=True,
                                        initial_value_threshold=cb.best_so_far(run_dir / "log.csv", monitor, mode)),
        keras.callbacks.ModelCheckpoint(str(run_dir / "last.keras")),
        keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True),
        budget,
        cb.ProgressFile(progress, already_spent=spent),
        *([restart] if restart else []),
        *([keras.callbacks.TensorBoard(str(run_dir / "logs"))] if c.tensorboard else []),
        *extra_callbacks,
    ]
    if c.tensorboard and start_epoch == 0 and not keypoints or (c.tensorboard and keypoints and start_epoch == 0):
        _write_sample_images(train_ds, run_dir / "logs")

    t_train = time.time()
    model.fit(train_ds, epochs=c.epochs, steps_per_epoch=spe, validation_data=test_ds, callbacks=callbacks,
              verbose=c.verbose)
    train_seconds = time.time() - t_train
    test = model.evaluate(test_ds, return_dict=True, verbose=0)
    if (run_dir / "log.csv").exists():
        cb.plot_curves(run_dir / "log.csv", run_dir / "curves.png")
    history = _read_history(run_dir / "log.csv")

    import keras_mobilenets as km

    prof = km.profile(model)
    summary = {
        "recipe": c.recipe, "model": info.name, "source": info.source, "backend": keras.backend.backend(),
        "data": c.data, "train_examples": len(splits.x_train), "test_examples": len(splits.x_test),
        "image_size": image_size, "outputs": outputs,
        "test": {k: float(v) for k, v in test.items()},
        "test_accuracy": float(test["accuracy"]) if "accuracy" in test else None,
        "params": {"trainable": int(prof.trainable), "total": int(prof.total)},
        "macs": int(prof.macs), "flops": {k: int(v) for k, v in prof.flops.items()},
        "reference_flops": info.flops, "flops_convention": info.flops_convention,
        "epochs": c.epochs, "epochs_run": len(history.get("loss", [])), "resumed_from_epoch": start_epoch,
        "stopped_by_budget": budget.fired, "seconds": round(train_seconds + spent, 3),
        "wall_seconds": round(time.time() - t_start, 3), "steps_per_epoch": spe,
        "steps_run": budget.steps, "devices": n_dev, "history": history, "run_dir": str(run_dir),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _read_history(csv_path: Path) -> dict:
    import csv

    if not csv_path.exists():
        return {}
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {}) if k != "epoch"}


__all__ = ["fit", "validate", "TrainConfig", "dataclasses"]
