"""keras_mobilenets.allocator: importing the package makes freed memory reusable (no page faults per step)."""

import json

import pytest

from helpers import backend, run_python

CHILD = """
import json, resource
import numpy as np
import keras_mobilenets
from keras_mobilenets import allocator

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

np._core.multiarray._set_madvise_hugepage(False)  # 4 KiB pages, as torch / XLA activations get
counts = []
for _ in range(6):  # a 64 MB activation-sized block, written, freed, allocated again
    before = faults()
    a = np.ones(16_000_000, np.float32)
    a.sum()
    del a
    counts.append(faults() - before)
print(json.dumps({"applied": allocator.applied(), "faults": counts}))
"""


def _run(mode):
    code = f"import os; os.environ['KERAS_MOBILENETS_MALLOC'] = {mode!r}\n" + CHILD
    return json.loads(run_python(code, backend()).strip().splitlines()[-1])


def test_import_stops_large_blocks_from_page_faulting():
    tuned, system = _run("tuned"), _run("system")
    assert tuned["applied"] == {"M_ARENA_MAX": True, "M_MMAP_MAX": True, "M_TRIM_THRESHOLD": True}
    assert system["applied"] == {}
    # 64 MB = 15,625 pages of 4 KiB: the system default maps (and faults in) fresh pages for every allocation,
    # the tuned heap hands the same pages back
    assert min(system["faults"][2:]) > 10_000, system
    assert max(tuned["faults"][2:]) < 500, tuned


def test_bad_setting_names_the_variable():
    with pytest.raises(AssertionError, match="KERAS_MOBILENETS_MALLOC='fast': allowed values are 'tuned'"):
        _run("fast")
