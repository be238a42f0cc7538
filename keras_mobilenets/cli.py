"""``keras-mobilenets list | profile | train | export`` (also ``python -m keras_mobilenets``)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"


def _list(args):
    import keras_mobilenets as km

    print(f"{'name':<40}{'source':<10}{'input':<14}{'classes':>8}{'params':>12}")
    for name in km.list_models(args.source):
        info = km.get_info(name)
        params = f"{info.params:,}" if info.params else "-"
        print(f"{name:<40}{info.source:<10}{'x'.join(map(str, info.input_shape)):<14}{info.classes:>8}{params:>12}")
    return 0


def _profile(args):
    import keras_mobilenets as km

    kwargs = json.loads(args.kwargs)
    if args.input_size:
        kwargs["input_shape"] = (args.input_size, args.input_size, 3)
    prof = km.profile(km.get_model(args.model, **kwargs))
    print(prof.table(only_counted=not args.all_layers))
    return 0


def load_recipe(name):
    """The TrainConfig of ``recipes/<name>.py`` (a repository checkout)."""
    path = Path(name) if name.endswith(".py") else RECIPES_DIR / f"{name}.py"
    if not path.exists():
        known = sorted(p.stem for p in RECIPES_DIR.glob("w*.py")) if RECIPES_DIR.is_dir() else []
        raise ValueError(f"`--recipe` {name!r} not found; known recipes: {', '.join(known) or 'none'}.")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"recipe_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CONFIG, module.__doc__


def _train(argv):
    from keras_mobilenets.training import main

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--recipe", default=None)
    ns, rest = parser.parse_known_args(argv)
    defaults, doc = (None, None)
    if ns.recipe:
        try:
            defaults, doc = load_recipe(ns.recipe)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return main(rest, defaults=defaults, description=doc)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # every TrainConfig field is a flag; the training module owns that parser
        return _train(argv[1:])
    parser = argparse.ArgumentParser(prog="keras-mobilenets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="registered models")
    p.add_argument("--source", default=None, help="only one write-up: 000..004 or standard")
    p.set_defaults(func=_list)
    p = sub.add_parser("profile", help="params, MACs and FLOPs per layer")
    p.add_argument("model")
    p.add_argument("--input-size", type=int, default=0)
    p.add_argument("--kwargs", default="{}", help="get_model kwargs as JSON")
    p.add_argument("--all-layers", action="store_true")
    p.set_defaults(func=_profile)
    sub.add_parser("train", help="train: `keras-mobilenets train --recipe w000_custom_mobilenet [--epochs 5 ...]`")
    import importlib

    export_module = importlib.import_module("keras_mobilenets.export")  # the package re-exports the function

    p = sub.add_parser("export", help="verified SavedModel / TFLite / ONNX export")
    export_module.add_cli_arguments(p)
    p.set_defaults(func=lambda a: export_module.run_cli(a) and 0)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
