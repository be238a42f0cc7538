"""TensorFlow-side entry point used by :func:`keras_mobilenets.export.export` on the JAX / torch backends.

Usage (internal): ``KERAS_BACKEND=tensorflow python -m keras_mobilenets._export_worker job.json``.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"  # must precede the first `import keras`

from keras_mobilenets.export import _worker_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1]))
