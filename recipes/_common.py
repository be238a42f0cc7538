"""Shared glue for the recipe scripts: make the repo importable when run as ``python recipes/<name>.py``."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
