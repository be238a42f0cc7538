"""keras_mobilenets.onednn: ``import keras_mobilenets`` switches TensorFlow's oneDNN kernels on before TensorFlow
loads, leaves a user's ``TF_ENABLE_ONEDNN_OPTS`` alone, and warns when TensorFlow was imported first without them.
Each case needs a fresh interpreter (TensorFlow reads the variable once, at import)."""

import os
import platform
import subprocess
import sys

import pytest

from tests.helpers import REPO

PROBE = """
import warnings, json
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    {imports}
    import keras_mobilenets as km
from tensorflow.python.util import _pywrap_util_port
print(json.dumps([km.onednn.enable(), bool(_pywrap_util_port.IsMklEnabled()), os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                  [str(w.message) for w in caught if "oneDNN" in str(w.message)]]))
"""


def _probe(imports, env):
    import json

    code = "import os\n" + PROBE.format(imports=imports)
    environ = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    environ.update(env, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the switch applies on x86-64")
def test_package_first_switches_onednn_on_and_a_user_setting_wins():
    state, mkl, value, warned = _probe("pass", {"KERAS_BACKEND": "tensorflow"})
    assert (state, value, warned) == ("set", "1", []) and mkl is True
    state, mkl, value, warned = _probe("pass", {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert (state, value, warned) == ("user", "0", []) and mkl is False


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the switch applies on x86-64")
def test_tensorflow_imported_first_is_too_late_and_warns_when_it_runs_without_onednn():
    state, mkl, value, warned = _probe("import tensorflow", {"KERAS_BACKEND": "tensorflow"})
    assert state == "too-late" and value is None
    # TF's own default: oneDNN only on CPUs with AVX-512 VNNI / AMX; the warning exactly when it is off
    assert (len(warned) == 1) == (not mkl), (mkl, warned)
    if warned:
        assert "TF_ENABLE_ONEDNN_OPTS=1" in warned[0] and "import keras_mobilenets before" in warned[0]
    state, mkl_jax, _, warned = _probe("import tensorflow", {"KERAS_BACKEND": "jax"})
    assert state == "too-late" and warned == [] and mkl_jax == mkl  # not the training backend: no warning
