"""Puts the Lambda asset root (`runtime/`) on sys.path, as Lambda does."""

import sys
from pathlib import Path

RUNTIME = str(Path(__file__).resolve().parents[2] / "runtime")
if RUNTIME not in sys.path:
    sys.path.insert(0, RUNTIME)
