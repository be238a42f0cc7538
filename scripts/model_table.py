"""Generate the README's model table from the registry (never typed by hand).

    python scripts/model_table.py            # print
    python scripts/model_table.py --write README.md   # replace the block between the MODEL-TABLE markers
"""

import argparse
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_mobilenets as km  # noqa: E402

BEGIN, END = "<!-- MODEL-TABLE:BEGIN -->", "<!-- MODEL-TABLE:END -->"


def table():
    rows = ["| name | write-up | input | classes | params (trainable) | Keras total | MACs | write-up FLOPs |",
            "|---|---|---|---|---:|---:|---:|---:|"]
    for name in km.list_models():
        info = km.get_info(name)
        model = km.get_model(name)
        prof = km.profile(model)
        flops = f"{prof[info.flops_convention]:,} ({info.flops_convention})" if info.flops_convention else "-"
        alias = f" (alias: {', '.join(info.aliases)})" if info.aliases else ""
        rows.append(f"| `{name}`{alias} | {info.source} | {'x'.join(map(str, model.input_shape[1:]))} | "
                    f"{model.output_shape[-1]} | {prof.trainable:,} | {prof.total:,} | {prof.macs:,} | {flops} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", default=None)
    args = parser.parse_args()
    text = table()
    if not args.write:
        print(text)
        return
    path = Path(args.write)
    old = path.read_text()
    new = re.sub(f"{re.escape(BEGIN)}.*?{re.escape(END)}", f"{BEGIN}\n{text}\n{END}", old, flags=re.S)
    path.write_text(new)
    print(f"wrote the model table ({len(km.list_models())} models) into {path}")


if __name__ == "__main__":
    main()
