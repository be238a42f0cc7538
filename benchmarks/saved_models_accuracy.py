"""Reproduce every shipped model card's accuracy on the FULL test split (Keras on the active backend and
both TFLite files); exits non-zero if any differs by more than 0.2 points.

    KERAS_BACKEND=jax python benchmarks/saved_models_accuracy.py [--data ../shared/data/cifar10.npz]
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mobilenets as km  # noqa: E402
from keras_mobilenets.data import load  # noqa: E402
from keras_mobilenets.export import TFLiteRunner  # noqa: E402
from keras_mobilenets.pretrained import to_model_input, top1_accuracy  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None, help="override the card's data path")
    args = parser.parse_args()
    ok, rows = True, []
    for name, card in km.pretrained.cards().items():
        d = load(args.data or card["data"])
        x, y = to_model_input(d.x_test, card["build_kwargs"]["input_shape"]), d.y_test.astype("int64")
        model = km.get_model(name, weights=card["dataset"])
        got = {"keras": top1_accuracy(lambda b: np.asarray(model.predict(b, verbose=0)), x, y)}
        for kind in km.pretrained.shipped_tflite_kinds(card):
            got[f"tflite_{kind}"] = top1_accuracy(TFLiteRunner(f"{card['dir']}/model_{kind}.tflite"), x, y)
        for k, v in got.items():
            ref = card["accuracy"][k]["test"]
            ok &= abs(v - ref) <= 0.002
            rows.append({"model": name, "backend": keras.backend.backend(), "kind": k, "accuracy": v, "card": ref})
    print(json.dumps(rows, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
