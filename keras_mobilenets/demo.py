"""``make demo``: train briefly on the embedded CIFAR-10 sample, export to TFLite, report accuracy / size / latency.

Offline and self-contained: the data is ``keras_mobilenets/data/samples/cifar10_sample.npz`` (2,000 train /
1,000 test real CIFAR-10 images). Then the same for a model shipped in ``saved_models/`` (trained on the full
CIFAR-10 train split), when there is one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from keras_mobilenets.pretrained import top1_accuracy

def _latency_ms(run, x, repeats=200):
    run(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def report(title, model, x_test, y_test, workdir, labels):
    import keras

    from keras_mobilenets import profile
    from keras_mobilenets.export import TFLiteRunner, export_many

    keras_acc = top1_accuracy(lambda b: model.predict(b, verbose=0), x_test, y_test)
    results = export_many(
        model,
        [dict(path=str(workdir / f"{model.name}_fp32.tflite"), format="tflite", quantization=None),
         dict(path=str(workdir / f"{model.name}_int8.tflite"), format="tflite", quantization="int8")],
        representative_data="cifar10_sample", labels=labels,
        # fp32 keeps the strict default (max |diff| <= 1e-4). A briefly trained net has low-margin predictions,
        # so int8's top-1 agreement is reported here, not held to the 98 % required of trained models.
        checks={"int8_min_top1_agreement": 0.5},
    )
    prof = profile(model)
    rows = []
    for res in results:
        runner = TFLiteRunner(res.path, num_threads=1)
        acc = top1_accuracy(runner, x_test, y_test)
        rows.append((f"TFLite {res.quantization or 'fp32'}", acc, res.size_bytes, _latency_ms(runner, x_test[:1])))
    keras_ms = _latency_ms(model.predict_on_batch, x_test[:1], repeats=50)  # compiled, as users serve it
    print(f"\n== {title}")
    print(f"   model {model.name}: {prof.trainable:,} trainable / {prof.total:,} total params, {prof.macs:,} MACs, "
          f"backend {keras.backend.backend()}")
    print(f"   {'':<14}{'accuracy':>10}{'size':>12}{'batch-1 latency':>18}")
    print(f"   {'Keras':<14}{keras_acc:>10.2%}{'':>12}{keras_ms:>15.2f} ms")
    for name, acc, size, ms in rows:
        print(f"   {name:<14}{acc:>10.2%}{size / 1024:>9.0f} KiB{ms:>15.2f} ms")
    for res in results:
        print(f"   verified {Path(res.path).name}: {res.checked} (max |diff| {res.max_abs_error:.2e}, top-1 agreement "
              f"{res.top1_agreement:.1%})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="custom_mobilenet_cifar10")
    parser.add_argument("--seconds", type=float, default=120.0, help="training wall-clock budget")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="runs/demo")
    args = parser.parse_args(argv)

    import keras

    import keras_mobilenets as km
    from keras_mobilenets.data import load_sample
    from keras_mobilenets.training import TrainConfig, fit

    data = load_sample("cifar10")
    x_test, y_test = data.x_test.astype("float32"), data.y_test.astype("int64")
    labels = list(data.class_names)
    print(f"Training {args.model} on the embedded CIFAR-10 sample ({len(data.x_train)} train / {len(x_test)} test "
          f"images) for up to {args.seconds:.0f} s on the {keras.backend.backend()} backend ...")
    config = TrainConfig(
        recipe="demo", model=args.model, data="sample:cifar10", epochs=args.epochs, batch_size=100,
        optimizer="sgd", lr=0.02, momentum=0.9, weight_decay=5e-4, schedule="cosine", pad=4, flip=True,
        time_budget=args.seconds, runs_dir=args.out, seed=0, verbose=2,
    )
    summary = fit(config)
    run_dir = Path(summary["run_dir"])
    print(f"trained {summary['epochs_run']} epochs in {summary['seconds']:.0f} s; run folder {run_dir} "
          f"(TensorBoard: tensorboard --logdir {run_dir})")
    model = keras.saving.load_model(run_dir / "last.keras", compile=False)
    with tempfile.TemporaryDirectory() as tmp:
        report("briefly trained on the 2,000-image sample", model, x_test, y_test, Path(tmp), labels)
        shipped = km.pretrained.cards()
        for name, card in shipped.items():
            if card.get("dataset") != "cifar10":
                continue
            trained = km.get_model(name, weights="cifar10")
            report(f"shipped saved_models/{name} (trained on the full CIFAR-10 train split; card: "
                   f"{card.get('test_accuracy', float('nan')):.2%} on the full test split)", trained, x_test, y_test,
                   Path(tmp), labels)
            break
        else:
            print("\n(no shipped CIFAR-10 model in saved_models/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
