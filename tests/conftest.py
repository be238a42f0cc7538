import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# JAX: a persistent compilation cache for the test session (``tests/run_backends.py`` shares one fresh directory
# among its JAX processes). Identical programs - a model and its reloaded copy, the same small op in another test
# process - are compiled once. Every entry is cached (by default only compilations over 1 s are), and a size limit
# turns on JAX's file lock, so concurrent processes never read a half-written entry. Set before JAX is imported.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache = tempfile.mkdtemp(prefix="km-jax-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(4 * 2**30))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The package before any test module imports Keras / TensorFlow, as users are told to (it switches TensorFlow's
# oneDNN kernels on before TensorFlow loads: keras_mobilenets/onednn.py); subprocesses inherit the setting.
import keras_mobilenets  # noqa: E402,F401
